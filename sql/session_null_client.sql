-- session_active() fails closed on a session row without an OAuth client:
-- Supabase Auth writes auth.sessions.oauth_client_id for every OAuth session,
-- so an OAuth token whose session row has none names the user's own (direct)
-- session, which it must not borrow.
\set VERBOSITY terse
INSERT INTO auth.users (id) VALUES ('aaaaaaaa-0000-4000-8000-0000000000f0');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types) VALUES
  ('c3000000-0000-4000-8000-0000000000f0', 'client_secret_basic', 'dynamic', 'https://partner.example.com/cb', 'authorization_code');
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('c3000000-0000-4000-8000-0000000000f0', 'Partner', 'third_party');
INSERT INTO auth.sessions (id, user_id, oauth_client_id) VALUES
  ('5e550000-0000-4000-8000-0000000000f1', 'aaaaaaaa-0000-4000-8000-0000000000f0', NULL),
  ('5e550000-0000-4000-8000-0000000000f2', 'aaaaaaaa-0000-4000-8000-0000000000f0', 'c3000000-0000-4000-8000-0000000000f0');
CREATE TABLE public.snc_notes (id int PRIMARY KEY, user_id uuid NOT NULL);
ALTER TABLE public.snc_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY snc_owner ON public.snc_notes FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
GRANT SELECT ON public.snc_notes TO authenticated;
INSERT INTO public.snc_notes VALUES (1, 'aaaaaaaa-0000-4000-8000-0000000000f0');
SELECT oauth_rls.guard('public.snc_notes');
SELECT oauth_rls.set_access('public.snc_notes', 'third_party', '{select}');
CREATE FUNCTION pg_temp.partner_token(session text) RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', jsonb_build_object('sub', 'aaaaaaaa-0000-4000-8000-0000000000f0',
    'role', 'authenticated', 'session_id', session, 'client_id', 'c3000000-0000-4000-8000-0000000000f0',
    'scope', 'openid')::text, false)
$$;
GRANT EXECUTE ON FUNCTION pg_temp.partner_token(text) TO authenticated;
SET ROLE authenticated;
-- The partner's token on the user's direct session row: not active, refused.
SELECT pg_temp.partner_token('5e550000-0000-4000-8000-0000000000f1');
SELECT oauth_rls.session_active() AS active, oauth_rls.allows('public.snc_notes', 'select') AS allowed,
       (SELECT count(*) FROM public.snc_notes) AS rows_seen;
-- On its own session row: active, allowed.
SELECT pg_temp.partner_token('5e550000-0000-4000-8000-0000000000f2');
SELECT oauth_rls.session_active() AS active, oauth_rls.allows('public.snc_notes', 'select') AS allowed,
       (SELECT count(*) FROM public.snc_notes) AS rows_seen;
RESET ROLE;
-- The same row once its oauth_client_id is cleared: not active from the next statement.
UPDATE auth.sessions SET oauth_client_id = NULL WHERE id = '5e550000-0000-4000-8000-0000000000f2';
SET ROLE authenticated;
SELECT oauth_rls.session_active() AS active, oauth_rls.allows('public.snc_notes', 'select') AS allowed,
       (SELECT count(*) FROM public.snc_notes) AS rows_seen;
RESET ROLE;
RESET request.jwt.claims;
SELECT oauth_rls.unguard('public.snc_notes');
DROP TABLE public.snc_notes;
DELETE FROM auth.sessions;
DELETE FROM auth.oauth_clients;
DELETE FROM auth.users;
DELETE FROM oauth_rls.clients;
