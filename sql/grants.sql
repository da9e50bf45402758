-- Privileges of the installing role and of Supabase's roles, and the two
-- owner-only repair functions.  The database was made from template1, which
-- carries Supabase's roles and Auth's tables, and the extension installed by
-- postgres, not a superuser, as on Supabase: the trusted install, whose
-- objects belong to the bootstrap superuser supabase_admin.

-- The install ran grant_supabase_roles(); running it again is idempotent.
SELECT oauth_rls.grant_supabase_roles();
SELECT oauth_rls.grant_supabase_roles();

-- What each Supabase role may do with the objects grant_supabase_roles() handles.
SELECT r AS role,
       has_function_privilege(r, 'oauth_rls.custom_access_token_hook(jsonb)', 'EXECUTE') AS hook,
       has_table_privilege(r, 'oauth_rls.clients', 'SELECT') AS read_registry,
       has_table_privilege(r, 'oauth_rls.token_issuance', 'INSERT') AS count_tokens,
       has_function_privilege(r, 'oauth_rls.create_api_key(uuid, text, text[], timestamptz, text)', 'EXECUTE') AS create_key,
       has_table_privilege(r, 'oauth_rls.api_keys', 'INSERT') AS write_keys,
       has_function_privilege(r, 'oauth_rls.audit(text[])', 'EXECUTE') AS audit
  FROM unnest(ARRAY['supabase_auth_admin', 'service_role', 'anon', 'authenticated', 'authenticator']) AS r;

-- The repair functions are the owner's alone.
SELECT r AS role,
       has_function_privilege(r, 'oauth_rls.grant_supabase_roles()', 'EXECUTE') AS grant_supabase_roles,
       has_function_privilege(r, 'oauth_rls.create_client_review()', 'EXECUTE') AS create_client_review
  FROM unnest(ARRAY['supabase_auth_admin', 'service_role', 'anon', 'authenticated']) AS r;
SET ROLE service_role;
SELECT oauth_rls.grant_supabase_roles();
SELECT oauth_rls.create_client_review();
RESET ROLE;

-- The view exists (Auth's tables were there at install): a member of the
-- extension, owned by the role that ran the install script (the bootstrap
-- superuser, for a trusted install).
SELECT c.relowner::regrole AS owner,
       EXISTS (SELECT 1 FROM pg_depend AS d
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS member
  FROM pg_class AS c WHERE c.oid = 'oauth_rls.client_review'::regclass;
SELECT oauth_rls.create_client_review();

-- Made again later by the installer, it is the same: the view of the owner
-- of the extension's objects, a member, with the same privileges (the
-- installer may not create objects in schema oauth_rls, which is
-- supabase_admin's).  Only the view's owner, supabase_admin, may take it out
-- of the extension and drop it: these steps run as supabase_admin, and the
-- calls as postgres.
\c - supabase_admin
BEGIN;
ALTER EXTENSION oauth_rls DROP VIEW oauth_rls.client_review;
DROP VIEW oauth_rls.client_review;
SET LOCAL ROLE postgres;
SELECT oauth_rls.create_client_review();
SELECT c.relowner::regrole AS owner,
       EXISTS (SELECT 1 FROM pg_depend AS d
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS member,
       has_table_privilege('anon', c.oid, 'SELECT') AS anon_reads,
       has_table_privilege('authenticated', c.oid, 'SELECT') AS authenticated_reads
  FROM pg_class AS c WHERE c.oid = 'oauth_rls.client_review'::regclass;
SELECT count(*) >= 0 AS readable FROM oauth_rls.client_review;
ROLLBACK;

-- Without Auth's tables it creates nothing and says why.
BEGIN;
ALTER EXTENSION oauth_rls DROP VIEW oauth_rls.client_review;
DROP VIEW oauth_rls.client_review;
ALTER TABLE auth.sessions RENAME COLUMN oauth_client_id TO oauth_client;
SET LOCAL ROLE postgres;
SELECT oauth_rls.create_client_review();
SELECT to_regclass('oauth_rls.client_review') AS client_review;
ROLLBACK;

-- A role the installer lets call it needs neither CREATE on the schema nor
-- the right to read Auth's tables: it makes the same view, and gets no
-- right on it (SELECT stays the installer's).
CREATE ROLE grants_test_admin;
GRANT EXECUTE ON FUNCTION oauth_rls.create_client_review() TO grants_test_admin;
BEGIN;
ALTER EXTENSION oauth_rls DROP VIEW oauth_rls.client_review;
DROP VIEW oauth_rls.client_review;
SET LOCAL ROLE grants_test_admin;
SELECT has_schema_privilege('oauth_rls', 'CREATE') AS may_create,
       has_schema_privilege('auth', 'USAGE') AS uses_auth;
SELECT oauth_rls.create_client_review();
SELECT c.relowner::regrole AS owner,
       has_table_privilege('grants_test_admin', c.oid, 'SELECT') AS caller_reads,
       has_table_privilege('postgres', c.oid, 'SELECT') AS installer_reads
  FROM pg_class AS c WHERE c.oid = 'oauth_rls.client_review'::regclass;
ROLLBACK;
REVOKE ALL ON FUNCTION oauth_rls.create_client_review() FROM grants_test_admin;
DROP ROLE grants_test_admin;
\c - postgres
