-- The Custom Access Token Hook as Supabase Auth runs it: as supabase_auth_admin
-- with search_path auth, over many realistic events, every successful output
-- checked against Auth's claims schema; and the grants Supabase prescribes.
\set ON_ERROR_STOP 1
-- Auth's role is a login of its own on Supabase, and postgres may not SET
-- ROLE to it: the file connects as supabase_admin, acts as postgres (SET
-- SESSION AUTHORIZATION) and becomes Auth's role the same way, in one session.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET client_min_messages = warning;
BEGIN;
SELECT * FROM no_plan();

INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('f1000000-0000-4000-8000-000000000001', 'Web app', 'first_party'),
  ('f1000000-0000-4000-8000-000000000002', 'Partner', 'third_party'),
  ('f1000000-0000-4000-8000-000000000003', 'Blocked', 'blocked');
INSERT INTO oauth_rls.clients (client_id, name, tier, audience, extra_claims, strip_claims) VALUES
  ('f1000000-0000-4000-8000-000000000004', 'Partner API', 'third_party', 'https://api.partner.example',
   '{"plan": "partner"}', '{app_metadata}');

-- Calls the hook exactly as Auth does: as supabase_auth_admin, search_path auth.
CREATE FUNCTION pg_temp.as_auth(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  result jsonb;
BEGIN
  SET LOCAL SESSION AUTHORIZATION supabase_auth_admin;
  SET LOCAL search_path = auth;
  SET LOCAL statement_timeout = '2000';
  EXECUTE 'select "oauth_rls"."custom_access_token_hook"($1)' INTO result USING event;
  SET LOCAL SESSION AUTHORIZATION postgres;
  SET LOCAL search_path = public, extensions;
  RESET statement_timeout;
  RETURN result;
END
$$;

-- The SQLSTATE a statement raises as a role, or 'ok'.
CREATE FUNCTION pg_temp.state_as(role_name text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  state text := 'ok';
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', role_name);
  BEGIN
    EXECUTE stmt;
  EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE;
  END;
  RESET ROLE;
  RETURN state;
END
$$;

-- Every combination of client, method, scope, aud form and metadata.
CREATE TEMP TABLE events AS
SELECT format('%s / %s / scope "%s" / aud %s / %s', coalesce(c.name, 'direct'), m.method, s.scope,
              a.form, CASE WHEN md THEN 'metadata' ELSE 'no metadata' END) AS label,
       c.client_id, c.tier, s.scope, c.audience,
       jsonb_strip_nulls(jsonb_build_object(
         'metadata', CASE WHEN md THEN jsonb_build_object('uuid', gen_random_uuid(), 'time', now(),
                                                         'name', 'custom_access_token', 'ip_address', '198.51.100.4') END,
         'user_id', 'a0000000-0000-4000-8000-000000000001',
         'authentication_method', m.method))
       || jsonb_build_object('claims', jsonb_strip_nulls(jsonb_build_object(
            'iss', 'https://abcd.supabase.co/auth/v1', 'sub', 'a0000000-0000-4000-8000-000000000001',
            'aud', a.aud, 'exp', 1767000000, 'iat', 1766996400,
            'email', CASE WHEN m.method = 'anonymous' THEN '' ELSE 'ann@example.com' END,
            'phone', CASE WHEN m.method = 'anonymous' THEN '' ELSE '15550001111' END,
            'app_metadata', '{"provider": "email", "providers": ["email"]}'::jsonb,
            'user_metadata', '{"full_name": "Ann"}'::jsonb,
            'role', 'authenticated', 'aal', 'aal1',
            'amr', jsonb_build_array(jsonb_build_object('method', m.method, 'timestamp', 1766996400)),
            'session_id', 'e0000000-0000-4000-8000-000000000001', 'is_anonymous', m.method = 'anonymous',
            'client_id', c.client_id,
            'scope', CASE WHEN c.client_id IS NOT NULL THEN s.scope END))) AS event
  FROM (VALUES (NULL, NULL::text, 'direct'::oauth_rls.tier, NULL::text),
               ('Web app', 'f1000000-0000-4000-8000-000000000001', 'first_party', NULL),
               ('Partner', 'f1000000-0000-4000-8000-000000000002', 'third_party', NULL),
               ('Partner API', 'f1000000-0000-4000-8000-000000000004', 'third_party', 'https://api.partner.example'),
               ('Unregistered', 'f1000000-0000-4000-8000-000000000099', 'third_party', NULL))
       AS c(name, client_id, tier, audience),
       (VALUES ('password'), ('otp'), ('anonymous'), ('oauth_provider/authorization_code'), ('token_refresh'))
       AS m(method),
       (VALUES (''), ('openid'), ('openid email'), ('openid phone'), ('openid profile'),
               ('openid email phone profile offline_access')) AS s(scope),
       (VALUES ('string', '"authenticated"'::jsonb), ('array', '["authenticated"]'::jsonb)) AS a(form, aud),
       (VALUES (true), (false)) AS meta(md)
 WHERE (c.client_id IS NULL AND m.method IN ('password', 'otp', 'anonymous') AND s.scope = '')
    OR (c.client_id IS NOT NULL AND m.method IN ('oauth_provider/authorization_code', 'token_refresh'));

ALTER TABLE events ADD COLUMN output jsonb;
UPDATE events SET output = pg_temp.as_auth(event);

-- Auth's schema for the returned claims, the claims the hook must leave
-- alone, and what the hook promises per tier.  Returns what is wrong.
CREATE FUNCTION pg_temp.problems(e events) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_remove(ARRAY[
    CASE WHEN coalesce(jsonb_typeof(c), '') <> 'object' THEN 'no claims object' END,
    CASE WHEN coalesce(jsonb_typeof(c->'aud'), '') NOT IN ('string', 'array') THEN 'aud type' END,
    CASE WHEN jsonb_typeof(c->'exp') <> 'number' OR c->>'exp' !~ '^[0-9]+$' THEN 'exp type' END,
    CASE WHEN jsonb_typeof(c->'iat') <> 'number' OR c->>'iat' !~ '^[0-9]+$' THEN 'iat type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'sub'), '') <> 'string' THEN 'sub type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'email'), '') <> 'string' THEN 'email type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'phone'), '') <> 'string' THEN 'phone type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'role'), '') <> 'string' THEN 'role type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'aal'), '') <> 'string' THEN 'aal type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'session_id'), '') <> 'string' THEN 'session_id type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'is_anonymous'), '') <> 'boolean' THEN 'is_anonymous type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'iss'), '') <> 'string' THEN 'iss type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'client_id'), 'string') <> 'string' THEN 'client_id type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'app_metadata'), 'object') <> 'object' THEN 'app_metadata type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'user_metadata'), 'object') <> 'object' THEN 'user_metadata type' END,
    CASE WHEN coalesce(jsonb_typeof(c->'amr'), 'array') <> 'array' THEN 'amr type' END,
    CASE WHEN c->'sub' IS DISTINCT FROM v->'sub' THEN 'sub changed' END,
    CASE WHEN c->'role' IS DISTINCT FROM v->'role' THEN 'role changed' END,
    CASE WHEN c->'session_id' IS DISTINCT FROM v->'session_id' THEN 'session_id changed' END,
    CASE WHEN c->'client_id' IS DISTINCT FROM v->'client_id' THEN 'client_id changed' END,
    CASE WHEN c->'exp' IS DISTINCT FROM v->'exp' THEN 'exp changed' END,
    CASE WHEN c->'iat' IS DISTINCT FROM v->'iat' THEN 'iat changed' END,
    CASE WHEN c->>'client_tier' IS DISTINCT FROM e.tier::text THEN 'client_tier' END,
    CASE WHEN c->'aud' IS DISTINCT FROM coalesce(to_jsonb(e.audience), v->'aud') THEN 'aud' END,
    -- third-party minimisation by scope; everything else keeps its values
    CASE WHEN c->'email' IS DISTINCT FROM CASE WHEN e.tier = 'third_party' AND NOT ('email' = ANY (sc))
                                              THEN '""' ELSE v->'email' END THEN 'email' END,
    CASE WHEN c->'phone' IS DISTINCT FROM CASE WHEN e.tier = 'third_party' AND NOT ('phone' = ANY (sc))
                                              THEN '""' ELSE v->'phone' END THEN 'phone' END,
    CASE WHEN c->'user_metadata' IS DISTINCT FROM CASE WHEN e.tier = 'third_party' AND NOT ('profile' = ANY (sc))
                                                      THEN '{}' ELSE v->'user_metadata' END THEN 'user_metadata' END,
    -- the client's own settings
    CASE WHEN (c ? 'app_metadata') = (e.audience IS NOT NULL) THEN 'app_metadata strip' END,
    CASE WHEN (c->>'plan' IS NOT DISTINCT FROM 'partner') <> (e.audience IS NOT NULL) THEN 'extra claim' END
  ], NULL)
  FROM (SELECT e.output->'claims' AS c, e.event->'claims' AS v,
               string_to_array(coalesce(e.scope, ''), ' ') AS sc) AS s
