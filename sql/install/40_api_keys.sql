-- oauth_rls install script, part 40: API keys (pk_<id>.sk_<secret>).
-- Grammar, lifecycle and privileges: docs/api-keys.md.

-- The key id grammar (1 to 64 of A-Z a-z 0-9 _ -), from the same C code
-- that parses keys; cheaper than a regular expression in a CHECK.
CREATE FUNCTION oauth_rls._is_valid_key_id(key_id text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_is_valid_key_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE oauth_rls.api_keys (
  -- The public half of the key, without "pk_".  COLLATE "C": byte comparison.
  key_id       text COLLATE "C" NOT NULL
               CONSTRAINT api_keys_key_id_check CHECK (oauth_rls._is_valid_key_id(key_id)),
  owner        uuid NOT NULL,             -- an auth.users id
  client_id    text COLLATE "C"           -- the OAuth client the key acts as (its tier)
               CONSTRAINT api_keys_client_id_check CHECK (client_id <> '' AND octet_length(client_id) <= 255),
  name         text,
  scopes       text[] NOT NULL DEFAULT '{}'
               CONSTRAINT api_keys_scopes_check CHECK (array_position(scopes, NULL) IS NULL),
  -- SHA-256 of the hashed part (digest_input) of the key; never the secret.
  digest       bytea NOT NULL
               CONSTRAINT api_keys_digest_check CHECK (length(digest) = 32),
  -- What was hashed: 'secret' (after "sk_", the default and what oauth_rls
  -- does), 'sk_secret' (with the "sk_"), 'key' (the whole pk_....sk_... text).
  digest_input text NOT NULL DEFAULT 'secret'
               CONSTRAINT api_keys_digest_input_check CHECK (digest_input IN ('secret', 'sk_secret', 'key')),
  imported     boolean NOT NULL DEFAULT false,   -- made by another system
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  replaced_by  text COLLATE "C",          -- set by rotate_api_key()
  CONSTRAINT api_keys_pkey PRIMARY KEY (key_id)
) WITH (fillfactor = 80);  -- room for HOT updates of last_used_at
COMMENT ON TABLE oauth_rls.api_keys IS
  'API keys pk_<key_id>.sk_<secret>: only a SHA-256 digest of the secret is stored';

CREATE INDEX api_keys_owner_idx ON oauth_rls.api_keys (owner);
-- Lets the validator skip the table for keys of a foreign shape when no key
-- was imported (see api_keys.c).
CREATE INDEX api_keys_imported_idx ON oauth_rls.api_keys (key_id) WHERE imported;

-- Every column a validation depends on, i.e. all but last_used_at: refreshing
-- last_used_at must not invalidate every backend's cache.  A column added to
-- the table later must be added to this list.
CREATE TRIGGER api_keys_invalidate_caches
  AFTER INSERT OR DELETE OR TRUNCATE
     OR UPDATE OF key_id, owner, client_id, name, scopes, digest, digest_input, imported,
                  created_at, expires_at, revoked_at, replaced_by
  ON oauth_rls.api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- ALWAYS: a revocation restored or replicated with session_replication_role =
-- replica must still reach every backend's cache.
ALTER TABLE oauth_rls.api_keys ENABLE ALWAYS TRIGGER api_keys_invalidate_caches;
-- A logical replication apply worker fires no INSERT, UPDATE or DELETE
-- statement triggers, only row triggers: this one invalidates there (once per
-- transaction, however many rows).  REPLICA: it fires only where
-- session_replication_role = replica, so ordinary statements pay nothing.
-- The argument: an update of last_used_at alone does not invalidate (as the
-- UPDATE OF list above); every other column does.
CREATE TRIGGER api_keys_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.api_keys
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches('last_used_at');
ALTER TABLE oauth_rls.api_keys ENABLE REPLICA TRIGGER api_keys_invalidate_caches_replica;

SELECT pg_catalog.pg_extension_config_dump('oauth_rls.api_keys', '');

-- Key material: a new random id and secret, the whole key, and the digest to
-- store.  Used by create_api_key() and rotate_api_key().
CREATE FUNCTION oauth_rls._generate_api_key(OUT key_id text, OUT api_key text, OUT digest bytea)
  AS 'MODULE_PATHNAME', 'oauth_rls_generate_api_key' LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION oauth_rls.create_api_key(
    owner uuid, name text, scopes text[] DEFAULT '{}', expires_at timestamptz DEFAULT NULL,
    client_id text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  k record;
BEGIN
  IF owner IS NULL THEN
    RAISE EXCEPTION 'owner of an API key must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF scopes IS NULL OR array_position(scopes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'scopes of an API key must be an array without nulls'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass ''{}'' for a key without scopes.';
  END IF;
  SELECT * INTO k FROM oauth_rls._generate_api_key();
  INSERT INTO oauth_rls.api_keys (key_id, owner, client_id, name, scopes, digest, expires_at)
    VALUES (k.key_id, create_api_key.owner, create_api_key.client_id, create_api_key.name,
            create_api_key.scopes, k.digest, create_api_key.expires_at);
  RETURN k.api_key;
END
$$;
COMMENT ON FUNCTION oauth_rls.create_api_key(uuid, text, text[], timestamptz, text) IS
  'Creates an API key and returns it; only its digest is stored, so this is the only time it is shown';

CREATE FUNCTION oauth_rls.revoke_api_key(key_id text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  was_revoked timestamptz;
BEGIN
  SELECT k.revoked_at INTO was_revoked FROM oauth_rls.api_keys k
   WHERE k.key_id = revoke_api_key.key_id FOR UPDATE;
  IF NOT FOUND THEN
    -- The argument is not shown: it may be a whole key passed by mistake.
    RAISE EXCEPTION 'no API key has this key id'
      USING ERRCODE = 'no_data_found', HINT = 'Pass the key id (the part between "pk_" and "."), not the key.';
  END IF;
  IF was_revoked IS NOT NULL THEN
    RETURN false;
  END IF;
  UPDATE oauth_rls.api_keys k SET revoked_at = now() WHERE k.key_id = revoke_api_key.key_id;
  RETURN true;
END
$$;
COMMENT ON FUNCTION oauth_rls.revoke_api_key(text) IS
  'Revokes a key at once: true when this call revoked it, false when it already was';

CREATE FUNCTION oauth_rls.rotate_api_key(key_id text, grace interval DEFAULT '0') RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  old oauth_rls.api_keys;
  k record;
BEGIN
  IF grace IS NULL OR grace < interval '0' THEN
    RAISE EXCEPTION 'grace period must be a non-negative interval'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO old FROM oauth_rls.api_keys a WHERE a.key_id = rotate_api_key.key_id FOR UPDATE;
  IF NOT FOUND THEN
    -- The argument is not shown: it may be a whole key passed by mistake.
    RAISE EXCEPTION 'no API key has this key id'
      USING ERRCODE = 'no_data_found', HINT = 'Pass the key id (the part between "pk_" and "."), not the key.';
  END IF;
  IF old.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'API key "%" is revoked and cannot be rotated', old.key_id
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Create a new key instead.';
  END IF;
  IF old.expires_at IS NOT NULL AND old.expires_at <= now() THEN
    RAISE EXCEPTION 'API key "%" has expired and cannot be rotated', old.key_id
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Create a new key instead.';
  END IF;
  SELECT * INTO k FROM oauth_rls._generate_api_key();
  INSERT INTO oauth_rls.api_keys (key_id, owner, client_id, name, scopes, digest, expires_at)
    VALUES (k.key_id, old.owner, old.client_id, old.name, old.scopes, k.digest, old.expires_at);
  UPDATE oauth_rls.api_keys a
     SET expires_at = least(coalesce(a.expires_at, 'infinity'), now() + grace),
         replaced_by = k.key_id
   WHERE a.key_id = old.key_id;
  RETURN k.api_key;
END
$$;
COMMENT ON FUNCTION oauth_rls.rotate_api_key(text, interval) IS
  'Issues a new key with the same owner, client, name, scopes and expiry; the old key stays valid for the grace period only';

CREATE FUNCTION oauth_rls.import_api_key(
    key_id text, owner uuid, digest_hex text, name text DEFAULT NULL, scopes text[] DEFAULT '{}',
    expires_at timestamptz DEFAULT NULL, client_id text DEFAULT NULL,
    digest_input text DEFAULT 'secret')
  RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF key_id IS NULL OR NOT oauth_rls._is_valid_key_id(key_id) THEN
    RAISE EXCEPTION 'key id must be 1 to 64 characters from A-Z a-z 0-9 _ -'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the part between "pk_" and "." of the existing keys.';
  END IF;
  IF owner IS NULL THEN
    RAISE EXCEPTION 'owner of an API key must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- The digest is not shown in the message: it identifies a live key.
  IF digest_hex IS NULL OR digest_hex !~ '^[0-9A-Fa-f]{64}$' THEN
    RAISE EXCEPTION 'digest_hex must be a SHA-256 digest as 64 hexadecimal digits'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'pgcrypto''s encode(digest(secret, ''sha256''), ''hex'') gives that form.';
  END IF;
  IF digest_input IS NULL OR digest_input NOT IN ('secret', 'sk_secret', 'key') THEN
    RAISE EXCEPTION 'digest_input must be ''secret'', ''sk_secret'' or ''key'''
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'It says what the stored digest was computed over: the secret after "sk_", the secret with "sk_", or the whole key.';
  END IF;
  IF scopes IS NULL OR array_position(scopes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'scopes of an API key must be an array without nulls'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass ''{}'' for a key without scopes.';
  END IF;
  INSERT INTO oauth_rls.api_keys (key_id, owner, client_id, name, scopes, digest, digest_input,
                                  imported, expires_at)
    VALUES (import_api_key.key_id, import_api_key.owner, import_api_key.client_id,
            import_api_key.name, import_api_key.scopes, decode(lower(digest_hex), 'hex'),
            import_api_key.digest_input, true, import_api_key.expires_at);
END
$$;
COMMENT ON FUNCTION oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text) IS
  'Imports a key made by another system from its hex SHA-256 digest; the key keeps working unchanged';

CREATE FUNCTION oauth_rls.validate_api_key(key text)
  RETURNS TABLE (key_id text, owner uuid, scopes text[], client_id text)
  AS 'MODULE_PATHNAME', 'oauth_rls_validate_api_key' LANGUAGE C VOLATILE STRICT ROWS 1;
COMMENT ON FUNCTION oauth_rls.validate_api_key(text) IS
  'One row for a valid key, no row for any invalid one (malformed, bad checksum, unknown, wrong secret, expired, revoked)';

CREATE FUNCTION oauth_rls.diagnose_api_key(key text) RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_diagnose_api_key' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION oauth_rls.diagnose_api_key(text) IS
  'For administrators: why a key is invalid (or ''valid''); never shows the key';

-- Keys inside RLS: the request's x-api-key header, validated once per request.
CREATE FUNCTION oauth_rls.api_key_owner() RETURNS uuid
  AS 'MODULE_PATHNAME', 'oauth_rls_api_key_owner' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.api_key_owner() IS
  'Owner of the valid API key in request header x-api-key; NULL when absent or invalid';

CREATE FUNCTION oauth_rls.api_key_scopes() RETURNS text[]
  AS 'MODULE_PATHNAME', 'oauth_rls_api_key_scopes' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.api_key_scopes() IS
  'Scopes of the valid API key in request header x-api-key; NULL when absent or invalid';

CREATE FUNCTION oauth_rls.api_key_id() RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_api_key_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.api_key_id() IS
  'Id of the valid API key in request header x-api-key (to record which key made a call); NULL when absent or invalid';

-- Privileges.  The table is managed by the extension's owner and by
-- service_role; anon and authenticated get nothing (the C readers behind
-- api_key_owner() and friends read it with the extension's own access).
-- service_role's grants are in oauth_rls.grant_supabase_roles() (part 90).
REVOKE ALL ON oauth_rls.api_keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.api_keys TO @extowner@ WITH GRANT OPTION;

-- _is_valid_key_id() runs in the table's CHECK constraint, so whoever may
-- insert or update keys needs it.
REVOKE ALL ON FUNCTION oauth_rls._is_valid_key_id(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls._generate_api_key() FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.create_api_key(uuid, text, text[], timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.revoke_api_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.rotate_api_key(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.validate_api_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.diagnose_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls._is_valid_key_id(text),
  oauth_rls._generate_api_key(),
  oauth_rls.create_api_key(uuid, text, text[], timestamptz, text),
  oauth_rls.revoke_api_key(text),
  oauth_rls.rotate_api_key(text, interval),
  oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text),
  oauth_rls.validate_api_key(text),
  oauth_rls.diagnose_api_key(text)
  TO @extowner@ WITH GRANT OPTION;
