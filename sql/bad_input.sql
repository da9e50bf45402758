-- Bad input through every public function.  For each input: the distinct
-- outcomes of every claim-reading function (an error with its SQLSTATE and
-- message, or the answer), and whether a row guarded by is_first_party()
-- became visible.  Malformed claims must raise, or give the least trusted
-- answer (a sub or session_id that is not a uuid is raised only by user_id()
-- and session_id(): tiers and guards do not depend on them); none may crash the backend, widen access or echo the input (every
-- bad input below carries the marker SECRET, which no message may show).
\set VERBOSITY terse
-- Part of it runs as Auth's role, supabase_auth_admin, which postgres may not SET ROLE to.
-- On Supabase that would be a separate connection; here the file connects as
-- supabase_admin and acts as postgres (SET SESSION AUTHORIZATION), switching
-- identity for those steps only: one session, so temporary helpers survive.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
CREATE TABLE bad_secret (id int);
INSERT INTO bad_secret VALUES (1);
ALTER TABLE bad_secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_party_only ON bad_secret TO authenticated
  USING (oauth_rls.user_id() IS NOT NULL AND oauth_rls.is_first_party());
GRANT SELECT ON bad_secret TO authenticated;
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES ('bad-fp', 'first party', 'first_party');

-- Outcome of one expression: its value, or its error; an error whose message,
-- detail or hint shows the marker is flagged.
CREATE FUNCTION pg_temp.outcome(expr text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
  detail text;
  hint text;
BEGIN
  EXECUTE 'SELECT (' || expr || ')::text' INTO result;
  RETURN coalesce(left(result, 60), 'NULL');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM
         || CASE WHEN concat_ws(' ', SQLERRM, detail, hint) LIKE '%SECRET%'
                 THEN ' [ECHOES INPUT]' ELSE '' END;
END
$$;
-- Every claim reader, grouped by outcome; run as authenticated, as under RLS.
CREATE FUNCTION pg_temp.probe() RETURNS TABLE (functions text, outcome text) LANGUAGE sql AS $$
  SELECT string_agg(fn, ' ' ORDER BY ord), o
  FROM (SELECT ord, fn, pg_temp.outcome(expr) AS o
        FROM unnest(ARRAY['claims', 'claim', 'user_id', 'client_id', 'session_id', 'scopes',
                          'has_scope', 'current_tier', 'is_oauth', 'is_first_party', 'session_active',
                          'allows', 'rows'],
                    ARRAY['length(oauth_rls.claims()::text)', 'length(oauth_rls.claim(''sub''))',
                          'oauth_rls.user_id()', 'oauth_rls.client_id()', 'oauth_rls.session_id()',
                          'cardinality(oauth_rls.scopes())', 'oauth_rls.has_scope(''openid'')',
                          'oauth_rls.current_tier()', 'oauth_rls.is_oauth()', 'oauth_rls.is_first_party()',
                          'oauth_rls.session_active()', 'oauth_rls.allows(''bad_secret'', ''select'')',
                          '(SELECT count(*) FROM bad_secret)'])
             WITH ORDINALITY AS t(fn, expr, ord)) s
  GROUP BY o ORDER BY min(ord)
$$;
GRANT EXECUTE ON FUNCTION pg_temp.outcome(text), pg_temp.probe() TO authenticated;
CREATE FUNCTION pg_temp.try(claims text) RETURNS TABLE (functions text, outcome text) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('request.jwt.claims', claims, false);
  RETURN QUERY SELECT * FROM pg_temp.probe();
  PERFORM set_config('request.jwt.claims', '', false);
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO authenticated;
SET ROLE authenticated;

-- Baseline: a good first-party token sees the row.
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp","scope":"openid"}');

-- Truncated JSON, at several points.
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"SECRET');
SELECT * FROM pg_temp.try('{"sub":"SECRET-4b5a-4c6d-8e7f-0123456789ab",');
SELECT * FROM pg_temp.try('{"client_id":');
SELECT * FROM pg_temp.try('{');
SELECT * FROM pg_temp.try('SECRET');

-- Not an object.
SELECT * FROM pg_temp.try('["SECRET"]');
SELECT * FROM pg_temp.try('"SECRET"');
SELECT * FROM pg_temp.try('42');
SELECT * FROM pg_temp.try('null');
SELECT * FROM pg_temp.try('true');

-- Deeply nested JSON: at the top, and inside an otherwise good token.
SELECT * FROM pg_temp.try(repeat('[', 100000) || repeat(']', 100000));
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp","app_metadata":'
                          || repeat('{"a":', 100000) || '1' || repeat('}', 100000) || '}');
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp","app_metadata":'
                          || repeat('{"a":', 1000) || '"SECRET"' || repeat('}', 1000) || '}');

