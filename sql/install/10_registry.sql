-- oauth_rls install script, part 10: the client registry and tiers.

CREATE TABLE oauth_rls.clients (
  -- Supabase issues lowercase uuid strings (auth.oauth_clients.id); any
  -- non-empty text is accepted, a uuid only in that form.  COLLATE "C": ids
  -- compare byte for byte.
  client_id  text COLLATE "C" NOT NULL
             CONSTRAINT clients_client_id_check CHECK (client_id <> '' AND octet_length(client_id) <= 255)
             -- Supabase Auth names a client by the canonical text of its uuid
             -- (lower case, 8-4-4-4-12), and ids compare byte for byte:
             -- 'DD000000-...' registered as blocked would leave Auth's
             -- 'dd000000-...' unregistered.  So an id the uuid type would read
             -- (any case, braces, hyphens or none) must be in that form.
             -- (clients_client_id_canonical, the trigger below, says so first.)
             CONSTRAINT clients_client_id_canonical
               CHECK (client_id OPERATOR(pg_catalog.!~*) '^([0-9a-f]{4}(-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(-?[0-9a-f]{4}){7}\})$'
                      OR client_id OPERATOR(pg_catalog.~) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  name       text,
  tier       oauth_rls.tier NOT NULL
             CONSTRAINT clients_tier_check CHECK (tier <> 'direct'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT clients_pkey PRIMARY KEY (client_id)
);
COMMENT ON TABLE oauth_rls.clients IS
  'Registered OAuth clients and their tier; unregistered clients get oauth_rls.unregistered_client_tier';

CREATE FUNCTION oauth_rls._touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION oauth_rls._touch_updated_at() FROM PUBLIC;

CREATE TRIGGER clients_touch_updated_at BEFORE UPDATE ON oauth_rls.clients
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._touch_updated_at();
-- The CHECK's message names only the constraint: this trigger, which fires
-- first, says what is wrong and what to write.  (Under replica mode it does
-- not fire; the CHECK still holds.)
CREATE FUNCTION oauth_rls._check_client_id() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF NEW.client_id OPERATOR(pg_catalog.~*) '^([0-9a-f]{4}(-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(-?[0-9a-f]{4}){7}\})$'
     AND NEW.client_id OPERATOR(pg_catalog.!~) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RAISE EXCEPTION 'client id % is a uuid not in canonical form', pg_catalog.quote_literal(NEW.client_id)
      USING ERRCODE = 'check_violation', TABLE = 'clients', SCHEMA = 'oauth_rls',
            CONSTRAINT = 'clients_client_id_canonical',
            DETAIL = 'Supabase Auth''s tokens carry a client''s uuid in lower case with hyphens (auth.oauth_clients.id); another spelling would never match them.',
            HINT = pg_catalog.format('Write it as %L.', NEW.client_id::pg_catalog.uuid::pg_catalog.text);
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION oauth_rls._check_client_id() FROM PUBLIC;
CREATE TRIGGER clients_client_id_canonical BEFORE INSERT OR UPDATE OF client_id ON oauth_rls.clients
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._check_client_id();

CREATE TRIGGER clients_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.clients
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- ALWAYS: caches must also be dropped for changes made with
-- session_replication_role = replica (data restores, logical replication).
ALTER TABLE oauth_rls.clients ENABLE ALWAYS TRIGGER clients_invalidate_caches;
-- A logical replication apply worker fires no INSERT, UPDATE or DELETE
-- statement triggers, only row triggers: this one invalidates there (once per
-- transaction, however many rows).  REPLICA: it fires only where
-- session_replication_role = replica, so ordinary statements pay nothing.
CREATE TRIGGER clients_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.clients
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.clients ENABLE REPLICA TRIGGER clients_invalidate_caches_replica;

-- pg_dump keeps the registry's rows with the extension.
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.clients', '');

CREATE FUNCTION oauth_rls.current_tier() RETURNS oauth_rls.tier
  AS 'MODULE_PATHNAME', 'oauth_rls_current_tier' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.current_tier() IS
  'The tier of the request''s client (claim client_id, else its auth.sessions row''s OAuth client): registered tier, else oauth_rls.unregistered_client_tier (also for a scope claim without a client); direct without a client';

CREATE FUNCTION oauth_rls.tier_of(client_id text) RETURNS oauth_rls.tier
  AS 'MODULE_PATHNAME', 'oauth_rls_tier_of' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.tier_of(text) IS
  'The tier a request from this client gets';

CREATE FUNCTION oauth_rls.is_oauth() RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_is_oauth' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.is_oauth() IS
  'Whether the request comes through an OAuth client, by its client_id claim or its auth.sessions row (tier is not direct)';

CREATE FUNCTION oauth_rls.is_first_party() RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_is_first_party' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.is_first_party() IS
  'Whether the request is a direct session or comes from a first-party client';

-- Privileges: the registry is managed by the extension's owner (Supabase's
-- postgres role when it installs the extension) and read by Auth's role for
-- the token hook.  anon and authenticated get nothing: the C lookups read it
-- with the extension's own access.
-- Every right the installing role gets in this script comes WITH GRANT
-- OPTION: in a trusted install the objects belong to the bootstrap
-- superuser, and without it the installer could not pass rights on.  The
-- grants to Supabase's roles are in oauth_rls.grant_supabase_roles() (part 90).
REVOKE ALL ON oauth_rls.clients FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.clients TO @extowner@ WITH GRANT OPTION;
