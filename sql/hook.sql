-- The Custom Access Token Hook: realistic events, per-client settings,
-- minimisation, chaining, bad input, issuance metrics and client review.
SET client_min_messages = warning;
-- Two steps below alter the extension's own tables, which only their owner,
-- the bootstrap superuser, may do (as on Supabase).  The file therefore
-- connects as supabase_admin and runs as postgres (SET SESSION
-- AUTHORIZATION), returning to supabase_admin for those steps only: one
-- session, so the temporary helpers survive.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
SET client_min_messages = warning;

-- The registry: first-party app, partner, blocked scraper, and a partner API
-- client with per-client settings.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('c0ffee00-0000-4000-8000-000000000001', 'Company mobile app', 'first_party'),
  ('c0ffee00-0000-4000-8000-000000000002', 'Partner CRM', 'third_party'),
  ('c0ffee00-0000-4000-8000-000000000003', 'Scraper', 'blocked');
INSERT INTO oauth_rls.clients (client_id, name, tier, audience, extra_claims, strip_claims) VALUES
  ('c0ffee00-0000-4000-8000-000000000004', 'Partner API', 'third_party', 'https://api.partner.example',
   '{"plan": "partner", "permissions": ["profiles:read"]}', '{app_metadata}');

-- Events as Supabase Auth sends them.  ev(patch, method, drop) merges patch
-- into a password sign-in's claims and removes the keys in drop.
CREATE FUNCTION pg_temp.ev(patch jsonb DEFAULT '{}', method text DEFAULT 'password',
                           drop_keys text[] DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'metadata', '{"uuid": "0b0e0b0e-0000-4000-8000-000000000001", "time": "2026-11-22T10:00:00Z",
                  "name": "custom_access_token", "ip_address": "203.0.113.7"}'::jsonb,
    'user_id', '8d1c8a7e-0000-4000-8000-000000000001',
    'authentication_method', method,
    'claims', ('{"iss": "https://abcd.supabase.co/auth/v1",
                 "sub": "8d1c8a7e-0000-4000-8000-000000000001", "aud": "authenticated",
                 "exp": 1767000000, "iat": 1766996400,
                 "email": "ada@example.com", "phone": "15550001111",
                 "app_metadata": {"provider": "email", "providers": ["email"]},
                 "user_metadata": {"full_name": "Ada Lovelace", "avatar_url": "https://example.com/ada.png"},
                 "role": "authenticated", "aal": "aal1",
                 "amr": [{"method": "password", "timestamp": 1766996400}],
                 "session_id": "5e551011-0000-4000-8000-000000000001", "is_anonymous": false}'::jsonb
               || patch) - drop_keys)
$$;
CREATE FUNCTION pg_temp.oauth(client text, scope text, method text DEFAULT 'oauth_provider/authorization_code')
  RETURNS jsonb LANGUAGE sql AS $$
  SELECT pg_temp.ev(jsonb_build_object('client_id', client, 'scope', scope), method)
$$;