-- 1 MB claims: a huge claim beside good ones works; a huge scope claim splits.
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp","pad":"'
                          || repeat('x', 1048576) || '"}');
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","scope":"' || repeat('a ', 524288) || 'openid"}');
SELECT * FROM pg_temp.try('{"client_id":"' || repeat('x', 1048576) || '"}');

-- Huge arrays: where an array is allowed (aud) and where it is not.
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp","aud":['
                          || repeat('"authenticated",', 100000) || '"authenticated"]}');
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":[' || repeat('"bad-fp",', 100000) || '"bad-fp"]}');
SELECT * FROM pg_temp.try('{"scope":[' || repeat('"openid",', 100000) || '"openid"]}');

-- Wrong JSON types for every claim that is read (beside a good sub, so that a
-- claim read as "absent" instead of refused would show the guarded row).
SELECT c AS claim, v AS value, p.*
FROM unnest(ARRAY['sub', 'session_id', 'client_id', 'scope']) AS c,
     unnest(ARRAY['12345', '["SECRET"]', '{"v":"SECRET"}', 'true', 'null', '""', '"SECRET"', '" "']) AS v,
     LATERAL pg_temp.try('{' || CASE WHEN c = 'sub' THEN '' ELSE '"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",' END
                         || '"' || c || '":' || v || '}') AS p
ORDER BY array_position(ARRAY['sub', 'session_id', 'client_id', 'scope'], c),
         array_position(ARRAY['12345', '["SECRET"]', '{"v":"SECRET"}', 'true', 'null', '""', '"SECRET"', '" "'], v),
         p.functions;

-- Strings the JSON parser refuses, and odd but valid ones.
SELECT * FROM pg_temp.try('{"client_id":"\ud800SECRET"}');
SELECT * FROM pg_temp.try('{"client_id":"SECRET\u0000"}');
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp\u0000"}');
SELECT * FROM pg_temp.try('{"client_id":"bad-f\u0070"}');
SELECT * FROM pg_temp.try('{"client_id":"bad-fp ","sub":"6F1C2D3E-4B5A-4C6D-8E7F-0123456789AB"}');
SELECT * FROM pg_temp.try('{"sub":"{6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab}"}');
SELECT * FROM pg_temp.try('{"sub":"6f1c2d3e4b5a4c6d8e7f0123456789ab"}');
SELECT * FROM pg_temp.try('{"client_id":"' || repeat('é', 300) || '"}');
-- Duplicate keys: jsonb keeps the last one, as auth.jwt() does.
SELECT * FROM pg_temp.try('{"client_id":"bad-fp","client_id":"SECRET"}');
SELECT * FROM pg_temp.try('{"client_id":"SECRET","client_id":"bad-fp"}');

-- Invalid UTF-8 never reaches the extension: PostgreSQL refuses it first.
SELECT set_config('request.jwt.claims', convert_from('\x7b22636c69656e745f6964223a22ff227d'::bytea, 'UTF8'), false);
SELECT set_config('request.jwt.claims', E'{"client_id":"\xc3\x28"}', false);
SELECT * FROM pg_temp.probe();

