-- oauth_rls install script, part 00: types and claim functions.
-- The install script sql/oauth_rls--<version>.sql is assembled from sql/install/*.sql
-- in file-name order by the Makefile.
\echo Use "CREATE EXTENSION oauth_rls" to load this file. \quit

-- CREATE EXTENSION runs this script (as superuser: the extension is trusted)
-- with search_path "oauth_rls, pg_temp".  A schema oauth_rls that existed
-- before, owned by the installing role, could hold functions or operators
-- that capture unqualified names (in DO blocks, CHECK constraints, views).
-- Resolve unqualified names in pg_catalog only; CREATE EXTENSION restores the
-- search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

-- CREATE EXTENSION reuses a schema oauth_rls that already exists.  Refuse one
-- that holds objects (they could shadow ours) or belongs to another role (its
-- owner could drop or replace what we create in it).
DO $$
DECLARE
  nsp pg_catalog.oid := pg_catalog.to_regnamespace('oauth_rls');
  owner pg_catalog.oid;
BEGIN
  SELECT nspowner INTO owner FROM pg_catalog.pg_namespace WHERE oid = nsp;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator WHERE oprnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_collation WHERE collnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_conversion WHERE connamespace = nsp) THEN
    RAISE EXCEPTION 'schema oauth_rls already contains objects'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'oauth_rls creates its own schema: drop or rename the existing schema oauth_rls first.';
  END IF;
  IF owner <> '@extowner@'::pg_catalog.regrole
     AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner) THEN
    RAISE EXCEPTION 'schema oauth_rls belongs to role %, not to the role installing the extension',
        owner::pg_catalog.regrole
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'oauth_rls creates its own schema: drop the existing schema oauth_rls first.';
  END IF;
END
$$;

-- The schema belongs to the role running this script (for a trusted install,
-- the bootstrap superuser), not to the installer: CREATE EXTENSION made it as
-- the installer, whose ownership would let it rename the schema and create
-- a look-alike oauth_rls that the extension's own SQL, run as a superuser,
-- could reach; or create objects (overloads, operators) among ours.  The
-- installer keeps USAGE (WITH GRANT OPTION, so that its own GRANT USAGE
-- statements still work) and the grants below on each object.
ALTER SCHEMA oauth_rls OWNER TO CURRENT_USER;
GRANT USAGE ON SCHEMA oauth_rls TO @extowner@ WITH GRANT OPTION;

-- Schema oauth_rls is created by CREATE EXTENSION (control file: schema = oauth_rls).
-- Policies evaluate our functions as the querying role, so every role may use
-- the schema; each object below grants only what it must.
GRANT USAGE ON SCHEMA oauth_rls TO PUBLIC;

CREATE TYPE oauth_rls.tier AS ENUM ('direct', 'first_party', 'third_party', 'blocked');
COMMENT ON TYPE oauth_rls.tier IS
  'How much a request is trusted: direct session (no client_id), first-party app, third-party app, blocked client';

-- Claim readers.  C, STABLE, PARALLEL SAFE: per row they cost an integer
-- comparison while the request settings are unchanged.
CREATE FUNCTION oauth_rls.claims() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'oauth_rls_claims' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.claims() IS
  'The request''s JWT claims: setting request.jwt.claim, else request.jwt.claims; NULL when unset';

CREATE FUNCTION oauth_rls.claim(name text) RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_claim' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.claim(text) IS
  'One top-level claim as text (the meaning of ->>), NULL when absent';

CREATE FUNCTION oauth_rls.user_id() RETURNS uuid
  AS 'MODULE_PATHNAME', 'oauth_rls_user_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.user_id() IS
  'Like auth.uid(): request.jwt.claim.sub, else the claims'' sub; errors on a non-uuid sub';

CREATE FUNCTION oauth_rls.client_id() RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_client_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.client_id() IS
  'The OAuth client of the request: claim client_id, else the oauth_client_id of its auth.sessions row (session_id); NULL for a direct session';

CREATE FUNCTION oauth_rls.session_id() RETURNS uuid
  AS 'MODULE_PATHNAME', 'oauth_rls_session_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.session_id() IS
  'The auth.sessions id of the token (claim session_id)';

CREATE FUNCTION oauth_rls.scopes() RETURNS text[]
  AS 'MODULE_PATHNAME', 'oauth_rls_scopes' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.scopes() IS
  'The granted scopes (space-separated claim scope) as an array; {} when none';

CREATE FUNCTION oauth_rls.has_scope(scope text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_has_scope' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.has_scope(text) IS
  'Whether the token was granted this scope';

-- Statement trigger that makes DML on a cached table invalidate every
-- backend's cache at commit.
CREATE FUNCTION oauth_rls._invalidate_caches() RETURNS trigger
  AS 'MODULE_PATHNAME', 'oauth_rls_invalidate_caches' LANGUAGE C;
REVOKE ALL ON FUNCTION oauth_rls._invalidate_caches() FROM PUBLIC;
