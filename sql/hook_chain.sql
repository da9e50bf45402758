-- The token hook chained behind a user hook: what the user hook may narrow
-- (exp), choose (role, aud) and what our rules still decide after it
-- (per-client audience, third-party minimisation, blocked clients).
SET client_min_messages = warning;
SET oauth_rls.record_issuance = off;

INSERT INTO oauth_rls.clients (client_id, name, tier, audience) VALUES
  ('ca000000-0000-4000-8000-000000000001', 'Chain first party', 'first_party', NULL),
  ('ca000000-0000-4000-8000-000000000002', 'Chain third party', 'third_party', NULL),
  ('ca000000-0000-4000-8000-000000000003', 'Chain blocked', 'blocked', NULL),
  ('ca000000-0000-4000-8000-000000000004', 'Chain partner API', 'third_party', 'https://api.partner.example');

-- An event as Supabase Auth sends it: a one-hour token (exp = iat + 3600).
CREATE FUNCTION pg_temp.ev(patch jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'user_id', '8d1c8a7e-0000-4000-8000-000000000001',
    'authentication_method', 'password',
    'claims', '{"iss": "https://abcd.supabase.co/auth/v1",
                "sub": "8d1c8a7e-0000-4000-8000-000000000001", "aud": "authenticated",
                "exp": 1767000000, "iat": 1766996400,
                "email": "ada@example.com", "phone": "15550001111",
                "user_metadata": {"full_name": "Ada Lovelace"},
                "role": "authenticated", "aal": "aal1",
                "amr": [{"method": "password", "timestamp": 1766996400}],
                "session_id": "5e551011-0000-4000-8000-000000000001", "is_anonymous": false}'::jsonb || patch)
$$;
CREATE FUNCTION pg_temp.oauth(client text, scope text DEFAULT 'openid') RETURNS jsonb LANGUAGE sql AS $$
  SELECT pg_temp.ev(jsonb_build_object('client_id', client, 'scope', scope))
$$;
-- Events of the first-party, third-party, blocked and partner API clients.
CREATE FUNCTION pg_temp.fp() RETURNS jsonb LANGUAGE sql AS
  $$ SELECT pg_temp.oauth('ca000000-0000-4000-8000-000000000001') $$;
CREATE FUNCTION pg_temp.tp(scope text DEFAULT 'openid') RETURNS jsonb LANGUAGE sql AS
  $$ SELECT pg_temp.oauth('ca000000-0000-4000-8000-000000000002', scope) $$;
CREATE FUNCTION pg_temp.bl() RETURNS jsonb LANGUAGE sql AS
  $$ SELECT pg_temp.oauth('ca000000-0000-4000-8000-000000000003') $$;
CREATE FUNCTION pg_temp.api() RETURNS jsonb LANGUAGE sql AS
  $$ SELECT pg_temp.oauth('ca000000-0000-4000-8000-000000000004') $$;