-- The legacy settings: request.jwt.claim wins over request.jwt.claims, and
-- request.jwt.claim.sub over the claims' sub; each is checked the same way.
SELECT set_config('request.jwt.claims', '{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"bad-fp"}', false);
SELECT set_config('request.jwt.claim', '{"client_id":', false);
SELECT * FROM pg_temp.probe();
SELECT set_config('request.jwt.claim', '', false);
SELECT set_config('request.jwt.claim.sub', 'SECRET', false);
SELECT * FROM pg_temp.probe();
SELECT set_config('request.jwt.claim.sub', '', false);
SELECT set_config('request.jwt.claim.client_id', repeat('x', 256), false);
SELECT * FROM pg_temp.probe();
RESET request.jwt.claim.client_id;
RESET request.jwt.claims;

-- NULL for every argument: strict functions answer NULL; NULL settings clear.
SELECT oauth_rls.claim(NULL) IS NULL AS claim_null, oauth_rls.has_scope(NULL) IS NULL AS has_scope_null,
       oauth_rls.tier_of(NULL) IS NULL AS tier_of_null;
SELECT set_config('request.jwt.claims', NULL, false) IS NULL AS set_null;
SELECT * FROM pg_temp.probe();

-- tier_of() with odd client ids: never an error, never more than the default tier.
SELECT oauth_rls.tier_of('') AS empty, oauth_rls.tier_of(repeat('x', 1048576)) AS huge,
       oauth_rls.tier_of('bad-fp ') AS trailing_space, oauth_rls.tier_of('BAD-FP') AS other_case,
       oauth_rls.tier_of('bad-fp') AS registered;
-- The setting is the owner's (only roles granted SET may change it).
RESET ROLE;
SET oauth_rls.unregistered_client_tier = blocked;
SELECT oauth_rls.tier_of('') AS empty, oauth_rls.tier_of(repeat('x', 1048576)) AS huge;
RESET oauth_rls.unregistered_client_tier;
SET oauth_rls.unregistered_client_tier = first_party;
SET oauth_rls.unregistered_client_tier = 'SECRET';
SET oauth_rls.unregistered_client_tier = '';
SET ROLE authenticated;

