-- oauth_rls demo: one query, four kinds of request.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS oauth_rls;

-- A tiny app: notes (user data, first-party only), profiles (readable
-- through any non-blocked client) and cards (never through OAuth).
CREATE TABLE public.notes (id serial PRIMARY KEY, user_id uuid NOT NULL, body text);
CREATE TABLE public.cards (id serial PRIMARY KEY, user_id uuid NOT NULL, last4 text);
CREATE TABLE public.profiles (user_id uuid PRIMARY KEY, display_name text);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.cards ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON public.notes, public.cards, public.profiles TO authenticated;

CREATE POLICY notes_owner_first_party ON public.notes FOR SELECT TO authenticated
  USING (user_id = (SELECT oauth_rls.user_id()) AND (SELECT oauth_rls.is_first_party()));
CREATE POLICY cards_owner_direct_only ON public.cards FOR SELECT TO authenticated
  USING (user_id = (SELECT oauth_rls.user_id()) AND NOT (SELECT oauth_rls.is_oauth()));
CREATE POLICY profiles_signed_in ON public.profiles FOR SELECT TO authenticated
  USING ((SELECT oauth_rls.user_id()) IS NOT NULL AND (SELECT oauth_rls.current_tier()) <> 'blocked');

INSERT INTO public.notes (user_id, body) VALUES
  ('a0000000-0000-4000-8000-000000000001', 'Ann: buy milk'),
  ('a0000000-0000-4000-8000-000000000001', 'Ann: call Bob'),
  ('b0000000-0000-4000-8000-000000000002', 'Bob: secret plan');
INSERT INTO public.cards (user_id, last4) VALUES
  ('a0000000-0000-4000-8000-000000000001', '4242'), ('b0000000-0000-4000-8000-000000000002', '1881');
INSERT INTO public.profiles VALUES
  ('a0000000-0000-4000-8000-000000000001', 'Ann'), ('b0000000-0000-4000-8000-000000000002', 'Bob');

-- The registry: our own mobile app, a partner, and a client we cut off.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('9f1c6d1e-1111-4a5b-9c3d-000000000001', 'Our mobile app', 'first_party'),
  ('9f1c6d1e-2222-4a5b-9c3d-000000000002', 'Partner MCP agent', 'third_party'),
  ('9f1c6d1e-3333-4a5b-9c3d-000000000003', 'Abusive scraper', 'blocked');

-- What PostgREST does per request: claims and role, transaction-locally.
-- Auth writes scope only into OAuth tokens.
CREATE FUNCTION pg_temp.request(client text) RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', jsonb_strip_nulls(jsonb_build_object(
           'sub', 'a0000000-0000-4000-8000-000000000001', 'role', 'authenticated',
           'aud', 'authenticated', 'session_id', 'c0000000-0000-4000-8000-000000000009',
           'client_id', client, 'scope', CASE WHEN client IS NOT NULL THEN 'openid email' END))::text, true),
         set_config('role', 'authenticated', true);
$$;

\set query 'SELECT oauth_rls.current_tier() AS tier, (SELECT string_agg(body, \', \' ORDER BY body) FROM public.notes) AS notes, (SELECT string_agg(last4, \', \') FROM public.cards) AS cards, (SELECT string_agg(display_name, \', \' ORDER BY display_name) FROM public.profiles) AS profiles'

\echo
\echo '== Ann, signed in on the website (no client_id): everything of hers'
BEGIN; SELECT pg_temp.request(NULL) \gset quiet_
:query;
COMMIT;
\echo '== Ann through our own mobile app (first_party): notes and profiles, never cards'
BEGIN; SELECT pg_temp.request('9f1c6d1e-1111-4a5b-9c3d-000000000001') \gset quiet_
:query;
COMMIT;
\echo '== Ann through a partner MCP agent (third_party): public profiles only'
BEGIN; SELECT pg_temp.request('9f1c6d1e-2222-4a5b-9c3d-000000000002') \gset quiet_
:query;
COMMIT;
\echo '== Ann through a blocked client: nothing'
BEGIN; SELECT pg_temp.request('9f1c6d1e-3333-4a5b-9c3d-000000000003') \gset quiet_
:query;
COMMIT;
\echo '== Ann through a client nobody registered (oauth_rls.unregistered_client_tier = third_party)'
BEGIN; SELECT pg_temp.request('0b5e55ed-4444-4a5b-9c3d-000000000004') \gset quiet_
:query;
COMMIT;

-- A backend that connects directly (an MCP server, a FastAPI service) with
-- the user's access token: it logs in as a token-only role, which can read
-- nothing itself and gets claims and role only from a verified token
-- (docs/direct-connections.md).  The tokens are minted here by PyJWT with
-- the legacy HS256 secret; a real project would load its JWKS (ES256).
INSERT INTO oauth_rls.jwt_issuers (issuer, algorithms, require_live_session)
  VALUES ('https://demo.supabase.co/auth/v1', '{HS256}', false);
SELECT oauth_rls.set_jwt_secret('https://demo.supabase.co/auth/v1',
                                'demo-jwt-secret-at-least-32-bytes-long') \gset quiet_
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo_backend') THEN CREATE ROLE demo_backend LOGIN; END IF;
END $$;
SELECT oauth_rls.make_token_only_role('demo_backend') \gset quiet_
-- The trust boundary needs the library loaded before the role's first
-- statement; only a superuser may set that (make_token_only_role() said so).
\c - supabase_admin
ALTER ROLE demo_backend SET session_preload_libraries = 'oauth_rls';
\c - postgres
\set mint '/usr/bin/python3 -c "import jwt, sys, time; print(jwt.encode({\'iss\': \'https://demo.supabase.co/auth/v1\', \'sub\': \'a0000000-0000-4000-8000-000000000001\', \'aud\': \'authenticated\', \'role\': \'authenticated\', \'exp\': int(time.time()) + 3600, \'client_id\': sys.argv[1], \'scope\': \'openid email\'}, \'demo-jwt-secret-at-least-32-bytes-long\', algorithm=\'HS256\'))"'
\set first_party_token `:mint 9f1c6d1e-1111-4a5b-9c3d-000000000001`
\set third_party_token `:mint 9f1c6d1e-2222-4a5b-9c3d-000000000002`
\c - demo_backend
\echo '== A backend connection (role demo_backend) with Ann''s token from our mobile app: as first_party'
BEGIN; SELECT oauth_rls.authenticate(:'first_party_token') \gset quiet_
:query;
COMMIT;
\echo '== The same backend connection with Ann''s token from the partner MCP agent: as third_party'
BEGIN; SELECT oauth_rls.authenticate(:'third_party_token') \gset quiet_
:query;
COMMIT;
\echo '== The backend cannot set claims itself (it is token-only):'
\set ON_ERROR_STOP 0
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000001"}', true);
\set ON_ERROR_STOP 1
