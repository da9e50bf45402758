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
-- Only a superuser may set session_replication_role here (on Supabase,
-- supautils lets postgres set it): supabase_admin sets it, and postgres drops
-- the table in that mode, in the same session (SET SESSION AUTHORIZATION).
-- The rest of the file stays in this session, acting as postgres.
\c - supabase_admin
SET client_min_messages = warning;
SET session_replication_role = replica;
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
DROP TABLE public.sec_replica_drop;
RESET SESSION AUTHORIZATION;
RESET session_replication_role;
SET SESSION AUTHORIZATION postgres;
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
-- (postgres, not a superuser, may SET ROLE only to roles it belongs to)
GRANT sec_nobody TO postgres;
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
-- The owner (postgres, not a superuser: the install granted it SET) may.
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

---------------------------------------------------------------------------
-- revert_rewrite() runs only what the extension logged.  The installer of a
-- trusted install (not a superuser) may read the log, delete entries and
-- mark them reverted, never write what is restored; a row forged by a
-- superuser makes revert_rewrite() refuse instead of running it.
-- (The superuser of this section is supabase_admin; postgres is not one.)
\c - supabase_admin
CREATE ROLE sec_installer LOGIN CREATEROLE;
CREATE DATABASE sec_trusted OWNER sec_installer TEMPLATE template0;
\c sec_trusted sec_installer
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE EXTENSION oauth_rls;
CREATE TABLE public.victim (id int, user_id uuid);
ALTER TABLE public.victim ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON public.victim TO authenticated;
-- A per-row auth.uid() the rewrite replaces (oauth_rls's own functions are
-- not rewritten); this database comes from template0, so a minimal auth.uid().
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE POLICY own ON public.victim FOR SELECT TO authenticated USING (auth.uid() = user_id);
SELECT * FROM oauth_rls.apply_rewrite('{public}');
SELECT id AS entry, original_using FROM oauth_rls.rewrite_log WHERE kind = 'policy' \gset
SELECT kind, original_using, applied_using FROM oauth_rls.rewrite_log ORDER BY id;
-- The installer cannot write the log, nor give anyone that right.
INSERT INTO oauth_rls.rewrite_log (kind, tbl, applied_ddl) VALUES ('guard', 'public.victim', 'x');
UPDATE oauth_rls.rewrite_log
   SET original_using = 'true); CREATE ROLE sec_pwned SUPERUSER; ALTER POLICY own ON public.victim USING (true'
 WHERE id = :entry;
GRANT INSERT, UPDATE ON oauth_rls.rewrite_log TO authenticated;
SELECT has_table_privilege('authenticated', 'oauth_rls.rewrite_log', 'INSERT') AS authenticated_may_insert;
-- So a superuser's revert restores what the rewrite replaced, and no more.
\c - supabase_admin
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT * FROM oauth_rls.revert_rewrite('{public}');
SELECT count(*) AS pwned FROM pg_roles WHERE rolname = 'sec_pwned';
SELECT pg_get_expr(polqual, polrelid) AS victim_policy FROM pg_policy
 WHERE polrelid = 'public.victim'::regclass AND polname = 'own';
CREATE TABLE public.not_theirs (id int);
CREATE POLICY p ON public.not_theirs USING (true);
-- Nor can the installer make the extension log what it likes: not for a
-- table it does not own, not an "applied" state outside apply_rewrite().
\c - sec_installer
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT count(*) AS applied FROM oauth_rls.apply_rewrite('{public}');
SELECT id AS entry FROM oauth_rls.rewrite_log WHERE kind = 'policy' AND reverted_at IS NULL \gset
SELECT oauth_rls._rewrite_log_add('policy', 'public.not_theirs'::regclass, 'p', 'x');
SELECT oauth_rls._rewrite_log_applied(:entry);
-- What it may do: mark an entry reverted, and back.
UPDATE oauth_rls.rewrite_log SET reverted_at = now() WHERE id = :entry;
UPDATE oauth_rls.rewrite_log SET reverted_at = NULL WHERE id = :entry;
-- A superuser forges entries: revert_rewrite() refuses them and runs nothing.
\c - supabase_admin
SET client_min_messages = warning;
\set SHOW_CONTEXT never
UPDATE oauth_rls.rewrite_log
   SET original_using = 'true); CREATE ROLE sec_pwned SUPERUSER; ALTER POLICY own ON public.victim USING (true'
 WHERE id = :entry;