-- allows(): NULLs answer NULL (strict); unknown commands and tables are refused.
SELECT oauth_rls.allows(NULL, 'select') IS NULL AS null_table, oauth_rls.allows('bad_secret', NULL) IS NULL AS null_command;
SELECT pg_temp.outcome('oauth_rls.allows(''bad_secret'', ''truncate'')');
SELECT pg_temp.outcome('oauth_rls.allows(''bad_secret'', repeat(''x'', 1048576))') LIKE 'ERROR 22023:%' AS huge_command_refused;
SELECT pg_temp.outcome('oauth_rls.allows(''bad_secret'', '''')');
SELECT pg_temp.outcome('oauth_rls.allows(0, ''select'')');

-- The token hook never raises and never returns NULL: every bad event gets
-- an error object (or, where the event is usable, claims), never echoing it.
-- (In a transaction rolled back at the end: the hook counts issued tokens.)
RESET ROLE;
BEGIN;
CREATE FUNCTION pg_temp.hook(event text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result jsonb;
BEGIN
  result := oauth_rls.custom_access_token_hook(event::jsonb);
  RETURN CASE WHEN result IS NULL THEN 'NULL RESULT'
              WHEN result ? 'error' THEN 'error ' || (result #>> '{error,http_code}') || ': '
                   || left(result #>> '{error,message}', 100)
              WHEN result ? 'claims' THEN 'claims, client_tier ' || coalesce(result #>> '{claims,client_tier}', '-')
              ELSE 'OTHER ' || left(result::text, 60) END
         || CASE WHEN result::text LIKE '%SECRET%' AND NOT result ? 'claims' THEN ' [ECHOES INPUT]' ELSE '' END;
EXCEPTION WHEN OTHERS THEN
  RETURN 'RAISED ' || SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.hook(text) TO supabase_auth_admin;
SET SESSION AUTHORIZATION supabase_auth_admin;
-- whole events that are not usable
SELECT n AS event, pg_temp.hook(e) AS outcome
FROM (VALUES
  ('null', 'null'), ('array', '["SECRET"]'), ('string', '"SECRET"'), ('empty object', '{}'),
  ('claims null', '{"user_id":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","claims":null}'),
  ('claims array', '{"user_id":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","claims":["SECRET"]}'),
  ('claims string', '{"user_id":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","claims":"SECRET"}')
) AS t(n, e);
-- (truncated JSON cannot reach the hook: its argument is jsonb, and Auth builds the event)
-- a complete, valid event with one claim replaced (or removed) at a time
SELECT n AS event, pg_temp.hook(jsonb_build_object('user_id', '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab',
         'authentication_method', 'oauth_provider/authorization_code',
         'claims', (base - strip) || o)::text) AS outcome
FROM (SELECT '{"iss":"https://x.supabase.co/auth/v1","aud":"authenticated","exp":4102444800,"iat":1700000000,
               "sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","email":"ann@example.com","phone":"","role":"authenticated",
               "aal":"aal1","session_id":"5e000000-0000-4000-8000-00000000000b","is_anonymous":false,
               "client_id":"bad-fp","scope":"openid email"}'::jsonb AS base) b,
     LATERAL (VALUES
  ('valid (first-party)', '', '{}'::jsonb),
  ('client_id number', '', '{"client_id":12345}'), ('client_id array', '', '{"client_id":["SECRET"]}'),
  ('client_id object', '', '{"client_id":{"a":"SECRET"}}'), ('client_id empty', '', '{"client_id":""}'),
  ('client_id null', '', '{"client_id":null}'), ('client_id unknown', '', '{"client_id":"SECRET-client"}'),
  ('scope number', '', '{"scope":12345}'), ('scope object', '', '{"scope":{"a":"SECRET"}}'),
  ('sub not uuid', '', '{"sub":"SECRET"}'), ('sub number', '', '{"sub":12345}'),
  ('aud object', '', '{"aud":{"a":"SECRET"}}'), ('exp string', '', '{"exp":"SECRET"}'),
  ('no sub', 'sub', '{}'), ('no aud', 'aud', '{}'),
  ('1 MB claim', '', jsonb_build_object('pad', repeat('x', 1048576))),
  ('deep app_metadata', '', ('{"app_metadata":' || repeat('{"a":', 2000) || '"SECRET"' || repeat('}', 2000) || '}')::jsonb),
  ('huge aud array', '', jsonb_build_object('aud', (SELECT jsonb_agg('authenticated'::text) FROM generate_series(1, 100000))))
) AS t(n, strip, o);
SELECT pg_temp.hook(NULL) AS null_event;
ROLLBACK;
SET ROLE authenticated;

-- API keys through request.headers (as PostgREST sets it): a malformed header
-- or key gives NULL from every key reader, never an error that would fail the
-- request, never someone's access; the valid key works beside it.
RESET ROLE;
CREATE TABLE bad_keyed (owner uuid);
INSERT INTO bad_keyed VALUES ('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab');
ALTER TABLE bad_keyed ENABLE ROW LEVEL SECURITY;
CREATE POLICY key_owner ON bad_keyed TO anon USING (owner = oauth_rls.api_key_owner());
GRANT SELECT ON bad_keyed TO anon;
SELECT oauth_rls.create_api_key('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'bad input', '{read}') AS good_key \gset
CREATE FUNCTION pg_temp.try_key(headers text) RETURNS TABLE (functions text, outcome text) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('request.headers', headers, false);
  RETURN QUERY
    SELECT string_agg(fn, ' ' ORDER BY ord), o
    FROM (SELECT ord, fn, pg_temp.outcome(expr) AS o
          FROM unnest(ARRAY['api_key_owner', 'api_key_id', 'api_key_scopes', 'current_tier', 'rows'],
                      ARRAY['oauth_rls.api_key_owner()', 'length(oauth_rls.api_key_id())', 'oauth_rls.api_key_scopes()',
                            'oauth_rls.current_tier()', '(SELECT count(*) FROM bad_keyed)'])
               WITH ORDINALITY AS t(fn, expr, ord)) s
    GROUP BY o ORDER BY min(ord);
  PERFORM set_config('request.headers', '', false);
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try_key(text) TO anon;
SET ROLE anon;
SELECT h AS case, p.* FROM (VALUES
  ('valid key', json_build_object('x-api-key', :'good_key')::text),
  ('headers truncated', '{"x-api-key":"' || :'good_key'),
  ('headers an array', json_build_array(:'good_key')::text),
  ('headers a string', to_json(:'good_key'::text)::text),
  ('headers null', 'null'),
  ('key a number', '{"x-api-key":12345}'),
  ('key an array', json_build_object('x-api-key', json_build_array(:'good_key'))::text),
  ('key an object', '{"x-api-key":{"k":"SECRET"}}'),
  ('key null', '{"x-api-key":null}'),
  ('key empty', '{"x-api-key":""}'),
  ('header name in capitals', json_build_object('X-API-Key', :'good_key')::text),
  ('key with a space', json_build_object('x-api-key', ' ' || :'good_key')::text),
  ('key with a NUL escape', '{"x-api-key":"' || :'good_key' || '\u0000"}'),
  ('checksum off by one', json_build_object('x-api-key', left(:'good_key', -1) || CASE WHEN right(:'good_key', 1) = 'a' THEN 'b' ELSE 'a' END)::text),
  ('secret of another length', json_build_object('x-api-key', :'good_key' || 'x')::text),
  ('unknown native key', '{"x-api-key":"pk_0123456789ABCDEF.sk_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ03mHXz"}'),
  ('unknown foreign key', '{"x-api-key":"pk_SECRET.sk_SECRET"}'),
  ('no secret', '{"x-api-key":"pk_SECRET"}'),
  ('1 MB key', json_build_object('x-api-key', 'pk_x.sk_' || repeat('S', 1048576))::text),
  ('1 MB of headers', json_build_object('x-api-key', :'good_key', 'pad', repeat('x', 1048576))::text),
  ('duplicate header, bad last', '{"x-api-key":"' || :'good_key' || '","x-api-key":"SECRET"}')
) AS c(h, v), LATERAL pg_temp.try_key(v) AS p;
SELECT * FROM pg_temp.try_key(json_build_object('x-api-key', :'good_key')::text);
RESET ROLE;
-- validate_api_key() (service_role): NULL and malformed keys answer no row or a clear error
SET ROLE service_role;
SELECT count(*) AS rows_for_null FROM oauth_rls.validate_api_key(NULL);
SELECT pg_temp.outcome('(SELECT count(*) FROM oauth_rls.validate_api_key(''''))');
SELECT pg_temp.outcome('(SELECT count(*) FROM oauth_rls.validate_api_key(''pk_SECRET.sk_SECRET''))');
SELECT pg_temp.outcome('(SELECT count(*) FROM oauth_rls.validate_api_key(repeat(''p'', 1048576)))');
SELECT pg_temp.outcome('(SELECT count(*) FROM oauth_rls.validate_api_key(''' || :'good_key' || '''))');
RESET ROLE;
DELETE FROM oauth_rls.api_keys WHERE name = 'bad input';
DROP TABLE bad_keyed;
SET ROLE authenticated;

-- The backend survived all of the above.
SELECT 1 AS alive;
RESET ROLE;
DELETE FROM oauth_rls.clients WHERE client_id = 'bad-fp';
DROP TABLE bad_secret;
