-- Schema oauth_rls belongs to the role that ran the install script (the
-- bootstrap superuser, for this trusted install), not to the installer (here,
-- as on Supabase, the non-superuser postgres): the installer may neither
-- rename it nor create objects in it.  (Failed before the fix: a 0.2.0 that
-- left the schema to the installer let postgres rename it.)
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SELECT n.nspowner::regrole AS schema_owner, e.extowner::regrole AS installer,
       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS installer_is_superuser,
       has_schema_privilege('oauth_rls', 'USAGE') AS installer_uses, has_schema_privilege('oauth_rls', 'CREATE') AS installer_creates
  FROM pg_catalog.pg_namespace AS n, pg_catalog.pg_extension AS e
 WHERE n.nspname = 'oauth_rls' AND e.extname = 'oauth_rls';
ALTER SCHEMA oauth_rls RENAME TO review_real;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
ALTER SCHEMA oauth_rls OWNER TO postgres;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
CREATE TABLE oauth_rls.review_planted (i int);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
CREATE FUNCTION oauth_rls.tier_of(client_id varchar) RETURNS oauth_rls.tier
  LANGUAGE sql AS $$ SELECT 'first_party'::oauth_rls.tier $$;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
DROP SCHEMA oauth_rls CASCADE;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Defence in depth, should the schema still be renamed (by a superuser):
-- the extension must then stop going by that name.  The API key bookkeeping
-- UPDATE, run as the table's owner (the bootstrap superuser), would
-- otherwise write the look-alike table, whose trigger would then run as
-- superuser; and the DROP event trigger would scan a look-alike view as a
-- heap (a crash).  This backend resolved the extension's ids before the
-- rename, as a pooled backend does.  (Failed before that fix, when the
-- installer could still do this: the trigger ran as a superuser, then the
-- DROP crashed the server.)
\c - supabase_admin
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE TABLE public.review_ran (superuser boolean);
GRANT INSERT ON public.review_ran TO PUBLIC;
CREATE FUNCTION public.review_planted() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO public.review_ran
    SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user;
  RETURN NULL;
END
$$;
CREATE TABLE public.review_victim (i int);
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-00000000ee01', 'review') AS key \gset
-- The extension's ids are resolved in this backend.
SELECT oauth_rls.current_tier();

-- A superuser swaps the schema for a look-alike.
ALTER SCHEMA oauth_rls RENAME TO review_real;
CREATE SCHEMA oauth_rls;
CREATE TABLE oauth_rls.api_keys (key_id text, last_used_at timestamptz);
CREATE TRIGGER planted BEFORE UPDATE ON oauth_rls.api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION public.review_planted();
CREATE VIEW oauth_rls.access_matrix AS SELECT 0::oid AS tbl;

-- A request with the key: refused, the planted trigger never runs.
BEGIN;
SELECT set_config('request.headers', pg_catalog.json_build_object('x-api-key', :'key')::text, true) IS NOT NULL;
SET LOCAL ROLE authenticated;
SELECT review_real.api_key_owner();
COMMIT;
SELECT count(*) AS planted_runs, bool_or(superuser) AS as_superuser FROM public.review_ran;
-- A DROP in a new backend fires the event trigger: the look-alike view is
-- not scanned.
\c - supabase_admin
SET client_min_messages = warning;
\set VERBOSITY terse
DROP TABLE public.review_victim;

-- Put everything back.
DROP SCHEMA oauth_rls CASCADE;
ALTER SCHEMA review_real RENAME TO oauth_rls;
SELECT oauth_rls.current_tier();
DELETE FROM oauth_rls.api_keys WHERE owner = 'aaaaaaaa-0000-4000-8000-00000000ee01';
DROP TABLE public.review_ran;
DROP FUNCTION public.review_planted();
\c - postgres