$$;

SELECT is(pg_temp.problems(e), '{}', e.label) FROM events AS e ORDER BY e.label;
SELECT cmp_ok((SELECT count(*) FROM events), '>=', 200::bigint, 'over 200 distinct events were checked');

-- Blocked clients: refused with 403 for every method and scope.
SELECT is(pg_temp.as_auth(jsonb_set(e.event, '{claims,client_id}', '"f1000000-0000-4000-8000-000000000003"')),
          '{"error": {"http_code": 403, "message": "this OAuth client is blocked: no tokens are issued to it"}}',
          'blocked: ' || e.label)
  FROM events AS e
 WHERE e.client_id = 'f1000000-0000-4000-8000-000000000002' AND e.event ? 'metadata'
   AND e.event->'claims'->'aud' = '"authenticated"'
 ORDER BY e.label;

-- Unregistered clients are refused when the setting says so.
SET LOCAL oauth_rls.unregistered_client_tier = 'blocked';
SELECT is(pg_temp.as_auth(e.event)->'error'->'http_code', '403', 'unregistered, setting blocked: ' || e.label)
  FROM events AS e
 WHERE e.client_id = 'f1000000-0000-4000-8000-000000000099' AND e.scope = 'openid'
 ORDER BY e.label;
RESET oauth_rls.unregistered_client_tier;

