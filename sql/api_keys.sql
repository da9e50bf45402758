-- API keys: format, lifecycle, malformed input, import, RLS, tiers, privileges.
-- Keys are random: they are kept in psql variables and never printed; the
-- output shows properties of them instead.

-- An independent CRC-32 (zlib's) and base62 in SQL, to build keys with a
-- correct checksum and to check the extension's checksum against it.
CREATE FUNCTION pg_temp.crc32(data bytea) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  crc bigint := 4294967295;
BEGIN
  FOR i IN 0 .. length(data) - 1 LOOP
    crc := crc # get_byte(data, i);
    FOR j IN 1 .. 8 LOOP
      crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 3988292384 ELSE crc >> 1 END;
    END LOOP;
  END LOOP;
  RETURN crc # 4294967295;
END
$$;
CREATE FUNCTION pg_temp.base62(n bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  alphabet text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  out text := '';
BEGIN
  FOR i IN 1 .. 6 LOOP
    out := substr(alphabet, (n % 62)::int + 1, 1) || out;
    n := n / 62;
  END LOOP;
  RETURN out;
END
$$;
CREATE FUNCTION pg_temp.with_checksum(body text) RETURNS text LANGUAGE sql AS
  $$ SELECT body || pg_temp.base62(pg_temp.crc32(convert_to(body, 'UTF8'))) $$;
SELECT to_hex(pg_temp.crc32('123456789')) AS crc32_check_value;

-- A new key: pk_ + 16 base62, ".sk_" + 49 base62 (43 random + 6 checksum).
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000001', 'laptop CLI',
                                '{notes:read,notes:write}') AS key_a \gset
SELECT length(:'key_a') AS length,
       :'key_a' ~ '^pk_[0-9A-Za-z]{16}\.sk_[0-9A-Za-z]{49}$' AS grammar,
       pg_temp.with_checksum(left(:'key_a', 66)) = :'key_a' AS checksum_is_zlib_crc32;

-- Only the id and the SHA-256 of the secret are stored.
SELECT key_id = substr(:'key_a', 4, 16) AS id_is_public_part,
       digest = sha256(convert_to(substr(:'key_a', 24), 'UTF8')) AS digest_is_sha256_of_secret,
       digest_input, imported, name, scopes, client_id, expires_at, revoked_at, last_used_at, replaced_by
  FROM oauth_rls.api_keys;
SELECT count(*) AS rows_holding_the_secret FROM oauth_rls.api_keys t
 WHERE row(t.*)::text LIKE '%' || substr(:'key_a', 24, 20) || '%';

-- Keys are random: 100 keys, 100 ids, 100 secrets, every base62 digit used.
CREATE TEMP TABLE many AS
  SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-00000000000f', 'bulk') AS k
    FROM generate_series(1, 100);
SELECT count(DISTINCT substr(k, 4, 16)) AS ids, count(DISTINCT substr(k, 24)) AS secrets,
       (SELECT count(DISTINCT c) FROM many, regexp_split_to_table(substr(k, 24, 43), '') c) AS digits
  FROM many;
DELETE FROM oauth_rls.api_keys WHERE owner = 'aaaaaaaa-0000-4000-8000-00000000000f';

-- Validation: one row for a valid key.
SELECT key_id = substr(:'key_a', 4, 16) AS same_id, owner, scopes, client_id
  FROM oauth_rls.validate_api_key(:'key_a');
SELECT oauth_rls.diagnose_api_key(:'key_a');
SELECT last_used_at IS NOT NULL AS use_recorded FROM oauth_rls.api_keys;
SELECT count(*) AS null_key_rows FROM oauth_rls.validate_api_key(NULL);
-- Rows are cached per backend (oauth_rls.api_key_cache_size); without the
-- cache the answers are the same.
SHOW oauth_rls.api_key_cache_size;
SET oauth_rls.api_key_cache_size = 0;
SELECT count(*) AS valid_without_cache FROM oauth_rls.validate_api_key(:'key_a');
RESET oauth_rls.api_key_cache_size;
SET oauth_rls.api_key_cache_size = -1;

-- The malformed-input corpus: never an error, never a row.
CREATE TEMP TABLE corpus (label text, k text);
INSERT INTO corpus VALUES
  ('empty', ''),
  ('prefix only', 'pk_'),
  ('no dot', 'pk_' || substr(:'key_a', 4, 16) || 'sk_' || substr(:'key_a', 24)),
  ('dot at the end', 'pk_abc.'),
  ('upper-case prefixes', upper(left(:'key_a', 3)) || substr(:'key_a', 4)),
  ('secret first', 'sk_' || substr(:'key_a', 24) || '.pk_' || substr(:'key_a', 4, 16)),
  ('pk- instead of pk_', 'pk-' || substr(:'key_a', 4)),
  ('.pk_ instead of .sk_', left(:'key_a', 19) || '.pk_' || substr(:'key_a', 24)),
  ('leading space', ' ' || :'key_a'),
  ('trailing newline', :'key_a' || E'\n'),
  ('bad alphabet in id', 'pk_' || overlay(substr(:'key_a', 4, 16) placing '!' from 5) || substr(:'key_a', 20)),
  ('bad alphabet in secret (+)', overlay(:'key_a' placing '+' from 40)),
  ('space in secret', overlay(:'key_a' placing ' ' from 40)),
  ('bad checksum', left(:'key_a', 71) || CASE WHEN right(:'key_a', 1) = 'A' THEN 'B' ELSE 'A' END),
  ('one character changed', overlay(:'key_a' placing CASE WHEN substr(:'key_a', 30, 1) = 'x' THEN 'y' ELSE 'x' END from 30)),
  ('truncated by one', left(:'key_a', 71)),
  ('truncated to the id', left(:'key_a', 19)),
  ('truncated after .sk_', left(:'key_a', 23)),
  ('one character too many', :'key_a' || 'x'),
  ('key twice', :'key_a' || :'key_a'),
  ('10 KB', repeat('a', 10240)),
  ('10 KB after a valid key', :'key_a' || repeat('x', 10240)),
  ('10 KB id', 'pk_' || repeat('a', 10240) || '.sk_x'),
  ('multibyte in secret', overlay(:'key_a' placing 'é' from 40)),
  ('multibyte everywhere', 'pk_ключ.sk_секрет'),
  ('invalid UTF-8 read as LATIN1', convert_from('\x706b5fff2e736b5fff'::bytea, 'LATIN1'));
SELECT label, (SELECT count(*) FROM oauth_rls.validate_api_key(k)) AS rows,
       oauth_rls.diagnose_api_key(k) AS diagnosis
  FROM corpus;
-- Invalid UTF-8 cannot reach the function: the text is refused first.
\set VERBOSITY terse
SELECT * FROM oauth_rls.validate_api_key(convert_from('\x706b5fff2e736b5fff'::bytea, 'UTF8'));
\set VERBOSITY default

-- Well formed, good checksum, yet invalid: unknown id and wrong secret look
-- the same to validate_api_key(); only the diagnostic tells them apart.
SELECT pg_temp.with_checksum('pk_ZZZZZZZZZZZZZZZZ.sk_' || repeat('A', 43)) AS unknown_key \gset
SELECT pg_temp.with_checksum(left(:'key_a', 23) || repeat('A', 43)) AS wrong_secret_key \gset
SELECT (SELECT count(*) FROM oauth_rls.validate_api_key(:'unknown_key')) AS unknown_rows,
       oauth_rls.diagnose_api_key(:'unknown_key') AS unknown,
       (SELECT count(*) FROM oauth_rls.validate_api_key(:'wrong_secret_key')) AS wrong_secret_rows,
       oauth_rls.diagnose_api_key(:'wrong_secret_key') AS wrong_secret;

-- A key built outside the extension with zlib's CRC-32 is accepted.
INSERT INTO oauth_rls.api_keys (key_id, owner, digest)
  VALUES ('abcdefghijklmnop', 'aaaaaaaa-0000-4000-8000-000000000009',
          sha256('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg1KZVv7'));
SELECT owner FROM oauth_rls.validate_api_key(
  'pk_abcdefghijklmnop.sk_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg1KZVv7');
DELETE FROM oauth_rls.api_keys WHERE key_id = 'abcdefghijklmnop';

-- Expiry.
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000002', 'expiring', '{}',
                                now() + interval '1 hour') AS key_e \gset
