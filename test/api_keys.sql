-- pgTAP: API keys (issue, validate, revoke, rotate, expire, import, RLS,
-- tiers, privileges).  One transaction, rolled back.
BEGIN;
SELECT plan(65);

-- Objects and privileges.
SELECT has_table('oauth_rls', 'api_keys', 'oauth_rls.api_keys exists');
SELECT has_pk('oauth_rls', 'api_keys', 'api_keys has a primary key');
SELECT col_type_is('oauth_rls', 'api_keys', 'digest', 'bytea', 'the digest is bytea');
SELECT hasnt_column('oauth_rls', 'api_keys', 'secret', 'no column holds a secret');
SELECT has_function('oauth_rls', 'create_api_key', ARRAY['uuid', 'text', 'text[]', 'timestamp with time zone', 'text'], 'create_api_key exists');
SELECT has_function('oauth_rls', 'validate_api_key', ARRAY['text'], 'validate_api_key exists');
SELECT has_function('oauth_rls', 'revoke_api_key', ARRAY['text'], 'revoke_api_key exists');
SELECT has_function('oauth_rls', 'rotate_api_key', ARRAY['text', 'interval'], 'rotate_api_key exists');
SELECT has_function('oauth_rls', 'diagnose_api_key', ARRAY['text'], 'diagnose_api_key exists');
SELECT has_function('oauth_rls', 'api_key_owner', 'api_key_owner exists');
SELECT has_function('oauth_rls', 'api_key_scopes', 'api_key_scopes exists');
SELECT table_privs_are('oauth_rls', 'api_keys', 'anon', ARRAY[]::text[], 'anon has no right on api_keys');
SELECT table_privs_are('oauth_rls', 'api_keys', 'authenticated', ARRAY[]::text[], 'authenticated has no right on api_keys');
SELECT function_privs_are('oauth_rls', 'validate_api_key', ARRAY['text'], 'anon', ARRAY[]::text[],
                          'anon cannot call validate_api_key');
SELECT function_privs_are('oauth_rls', 'diagnose_api_key', ARRAY['text'], 'authenticated', ARRAY[]::text[],
                          'authenticated cannot call the diagnostic');
SELECT function_privs_are('oauth_rls', 'create_api_key', ARRAY['uuid', 'text', 'text[]', 'timestamp with time zone', 'text'],
                          'service_role', ARRAY['EXECUTE'], 'service_role can create keys');
SELECT function_privs_are('oauth_rls', 'api_key_owner', ARRAY[]::text[], 'anon', ARRAY['EXECUTE'],
                          'anon can call api_key_owner');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname = 'oauth_rls' AND p.proname LIKE '%api_key%' AND p.prosecdef),
          'no API key function is SECURITY DEFINER');

