-- Privilege matrix of the oauth_rls schema over Supabase's roles.
-- Every function, table, view and sequence in schema oauth_rls is found in
-- the catalog, so an object added later is covered without editing this
-- file: whatever it grants to these roles must be on the allow-list below.
-- Auth's role is a login of its own on Supabase, and postgres may not SET
-- ROLE to it: the file connects as supabase_admin, acts as postgres (SET
-- SESSION AUTHORIZATION) and becomes Auth's role the same way, in one session.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
BEGIN;
SELECT no_plan();

CREATE TEMP TABLE api_roles (role name PRIMARY KEY);
INSERT INTO api_roles VALUES ('anon'), ('authenticated'), ('service_role'),
  ('authenticator'), ('supabase_auth_admin');

-- Functions each role may execute.  Request readers are for everyone, since
-- policies run them as the querying role; '*' = all five roles.
CREATE TEMP TABLE allowed_execute (fn text, role text);
INSERT INTO allowed_execute (fn, role)
SELECT fn, '*' FROM unnest(ARRAY[
  'oauth_rls.claims()', 'oauth_rls.claim(text)', 'oauth_rls.user_id()', 'oauth_rls.client_id()',
  'oauth_rls.session_id()', 'oauth_rls.scopes()', 'oauth_rls.has_scope(text)',
  'oauth_rls.current_tier()', 'oauth_rls.tier_of(text)', 'oauth_rls.is_oauth()',
  'oauth_rls.is_first_party()',
  -- policies (issue: guards): called by every guarded table's policy
  'oauth_rls.allows(regclass,text)', 'oauth_rls.session_active()',
  -- API keys: the key behind the request, for policies
  'oauth_rls.api_key_id()', 'oauth_rls.api_key_owner()', 'oauth_rls.api_key_scopes()']) AS fn;
-- The token hook: Supabase Auth's role only.
INSERT INTO allowed_execute VALUES
  ('oauth_rls.custom_access_token_hook(jsonb)', 'supabase_auth_admin');
-- API key management: the server-side service_role only (docs/api-keys.md).
INSERT INTO allowed_execute (fn, role)
SELECT fn, 'service_role' FROM unnest(ARRAY[
  'oauth_rls._generate_api_key()', 'oauth_rls._is_valid_key_id(text)',
  'oauth_rls.create_api_key(uuid,text,text[],timestamp with time zone,text)',
  'oauth_rls.import_api_key(text,uuid,text,text,text[],timestamp with time zone,text,text)',
  'oauth_rls.revoke_api_key(text)', 'oauth_rls.rotate_api_key(text,interval)',
  'oauth_rls.validate_api_key(text)', 'oauth_rls.diagnose_api_key(text)']) AS fn;
-- Rate limits (docs/rate-limits.md): PostgREST runs the request check as the
-- request's role; checking an arbitrary subject spends its tokens: service_role.
INSERT INTO allowed_execute (fn, role)
SELECT fn, role FROM unnest(ARRAY['oauth_rls.pre_request()', 'oauth_rls.rate_limit()']) AS fn,
                     unnest(ARRAY['anon', 'authenticated', 'service_role']) AS role;
INSERT INTO allowed_execute VALUES ('oauth_rls.rate_limit(text,text)', 'service_role');

-- Table privileges each role holds ('role:PRIVILEGE').
CREATE TEMP TABLE allowed_table (rel text, grants text[]);
INSERT INTO allowed_table VALUES
  ('oauth_rls.clients', ARRAY['supabase_auth_admin:SELECT']),
  -- the hook counts issued tokens per client and hour
  ('oauth_rls.token_issuance', ARRAY['supabase_auth_admin:INSERT', 'supabase_auth_admin:SELECT', 'supabase_auth_admin:UPDATE']),
  -- key digests: managed by service_role, never visible to anon/authenticated
  ('oauth_rls.api_keys', ARRAY['service_role:DELETE', 'service_role:INSERT', 'service_role:SELECT', 'service_role:UPDATE']),
  -- rate limits: managed by service_role; the checks read them with the extension's access
  ('oauth_rls.rate_limits', ARRAY['service_role:DELETE', 'service_role:INSERT', 'service_role:SELECT', 'service_role:UPDATE']);