SELECT count(*) AS valid_before FROM oauth_rls.validate_api_key(:'key_e');
UPDATE oauth_rls.api_keys SET expires_at = now() - interval '1 second' WHERE key_id = substr(:'key_e', 4, 16);
SELECT count(*) AS valid_after, oauth_rls.diagnose_api_key(:'key_e') FROM oauth_rls.validate_api_key(:'key_e');
-- A key whose expiry is the transaction's start time is already expired.
BEGIN;
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000002', 'expires now', '{}', now()) AS key_now \gset
SELECT count(*) AS valid FROM oauth_rls.validate_api_key(:'key_now');
ROLLBACK;

-- Revocation.
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000003', 'to revoke') AS key_r \gset
SELECT oauth_rls.revoke_api_key(substr(:'key_r', 4, 16)) AS revoked,
       oauth_rls.revoke_api_key(substr(:'key_r', 4, 16)) AS revoked_again;
SELECT count(*) AS valid, oauth_rls.diagnose_api_key(:'key_r') FROM oauth_rls.validate_api_key(:'key_r');
\set VERBOSITY terse
SELECT oauth_rls.revoke_api_key('nosuchkey');
SELECT oauth_rls.revoke_api_key(:'key_r');
\set VERBOSITY default

-- Rotation without grace: the old key stops at once.
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000004', 'rotating', '{x}',
                                '2999-01-01', 'client-r') AS key_o \gset