-- Keys made during the test, kept in a temp table (never printed).
CREATE TEMP TABLE k (name text PRIMARY KEY, key text);
INSERT INTO k VALUES
  ('a', oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000001', 'cli', '{notes:read}')),
  ('b', oauth_rls.create_api_key('bbbbbbbb-0000-4000-8000-000000000001', 'other')),
  ('c', oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000001', 'partner', '{}', NULL, 'partner-app'));
CREATE FUNCTION pg_temp.key(n text) RETURNS text LANGUAGE sql AS $$ SELECT key FROM k WHERE name = n $$;
CREATE FUNCTION pg_temp.id(n text) RETURNS text LANGUAGE sql AS $$ SELECT substr(key, 4, 16) FROM k WHERE name = n $$;

SELECT matches(pg_temp.key('a'), '^pk_[0-9A-Za-z]{16}\.sk_[0-9A-Za-z]{49}$', 'a new key follows the grammar');
SELECT is((SELECT digest FROM oauth_rls.api_keys WHERE key_id = pg_temp.id('a')),
          sha256(convert_to(substr(pg_temp.key('a'), 24), 'UTF8')), 'the stored digest is SHA-256 of the secret');
SELECT results_eq(
  format('SELECT key_id, owner, scopes, client_id FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a')),
  format('VALUES (%L, %L::uuid, %L::text[], NULL::text)', pg_temp.id('a'), 'aaaaaaaa-0000-4000-8000-000000000001', '{notes:read}'),
  'a valid key gives its id, owner, scopes and client');
SELECT is(oauth_rls.diagnose_api_key(pg_temp.key('a')), 'valid', 'the diagnostic calls it valid');

-- Malformed input: never an error, never a row.
SELECT is_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', c.k), 'no row: ' || c.label)
  FROM (VALUES
    ('empty', ''),
    ('no dot', replace(pg_temp.key('a'), '.', '')),
    ('wrong prefix', 'ak_' || substr(pg_temp.key('a'), 4)),
    ('wrong secret prefix', replace(pg_temp.key('a'), '.sk_', '.pk_')),
    ('bad alphabet', overlay(pg_temp.key('a') placing '~' from 10)),
    ('bad checksum', left(pg_temp.key('a'), 71) || CASE WHEN right(pg_temp.key('a'), 1) = 'z' THEN 'y' ELSE 'z' END),
    ('truncated', left(pg_temp.key('a'), 60)),
    ('10 KB', repeat(pg_temp.key('a'), 150)),
    ('multibyte', overlay(pg_temp.key('a') placing 'ß' from 30)),
    ('someone else''s id with my secret', left(pg_temp.key('b'), 23) || substr(pg_temp.key('a'), 24))
  ) c(label, k);
SELECT throws_ok($$SELECT * FROM oauth_rls.validate_api_key(convert_from('\x706b5fc3'::bytea, 'UTF8'))$$,
                 '22021', NULL, 'invalid UTF-8 is refused before it reaches the validator');
SELECT is(oauth_rls.diagnose_api_key(left(pg_temp.key('a'), 71) || CASE WHEN right(pg_temp.key('a'), 1) = 'z' THEN 'y' ELSE 'z' END),
          'bad checksum: the key was mistyped or altered', 'the diagnostic names a bad checksum');
SELECT is(oauth_rls.diagnose_api_key(left(pg_temp.key('b'), 23) || substr(pg_temp.key('a'), 24)),
          'bad checksum: the key was mistyped or altered', 'a secret moved to another id fails its checksum');

-- Revocation.
SELECT ok(oauth_rls.revoke_api_key(pg_temp.id('b')), 'revoke_api_key revokes');
SELECT is_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', pg_temp.key('b')), 'a revoked key is invalid');
SELECT is(oauth_rls.diagnose_api_key(pg_temp.key('b')), 'revoked', 'the diagnostic says revoked');
SELECT ok(NOT oauth_rls.revoke_api_key(pg_temp.id('b')), 'revoking twice reports false');
SELECT throws_ok(format('SELECT oauth_rls.revoke_api_key(%L)', pg_temp.key('a')), 'P0002',
                 'no API key has this key id', 'passing a whole key is refused without echoing it');

-- Expiry.
UPDATE oauth_rls.api_keys SET expires_at = now() + interval '1 day' WHERE key_id = pg_temp.id('a');
SELECT isnt_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a')), 'valid before its expiry');
UPDATE oauth_rls.api_keys SET expires_at = now() WHERE key_id = pg_temp.id('a');
SELECT is_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a')), 'invalid from its expiry on');
SELECT is(oauth_rls.diagnose_api_key(pg_temp.key('a')), 'expired', 'the diagnostic says expired');
UPDATE oauth_rls.api_keys SET expires_at = NULL WHERE key_id = pg_temp.id('a');

-- Rotation.
INSERT INTO k VALUES ('a2', oauth_rls.rotate_api_key(pg_temp.id('a'), '1 hour'));
SELECT isnt_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a')), 'the old key works during the grace period');
SELECT results_eq(format('SELECT owner, scopes FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a2')),
                  $$VALUES ('aaaaaaaa-0000-4000-8000-000000000001'::uuid, '{notes:read}'::text[])$$,
                  'the new key has the same owner and scopes');
INSERT INTO k VALUES ('a3', oauth_rls.rotate_api_key(pg_temp.id('a2')));
SELECT is_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a2')), 'without grace the old key stops at once');
SELECT isnt_empty(format('SELECT * FROM oauth_rls.validate_api_key(%L)', pg_temp.key('a3')), 'the newest key works');
SELECT throws_ok(format('SELECT oauth_rls.rotate_api_key(%L)', pg_temp.id('b')), '55000', NULL, 'a revoked key cannot be rotated');
SELECT throws_ok(format('SELECT oauth_rls.rotate_api_key(%L, %L)', pg_temp.id('a3'), '-1 second'), '22023', NULL,
                 'a negative grace period is refused');

-- Import from a pgcrypto-based table.
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
SELECT lives_ok($$SELECT oauth_rls.import_api_key('legacy1', 'cccccccc-0000-4000-8000-000000000001',
                    encode(extensions.digest('old-secret-1', 'sha256'), 'hex'), 'legacy', '{notes:read}')$$,
                'a pgcrypto hex digest imports');
SELECT results_eq($$SELECT key_id, owner FROM oauth_rls.validate_api_key('pk_legacy1.sk_old-secret-1')$$,
                  $$VALUES ('legacy1'::text, 'cccccccc-0000-4000-8000-000000000001'::uuid)$$,
                  'the imported key validates unchanged');
