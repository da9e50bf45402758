-- oauth_rls install script, part 50: oauth_rls.authenticate(token), JWT
-- verification for backends that connect directly (docs/direct-connections.md).
--
-- Every table here is written only by the extension's owner and read by the
-- C code directly (never through the caller's rights): no role but the owner
-- has any right on them, so HS256 secrets are unreadable by the API roles.

-- JWK checks, in C (the same code that builds the keys to verify with).
CREATE FUNCTION oauth_rls._jwt_key_is_valid(alg text, jwk jsonb, secret bytea) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_jwt_key_is_valid' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION oauth_rls._jwt_key_is_valid(text, jsonb, bytea) FROM PUBLIC;

-- One JWK of a JWKS document: (alg, kid, public part only), or alg NULL for a
-- key that is not for verifying signatures with an algorithm we support.
CREATE FUNCTION oauth_rls._jwk_public(jwk jsonb, OUT alg text, OUT kid text, OUT public_jwk jsonb)
  AS 'MODULE_PATHNAME', 'oauth_rls_jwk_public' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION oauth_rls._jwk_public(jsonb) FROM PUBLIC;

CREATE TABLE oauth_rls.jwt_issuers (
  -- Compared byte for byte with the token's iss.
  issuer       text COLLATE "C" NOT NULL
               CONSTRAINT jwt_issuers_issuer_check CHECK (issuer <> '' AND octet_length(issuer) <= 2048),
  -- The token's aud (a string or an array) must name one of these; a token
  -- without aud is refused.
  audiences    text[] COLLATE "C" NOT NULL DEFAULT '{authenticated}'
               CONSTRAINT jwt_issuers_audiences_check
               CHECK (cardinality(audiences) > 0 AND array_position(audiences, NULL) IS NULL),
  algorithms   text[] COLLATE "C" NOT NULL DEFAULT '{ES256,RS256,EdDSA}'
               CONSTRAINT jwt_issuers_algorithms_check
               CHECK (cardinality(algorithms) > 0 AND array_position(algorithms, NULL) IS NULL
                      AND algorithms <@ '{ES256,RS256,EdDSA,HS256}'::text[]),
  -- Clock skew allowed on exp, nbf and iat (PostgREST: 30 s).
  leeway_seconds integer NOT NULL DEFAULT 30
               CONSTRAINT jwt_issuers_leeway_check CHECK (leeway_seconds BETWEEN 0 AND 300),
  -- A token's session_id must name a row of auth.sessions (as Supabase Auth
  -- checks); without session_id only a token whose role is anon passes.
  require_live_session boolean NOT NULL DEFAULT true,
  -- Token role claim -> database role.  A role not in the map is refused.
  role_map     jsonb NOT NULL DEFAULT '{"authenticated": "authenticated", "anon": "anon"}'
               CONSTRAINT jwt_issuers_role_map_check CHECK (jsonb_typeof(role_map) = 'object'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT jwt_issuers_pkey PRIMARY KEY (issuer)
);
COMMENT ON TABLE oauth_rls.jwt_issuers IS
  'Issuers whose JWTs oauth_rls.authenticate() accepts, with their audiences, algorithms, leeway and role map';

CREATE TABLE oauth_rls.jwt_keys (
  issuer       text COLLATE "C" NOT NULL
               REFERENCES oauth_rls.jwt_issuers (issuer) ON DELETE CASCADE ON UPDATE CASCADE,
  kid          text COLLATE "C"
               CONSTRAINT jwt_keys_kid_check CHECK (kid <> '' AND octet_length(kid) <= 255),
  -- Each key verifies with exactly this one algorithm.
  alg          text COLLATE "C" NOT NULL
               CONSTRAINT jwt_keys_alg_check CHECK (alg IN ('ES256', 'RS256', 'EdDSA', 'HS256')),
  -- Supabase's signing key states.  All but revoked verify.
  status       text COLLATE "C" NOT NULL DEFAULT 'current'
               CONSTRAINT jwt_keys_status_check
               CHECK (status IN ('standby', 'current', 'previously_used', 'revoked')),
  jwk          jsonb,                     -- public key (ES256, RS256, EdDSA)
  secret       bytea,                     -- HMAC secret (HS256)
  created_at   timestamptz NOT NULL DEFAULT now(),
  retired_at   timestamptz,
  CONSTRAINT jwt_keys_material_check CHECK (oauth_rls._jwt_key_is_valid(alg, jwk, secret))
);
CREATE UNIQUE INDEX jwt_keys_issuer_kid_idx ON oauth_rls.jwt_keys (issuer, (coalesce(kid, '')));
COMMENT ON TABLE oauth_rls.jwt_keys IS
  'Verification keys per issuer (from set_jwks() and set_jwt_secret()); HS256 secrets are readable by the owner only';

-- Revoked before their expiry: jti or session_id values, never token text
-- (an ECDSA signature can be re-encoded; the claims cannot).
CREATE TABLE oauth_rls.jwt_denylist (
  kind         text COLLATE "C" NOT NULL
               CONSTRAINT jwt_denylist_kind_check CHECK (kind IN ('jti', 'session_id')),
  value        text COLLATE "C" NOT NULL
               CONSTRAINT jwt_denylist_value_check CHECK (value <> '' AND octet_length(value) <= 255),
  expires_at   timestamptz NOT NULL,
  reason       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT jwt_denylist_pkey PRIMARY KEY (kind, value)
);
COMMENT ON TABLE oauth_rls.jwt_denylist IS
  'jti and session_id values authenticate() refuses until expires_at';

-- Login roles that get claims only through authenticate() (the trust
-- boundary in docs/direct-connections.md).
CREATE TABLE oauth_rls.token_only_roles (
  role_oid     oid NOT NULL,
  role_name    name NOT NULL,             -- for reading only; role_oid decides
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT token_only_roles_pkey PRIMARY KEY (role_oid)
);
COMMENT ON TABLE oauth_rls.token_only_roles IS
  'Roles whose sessions may set request.jwt.* and switch role only through oauth_rls.authenticate()';

REVOKE ALL ON oauth_rls.jwt_issuers, oauth_rls.jwt_keys, oauth_rls.jwt_denylist,
  oauth_rls.token_only_roles FROM PUBLIC;

CREATE TRIGGER jwt_issuers_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.jwt_issuers
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
CREATE TRIGGER jwt_keys_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.jwt_keys
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
CREATE TRIGGER token_only_roles_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.token_only_roles
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- Backends remember whether the deny-list is empty (most of the time).
CREATE TRIGGER jwt_denylist_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.jwt_denylist
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- ALWAYS: a key retired by a restore or by logical replication must still
-- reach every backend's cache.
ALTER TABLE oauth_rls.jwt_issuers ENABLE ALWAYS TRIGGER jwt_issuers_invalidate_caches;
ALTER TABLE oauth_rls.jwt_keys ENABLE ALWAYS TRIGGER jwt_keys_invalidate_caches;
ALTER TABLE oauth_rls.token_only_roles ENABLE ALWAYS TRIGGER token_only_roles_invalidate_caches;
ALTER TABLE oauth_rls.jwt_denylist ENABLE ALWAYS TRIGGER jwt_denylist_invalidate_caches;
-- A logical replication apply worker fires row triggers only (see
-- 10_registry.sql): these invalidate there, once per transaction.
CREATE TRIGGER jwt_issuers_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.jwt_issuers
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.jwt_issuers ENABLE REPLICA TRIGGER jwt_issuers_invalidate_caches_replica;
CREATE TRIGGER jwt_keys_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.jwt_keys
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.jwt_keys ENABLE REPLICA TRIGGER jwt_keys_invalidate_caches_replica;
CREATE TRIGGER token_only_roles_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.token_only_roles
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.token_only_roles ENABLE REPLICA TRIGGER token_only_roles_invalidate_caches_replica;
CREATE TRIGGER jwt_denylist_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.jwt_denylist
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.jwt_denylist ENABLE REPLICA TRIGGER jwt_denylist_invalidate_caches_replica;

SELECT pg_catalog.pg_extension_config_dump('oauth_rls.jwt_issuers', '');
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.jwt_keys', '');
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.jwt_denylist', '');
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.token_only_roles', '');

-- Replaces an issuer's public keys by those of a JWKS document (what
-- https://<ref>.supabase.co/auth/v1/.well-known/jwks.json serves).  A key
-- already stored keeps its state (a revoked key stays revoked, even if the
-- document still lists it); a new key is 'current', or 'standby' when
-- current_kid names another key; current_kid makes that key current and the
-- former current ones previously_used; a stored key the document no longer
-- lists is revoked.  A kid reused with other key material is refused.
CREATE FUNCTION oauth_rls.set_jwks(issuer text, jwks jsonb, current_kid text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  k jsonb;
  pub record;
  old record;
  seen text[] := '{}';
  added integer := 0;
  kept integer := 0;
  revoked integer := 0;
  skipped integer := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM oauth_rls.jwt_issuers AS i
                 WHERE i.issuer OPERATOR(pg_catalog.=) set_jwks.issuer) THEN
    RAISE EXCEPTION 'issuer is not in oauth_rls.jwt_issuers'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'INSERT INTO oauth_rls.jwt_issuers (issuer) VALUES (...) first.';
  END IF;
  IF jwks IS NULL OR jsonb_typeof(jwks) OPERATOR(pg_catalog.<>) 'object'
     OR jsonb_typeof(jwks OPERATOR(pg_catalog.->) 'keys') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'argument jwks must be a JWKS document: an object with a "keys" array'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR k IN SELECT e.value FROM jsonb_array_elements(jwks OPERATOR(pg_catalog.->) 'keys') AS e LOOP
    pub := oauth_rls._jwk_public(k);
    IF pub.alg IS NULL THEN
      skipped := skipped OPERATOR(pg_catalog.+) 1;
      CONTINUE;
    END IF;
    IF pub.kid IS NULL THEN
      RAISE EXCEPTION 'a key of the JWKS document has no "kid"'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Tokens name their key by kid; Supabase''s JWKS always has one.';
    END IF;
    IF pub.kid OPERATOR(pg_catalog.=) ANY (seen) THEN
      RAISE EXCEPTION 'the JWKS document has two keys with the same "kid"'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen OPERATOR(pg_catalog.||) pub.kid;
    SELECT * INTO old FROM oauth_rls.jwt_keys AS j
      WHERE j.issuer OPERATOR(pg_catalog.=) set_jwks.issuer AND j.kid OPERATOR(pg_catalog.=) pub.kid
      FOR UPDATE;
    IF FOUND THEN
      IF old.alg OPERATOR(pg_catalog.<>) pub.alg
         OR old.jwk IS NULL OR old.jwk OPERATOR(pg_catalog.<>) pub.public_jwk THEN
        RAISE EXCEPTION 'the JWKS document reuses a stored "kid" for another key'
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'A kid names one key for good.  Delete the stored key first if this is intended.';
      END IF;
      kept := kept OPERATOR(pg_catalog.+) 1;
    ELSE
      INSERT INTO oauth_rls.jwt_keys (issuer, kid, alg, status, jwk)
        VALUES (set_jwks.issuer, pub.kid, pub.alg,
                CASE WHEN current_kid IS NULL OR current_kid OPERATOR(pg_catalog.=) pub.kid
                     THEN 'current' ELSE 'standby' END,
                pub.public_jwk);
      added := added OPERATOR(pg_catalog.+) 1;
    END IF;
  END LOOP;
  IF current_kid IS NOT NULL THEN
    IF NOT current_kid OPERATOR(pg_catalog.=) ANY (seen) THEN
      RAISE EXCEPTION 'argument current_kid names no key of the JWKS document'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE oauth_rls.jwt_keys AS j SET status = 'previously_used'
      WHERE j.issuer OPERATOR(pg_catalog.=) set_jwks.issuer AND j.status OPERATOR(pg_catalog.=) 'current'
        AND j.kid OPERATOR(pg_catalog.<>) current_kid;
    UPDATE oauth_rls.jwt_keys AS j SET status = 'current'
      WHERE j.issuer OPERATOR(pg_catalog.=) set_jwks.issuer AND j.kid OPERATOR(pg_catalog.=) current_kid
        AND j.status OPERATOR(pg_catalog.<>) 'revoked';
  END IF;
  UPDATE oauth_rls.jwt_keys AS j SET status = 'revoked', retired_at = now()
    WHERE j.issuer OPERATOR(pg_catalog.=) set_jwks.issuer AND j.alg OPERATOR(pg_catalog.<>) 'HS256'
      AND j.status OPERATOR(pg_catalog.<>) 'revoked'
      AND (j.kid IS NULL OR NOT j.kid OPERATOR(pg_catalog.=) ANY (seen));
  GET DIAGNOSTICS revoked = ROW_COUNT;
  RETURN jsonb_build_object('added', added, 'kept', kept, 'revoked', revoked, 'skipped', skipped);
END
$$;
COMMENT ON FUNCTION oauth_rls.set_jwks(text, jsonb, text) IS
  'Replaces an issuer''s public keys by a JWKS document: new keys added, listed keys kept, unlisted keys revoked';
REVOKE ALL ON FUNCTION oauth_rls.set_jwks(text, jsonb, text) FROM PUBLIC;

-- The legacy Supabase JWT secret (HS256), as the text Supabase shows.
CREATE FUNCTION oauth_rls.set_jwt_secret(issuer text, secret text, kid text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF secret IS NULL OR octet_length(secret) OPERATOR(pg_catalog.<) 32 THEN
    RAISE EXCEPTION 'argument secret must be at least 32 bytes long'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'HS256 needs a key at least as long as its 256-bit output (RFC 7518 3.2).';
  END IF;
  DELETE FROM oauth_rls.jwt_keys AS j
    WHERE j.issuer OPERATOR(pg_catalog.=) set_jwt_secret.issuer
      AND coalesce(j.kid, '') OPERATOR(pg_catalog.=) coalesce(set_jwt_secret.kid, '');
  INSERT INTO oauth_rls.jwt_keys (issuer, kid, alg, status, secret)
    VALUES (set_jwt_secret.issuer, set_jwt_secret.kid, 'HS256', 'current',
            convert_to(set_jwt_secret.secret, 'UTF8'));
END
$$;
COMMENT ON FUNCTION oauth_rls.set_jwt_secret(text, text, text) IS
  'Stores an HS256 secret (Supabase''s legacy JWT secret) for an issuer';
REVOKE ALL ON FUNCTION oauth_rls.set_jwt_secret(text, text, text) FROM PUBLIC;

-- "Revoke this token now": by jti or by session_id, until expires_at (give
-- the token's exp; later entries are pruned by prune_jwt_denylist()).
CREATE FUNCTION oauth_rls.deny_jwt(kind text, value text, expires_at timestamptz, reason text DEFAULT NULL)
  RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
  INSERT INTO oauth_rls.jwt_denylist AS d (kind, value, expires_at, reason)
    VALUES (deny_jwt.kind, deny_jwt.value, deny_jwt.expires_at, deny_jwt.reason)
    ON CONFLICT (kind, value) DO UPDATE
      SET expires_at = GREATEST(d.expires_at, excluded.expires_at), reason = excluded.reason;
$$;
COMMENT ON FUNCTION oauth_rls.deny_jwt(text, text, timestamptz, text) IS
  'Makes authenticate() refuse tokens with this jti or session_id until expires_at';
REVOKE ALL ON FUNCTION oauth_rls.deny_jwt(text, text, timestamptz, text) FROM PUBLIC;

CREATE FUNCTION oauth_rls.prune_jwt_denylist() RETURNS bigint
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
  WITH gone AS (DELETE FROM oauth_rls.jwt_denylist AS d
                WHERE d.expires_at OPERATOR(pg_catalog.<=) now() RETURNING 1)
  SELECT count(*) FROM gone;
$$;
COMMENT ON FUNCTION oauth_rls.prune_jwt_denylist() IS
  'Deletes deny-list entries whose tokens have expired anyway; returns how many';
REVOKE ALL ON FUNCTION oauth_rls.prune_jwt_denylist() FROM PUBLIC;

CREATE FUNCTION oauth_rls.authenticate(token text) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'oauth_rls_authenticate' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION oauth_rls.authenticate(text) IS
  'Verifies a JWT and, for the current transaction, sets request.jwt.claims and the role from it; returns the claims';
REVOKE ALL ON FUNCTION oauth_rls.authenticate(text) FROM PUBLIC;

-- Makes a login role token-only: it may use authenticate() and nothing else
-- of its own.  Run by the extension's owner, who must be able to grant the
-- database roles the issuers' role maps name (Supabase: authenticated, anon).
CREATE FUNCTION oauth_rls.make_token_only_role(role regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  r record;
  target name;
BEGIN
  SELECT * INTO r FROM pg_catalog.pg_roles AS a WHERE a.oid OPERATOR(pg_catalog.=) role::oid;
  IF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolreplication THEN
    RAISE EXCEPTION 'role "%" cannot be token-only: it is a superuser or has BYPASSRLS, CREATEROLE or REPLICATION',
      r.rolname USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('ALTER ROLE %I NOINHERIT', r.rolname);
  FOR target IN
    SELECT DISTINCT m.value FROM oauth_rls.jwt_issuers AS i, jsonb_each_text(i.role_map) AS m
    UNION SELECT 'authenticated' UNION SELECT 'anon'
  LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS a WHERE a.rolname OPERATOR(pg_catalog.=) target) THEN
      EXECUTE format('GRANT %I TO %I', target, r.rolname);
    END IF;
  END LOOP;
  EXECUTE format('GRANT EXECUTE ON FUNCTION oauth_rls.authenticate(text) TO %I', r.rolname);
  INSERT INTO oauth_rls.token_only_roles (role_oid, role_name) VALUES (role::oid, r.rolname)
    ON CONFLICT (role_oid) DO UPDATE SET role_name = excluded.role_name;
  -- The guard works only where the library is loaded before the session's
  -- first statement; session_preload_libraries is superuser-only.
  IF (SELECT a.rolsuper FROM pg_catalog.pg_roles AS a WHERE a.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE format('ALTER ROLE %I SET session_preload_libraries = %L', r.rolname, 'oauth_rls');
  ELSE
    RAISE NOTICE 'role "%" is token-only once oauth_rls is preloaded for its sessions', r.rolname
      USING HINT = format('As a superuser: ALTER ROLE %I SET session_preload_libraries = ''oauth_rls''; (or put oauth_rls in shared_preload_libraries).', r.rolname);
  END IF;
END
$$;
COMMENT ON FUNCTION oauth_rls.make_token_only_role(regrole) IS
  'Marks a login role token-only: claims and role only through oauth_rls.authenticate()';
REVOKE ALL ON FUNCTION oauth_rls.make_token_only_role(regrole) FROM PUBLIC;

-- The extension's owner manages issuers, keys, the deny-list and token-only
-- roles, and grants authenticate() to backend login roles (the install
-- script runs as the bootstrap superuser, which owns these objects).
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.jwt_issuers, oauth_rls.jwt_keys,
  oauth_rls.jwt_denylist, oauth_rls.token_only_roles TO @extowner@ WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION
  oauth_rls._jwt_key_is_valid(text, jsonb, bytea), oauth_rls._jwk_public(jsonb),
  oauth_rls.set_jwks(text, jsonb, text), oauth_rls.set_jwt_secret(text, text, text),
  oauth_rls.deny_jwt(text, text, timestamptz, text), oauth_rls.prune_jwt_denylist(),
  oauth_rls.authenticate(text), oauth_rls.make_token_only_role(regrole)
  TO @extowner@ WITH GRANT OPTION;