-- SECURITY DEFINER functions anon/authenticated may execute (documented in
-- docs/reliability.md, each with why it is harmless).  None today.
CREATE TEMP TABLE allowed_definer (fn text);

CREATE TEMP VIEW ext_functions AS
  SELECT p.oid, p.oid::regprocedure::text AS fn, p.prosecdef, l.lanname, p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
  WHERE p.pronamespace = 'oauth_rls'::regnamespace;

CREATE TEMP VIEW ext_relations AS
  SELECT c.oid, c.oid::regclass::text AS rel, c.relkind
  FROM pg_class c
  WHERE c.relnamespace = 'oauth_rls'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S');

SELECT ok((SELECT count(*) FROM ext_functions) >= 14, 'the catalog query finds the extension''s functions');
SELECT ok((SELECT count(*) FROM ext_relations WHERE relkind = 'r') >= 1, 'the catalog query finds the extension''s tables');

-- 1. EXECUTE matrix: one test per function, listing the roles that can run it.
SELECT is(
  (SELECT coalesce(array_agg(r.role ORDER BY r.role), '{}')
     FROM api_roles r WHERE has_function_privilege(r.role, f.oid, 'EXECUTE')),
  (SELECT coalesce(array_agg(r.role ORDER BY r.role), '{}')
     FROM api_roles r
     WHERE EXISTS (SELECT 1 FROM allowed_execute a WHERE a.fn = f.fn AND a.role IN ('*', r.role))),
  'EXECUTE on ' || f.fn || ' is exactly as allowed')
FROM ext_functions f ORDER BY f.fn;

-- 2. Table matrix: every privilege of every role on every relation.
SELECT is(
  (SELECT coalesce(array_agg(r.role || ':' || p.priv ORDER BY r.role, p.priv), '{}')
     FROM api_roles r
     CROSS JOIN unnest(CASE WHEN x.relkind = 'S' THEN ARRAY['SELECT', 'UPDATE', 'USAGE']
                            ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] END) AS p(priv)
     WHERE CASE WHEN x.relkind = 'S' THEN has_sequence_privilege(r.role, x.oid, p.priv)
                WHEN p.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                  THEN has_any_column_privilege(r.role, x.oid, p.priv)
                ELSE has_table_privilege(r.role, x.oid, p.priv) END),
  (SELECT coalesce((SELECT array_agg(g ORDER BY g) FROM unnest(a.grants) g), '{}')
     FROM (SELECT x.rel) q LEFT JOIN allowed_table a ON a.rel = q.rel),
  'privileges on ' || x.rel || ' are exactly as allowed')
FROM ext_relations x ORDER BY x.rel;

-- 3. Registry, access matrix and key digests: anon and authenticated get
--    nothing, checked by trying (not only by the catalog).
SELECT ok(NOT has_any_column_privilege(r.role, x.oid, p.priv)
          AND NOT has_table_privilege(r.role, x.oid, 'DELETE')
          AND NOT has_table_privilege(r.role, x.oid, 'TRUNCATE'),
          r.role || ' has no ' || p.priv || ' on ' || x.rel)
FROM ext_relations x
CROSS JOIN (VALUES ('anon'), ('authenticated')) r(role)
CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE')) p(priv)
WHERE x.rel IN ('oauth_rls.clients', 'oauth_rls.access_matrix', 'oauth_rls.guarded_tables', 'oauth_rls.api_keys')
ORDER BY x.rel, r.role, p.priv;