SELECT is_empty($$SELECT * FROM oauth_rls.validate_api_key('pk_legacy1.sk_old-secret-2')$$,
                'an imported key with a wrong secret is invalid');
SELECT throws_ok($$SELECT oauth_rls.import_api_key('legacy2', 'cccccccc-0000-4000-8000-000000000001', 'abc')$$,
                 '22023', NULL, 'a digest that is not 64 hex digits is refused');

-- Keys inside RLS: anon sees exactly the key owner's rows.
CREATE TABLE public.tap_notes (id int PRIMARY KEY, owner_id uuid NOT NULL);
ALTER TABLE public.tap_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tap_notes_owner ON public.tap_notes FOR SELECT TO anon, authenticated
  USING (owner_id = coalesce(oauth_rls.user_id(), oauth_rls.api_key_owner()));
GRANT SELECT ON public.tap_notes TO anon, authenticated;
INSERT INTO public.tap_notes VALUES (1, 'aaaaaaaa-0000-4000-8000-000000000001'),
  (2, 'bbbbbbbb-0000-4000-8000-000000000001'), (3, 'cccccccc-0000-4000-8000-000000000001');
CREATE TEMP TABLE seen (label text, ids int[], owner uuid, scopes text[], tier text);
GRANT ALL ON seen TO anon;
CREATE FUNCTION pg_temp.as_anon_with(label text, headers text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('request.headers', headers, true);
  SET LOCAL ROLE anon;
  INSERT INTO seen SELECT label, (SELECT array_agg(id ORDER BY id) FROM public.tap_notes),
    oauth_rls.api_key_owner(), oauth_rls.api_key_scopes(), oauth_rls.current_tier()::text;
  RESET ROLE;
END
$$;
SELECT pg_temp.as_anon_with('key a3', json_build_object('x-api-key', pg_temp.key('a3'))::text);
SELECT pg_temp.as_anon_with('legacy key', json_build_object('x-api-key', 'pk_legacy1.sk_old-secret-1')::text);
SELECT pg_temp.as_anon_with('revoked key', json_build_object('x-api-key', pg_temp.key('b'))::text);
SELECT pg_temp.as_anon_with('no key', '{"accept": "*/*"}');
SELECT pg_temp.as_anon_with('garbage', json_build_object('x-api-key', repeat('x', 10000))::text);
SELECT pg_temp.as_anon_with('partner key', json_build_object('x-api-key', pg_temp.key('c'))::text);
SELECT is((SELECT ids FROM seen WHERE label = 'key a3'), '{1}'::int[], 'anon with a key sees its owner''s rows');
SELECT is((SELECT owner FROM seen WHERE label = 'key a3'), 'aaaaaaaa-0000-4000-8000-000000000001'::uuid, 'api_key_owner() names the owner');
SELECT is((SELECT scopes FROM seen WHERE label = 'key a3'), '{notes:read}'::text[], 'api_key_scopes() gives the scopes');
SELECT is((SELECT ids FROM seen WHERE label = 'legacy key'), '{3}'::int[], 'an imported key works in RLS');
SELECT is((SELECT ids FROM seen WHERE label = 'revoked key'), NULL::int[], 'a revoked key sees nothing');
SELECT is((SELECT owner FROM seen WHERE label = 'revoked key'), NULL::uuid, 'a revoked key has no owner');
SELECT is((SELECT ids FROM seen WHERE label = 'no key'), NULL::int[], 'no key sees nothing');
SELECT is((SELECT scopes FROM seen WHERE label = 'garbage'), NULL::text[], 'garbage has no scopes');
SELECT is((SELECT tier FROM seen WHERE label = 'partner key'), 'third_party', 'a key naming an unregistered client is third_party');
SELECT is((SELECT tier FROM seen WHERE label = 'key a3'), 'third_party',
          'a key naming no client is an application, never a direct session: unregistered_client_tier');

INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES ('partner-app', 'Partner', 'blocked');
SELECT pg_temp.as_anon_with('partner key, blocked', json_build_object('x-api-key', pg_temp.key('c'))::text);
SELECT is((SELECT tier FROM seen WHERE label = 'partner key, blocked'), 'blocked', 'the key''s client tier follows the registry');

-- The diagnostic never returns the key.
SELECT ok(NOT EXISTS (SELECT 1 FROM k WHERE position(substr(key, 24) IN oauth_rls.diagnose_api_key(key)) > 0),
          'no diagnosis contains a secret');

SELECT * FROM finish();
ROLLBACK;