BEGIN;
SELECT oauth_rls.rotate_api_key(substr(:'key_o', 4, 16)) AS key_n \gset
SELECT (SELECT count(*) FROM oauth_rls.validate_api_key(:'key_o')) AS old_valid,
       oauth_rls.diagnose_api_key(:'key_o') AS old,
       (SELECT count(*) FROM oauth_rls.validate_api_key(:'key_n')) AS new_valid,
       substr(:'key_n', 4, 16) <> substr(:'key_o', 4, 16) AS new_id;
SELECT n.owner, n.name, n.scopes, n.client_id, n.expires_at = '2999-01-01' AS same_expiry,
       o.replaced_by = n.key_id AS linked, o.expires_at = now() AS old_expires_now
  FROM oauth_rls.api_keys o JOIN oauth_rls.api_keys n ON n.key_id = substr(:'key_n', 4, 16)
 WHERE o.key_id = substr(:'key_o', 4, 16);
COMMIT;
-- With a grace period the old key keeps working until it ends.
BEGIN;
SELECT oauth_rls.rotate_api_key(substr(:'key_n', 4, 16), '1 hour') AS key_n2 \gset
SELECT (SELECT count(*) FROM oauth_rls.validate_api_key(:'key_n')) AS old_valid,
       (SELECT count(*) FROM oauth_rls.validate_api_key(:'key_n2')) AS new_valid,
       (SELECT expires_at = now() + interval '1 hour' FROM oauth_rls.api_keys
         WHERE key_id = substr(:'key_n', 4, 16)) AS old_expires_after_grace;
COMMIT;
\set VERBOSITY terse
-- (key ids are random: the helper shows the error with the id masked)
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '"[0-9A-Za-z]{16}"', '"<id>"');
END
$$;
SELECT pg_temp.error_of(format('SELECT oauth_rls.rotate_api_key(%L)', substr(:'key_o', 4, 16))) AS rotate_expired;
SELECT pg_temp.error_of(format('SELECT oauth_rls.rotate_api_key(%L)', substr(:'key_r', 4, 16))) AS rotate_revoked;
SELECT oauth_rls.rotate_api_key(substr(:'key_n2', 4, 16), '-1 hour');
SELECT oauth_rls.rotate_api_key(substr(:'key_n2', 4, 16), NULL);
SELECT oauth_rls.rotate_api_key('nosuchkey');
SELECT oauth_rls.create_api_key(NULL, 'x');
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000004', 'x', NULL);
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000004', 'x', '{a,NULL}');
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000004', 'x', '{}', NULL, '');
\set VERBOSITY default

