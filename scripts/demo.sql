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