SELECT * FROM oauth_rls.revert_rewrite('{public}');
UPDATE oauth_rls.rewrite_log SET original_using = 'true) WITH CHECK (true); DROP TABLE public.not_theirs; SELECT (1'
 WHERE id = :entry;
SELECT * FROM oauth_rls.revert_rewrite('{public}');
UPDATE oauth_rls.rewrite_log SET original_using = :'original_using' WHERE id = :entry;
INSERT INTO oauth_rls.rewrite_log (kind, tbl, policy_name, original_using, applied_using, applied_ddl)
  VALUES ('policy', 'public.not_theirs', 'p', 'true) TO sec_installer WITH CHECK (true', 'true', 'x');
SELECT * FROM oauth_rls.revert_rewrite('{public}');
DELETE FROM oauth_rls.rewrite_log WHERE tbl = 'public.not_theirs'::regclass;
SELECT count(*) AS pwned FROM pg_roles WHERE rolname = 'sec_pwned';
SELECT to_regclass('public.not_theirs') IS NOT NULL AS not_theirs_kept,
       (SELECT polroles = '{0}' FROM pg_policy WHERE polrelid = 'public.not_theirs'::regclass) AS still_for_public;
-- The genuine entry reverts as before.
\c - sec_installer
SELECT * FROM oauth_rls.revert_rewrite('{public}');
SELECT pg_get_expr(polqual, polrelid) AS victim_policy FROM pg_policy
 WHERE polrelid = 'public.victim'::regclass AND polname = 'own';
-- Schema oauth_rls is the bootstrap superuser's: the installer may not
-- rename it.  Should a superuser rename it and put a look-alike log there,
-- whose trigger would make the installer a superuser if the log were written
-- by name with raised rights, the writers use the extension's own table, by
-- oid, or nothing.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT count(*) AS applied_again FROM oauth_rls.apply_rewrite('{public}');
ALTER SCHEMA oauth_rls RENAME TO oauth_rls_real;
\c - supabase_admin
SET client_min_messages = warning;
\set SHOW_CONTEXT never
ALTER SCHEMA oauth_rls RENAME TO oauth_rls_real;
CREATE SCHEMA oauth_rls;
CREATE TABLE oauth_rls.rewrite_log (LIKE oauth_rls_real.rewrite_log);
CREATE FUNCTION oauth_rls.promote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  ALTER ROLE sec_installer SUPERUSER;
  RETURN NEW;
END
$$;
CREATE TRIGGER promote BEFORE INSERT OR UPDATE ON oauth_rls.rewrite_log
  FOR EACH ROW EXECUTE FUNCTION oauth_rls.promote();
GRANT USAGE ON SCHEMA oauth_rls TO sec_installer;
GRANT SELECT ON oauth_rls.rewrite_log TO sec_installer;
\c - sec_installer
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT oauth_rls_real._rewrite_log_add('guard', 'public.victim'::regclass, NULL, 'x');
SELECT oauth_rls_real._rewrite_log_applied(id) FROM oauth_rls_real.rewrite_log WHERE kind = 'policy';
SELECT rolsuper AS installer_is_superuser FROM pg_roles WHERE rolname = 'sec_installer';
SELECT count(*) AS look_alike_rows FROM oauth_rls.rewrite_log;
\c - supabase_admin
SET client_min_messages = warning;
DROP SCHEMA oauth_rls CASCADE;
ALTER SCHEMA oauth_rls_real RENAME TO oauth_rls;
\c - sec_installer
SELECT count(*) AS reverted FROM oauth_rls.revert_rewrite('{public}');
\c contrib_regression supabase_admin
DROP DATABASE sec_trusted;
-- PostgreSQL 16 and later record the install's GRANT SET ON PARAMETER as
-- initial privileges, which DROP OWNED cannot remove yet ("unrecognized class
-- ID"), so the installing role stays there (docs/reference.md).
DO $$
BEGIN
  IF pg_catalog.current_setting('server_version_num')::int < 160000 THEN
    DROP OWNED BY sec_installer;
    DROP ROLE sec_installer;
  END IF;
END
$$;
