-- oauth_rls upgrade 0.1.0 -> 0.2.0, part 15: a client id that is a uuid is
-- registered in canonical lower-case form only (sql/install/10_registry.sql:
-- the CHECK clients_client_id_canonical and its trigger).  Registry rows of
-- 0.1.0 in another spelling are not rewritten here: such a row never
-- applied to Auth's tokens, so lower-casing it would change who is blocked
-- or trusted behind the owner's back (and could collide with a row of the
-- same client).  The update is refused, naming them.
DO $$
DECLARE
  bad pg_catalog.text[];
BEGIN
  SELECT pg_catalog.array_agg(pg_catalog.quote_literal(c.client_id) ORDER BY c.client_id) INTO bad
    FROM oauth_rls.clients AS c
   WHERE c.client_id OPERATOR(pg_catalog.~*) '^([0-9a-f]{4}(-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(-?[0-9a-f]{4}){7}\})$'
     AND c.client_id OPERATOR(pg_catalog.!~) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'oauth_rls.clients holds % client id(s) that are uuids not in canonical form: %',
        pg_catalog.cardinality(bad), pg_catalog.array_to_string(bad, ', ')
      USING ERRCODE = 'check_violation',
            DETAIL = 'Supabase Auth''s tokens carry a client''s uuid in lower case with hyphens: these rows never applied to its tokens, whatever their tier.',
            HINT = 'Decide for each: delete it, or write it in lower case with hyphens (UPDATE oauth_rls.clients SET client_id = lower(client_id) WHERE ...), minding a row of the same client that may exist already; then run ALTER EXTENSION oauth_rls UPDATE again.';
  END IF;
END
$$;
ALTER TABLE oauth_rls.clients ADD CONSTRAINT clients_client_id_canonical
  CHECK (client_id OPERATOR(pg_catalog.!~*) '^([0-9a-f]{4}(-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(-?[0-9a-f]{4}){7}\})$'
         OR client_id OPERATOR(pg_catalog.~) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');

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