-- Every call is kept, to check every successful output at the end.
CREATE TEMP TABLE calls (n serial, label text, event jsonb, output jsonb);
CREATE FUNCTION pg_temp.hook(label text, event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  INSERT INTO calls (label, event, output)
  VALUES (label, event, oauth_rls.custom_access_token_hook(event))
  RETURNING output
$$;

-- Auth's rules for a successful output: required claims present with the
-- right types; sub, role, session_id, client_id, exp, iat as in the event.
CREATE FUNCTION pg_temp.schema_problems(event jsonb, output jsonb) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_remove(ARRAY[
    CASE WHEN coalesce(jsonb_typeof(c), '') <> 'object' THEN 'claims is not an object' END,
    CASE WHEN coalesce(jsonb_typeof(c->'aud'), '') NOT IN ('string', 'array') THEN 'aud' END,
    CASE WHEN jsonb_typeof(c->'aud') = 'array' AND EXISTS (
      SELECT 1 FROM jsonb_array_elements(c->'aud') a WHERE jsonb_typeof(a) <> 'string') THEN 'aud element' END,
    CASE WHEN coalesce(c->>'exp', '') !~ '^-?[0-9]+$' OR jsonb_typeof(c->'exp') <> 'number' THEN 'exp' END,
    CASE WHEN coalesce(c->>'iat', '') !~ '^-?[0-9]+$' OR jsonb_typeof(c->'iat') <> 'number' THEN 'iat' END,
    CASE WHEN coalesce(jsonb_typeof(c->'sub'), '') <> 'string' THEN 'sub' END,
    CASE WHEN coalesce(jsonb_typeof(c->'email'), '') <> 'string' THEN 'email' END,
    CASE WHEN coalesce(jsonb_typeof(c->'phone'), '') <> 'string' THEN 'phone' END,
    CASE WHEN coalesce(jsonb_typeof(c->'role'), '') <> 'string' THEN 'role' END,
    CASE WHEN coalesce(jsonb_typeof(c->'aal'), '') <> 'string' THEN 'aal' END,
    CASE WHEN coalesce(jsonb_typeof(c->'session_id'), '') <> 'string' THEN 'session_id' END,
    CASE WHEN coalesce(jsonb_typeof(c->'is_anonymous'), '') <> 'boolean' THEN 'is_anonymous' END,
    CASE WHEN coalesce(jsonb_typeof(c->'iss'), 'string') <> 'string' THEN 'iss' END,
    CASE WHEN coalesce(jsonb_typeof(c->'client_id'), 'string') <> 'string' THEN 'client_id' END,
    CASE WHEN coalesce(jsonb_typeof(c->'app_metadata'), 'object') <> 'object' THEN 'app_metadata' END,
    CASE WHEN coalesce(jsonb_typeof(c->'user_metadata'), 'object') <> 'object' THEN 'user_metadata' END,
    CASE WHEN coalesce(jsonb_typeof(c->'amr'), 'array') <> 'array' THEN 'amr' END,
    CASE WHEN c ? 'iss' IS DISTINCT FROM e ? 'iss' THEN 'iss dropped' END,
    CASE WHEN c->'sub' IS DISTINCT FROM e->'sub' THEN 'sub changed' END,
    CASE WHEN c->'role' IS DISTINCT FROM e->'role' THEN 'role changed' END,
    CASE WHEN c->'session_id' IS DISTINCT FROM e->'session_id' THEN 'session_id changed' END,
    CASE WHEN c->'client_id' IS DISTINCT FROM e->'client_id' THEN 'client_id changed' END,
    CASE WHEN c->'exp' IS DISTINCT FROM e->'exp' THEN 'exp changed' END,
    CASE WHEN c->'iat' IS DISTINCT FROM e->'iat' THEN 'iat changed' END,
    CASE WHEN coalesce(jsonb_typeof(c->'client_tier'), '') <> 'string' THEN 'client_tier' END
  ], NULL)
  FROM (SELECT output->'claims' AS c, event->'claims' AS e) AS s
$$;

-- What the hook changed: claims added, removed or altered.
CREATE FUNCTION pg_temp.diff(event jsonb, output jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT coalesce(jsonb_object_agg(k, CASE WHEN NOT (output->'claims') ? k THEN '"<removed>"'::jsonb
                                          ELSE output->'claims'->k END ORDER BY k), '{}')
    FROM (SELECT jsonb_object_keys(output->'claims') AS k
          UNION SELECT jsonb_object_keys(event->'claims')) AS keys
   WHERE (output->'claims'->k) IS DISTINCT FROM (event->'claims'->k)
$$;

-- 1. Direct sessions: unchanged, plus client_tier "direct".
SELECT jsonb_pretty(pg_temp.hook('password sign-in', pg_temp.ev()));
-- The settings (defined once the module is loaded) and their defaults.
SHOW oauth_rls.minimize_third_party_claims;
SHOW oauth_rls.chained_hook;
SHOW oauth_rls.record_issuance;
SELECT pg_temp.diff(e, pg_temp.hook(label, e)) AS changed
  FROM (VALUES ('anonymous sign-in', pg_temp.ev('{"email": "", "phone": "", "is_anonymous": true,
                  "amr": [{"method": "anonymous", "timestamp": 1766996400}], "user_metadata": {}}', 'anonymous')),
               ('otp sign-in', pg_temp.ev('{}', 'otp')),
               ('direct refresh', pg_temp.ev('{}', 'token_refresh')),
               ('aal2 session', pg_temp.ev('{"aal": "aal2", "amr": [{"method": "totp", "timestamp": 1766996500},
                  {"method": "password", "timestamp": 1766996400}]}')),
               ('nbf and jti present', pg_temp.ev('{"nbf": 1766996400, "jti": "abc"}')),
               ('amr as strings', pg_temp.ev('{"amr": ["password"]}'))) AS t(label, e);
-- Without metadata (Auth before v2.187) and without authentication_method.
SELECT pg_temp.diff(e, pg_temp.hook('no metadata', e)) AS changed
  FROM (SELECT pg_temp.ev() - 'metadata' - 'authentication_method' AS e) AS t;
-- aud as an array passes through unchanged.
SELECT pg_temp.hook('aud array', pg_temp.ev('{"aud": ["authenticated"]}'))->'claims'->'aud' AS aud;

-- 2. First-party clients: nothing minimised, client_tier "first_party".
SELECT pg_temp.diff(e, pg_temp.hook(label, e)) AS changed
  FROM (VALUES ('first-party code exchange', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000001', 'openid')),
               ('first-party refresh', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000001', 'openid', 'token_refresh')))
       AS t(label, e);

-- 3. Third-party clients: personal claims need their scope.
SELECT scope, o->'claims'->'email' AS email, o->'claims'->'phone' AS phone,
       o->'claims'->'user_metadata' AS user_metadata, o->'claims'->>'client_tier' AS tier
  FROM (VALUES (''), ('openid'), ('openid email'), ('openid phone'), ('openid profile'),
               ('openid email phone'), ('email  profile'), ('openid email phone profile offline_access'),
               ('emailx profiles phone2')) AS s(scope),
       LATERAL pg_temp.hook('third-party scope ' || scope,
                            pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', scope)) AS o;
-- A third-party refresh, and one without a scope claim at all.
SELECT pg_temp.diff(e, pg_temp.hook(label, e)) AS changed
  FROM (VALUES ('third-party refresh', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', 'openid email',
                                                     'token_refresh')),
               ('third-party no scope claim', pg_temp.ev('{"client_id": "c0ffee00-0000-4000-8000-000000000002"}')))
       AS t(label, e);
-- Minimisation turned off.
SET oauth_rls.minimize_third_party_claims = off;
SELECT pg_temp.diff(e, pg_temp.hook('third-party, minimisation off', e)) AS changed
  FROM (SELECT pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', 'openid') AS e) AS t;
RESET oauth_rls.minimize_third_party_claims;

-- 4. Blocked clients are refused, with no user data in the message.
SELECT pg_temp.hook('blocked', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000003', 'openid email'));
SELECT pg_temp.hook('blocked refresh', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000003', 'openid',
                                                     'token_refresh'));

-- 5. Unregistered clients: third_party by default, blocked on request.
SELECT pg_temp.diff(e, pg_temp.hook('unregistered', e)) AS changed
  FROM (SELECT pg_temp.oauth('dddddddd-0000-4000-8000-000000000099', 'openid email') AS e) AS t;
SET oauth_rls.unregistered_client_tier = 'blocked';
SELECT pg_temp.hook('unregistered, setting blocked', pg_temp.oauth('dddddddd-0000-4000-8000-000000000099', 'openid'));
-- ... while registered clients keep their tier.
SELECT pg_temp.hook('first-party, unregistered blocked',
                    pg_temp.oauth('c0ffee00-0000-4000-8000-000000000001', 'openid'))->'claims'->>'client_tier' AS tier;
RESET oauth_rls.unregistered_client_tier;

-- 6. Per-client settings: audience, extra claims, stripped claims.
SELECT pg_temp.diff(e, pg_temp.hook(label, e)) AS changed
  FROM (VALUES ('partner api', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000004', 'openid email profile')),
               ('partner api, aud array', pg_temp.ev('{"client_id": "c0ffee00-0000-4000-8000-000000000004",
                  "scope": "openid", "aud": ["authenticated", "other"]}'))) AS t(label, e);
-- Stripping email or phone blanks them (Auth requires them); others go.
UPDATE oauth_rls.clients SET strip_claims = '{email, app_metadata, user_metadata, unknown_claim}',
                             extra_claims = '{}', audience = NULL
 WHERE client_id = 'c0ffee00-0000-4000-8000-000000000001';
SELECT pg_temp.diff(e, pg_temp.hook('first-party stripped', e)) AS changed
  FROM (SELECT pg_temp.oauth('c0ffee00-0000-4000-8000-000000000001', 'openid email profile') AS e) AS t;
-- Extra claims replace top-level claims, after minimisation.
UPDATE oauth_rls.clients SET strip_claims = '{}',
       extra_claims = '{"user_metadata": {"tenant": "acme"}, "email": "support@acme.example", "tenant": "acme"}'
 WHERE client_id = 'c0ffee00-0000-4000-8000-000000000002';
SELECT pg_temp.diff(e, pg_temp.hook('third-party with extra claims', e)) AS changed
  FROM (SELECT pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', 'openid') AS e) AS t;
-- A settings change is seen by the next call.
UPDATE oauth_rls.clients SET extra_claims = '{}' WHERE client_id = 'c0ffee00-0000-4000-8000-000000000002';
SELECT pg_temp.diff(e, pg_temp.hook('third-party extra claims removed', e)) AS changed
  FROM (SELECT pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', 'openid') AS e) AS t;

-- Settings of the wrong shape are refused.
\set VERBOSITY terse
UPDATE oauth_rls.clients SET extra_claims = '{"role": "service_role"}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = '{"sub": "x"}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = '{"client_tier": "first_party"}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = '{"aal": "aal2"}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = '{"email": 1}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = '{"app_metadata": []}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = '["not", "an", "object"]' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET extra_claims = NULL WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET strip_claims = '{sub}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET strip_claims = '{client_tier}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET strip_claims = '{NULL}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET strip_claims = '{{a},{b}}' WHERE client_id LIKE 'c0ffee00%';
UPDATE oauth_rls.clients SET audience = '' WHERE client_id LIKE 'c0ffee00%';
\set VERBOSITY default

-- 7. Protected claims: even with the CHECK constraints gone, extra and
-- stripped claims cannot touch them, and a client_tier in the event is replaced.
BEGIN;
RESET SESSION AUTHORIZATION;
ALTER TABLE oauth_rls.clients DROP CONSTRAINT clients_extra_claims_check;
ALTER TABLE oauth_rls.clients DROP CONSTRAINT clients_strip_claims_check;
SET SESSION AUTHORIZATION postgres;
UPDATE oauth_rls.clients
   SET extra_claims = '{"sub": "00000000-0000-0000-0000-000000000000", "role": "service_role", "aud": "x",
                        "exp": 9999999999, "iss": "evil", "aal": "aal2", "is_anonymous": true,
                        "client_id": "other", "scope": "admin", "client_tier": "first_party",
                        "email": 42, "user_metadata": "text", "ok": true}',
       strip_claims = '{sub, role, exp, iat, session_id, client_id, aud, is_anonymous, aal}'
 WHERE client_id = 'c0ffee00-0000-4000-8000-000000000002';
SELECT pg_temp.diff(e, pg_temp.hook('protected claims', e)) AS changed
  FROM (SELECT pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', 'openid email profile') AS e) AS t;
ROLLBACK;
SELECT pg_temp.hook('client_tier in the event',
                    pg_temp.ev('{"client_tier": "first_party", "client_id": "c0ffee00-0000-4000-8000-000000000002"}'))
       ->'claims'->>'client_tier' AS tier;

-- 8. Chaining to a user hook, which runs first.
CREATE TABLE public.hook_log (n serial, note text);
-- An RBAC hook of the kind Supabase's docs show; it also tries to change
-- claims that say who the user is and how they signed in, and to lengthen
-- the token's life.  (What a chained hook may change, role and a shorter
-- exp, is in hook_chain.sql.)
CREATE FUNCTION public.rbac_hook(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.hook_log (note) VALUES ('rbac_hook ran');
  RETURN jsonb_set(event, '{claims}', (event->'claims') || '{"user_role": "editor",
    "aal": "aal2", "sub": "00000000-0000-0000-0000-000000000000", "exp": 9999999999, "client_tier": "first_party",
    "email": "changed@example.com"}');
END
$$;
CREATE FUNCTION public.refusing_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"error": {"http_code": 403, "message": "Your account is suspended"}}'::jsonb
$$;
CREATE FUNCTION public.raising_hook(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.hook_log (note) VALUES ('raising_hook ran');
  RAISE EXCEPTION 'secret detail about %', event->'claims'->>'email';
END
$$;
CREATE FUNCTION public.null_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
CREATE FUNCTION public.array_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$;
CREATE FUNCTION public.empty_error_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_set(event, '{error}', '{"http_code": 400, "message": ""}')
$$;
CREATE FUNCTION public.null_error_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_set(event, '{error}', 'null') || '{"other": 1}'
$$;
CREATE FUNCTION public.no_claims_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event - 'claims' $$;
CREATE FUNCTION public.bad_claims_hook(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_set(event, '{claims,email}', 'null')
$$;
CREATE FUNCTION public.text_hook(event text) RETURNS text LANGUAGE sql AS $$ SELECT event $$;

SET oauth_rls.chained_hook = 'public.rbac_hook(jsonb)';
SELECT pg_temp.diff(e, pg_temp.hook('chained rbac, direct', e)) AS changed
  FROM (SELECT pg_temp.ev() AS e) AS t;
SELECT pg_temp.diff(e, pg_temp.hook('chained rbac, third-party', e)) AS changed
  FROM (SELECT pg_temp.oauth('c0ffee00-0000-4000-8000-000000000002', 'openid') AS e) AS t;
-- A blocked client is refused before the user hook runs.
TRUNCATE public.hook_log;
SELECT pg_temp.hook('chained rbac, blocked', pg_temp.oauth('c0ffee00-0000-4000-8000-000000000003', 'openid'));
SELECT count(*) AS user_hook_runs FROM public.hook_log;

SET oauth_rls.chained_hook = 'public.refusing_hook(jsonb)';
SELECT pg_temp.hook('chained refusal', pg_temp.ev());

-- A raising user hook: an error object, its message not echoed, and its
-- writes rolled back.
SET oauth_rls.chained_hook = 'public.raising_hook(jsonb)';
SELECT pg_temp.hook('chained raises', pg_temp.ev());
SELECT count(*) AS rows_left_by_raising_hook FROM public.hook_log;
-- The database log names the stage, the SQLSTATE and the hook, never the
-- error's text: a user hook's message can carry claims (here the email).
SET client_min_messages = log;
SELECT pg_temp.hook('chained raises, logged', pg_temp.ev())->'error'->>'message' AS message;
SET client_min_messages = warning;

SELECT setting, pg_temp.hook('chained ' || setting, pg_temp.ev()) AS output
  FROM (VALUES ('public.null_hook(jsonb)'), ('public.array_hook(jsonb)'), ('public.empty_error_hook(jsonb)'),
               ('public.no_claims_hook(jsonb)'), ('public.bad_claims_hook(jsonb)'),
               ('public.missing_hook(jsonb)'), ('public.text_hook(text)'), ('not a signature'),
               ('oauth_rls.custom_access_token_hook(jsonb)')) AS s(setting),
       LATERAL (SELECT set_config('oauth_rls.chained_hook', setting, false)) AS c;
-- "error": null is no error: the hook's claims are used.
SET oauth_rls.chained_hook = 'public.null_error_hook(jsonb)';
SELECT pg_temp.hook('chained null error', pg_temp.ev())->'claims'->>'client_tier' AS tier;
RESET oauth_rls.chained_hook;

-- 9. Bad input: always an error object, never an exception or NULL.
SELECT label, oauth_rls.custom_access_token_hook(e) AS output
  FROM (VALUES ('NULL', NULL::jsonb),
               ('JSON null', 'null'),
               ('array', '[{"claims": {}}]'),
               ('string', '"claims"'),
               ('number', '42'),
               ('empty object', '{}'),
               ('claims null', '{"claims": null}'),
               ('claims array', '{"claims": []}'),
               ('claims string', '{"claims": "{}"}'),
               ('user_id number', pg_temp.ev() || '{"user_id": 5}'),
               ('metadata string', pg_temp.ev() || '{"metadata": "x"}'),
               ('method number', pg_temp.ev() || '{"authentication_method": 1}')) AS t(label, e);
-- Each required claim missing.
SELECT k AS missing, pg_temp.hook('missing ' || k, pg_temp.ev('{}', 'password', ARRAY[k]))->'error' AS error
  FROM unnest(ARRAY['aud', 'exp', 'iat', 'sub', 'email', 'phone', 'role', 'aal', 'session_id', 'is_anonymous']) AS k;
-- Claims of the wrong type.
SELECT patch, pg_temp.hook('wrong type ' || patch, pg_temp.ev(patch::jsonb))->'error' AS error
  FROM unnest(ARRAY['{"aud": 5}', '{"aud": [1]}', '{"aud": null}', '{"exp": "1767000000"}', '{"exp": 1.5}', '{"exp": 1767000000.0}',
                    '{"iat": true}', '{"nbf": "x"}', '{"sub": 1}', '{"email": null}', '{"phone": 15550001111}',
                    '{"role": ["a"]}', '{"aal": 1}', '{"session_id": {}}', '{"is_anonymous": "false"}',
                    '{"iss": 1}', '{"jti": 2}', '{"client_id": 7}', '{"client_id": null}', '{"client_id": ""}',
                    '{"scope": ["email"]}', '{"app_metadata": []}', '{"user_metadata": "x"}',
                    '{"amr": "password"}', '{"amr": [1]}']) AS patch;
SELECT pg_temp.hook('client_id too long', pg_temp.ev(jsonb_build_object('client_id', repeat('x', 256))))->'error' AS error;
-- An enormous event is refused by its size, quickly.
SELECT pg_temp.hook('enormous event',
                    pg_temp.ev(jsonb_build_object('user_metadata', jsonb_build_object('blob', repeat('x', 300000)))))
       AS output;
SELECT pg_temp.hook('deeply nested user_metadata',
                    pg_temp.ev(jsonb_build_object('user_metadata',
                                                  repeat('{"a":', 1000) || '1' || repeat('}', 1000))))
       ->'error'->>'message' AS text_user_metadata;
SELECT pg_temp.hook('deeply nested object', pg_temp.ev(jsonb_build_object('user_metadata',
                    (repeat('{"a":', 1000) || '1' || repeat('}', 1000))::jsonb)))->'claims'->>'client_tier' AS tier;
-- The longest authentication method kept is 64 bytes.
SELECT pg_temp.hook('long method', pg_temp.ev('{}', repeat('m', 100)))->'claims'->>'client_tier' AS tier;

-- Every output is an object with claims or a well-formed error, never NULL.
SELECT count(*) FILTER (WHERE output IS NULL) AS null_outputs,
       count(*) FILTER (WHERE output ? 'error' AND NOT (
         jsonb_typeof(output->'error'->'http_code') = 'number'
         AND coalesce(output->'error'->>'message', '') <> '')) AS malformed_errors,
       count(*) FILTER (WHERE NOT output ? 'error' AND NOT output ? 'claims') AS neither
  FROM calls;
-- Every successful output satisfies Auth's schema and keeps the identity claims.
SELECT label, pg_temp.schema_problems(event, output) AS problems
  FROM calls
 WHERE output ? 'claims' AND pg_temp.schema_problems(event, output) <> '{}';
SELECT count(*) AS successful_outputs_checked FROM calls WHERE output ? 'claims';

-- 10. Issuance metrics: one count per token issued or refused as blocked.
SELECT client, tier, method, sum(tokens) AS tokens
  FROM oauth_rls.token_issuance GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT client, sum(tokens) AS tokens, sum(refused) AS refused, count(*) <= 2 AS one_row_per_day
  FROM oauth_rls.token_issuance_daily GROUP BY client ORDER BY client;
-- The first issuance of a transaction adds to the row of the transaction's
-- counter slot (pid % 16 when free, as here); more issuances in the same
-- transaction (several calls in one statement above) go to rows of that
-- slot's own range, from shard 64 on (511 rows per slot).
SELECT count(DISTINCT shard) FILTER (WHERE shard < 64) AS slot_rows,
       bool_and(shard = pg_backend_pid() % 16) FILTER (WHERE shard < 64) AS preferred_slot,
       count(*) FILTER (WHERE shard >= 64) > 0 AS extra_rows_for_repeats,
       bool_and((shard - 64) / 511 = pg_backend_pid() % 16) FILTER (WHERE shard >= 64) AS in_slot_range
  FROM oauth_rls.token_issuance;
-- Turned off: nothing counted.
SELECT sum(tokens) AS before FROM oauth_rls.token_issuance \gset
SET oauth_rls.record_issuance = off;
SELECT pg_temp.hook('not recorded', pg_temp.ev())->'claims'->>'client_tier' AS tier;
RESET oauth_rls.record_issuance;
SELECT sum(tokens) - :before AS counted_while_off FROM oauth_rls.token_issuance;
-- In a read-only transaction (as on a standby) the token is still issued.
BEGIN READ ONLY;
SELECT pg_temp.ev() AS e \gset
SELECT oauth_rls.custom_access_token_hook(:'e')->'claims'->>'client_tier' AS tier_read_only;
COMMIT;
SELECT sum(tokens) - :before AS counted_read_only FROM oauth_rls.token_issuance;
-- A failure to count never fails the sign-in.
BEGIN;
RESET SESSION AUTHORIZATION;
ALTER TABLE oauth_rls.token_issuance ADD CONSTRAINT refuse_all CHECK (false) NOT VALID;
SET SESSION AUTHORIZATION postgres;
SELECT oauth_rls.custom_access_token_hook(:'e')->'claims'->>'client_tier' AS tier_count_failed;
SELECT sum(tokens) - :before AS counted_when_failing FROM oauth_rls.token_issuance;
ROLLBACK;
SELECT oauth_rls.custom_access_token_hook(:'e')->'claims'->>'client_tier' AS tier_after;
SELECT sum(tokens) - :before AS counted_after FROM oauth_rls.token_issuance;
-- Old counts can be pruned.
INSERT INTO oauth_rls.token_issuance VALUES (now() - interval '500 days', 'direct', 'direct', 'password', 0, 3);
SELECT oauth_rls.prune_token_issuance() AS pruned, oauth_rls.prune_token_issuance('1 year') AS pruned_again;

-- 11. Client review over auth.oauth_clients.
INSERT INTO auth.users (id, email) VALUES ('8d1c8a7e-0000-4000-8000-000000000001', 'ada@example.com');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types, client_name, deleted_at) VALUES
  ('c0ffee00-0000-4000-8000-000000000001', 'client_secret_basic', 'manual', 'https://app.example.com/callback,http://localhost:3000/cb',
   'authorization_code,refresh_token', 'Company mobile app', NULL),
  ('c0ffee00-0000-4000-8000-000000000002', 'client_secret_basic', 'manual', 'https://crm.partner.example/oauth', 'authorization_code',
   'Partner CRM', NULL),
  ('dddddddd-0000-4000-8000-000000000099', 'client_secret_basic', 'dynamic', 'http://127.0.0.1:8123/callback', 'authorization_code',
   'Claude MCP', NULL),
  ('dddddddd-0000-4000-8000-000000000098', 'client_secret_basic', 'dynamic', 'http://evil.example/cb , https://203.0.113.9/cb',
   'authorization_code', 'Free Prizes', NULL),
  ('dddddddd-0000-4000-8000-000000000097', 'client_secret_basic', 'dynamic', 'https://*.example.net/cb', 'authorization_code',
   'Wildcard', NULL),
  ('dddddddd-0000-4000-8000-000000000096', 'client_secret_basic', 'manual', 'https://old.example.com/cb', 'authorization_code',
   'Retired app', now() - interval '1 day');
INSERT INTO auth.sessions (id, user_id, oauth_client_id, not_after) VALUES
  ('5e551011-0000-4000-8000-000000000010', '8d1c8a7e-0000-4000-8000-000000000001', 'dddddddd-0000-4000-8000-000000000096', NULL),
  ('5e551011-0000-4000-8000-000000000011', '8d1c8a7e-0000-4000-8000-000000000001', 'dddddddd-0000-4000-8000-000000000098', now() + interval '1 hour'),
  ('5e551011-0000-4000-8000-000000000012', '8d1c8a7e-0000-4000-8000-000000000001', 'c0ffee00-0000-4000-8000-000000000001', now() - interval '1 hour');
-- A spike: 40 tokens today against 7 in the previous week.  (Shard 60 is an
-- overflow slot's row, which this lone session's own counts never use.)
INSERT INTO oauth_rls.token_issuance VALUES
  (date_trunc('hour', now(), 'UTC'), 'c0ffee00-0000-4000-8000-000000000002', 'third_party', 'token_refresh', 60, 40),
  (date_trunc('day', now(), 'UTC') - interval '3 days', 'c0ffee00-0000-4000-8000-000000000002', 'third_party',
   'token_refresh', 60, 7);
SELECT name, registration_type, registered_tier, tier, tokens_24h >= tokens_today AS tokens_24h_cover_today,
       live_sessions, flags
  FROM oauth_rls.client_review ORDER BY name;
SELECT name, tokens_today, tokens_7d FROM oauth_rls.client_review
 WHERE client_id IN ('c0ffee00-0000-4000-8000-000000000002', 'dddddddd-0000-4000-8000-000000000099')
 ORDER BY name;

-- 12. Privileges: only supabase_auth_admin may run the hook.
SELECT r.rolname, has_function_privilege(r.rolname, 'oauth_rls.custom_access_token_hook(jsonb)', 'EXECUTE') AS execute,
       has_table_privilege(r.rolname, 'oauth_rls.token_issuance', 'INSERT') AS insert_counts,
       has_table_privilege(r.rolname, 'oauth_rls.clients', 'SELECT') AS read_registry
  FROM pg_roles AS r
 WHERE r.rolname IN ('supabase_auth_admin', 'anon', 'authenticated', 'service_role', 'authenticator')
 ORDER BY 1;
SELECT p.prosecdef AS security_definer, p.proisstrict AS strict, p.provolatile
  FROM pg_proc AS p WHERE p.oid = 'oauth_rls.custom_access_token_hook(jsonb)'::regprocedure;
SET ROLE authenticated;
SELECT oauth_rls.custom_access_token_hook('{}');
RESET ROLE;