-- (The tests below set last_used_at back by hand; touching a watched column,
-- name, makes that change invalidate the backends' caches of the row.)
-- last_used_at: refreshed at most once a minute; also in a transaction the
-- client made read-only (PostgREST's GET), but not in a database made
-- read-only (default_transaction_read_only) nor under SERIALIZABLE.
SELECT last_used_at AS first_use FROM oauth_rls.api_keys WHERE key_id = substr(:'key_a', 4, 16) \gset
SELECT count(*) FROM oauth_rls.validate_api_key(:'key_a');
SELECT last_used_at = :'first_use' AS unchanged_within_a_minute
  FROM oauth_rls.api_keys WHERE key_id = substr(:'key_a', 4, 16);
UPDATE oauth_rls.api_keys SET last_used_at = '2000-01-01 00:00:00+00', name = name WHERE key_id = substr(:'key_a', 4, 16);
SET default_transaction_read_only = on;
BEGIN;
SELECT count(*) AS valid_read_only_database FROM oauth_rls.validate_api_key(:'key_a');
SELECT last_used_at = '2000-01-01 00:00:00+00' AS not_refreshed_read_only_database
  FROM oauth_rls.api_keys WHERE key_id = substr(:'key_a', 4, 16);
COMMIT;
RESET default_transaction_read_only;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) AS valid_serializable FROM oauth_rls.validate_api_key(:'key_a');
SELECT last_used_at = '2000-01-01 00:00:00+00' AS not_refreshed_serializable
  FROM oauth_rls.api_keys WHERE key_id = substr(:'key_a', 4, 16);
COMMIT;
BEGIN READ ONLY;
SELECT count(*) FROM oauth_rls.validate_api_key(:'key_a');
SELECT last_used_at = now() AS refreshed_in_read_only_transaction
  FROM oauth_rls.api_keys WHERE key_id = substr(:'key_a', 4, 16);
SHOW transaction_read_only;
COMMIT;
-- A transaction whose only write is the refresh commits asynchronously (the
-- DEBUG line says so); one that writes anything itself keeps its setting.
UPDATE oauth_rls.api_keys SET last_used_at = '2000-01-01 00:00:00+00', name = name WHERE key_id = substr(:'key_a', 4, 16);
BEGIN READ ONLY;
SELECT count(*) FROM oauth_rls.validate_api_key(:'key_a');
SET LOCAL client_min_messages = debug1;
COMMIT;
UPDATE oauth_rls.api_keys SET last_used_at = '2000-01-01 00:00:00+00', name = name WHERE key_id = substr(:'key_a', 4, 16);
BEGIN;
SELECT count(*) FROM oauth_rls.validate_api_key(:'key_a');
CREATE TABLE public.written_after (a int);
SET LOCAL client_min_messages = debug1;
COMMIT;
UPDATE oauth_rls.api_keys SET last_used_at = '2000-01-01 00:00:00+00', name = name WHERE key_id = substr(:'key_a', 4, 16);
BEGIN;
CREATE TABLE public.written_before (a int);
SELECT count(*) FROM oauth_rls.validate_api_key(:'key_a');
SET LOCAL client_min_messages = debug1;
COMMIT;
SHOW synchronous_commit;
DROP TABLE public.written_after, public.written_before;
-- Refreshing last_used_at must not invalidate caches: the invalidation
-- trigger fires for every column but that one.
SELECT array_agg(a.attname ORDER BY a.attnum) AS columns_not_watched
  FROM pg_attribute a, pg_trigger t
 WHERE t.tgrelid = 'oauth_rls.api_keys'::regclass AND t.tgname = 'api_keys_invalidate_caches'
   AND a.attrelid = t.tgrelid AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attnum <> ALL (t.tgattr::int2[]);

-- Import: keys made by a pgcrypto-based system keep working unchanged.
CREATE SCHEMA crypto;
CREATE EXTENSION pgcrypto WITH SCHEMA crypto;
SELECT oauth_rls.import_api_key('legacy_01', 'aaaaaaaa-0000-4000-8000-000000000005',
         encode(crypto.digest('s3cr3t-legacy-value', 'sha256'), 'hex'), 'old CLI', '{notes:read}');
SELECT key_id, owner, scopes, client_id
  FROM oauth_rls.validate_api_key('pk_legacy_01.sk_s3cr3t-legacy-value');
SELECT oauth_rls.diagnose_api_key('pk_legacy_01.sk_s3cr3t-legacy-value') AS right_secret,
       oauth_rls.diagnose_api_key('pk_legacy_01.sk_s3cr3t-legacy-valuE') AS wrong_secret,
       oauth_rls.diagnose_api_key('pk_legacy_02.sk_s3cr3t-legacy-value') AS unknown_id;
-- Upper-case hex, the builtin sha256(), and digests over other parts of the key.
SELECT oauth_rls.import_api_key('Legacy-02', 'aaaaaaaa-0000-4000-8000-000000000005',
         upper(encode(sha256('another'::bytea), 'hex')));
SELECT oauth_rls.import_api_key('legacy03', 'aaaaaaaa-0000-4000-8000-000000000005',
         encode(crypto.digest('sk_third', 'sha256'), 'hex'), digest_input => 'sk_secret');
SELECT oauth_rls.import_api_key('legacy04', 'aaaaaaaa-0000-4000-8000-000000000005',
         encode(crypto.digest('pk_legacy04.sk_fourth', 'sha256'), 'hex'), digest_input => 'key');
SELECT k, (SELECT count(*) FROM oauth_rls.validate_api_key(k)) AS rows
  FROM unnest(ARRAY['pk_Legacy-02.sk_another', 'pk_legacy03.sk_third', 'pk_legacy04.sk_fourth',
                    'pk_legacy03.sk_sk_third', 'pk_legacy04.sk_pk_legacy04.sk_fourth']) k;
-- With imported keys present, a truncated native key is still malformed,
-- and a foreign-looking key with an unknown id is unknown.
SELECT oauth_rls.diagnose_api_key(left(:'key_a', 71)) AS truncated_native,
       oauth_rls.diagnose_api_key('pk_nobody.sk_x') AS foreign_unknown;
\set VERBOSITY terse
SELECT oauth_rls.import_api_key('has.dot', 'aaaaaaaa-0000-4000-8000-000000000005', repeat('0', 64));
SELECT oauth_rls.import_api_key(repeat('a', 65), 'aaaaaaaa-0000-4000-8000-000000000005', repeat('0', 64));
SELECT oauth_rls.import_api_key('legacy05', 'aaaaaaaa-0000-4000-8000-000000000005', 'not-a-digest');
SELECT oauth_rls.import_api_key('legacy05', 'aaaaaaaa-0000-4000-8000-000000000005', repeat('0', 63));
SELECT oauth_rls.import_api_key('legacy05', 'aaaaaaaa-0000-4000-8000-000000000005', repeat('0', 64), digest_input => 'md5');
SELECT oauth_rls.import_api_key('legacy05', NULL, repeat('0', 64));
SELECT oauth_rls.import_api_key('legacy_01', 'aaaaaaaa-0000-4000-8000-000000000005', repeat('0', 64));
\set VERBOSITY default

-- Keys inside RLS, through request.headers as PostgREST sets it.
CREATE TABLE public.notes (id int PRIMARY KEY, owner_id uuid NOT NULL, body text);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_owner ON public.notes FOR ALL TO anon, authenticated
  USING (owner_id = coalesce(oauth_rls.user_id(), oauth_rls.api_key_owner()));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO anon, authenticated;
INSERT INTO public.notes VALUES
  (1, 'aaaaaaaa-0000-4000-8000-000000000001', 'a1'),
  (2, 'aaaaaaaa-0000-4000-8000-000000000001', 'a2'),
  (3, 'aaaaaaaa-0000-4000-8000-000000000005', 'legacy owner'),
  (4, 'bbbbbbbb-0000-4000-8000-000000000001', 'someone else');
CREATE FUNCTION pg_temp.headers(k text) RETURNS text LANGUAGE sql AS $$
  SELECT set_config('request.headers',
    json_build_object('accept', '*/*', 'x-api-key', k, 'user-agent', 'cli/1.0')::text, true)
$$;

-- A GET through PostgREST: a read-only transaction, role anon.
UPDATE oauth_rls.api_keys SET last_used_at = '2000-01-01 00:00:00+00', name = name WHERE key_id = substr(:'key_a', 4, 16);
BEGIN READ ONLY;
SET LOCAL ROLE anon;
SELECT pg_temp.headers(:'key_a') IS NOT NULL AS set;
SELECT id, body FROM public.notes ORDER BY id;
-- The key's use was recorded although anon has no right on the table.
RESET ROLE;
SELECT last_used_at = now() AS recorded_from_rls FROM oauth_rls.api_keys WHERE key_id = substr(:'key_a', 4, 16);
COMMIT;

BEGIN;
SET LOCAL ROLE anon;
SELECT pg_temp.headers(:'key_a') IS NOT NULL AS set;
SELECT oauth_rls.api_key_owner(), oauth_rls.api_key_scopes(),
       oauth_rls.api_key_id() = substr(:'key_a', 4, 16) AS key_id_known;
UPDATE public.notes SET body = 'edited with a key' WHERE id IN (1, 4) RETURNING id;
-- An imported key works the same way.
SELECT pg_temp.headers('pk_legacy_01.sk_s3cr3t-legacy-value') IS NOT NULL AS set;
SELECT id, body FROM public.notes ORDER BY id;
-- No header, an invalid key, a header that is not a string, headers that are not JSON: nothing.
SELECT set_config('request.headers', '{"accept": "*/*"}', true) IS NOT NULL AS no_key;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT pg_temp.headers(:'wrong_secret_key') IS NOT NULL AS wrong_secret;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT pg_temp.headers(left(:'key_a', 71)) IS NOT NULL AS truncated;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT pg_temp.headers(:'key_r') IS NOT NULL AS revoked;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT pg_temp.headers(:'key_e') IS NOT NULL AS expired;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT set_config('request.headers', '{"x-api-key": 42}', true) IS NOT NULL AS number;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT set_config('request.headers', '{"x-api-key": ', true) IS NOT NULL AS not_json;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
SELECT set_config('request.headers', json_build_object('X-API-Key', :'key_a')::text, true) IS NOT NULL AS mixed_case_name;
SELECT count(*), oauth_rls.api_key_owner() FROM public.notes;
-- A signed-in user's own JWT wins over a key.
SELECT pg_temp.headers(:'key_a') IS NOT NULL AS set,
       set_config('request.jwt.claims', '{"sub": "bbbbbbbb-0000-4000-8000-000000000001", "role": "authenticated"}', true) IS NOT NULL AS jwt;
SELECT id, body FROM public.notes ORDER BY id;
ROLLBACK;
-- Transaction-local headers end with the transaction.
SELECT oauth_rls.api_key_owner() AS after_rollback;

-- A revocation is seen by the next statement.
SELECT set_config('request.headers', json_build_object('x-api-key', :'key_n2')::text, false) IS NOT NULL AS set;
SELECT oauth_rls.api_key_owner() AS before_revoke;
SELECT oauth_rls.revoke_api_key(substr(:'key_n2', 4, 16));
SELECT oauth_rls.api_key_owner() AS after_revoke;
RESET request.headers;

-- current_tier(): a key that names a client acts as that client.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('app-first', 'Own app', 'first_party'),
  ('app-third', 'Partner', 'third_party'),
  ('app-blocked', 'Scraper', 'blocked');
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000006', 'k1', '{}', NULL, 'app-first') AS key_1p \gset
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000006', 'k3', '{}', NULL, 'app-third') AS key_3p \gset
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000006', 'kb', '{}', NULL, 'app-blocked') AS key_bl \gset
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000006', 'ku', '{}', NULL, 'app-unregistered') AS key_un \gset
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000006', 'k0') AS key_0 \gset
CREATE TEMP TABLE tier_cases (label text, k text);
INSERT INTO tier_cases VALUES ('first-party client', :'key_1p'), ('third-party client', :'key_3p'),
  ('blocked client', :'key_bl'), ('unregistered client', :'key_un'), ('no client', :'key_0'),
  ('invalid key', :'wrong_secret_key');
CREATE FUNCTION pg_temp.tier_with_key(k text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('request.headers', json_build_object('x-api-key', k)::text, false);
  RETURN oauth_rls.current_tier() || ' oauth=' || oauth_rls.is_oauth() || ' first_party=' || oauth_rls.is_first_party();
END
$$;
SELECT label, pg_temp.tier_with_key(k) FROM tier_cases;
-- An OAuth client in the JWT wins over the key's.
SELECT set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-4000-8000-000000000006", "client_id": "app-third"}', false) IS NOT NULL AS jwt;
SELECT pg_temp.tier_with_key(:'key_1p') AS jwt_client_wins;
RESET request.jwt.claims;
-- Revoking or changing the key changes the tier at the next statement.
SELECT pg_temp.tier_with_key(:'key_3p') AS before;
SELECT oauth_rls.revoke_api_key(substr(:'key_3p', 4, 16));
SELECT oauth_rls.current_tier() AS after_revoke;
SELECT pg_temp.tier_with_key(:'key_1p') AS before;
UPDATE oauth_rls.api_keys SET client_id = 'app-blocked' WHERE key_id = substr(:'key_1p', 4, 16);
SELECT oauth_rls.current_tier() AS after_client_change;
RESET request.headers;
SELECT oauth_rls.current_tier() AS no_key;

-- Privileges.
SELECT r.rolname, f.fn, has_function_privilege(r.rolname, f.fn, 'EXECUTE') AS can_execute
  FROM (VALUES ('anon'), ('authenticated'), ('service_role')) r(rolname),
       (VALUES ('oauth_rls.create_api_key(uuid,text,text[],timestamptz,text)'),
               ('oauth_rls.validate_api_key(text)'),
               ('oauth_rls.revoke_api_key(text)'),
               ('oauth_rls.rotate_api_key(text,interval)'),
               ('oauth_rls.import_api_key(text,uuid,text,text,text[],timestamptz,text,text)'),
               ('oauth_rls.diagnose_api_key(text)'),
               ('oauth_rls._generate_api_key()'),
               ('oauth_rls._is_valid_key_id(text)'),
               ('oauth_rls.api_key_owner()'),
               ('oauth_rls.api_key_scopes()'),
               ('oauth_rls.api_key_id()')) f(fn)
 ORDER BY 2, 1;
SELECT r.rolname, has_table_privilege(r.rolname, 'oauth_rls.api_keys', 'SELECT') AS can_select,
       has_table_privilege(r.rolname, 'oauth_rls.api_keys', 'UPDATE') AS can_update
  FROM (VALUES ('anon'), ('authenticated'), ('service_role'), ('supabase_auth_admin')) r(rolname);
\set VERBOSITY terse
SET ROLE authenticated;
SELECT * FROM oauth_rls.api_keys;
SELECT * FROM oauth_rls.validate_api_key(:'key_0');
SELECT oauth_rls.create_api_key('bbbbbbbb-0000-4000-8000-000000000001', 'mine');
SELECT oauth_rls.diagnose_api_key(:'key_0');
SELECT oauth_rls.revoke_api_key(substr(:'key_0', 4, 16));
RESET ROLE;
SET ROLE anon;
SELECT oauth_rls.import_api_key('evil', 'bbbbbbbb-0000-4000-8000-000000000001', repeat('0', 64));
SELECT oauth_rls.rotate_api_key(substr(:'key_0', 4, 16));
UPDATE oauth_rls.api_keys SET revoked_at = NULL;
RESET ROLE;
\set VERBOSITY default
-- service_role manages keys without being the owner of anything.
SET ROLE service_role;
SELECT oauth_rls.create_api_key('cccccccc-0000-4000-8000-000000000001', 'by service') AS key_s \gset
SELECT owner FROM oauth_rls.validate_api_key(:'key_s');
SELECT oauth_rls.diagnose_api_key(:'key_s');
SELECT oauth_rls.rotate_api_key(substr(:'key_s', 4, 16)) IS NOT NULL AS rotated;
SELECT oauth_rls.revoke_api_key(substr(:'key_s', 4, 16));
RESET ROLE;

-- The request's key across requests and key switches.
SELECT oauth_rls.create_api_key('eeeeeeee-0000-4000-8000-000000000001', 'switch 1', '{s:one}') AS key_m1 \gset
SELECT oauth_rls.create_api_key('eeeeeeee-0000-4000-8000-000000000002', 'switch 2', '{s:two,s:three}') AS key_m2 \gset
-- (a last use in the future keeps the refresh, and its index scans, out of the counts below)
UPDATE oauth_rls.api_keys SET last_used_at = now() + interval '1 day'
 WHERE key_id IN (substr(:'key_m1', 4, 16), substr(:'key_m2', 4, 16));
-- The same key in the next request (other headers, other settings) is not
-- validated again: no lookup, even with the row cache off.
SET oauth_rls.api_key_cache_size = 0;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-api-key', :'key_m1')::text, true) IS NOT NULL AS set;
SELECT oauth_rls.api_key_owner() AS owner;
SELECT pg_stat_get_xact_numscans('oauth_rls.api_keys_pkey'::regclass) AS scans \gset
SELECT set_config('request.headers', json_build_object('x-api-key', :'key_m1', 'user-agent', 'cli/2.0')::text, true)
         IS NOT NULL AS other_headers,
       set_config('request.jwt.claims', '{"role": "anon"}', true) IS NOT NULL AS other_claims;
SELECT oauth_rls.api_key_owner() AS same_owner, oauth_rls.api_key_scopes() AS same_scopes;
SELECT pg_stat_get_xact_numscans('oauth_rls.api_keys_pkey'::regclass) - :scans AS lookups_for_same_key;
-- Another key is validated, once.
SELECT set_config('request.headers', json_build_object('x-api-key', :'key_m2')::text, true) IS NOT NULL AS other_key;
SELECT oauth_rls.api_key_owner() AS other_owner, oauth_rls.api_key_scopes() AS other_scopes;
SELECT pg_stat_get_xact_numscans('oauth_rls.api_keys_pkey'::regclass) - :scans AS lookups_for_other_key;
COMMIT;
RESET oauth_rls.api_key_cache_size;

-- Switching keys 20000 times in one PL/pgSQL block keeps each call site's
-- copies bounded (the current answer and the one before); without that the
-- block would grow by several MB.
CREATE TEMP TABLE switch_headers AS
  SELECT ARRAY[json_build_object('x-api-key', :'key_m1')::text,
               json_build_object('x-api-key', :'key_m2')::text] AS h;
CREATE TEMP TABLE switch_result (label text, owners_ok boolean, growth bigint);
DO $$
DECLARE
  h text[] := (SELECT s.h FROM switch_headers s);
  o uuid;
  sc text[];
  id text;
  ok boolean := true;
  before bigint;
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM set_config('request.headers', h[i % 2 + 1], true);
    o := oauth_rls.api_key_owner(); sc := oauth_rls.api_key_scopes(); id := oauth_rls.api_key_id();
  END LOOP;
  SELECT sum(total_bytes) INTO before FROM pg_backend_memory_contexts;
  FOR i IN 1 .. 20000 LOOP
    PERFORM set_config('request.headers', h[i % 2 + 1], true);
    o := oauth_rls.api_key_owner(); sc := oauth_rls.api_key_scopes(); id := oauth_rls.api_key_id();
    ok := ok AND o = CASE i % 2 WHEN 0 THEN 'eeeeeeee-0000-4000-8000-000000000001'::uuid
                                      ELSE 'eeeeeeee-0000-4000-8000-000000000002'::uuid END
             AND cardinality(sc) = 1 + i % 2 AND length(id) = 16;
  END LOOP;
  INSERT INTO switch_result
  SELECT 'plpgsql loop', ok, sum(total_bytes) - before FROM pg_backend_memory_contexts;
END
$$;
SELECT label, owners_ok, growth < 512 * 1024 AS memory_bounded FROM switch_result;
RESET request.headers;

-- validate_api_key() answers with its own copy of the row: a trigger on the
-- table that looks up other keys during the last_used_at refresh (and so
-- empties a two-row cache holding the key) cannot change the answer.
SELECT oauth_rls.create_api_key('ffffffff-0000-4000-8000-000000000001', 'probe A', '{scope:a}', NULL, 'client-a') AS key_pa \gset
SELECT oauth_rls.create_api_key('ffffffff-0000-4000-8000-000000000002', 'probe B', '{scope:b}', NULL, 'client-b') AS key_pb \gset
SELECT oauth_rls.create_api_key('ffffffff-0000-4000-8000-000000000003', 'probe C', '{scope:c,scope:cc}', NULL, 'client-c') AS key_pc \gset
UPDATE oauth_rls.api_keys SET last_used_at = now() + interval '1 day'
 WHERE key_id IN (substr(:'key_pb', 4, 16), substr(:'key_pc', 4, 16));
CREATE TABLE public.other_keys (n int, k text);
INSERT INTO public.other_keys VALUES (1, :'key_pb'), (2, :'key_pc');
CREATE FUNCTION public.look_up_other_keys() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM oauth_rls.diagnose_api_key(o.k) FROM (SELECT k FROM public.other_keys ORDER BY n) AS o;
  RETURN NEW;
END
$$;
-- The extension's tables belong to the bootstrap superuser (trusted install),
-- so only it may put a trigger on one: as supabase_admin for this step.
\c - supabase_admin
CREATE TRIGGER look_up_other_keys BEFORE UPDATE ON oauth_rls.api_keys
  FOR EACH ROW EXECUTE FUNCTION public.look_up_other_keys();
\c - postgres
SET oauth_rls.api_key_cache_size = 2;
SELECT oauth_rls.diagnose_api_key(:'key_pa') AS caches_a FROM generate_series(1, 2);
SELECT owner, scopes, client_id FROM oauth_rls.validate_api_key(:'key_pa');
SELECT last_used_at IS NOT NULL AS refreshed FROM oauth_rls.api_keys WHERE key_id = substr(:'key_pa', 4, 16);
RESET oauth_rls.api_key_cache_size;
\c - supabase_admin
DROP TRIGGER look_up_other_keys ON oauth_rls.api_keys;
\c - postgres
DROP FUNCTION public.look_up_other_keys();
DROP TABLE public.other_keys;

-- Planning does not record a key's use: the planner evaluates stable
-- functions such as api_key_owner() to estimate, and an EXPLAIN in a
-- read-only transaction must not write.  Executing the query does record it.
CREATE TABLE public.planned (owner uuid);
INSERT INTO public.planned VALUES ('abababab-0000-4000-8000-000000000001');
SELECT oauth_rls.create_api_key('abababab-0000-4000-8000-000000000001', 'planned') AS key_pl \gset
BEGIN READ ONLY;
SELECT set_config('request.headers', json_build_object('x-api-key', :'key_pl')::text, true) IS NOT NULL AS set;
EXPLAIN (COSTS OFF) SELECT * FROM public.planned WHERE owner = oauth_rls.api_key_owner();
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_xid_after_explain,
       last_used_at IS NULL AS not_recorded_by_planning
  FROM oauth_rls.api_keys WHERE key_id = substr(:'key_pl', 4, 16);
SELECT count(*) FROM public.planned WHERE owner = oauth_rls.api_key_owner();
SELECT last_used_at = now() AS recorded_by_execution
  FROM oauth_rls.api_keys WHERE key_id = substr(:'key_pl', 4, 16);
COMMIT;
DROP TABLE public.planned;

DROP TABLE public.notes;
DELETE FROM oauth_rls.api_keys;
DELETE FROM oauth_rls.clients;