SET LOCAL ROLE anon;
SELECT throws_ok('SELECT count(*) FROM oauth_rls.clients', '42501', NULL, 'anon cannot read the registry');
SELECT throws_ok($$INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('x', 'first_party')$$, '42501',
                 NULL, 'anon cannot register a client');
RESET ROLE;
SET LOCAL ROLE authenticated;
SELECT throws_ok('SELECT count(*) FROM oauth_rls.clients', '42501', NULL, 'authenticated cannot read the registry');
SELECT throws_ok($$UPDATE oauth_rls.clients SET tier = 'first_party'$$, '42501', NULL,
                 'authenticated cannot change a tier');
SELECT throws_ok('DELETE FROM oauth_rls.clients', '42501', NULL, 'authenticated cannot delete a client');
SELECT throws_ok('SELECT count(*) FROM oauth_rls.access_matrix', '42501', NULL, 'authenticated cannot read the access matrix');
SELECT throws_ok($$INSERT INTO oauth_rls.access_matrix SELECT * FROM oauth_rls.access_matrix$$, '42501', NULL,
                 'authenticated cannot write the access matrix');
SELECT throws_ok('SELECT count(*) FROM oauth_rls.api_keys', '42501', NULL, 'authenticated cannot read key digests');
SELECT throws_ok('SELECT oauth_rls.validate_api_key(''pk_x.sk_y'')', '42501', NULL,
                 'authenticated cannot probe keys with validate_api_key()');
-- ...yet the C lookups work for them, without any grant
SELECT is(oauth_rls.tier_of('no-such-client'), 'third_party'::oauth_rls.tier,
          'authenticated gets tiers through tier_of() without a grant on the registry');
RESET ROLE;
-- (pgTAP lives in schema extensions; let Auth's role call it, in this transaction only)
GRANT USAGE ON SCHEMA extensions TO supabase_auth_admin;
SET LOCAL SESSION AUTHORIZATION supabase_auth_admin;
SELECT lives_ok('SELECT count(*) FROM oauth_rls.clients', 'supabase_auth_admin can read the registry (the token hook does)');
SELECT throws_ok($$INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('x', 'first_party')$$, '42501',
                 NULL, 'supabase_auth_admin cannot write the registry');
SET LOCAL SESSION AUTHORIZATION postgres;

-- 4. SECURITY DEFINER: none executable by anon/authenticated unless listed.
SELECT is(
  (SELECT coalesce(array_agg(f.fn ORDER BY f.fn), '{}') FROM ext_functions f
    WHERE f.prosecdef
      AND (has_function_privilege('anon', f.oid, 'EXECUTE') OR has_function_privilege('authenticated', f.oid, 'EXECUTE'))
      AND f.fn NOT IN (SELECT fn FROM allowed_definer)),
  '{}'::text[], 'no undocumented SECURITY DEFINER function is executable by anon or authenticated');

-- 5. Every SQL and PL/pgSQL function pins its search_path.
SELECT ok(f.proconfig IS NOT NULL AND 'search_path=pg_catalog, pg_temp' = ANY (f.proconfig),
          f.fn || ' (' || f.lanname || ') has SET search_path = pg_catalog, pg_temp')
FROM ext_functions f WHERE f.lanname NOT IN ('c', 'internal') ORDER BY f.fn;

-- 6. Nothing in schema public, and nobody but the owner may create in oauth_rls.
SELECT is(
  (SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'oauth_rls'
    WHERE d.deptype = 'e' AND pg_describe_object(d.classid, d.objid, d.objsubid) ~ '(^|[ .])public\.'),
  0::bigint, 'no extension object lives in schema public');
SELECT is(
  (SELECT coalesce(array_agg(r.role ORDER BY r.role), '{}') FROM api_roles r
    WHERE has_schema_privilege(r.role, 'oauth_rls', 'CREATE')),
  '{}'::name[], 'no API role can create objects in schema oauth_rls');

SELECT * FROM finish();
ROLLBACK;
