-- Fixture for the hot-standby test, made on the primary before the base backup.
SET client_min_messages = warning;
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('sb-fp', 'first party', 'first_party'), ('sb-tp', 'third party', 'third_party'),
  ('sb-bl', 'blocked', 'blocked');
CREATE TABLE public.sb_data (owner uuid NOT NULL, note text);
INSERT INTO public.sb_data VALUES
  ('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'mine'), ('00000000-0000-4000-8000-000000000002', 'theirs');
ALTER TABLE public.sb_data ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_first_party ON public.sb_data TO authenticated
  USING (owner = oauth_rls.user_id() AND oauth_rls.is_first_party());
GRANT SELECT ON public.sb_data TO authenticated;

-- Guards and revocation: a uuid client as Supabase issues them, its user's
-- live session, a guarded table the matrix opens to third-party selects.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES ('0d000000-0000-4000-8000-00000000000d', 'partner', 'third_party');
INSERT INTO auth.users (id, email) VALUES ('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'ann@example.com');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types)
  VALUES ('0d000000-0000-4000-8000-00000000000d', 'client_secret_basic', 'dynamic', 'https://partner.example.com/cb', 'authorization_code');
INSERT INTO auth.sessions (id, user_id, oauth_client_id)
  VALUES ('5e000000-0000-4000-8000-00000000000d', '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', '0d000000-0000-4000-8000-00000000000d');
CREATE TABLE public.sb_guarded (owner uuid NOT NULL);
INSERT INTO public.sb_guarded VALUES ('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab'), ('00000000-0000-4000-8000-000000000002');
ALTER TABLE public.sb_guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.sb_guarded TO authenticated USING (owner = oauth_rls.user_id());
GRANT SELECT, DELETE ON public.sb_guarded TO authenticated;
SELECT oauth_rls.set_access('public.sb_guarded', 'third_party', '{select}');
SELECT oauth_rls.guard('public.sb_guarded');

-- An API key of the same user, kept where the standby session can read it.
CREATE TABLE public.sb_keys AS
  SELECT oauth_rls.create_api_key('6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'standby key', '{notes:read}') AS key;
UPDATE oauth_rls.api_keys SET last_used_at = NULL;

-- Every non-volatile function of the extension (but internal _helpers),
-- called with NULL arguments: a read function added later is covered without
-- editing this file.  A refusal of the NULLs is an answer by design; what
-- fails is what a standby causes: 25xxx (above all 25006 "cannot execute ...
-- in a read-only transaction"), 55xxx, 53xxx, 58xxx and XX000 ("cannot
-- assign TransactionIds during recovery" and the like).
CREATE FUNCTION public.sb_sweep() RETURNS SETOF text LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig, p.proname,
                  (SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY n)
                     FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, n)) AS args
           FROM pg_proc p
           WHERE p.pronamespace = 'oauth_rls'::regnamespace AND p.provolatile <> 'v' AND p.proname !~ '^_'
             AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
             AND NOT p.proretset
  LOOP
    BEGIN
      EXECUTE format('SELECT oauth_rls.%I(%s)', f.proname, coalesce(f.args, ''));
      RETURN NEXT 'ok ' || f.sig;
    EXCEPTION WHEN OTHERS THEN
      IF left(SQLSTATE, 2) IN ('25', '55', '53', '58', 'XX') THEN
        RAISE EXCEPTION 'on the standby % failed: % %', f.sig, SQLSTATE, SQLERRM;
      END IF;
      RETURN NEXT 'ok ' || f.sig || ' (refuses NULL: ' || SQLSTATE || ')';
    END;
  END LOOP;
END
$$;