-- Minimisation off: third-party tokens keep every claim.
SET LOCAL oauth_rls.minimize_third_party_claims = off;
SELECT is(pg_temp.as_auth(e.event)->'claims', e.event->'claims' || '{"client_tier": "third_party"}',
          'minimisation off: ' || e.label)
  FROM events AS e
 WHERE e.client_id = 'f1000000-0000-4000-8000-000000000002' AND e.scope = 'openid'
 ORDER BY e.label;
RESET oauth_rls.minimize_third_party_claims;

-- Chaining, as supabase_auth_admin: the chained hook needs its own grant.
CREATE FUNCTION public.add_role_claim(event jsonb) RETURNS jsonb LANGUAGE sql
  SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_set(event, '{claims,user_role}', '"editor"')
$$;
REVOKE ALL ON FUNCTION public.add_role_claim(jsonb) FROM PUBLIC;
SET LOCAL oauth_rls.chained_hook = 'public.add_role_claim(jsonb)';
SELECT is(pg_temp.as_auth((SELECT event FROM events ORDER BY label LIMIT 1)),
          '{"error": {"http_code": 500, "message": "oauth_rls.chained_hook does not name a usable hook function"}}',
          'a chained hook supabase_auth_admin may not execute gives an error object');
GRANT EXECUTE ON FUNCTION public.add_role_claim(jsonb) TO supabase_auth_admin;
SELECT is(pg_temp.as_auth(e.event)->'claims'->>'user_role', 'editor', 'chained: ' || e.label)
  FROM events AS e WHERE e.scope = 'openid email' OR e.client_id IS NULL ORDER BY e.label;
SELECT is(pg_temp.problems(e), '{}', 'chained output keeps the schema: ' || e.label)
  FROM (SELECT e.label, e.client_id, e.tier, e.scope, e.audience, e.event, pg_temp.as_auth(e.event) AS output
          FROM events AS e WHERE e.scope = 'openid email' OR e.client_id IS NULL) AS e
 ORDER BY e.label;
RESET oauth_rls.chained_hook;

-- Grants, as Supabase prescribes.
SELECT function_privs_are('oauth_rls', 'custom_access_token_hook', ARRAY['jsonb'], 'supabase_auth_admin',
                          ARRAY['EXECUTE'], 'supabase_auth_admin may execute the hook');
SELECT function_privs_are('oauth_rls', 'custom_access_token_hook', ARRAY['jsonb'], r, ARRAY[]::text[],
                          r || ' may not execute the hook')
  FROM unnest(ARRAY['anon', 'authenticated', 'service_role', 'authenticator', 'public']) AS r;
SELECT isnt_definer('oauth_rls', 'custom_access_token_hook', ARRAY['jsonb'], 'the hook is not SECURITY DEFINER');
SELECT is(pg_temp.state_as(r, 'SELECT oauth_rls.custom_access_token_hook(''{}'')'), '42501',
          r || ' gets permission denied calling the hook')
  FROM unnest(ARRAY['anon', 'authenticated']) AS r;
SELECT table_privs_are('oauth_rls', 'token_issuance', 'supabase_auth_admin', ARRAY['SELECT', 'INSERT', 'UPDATE'],
                       'supabase_auth_admin may count issuances');
SELECT table_privs_are('oauth_rls', 'clients', 'supabase_auth_admin', ARRAY['SELECT'],
                       'supabase_auth_admin may read the registry');
SELECT table_privs_are('oauth_rls', t, r, ARRAY[]::text[], r || ' has no right on oauth_rls.' || t)
  FROM unnest(ARRAY['anon', 'authenticated']) AS r,
       unnest(ARRAY['token_issuance', 'token_issuance_daily', 'client_review', 'clients']) AS t;

-- Auth's calls are counted, as supabase_auth_admin, under the client, tier and method.
SELECT coalesce(sum(tokens), 0) AS counted_before FROM oauth_rls.token_issuance
 WHERE client = 'f1000000-0000-4000-8000-000000000002' AND tier = 'third_party' AND method = 'token_refresh' \gset
SELECT count(pg_temp.as_auth(event)) AS calls FROM events
 WHERE client_id = 'f1000000-0000-4000-8000-000000000002' AND event->>'authentication_method' = 'token_refresh' \gset
SELECT is((SELECT sum(tokens)::bigint - :counted_before FROM oauth_rls.token_issuance
            WHERE client = 'f1000000-0000-4000-8000-000000000002' AND tier = 'third_party'
              AND method = 'token_refresh'),
          :calls::bigint, 'each token_refresh issuance of the partner was counted once');
SELECT cmp_ok(:calls, '>', 0, 'issuances were made for the count check');

SELECT * FROM finish();
ROLLBACK;
