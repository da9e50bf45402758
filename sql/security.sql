-- Security fixes of issue 10 that need a test of their own: act_as() in a
-- fresh connection, the DROP event trigger under replication, who may change
-- the protection settings, and grants that do not rely on PUBLIC defaults.

---------------------------------------------------------------------------
-- act_as() as the first call of a connection: the library is not loaded
-- yet, so oauth_rls.enforce_revocation is unknown; act_as() reads it anyway
-- (its default, on, or the value set before the library was loaded).
\c
SELECT count(*) AS loaded FROM pg_settings WHERE name = 'oauth_rls.enforce_revocation';
BEGIN;
SELECT oauth_rls.act_as('8d1c8a7e-0000-4000-8000-00000000a001', 'no-session-client') ->> 'client_id' AS client;
SELECT current_user, oauth_rls.client_id();
ROLLBACK;
\c
SET oauth_rls.enforce_revocation = off;
BEGIN;
SELECT oauth_rls.act_as('8d1c8a7e-0000-4000-8000-00000000a001', 'no-session-client') ->> 'client_id' AS client;
ROLLBACK;
\c

---------------------------------------------------------------------------
-- The DROP event trigger fires under session_replication_role = replica:
-- the matrix and guard rows of a table dropped there are gone.
SET client_min_messages = warning;
CREATE TABLE public.sec_replica_drop (id int);
SELECT oauth_rls.guard('public.sec_replica_drop', enable_rls => true);
SELECT oauth_rls.set_access('public.sec_replica_drop', 'third_party', '{select}');
SELECT 'public.sec_replica_drop'::regclass::oid AS dropped_oid \gset
SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'oauth_rls_forget_dropped_tables';
SET session_replication_role = replica;
DROP TABLE public.sec_replica_drop;
RESET session_replication_role;
SELECT (SELECT count(*) FROM oauth_rls.access_matrix WHERE tbl::oid = :dropped_oid) AS matrix_rows,
       (SELECT count(*) FROM oauth_rls.guarded_tables WHERE tbl::oid = :dropped_oid) AS guard_rows;
RESET client_min_messages;

---------------------------------------------------------------------------
-- The settings that weaken a protection: only superusers and the
-- extension's owner (granted SET at install) may change them.
SELECT p.parname, a.privilege_type, a.grantee = e.extowner AS to_owner, a.is_grantable
  FROM pg_parameter_acl p CROSS JOIN LATERAL aclexplode(p.paracl) a
  JOIN pg_extension e ON e.extname = 'oauth_rls'
 WHERE p.parname LIKE 'oauth\_rls.%' AND a.grantee = e.extowner AND a.privilege_type = 'SET'
 ORDER BY 1;
SELECT name, context FROM pg_settings WHERE name LIKE 'oauth\_rls.%' ORDER BY 1;
CREATE ROLE sec_nobody LOGIN;
-- Every way a session may change a setting, for each of them: the ways that
-- were not refused with 42501 (none), and how many were.
CREATE FUNCTION public.sec_try_settings() RETURNS text
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s record;
  way text;
  allowed text[] := '{}';
  refused int := 0;
BEGIN
  FOR s IN SELECT * FROM (VALUES ('oauth_rls.enforce_revocation', 'off'),
                                 ('oauth_rls.minimize_third_party_claims', 'off'),
                                 ('oauth_rls.chained_hook', 'public.my_hook(jsonb)'),
                                 ('oauth_rls.record_issuance', 'off'),
                                 ('oauth_rls.unregistered_client_tier', 'third_party')) v(name, value) LOOP
    FOREACH way IN ARRAY ARRAY[
        format('SET %s = %L', s.name, s.value),
        format('SET LOCAL %s = %L', s.name, s.value),
        format('SELECT set_config(%L, %L, false)', s.name, s.value),
        format('SELECT set_config(%L, %L, true)', s.name, s.value),
        format('ALTER ROLE CURRENT_USER SET %s = %L', s.name, s.value),
        format('ALTER ROLE CURRENT_USER IN DATABASE %I SET %s = %L', current_database(), s.name, s.value)] LOOP
      BEGIN
        EXECUTE way;
        allowed := allowed || way;
      EXCEPTION WHEN insufficient_privilege THEN
        refused := refused + 1;
      END;
    END LOOP;
  END LOOP;
  RETURN format('%s refused, allowed: %s', refused, allowed);
END
$$;
GRANT EXECUTE ON FUNCTION public.sec_try_settings() TO PUBLIC;
SET ROLE anon;
SELECT current_user, public.sec_try_settings();
SET ROLE authenticated;
SELECT current_user, public.sec_try_settings();
SET ROLE service_role;
SELECT current_user, public.sec_try_settings();
SET ROLE sec_nobody;
SELECT current_user, public.sec_try_settings();
RESET ROLE;
SELECT setting FROM pg_settings WHERE name = 'oauth_rls.enforce_revocation';
-- The owner (here a superuser) may; the scripts/test install checks cover an
-- owner that is not a superuser.
SELECT public.sec_try_settings() LIKE '0 refused%' AS owner_may;
DO $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY '{oauth_rls.enforce_revocation,oauth_rls.minimize_third_party_claims,
                          oauth_rls.chained_hook,oauth_rls.record_issuance,oauth_rls.unregistered_client_tier}'::text[] LOOP
    EXECUTE format('ALTER ROLE CURRENT_USER RESET %s', name);
    EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I RESET %s', current_database(), name);
    EXECUTE format('RESET %s', name);
  END LOOP;
END
$$;
-- A value set before the library is loaded, by a role that may not set it,
-- is dropped when the library loads.
\c - sec_nobody
SET oauth_rls.enforce_revocation = off;
SELECT oauth_rls.current_tier();
SHOW oauth_rls.enforce_revocation;
\c - postgres
DROP FUNCTION public.sec_try_settings();
DROP ROLE sec_nobody;