-- A user hook that sets whatever claims the setting chain_test.patch holds.
CREATE FUNCTION public.chain_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_set(event, '{claims}', (event->'claims') || current_setting('chain_test.patch')::jsonb)
$$;
-- Our hook on event, with chain_hook setting patch; the claims that matter
-- here, or the error object.
CREATE FUNCTION pg_temp.hook(patch jsonb, event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT set_config('chain_test.patch', patch::text, false);
  SELECT CASE WHEN o ? 'error' THEN o
              ELSE jsonb_build_object('exp', o->'claims'->'exp', 'role', o->'claims'->'role',
                                      'aud', o->'claims'->'aud', 'email', o->'claims'->'email',
                                      'user_metadata', o->'claims'->'user_metadata',
                                      'client_tier', o->'claims'->'client_tier') END
    FROM (SELECT oauth_rls.custom_access_token_hook(event) AS o) AS r
$$;
-- A user hook that removes exp and role altogether.
CREATE FUNCTION public.chain_dropping_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_set(event, '{claims}', (event->'claims') - 'exp' - 'role')
$$;
SET oauth_rls.chained_hook = 'public.chain_hook(jsonb)';

-- 1. exp: a shorter token (5 minutes) is kept; a longer one is not.
SELECT pg_temp.hook('{"exp": 1766996700}', pg_temp.ev()) AS direct_5_minutes;
SELECT pg_temp.hook('{"exp": 1766996700}', pg_temp.tp()) AS third_party_5_minutes;
SELECT pg_temp.hook('{"exp": 9999999999}', pg_temp.ev()) AS direct_longer;
SELECT pg_temp.hook('{"exp": 1767000000}', pg_temp.ev())->'exp' AS same_exp;

-- 2. role: the user hook's choice is kept, for direct sessions and OAuth
-- clients alike ...
SELECT pg_temp.hook('{"role": "anon"}', pg_temp.ev()) AS direct_anon;
SELECT pg_temp.hook('{"role": "anon"}', pg_temp.fp()) AS first_party_anon;
SELECT pg_temp.hook('{"role": "anon"}', pg_temp.tp()) AS third_party_anon;
SELECT pg_temp.hook('{"role": "service_role"}', pg_temp.ev()) AS direct_service_role;
SELECT pg_temp.hook('{"role": "service_role"}', pg_temp.fp()) AS first_party_service_role;
-- ... but a third-party client never gets a role that bypasses row level
-- security (superuser or BYPASSRLS): the guards would not apply to it.
SELECT pg_temp.hook('{"role": "service_role"}', pg_temp.tp()) AS third_party_service_role;
SELECT pg_temp.hook('{"role": "service_role"}', pg_temp.oauth('dddddddd-0000-4000-8000-0000000000c1'))
       AS unregistered_service_role;
SELECT pg_temp.hook(jsonb_build_object('role', current_user), pg_temp.tp()) AS third_party_superuser;
-- A role that does not exist is the user hook's business (PostgREST refuses it).
SELECT pg_temp.hook('{"role": "no_such_role"}', pg_temp.tp())->'role' AS missing_role;
-- Auth's own role, left as it was by the user hook, is not second-guessed.
SELECT pg_temp.hook('{}', pg_temp.ev('{"client_id": "ca000000-0000-4000-8000-000000000002", "scope": "openid",
                                 "role": "service_role"}')) AS auth_role_unchanged;

-- 3. aud: the user hook's choice is kept, unless the client has an audience
-- setting, which applies after it.
SELECT pg_temp.hook('{"aud": "https://reports.example"}', pg_temp.ev())->'aud' AS direct_aud;
SELECT pg_temp.hook('{"aud": "https://reports.example"}', pg_temp.tp())->'aud' AS third_party_aud;
SELECT pg_temp.hook('{"aud": "https://reports.example"}', pg_temp.api())->'aud' AS partner_api_aud;
SELECT pg_temp.hook('{"aud": ["authenticated", "https://reports.example"]}', pg_temp.ev())->'aud' AS direct_aud_array;

-- 4. Our rules after the user hook: third-party minimisation, blocked clients.
CREATE FUNCTION pg_temp.rewriting() RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"exp": 1766996700, "role": "anon", "email": "other@example.com",
           "user_metadata": {"full_name": "Someone Else"}}'::jsonb
$$;
SELECT pg_temp.hook(pg_temp.rewriting(), pg_temp.tp('openid'))
       AS third_party_minimised;
SELECT pg_temp.hook(pg_temp.rewriting(), pg_temp.tp('openid email profile'))
       AS third_party_with_scopes;
SELECT pg_temp.hook(pg_temp.rewriting(), pg_temp.bl()) AS blocked;

-- 5. A user hook that drops exp and role: Auth's are kept.
SET oauth_rls.chained_hook = 'public.chain_dropping_hook(jsonb)';
SELECT pg_temp.hook('{}', pg_temp.ev()) AS dropped_exp_and_role;
SET oauth_rls.chained_hook = 'public.chain_hook(jsonb)';

-- 6. exp and role of the wrong type: refused (Auth's schema), never signed.
SELECT patch, pg_temp.hook(patch, pg_temp.ev()) AS output
  FROM (VALUES ('{"exp": "1766996700"}'::jsonb), ('{"exp": 1766996700.5}'), ('{"exp": null}'),
               ('{"role": 1}'), ('{"role": null}'), ('{"role": ["anon"]}')) AS t(patch);
RESET chain_test.patch;

RESET oauth_rls.chained_hook;
RESET oauth_rls.record_issuance;
DROP FUNCTION public.chain_hook(jsonb);
DROP FUNCTION public.chain_dropping_hook(jsonb);
DELETE FROM oauth_rls.clients WHERE client_id LIKE 'ca000000-%';
