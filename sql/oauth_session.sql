-- An OAuth client's token must not become a direct session.  Supabase Auth
-- re-issues an OAuth session's access token after MFA verification without
-- client_id (same session_id, same scope).  The session's row in
-- auth.sessions still names the client (oauth_client_id): RLS and the hook
-- treat the request as that client's, with or without the claim.
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET client_min_messages = warning;
-- Some steps act as Auth's role (postgres may not SET ROLE to it on Supabase)
-- or need a superuser (renaming Auth's auth.sessions away): the file connects
-- as supabase_admin and acts as postgres (SET SESSION AUTHORIZATION),
-- switching identity for those steps only, in one session (temporary helpers
-- survive).
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
SET client_min_messages = warning;

INSERT INTO auth.users (id, email) VALUES
  ('aaaaaaaa-0000-4000-8000-0000000000a1', 'a@example.com'),
  ('bbbbbbbb-0000-4000-8000-0000000000b1', 'b@example.com');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types) VALUES
  ('c1000000-0000-4000-8000-0000000000e1', 'client_secret_basic', 'manual', 'https://app.example.com/cb', 'authorization_code'),
  ('c3000000-0000-4000-8000-0000000000e3', 'client_secret_basic', 'dynamic', 'https://partner.example.com/cb', 'authorization_code'),
  ('cb000000-0000-4000-8000-0000000000eb', 'client_secret_basic', 'dynamic', 'https://scraper.example.com/cb', 'authorization_code'),
  ('c0000000-0000-4000-8000-0000000000e0', 'client_secret_basic', 'dynamic', 'https://unknown.example.com/cb', 'authorization_code');
INSERT INTO oauth_rls.clients (client_id, name, tier, audience, extra_claims) VALUES
  ('c1000000-0000-4000-8000-0000000000e1', 'Web app', 'first_party', NULL, '{}'),
  ('c3000000-0000-4000-8000-0000000000e3', 'Partner', 'third_party', 'https://api.partner.example',
   '{"plan": "partner"}'),
  ('cb000000-0000-4000-8000-0000000000eb', 'Scraper', 'blocked', NULL, '{}');
-- Sessions: the partner's, the web app's, the scraper's, an unregistered
-- client's, the user's own (direct), and user b's with the partner.
INSERT INTO auth.sessions (id, user_id, oauth_client_id, scopes) VALUES
  ('5e550000-0000-4000-8000-0000000000e3', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'c3000000-0000-4000-8000-0000000000e3', 'openid profile'),
  ('5e550000-0000-4000-8000-0000000000e1', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'c1000000-0000-4000-8000-0000000000e1', 'openid email'),
  ('5e550000-0000-4000-8000-0000000000eb', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'cb000000-0000-4000-8000-0000000000eb', 'openid'),
  ('5e550000-0000-4000-8000-0000000000e0', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-0000000000e0', 'openid'),
  ('5e550000-0000-4000-8000-0000000000d0', 'aaaaaaaa-0000-4000-8000-0000000000a1', NULL, NULL),
  ('5e550000-0000-4000-8000-0000000000b3', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'c3000000-0000-4000-8000-0000000000e3', 'openid');

CREATE TABLE public.os_notes (id int PRIMARY KEY, user_id uuid NOT NULL, note text);
ALTER TABLE public.os_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY os_owner ON public.os_notes FOR ALL TO authenticated
  USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.os_notes TO authenticated;
INSERT INTO public.os_notes VALUES
  (1, 'aaaaaaaa-0000-4000-8000-0000000000a1', 'a1'),
  (2, 'aaaaaaaa-0000-4000-8000-0000000000a1', 'a2'),
  (3, 'bbbbbbbb-0000-4000-8000-0000000000b1', 'b1');
SELECT oauth_rls.guard('public.os_notes');
SELECT oauth_rls.set_access('public.os_notes', 'third_party', '{select}');

-- A token of user a for a session, as Auth writes it; client NULL leaves
-- client_id out (what the MFA re-issue does), scope NULL leaves scope out.
CREATE FUNCTION pg_temp.token(session text, client text DEFAULT NULL, scope text DEFAULT NULL,
                              sub text DEFAULT 'aaaaaaaa-0000-4000-8000-0000000000a1')
  RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims',
    jsonb_strip_nulls(jsonb_build_object('sub', sub, 'role', 'authenticated', 'aal', 'aal2',
      'session_id', session, 'client_id', client, 'scope', scope))::text, false)
$$;
-- What a request is, as every reader sees it.
CREATE FUNCTION pg_temp.seen() RETURNS TABLE (tier oauth_rls.tier, is_oauth boolean, first_party boolean,
    client_id text, active boolean, can_select boolean, can_insert boolean, rows_seen bigint)
  LANGUAGE sql AS $$
  SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party(),
         oauth_rls.client_id(), oauth_rls.session_active(),
         oauth_rls.allows('public.os_notes', 'select'), oauth_rls.allows('public.os_notes', 'insert'),
         (SELECT count(*) FROM public.os_notes)
$$;
GRANT EXECUTE ON FUNCTION pg_temp.token(text, text, text, text), pg_temp.seen() TO authenticated;
SET ROLE authenticated;

--
-- RLS: the session decides the client.
--
-- The partner's token as issued at the code exchange, then as re-issued after MFA.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', 'c3000000-0000-4000-8000-0000000000e3', 'openid profile');
SELECT * FROM pg_temp.seen();
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', NULL, 'openid profile');
SELECT * FROM pg_temp.seen();
-- Writes stay refused: the matrix gives the partner select only.
INSERT INTO public.os_notes VALUES (9, 'aaaaaaaa-0000-4000-8000-0000000000a1', 'x');
-- Even with the scope dropped too, the session row says whose it is.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3');
SELECT * FROM pg_temp.seen();
-- The web app's, the scraper's, and an unregistered client's sessions.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e1', NULL, 'openid email');
SELECT * FROM pg_temp.seen();
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000eb', NULL, 'openid');
SELECT * FROM pg_temp.seen();
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e0', NULL, 'openid');
SELECT * FROM pg_temp.seen();
-- The user's own session stays direct.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000d0');
SELECT * FROM pg_temp.seen();
-- The partner's session used with another user's sub: the partner's, and not active.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000b3');
SELECT * FROM pg_temp.seen();
-- A client_id claim that is not the session's client: the claim names the
-- tier, but the session does not vouch for it, so guards refuse.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', 'c1000000-0000-4000-8000-0000000000e1');
SELECT * FROM pg_temp.seen();
RESET ROLE;

-- A soft-deleted client's re-issued token: not active, refused.
UPDATE auth.oauth_clients SET deleted_at = now() WHERE id = 'c3000000-0000-4000-8000-0000000000e3';
SET ROLE authenticated;
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', NULL, 'openid profile');
SELECT * FROM pg_temp.seen();
RESET ROLE;
UPDATE auth.oauth_clients SET deleted_at = NULL WHERE id = 'c3000000-0000-4000-8000-0000000000e3';

-- With revocation not enforced the tier is still the client's.
SET oauth_rls.enforce_revocation = off;
SET ROLE authenticated;
SELECT * FROM pg_temp.seen();
RESET ROLE;
RESET oauth_rls.enforce_revocation;

-- auth.sessions has RLS on and no right for the API roles (as on Supabase,
-- and in the stand-in): it is read with the extension's access all the same.
BEGIN;
SELECT relrowsecurity AS sessions_rls FROM pg_class WHERE oid = 'auth.sessions'::regclass;
SET LOCAL ROLE authenticated;
SELECT has_table_privilege('auth.sessions', 'SELECT') AS may_read_sessions;
SELECT * FROM pg_temp.seen();
ROLLBACK;

--
-- A scope without a client and without an OAuth session is never direct.
--
SET ROLE authenticated;
-- The partner's session revoked (deleted), its re-issued token still live.
SELECT pg_temp.token('5e550000-0000-4000-8000-00000000dead', NULL, 'openid profile');
SELECT * FROM pg_temp.seen();
-- No session_id at all.
SELECT set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-4000-8000-0000000000a1", "role": "authenticated", "scope": "openid"}', false) IS NOT NULL AS set;
SELECT * FROM pg_temp.seen();
-- The user's own session with a scope claim added by hand.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000d0', NULL, 'openid');
SELECT * FROM pg_temp.seen();
-- oauth_rls.unregistered_client_tier decides, as for any unknown client.
RESET ROLE;  -- the setting is the owner's (only roles granted SET may change it)
SET oauth_rls.unregistered_client_tier = blocked;
SET ROLE authenticated;
SELECT * FROM pg_temp.seen();
RESET ROLE;
RESET oauth_rls.unregistered_client_tier;
SET ROLE authenticated;
-- Without a scope, a token without a session row is a direct session.
SELECT pg_temp.token('5e550000-0000-4000-8000-00000000dead');
SELECT * FROM pg_temp.seen();
RESET ROLE;

-- Where auth.sessions does not exist there is no session to ask: a scope
-- still makes an unknown client, no scope a direct session.
BEGIN;
RESET SESSION AUTHORIZATION;
ALTER TABLE auth.sessions RENAME TO sessions_elsewhere;
SET SESSION AUTHORIZATION postgres;
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', NULL, 'openid profile');
SELECT oauth_rls.current_tier(), oauth_rls.client_id(), oauth_rls.session_active();
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3');
SELECT oauth_rls.current_tier(), oauth_rls.client_id(), oauth_rls.session_active();
ROLLBACK;

-- The table is found by name, and what was found is kept per backend until
-- the catalog changes: a table put in its place (a restore, a migration) is
-- the one read from then on, in this session too.  The replacement says
-- the partner's session belongs to the web app; after the rollback the
-- original answers again.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3');
SELECT oauth_rls.current_tier(), oauth_rls.client_id();
BEGIN;
RESET SESSION AUTHORIZATION;
ALTER TABLE auth.sessions RENAME TO sessions_elsewhere;
CREATE TABLE auth.sessions (LIKE auth.sessions_elsewhere INCLUDING ALL);
INSERT INTO auth.sessions (id, user_id, oauth_client_id)
  VALUES ('5e550000-0000-4000-8000-0000000000e3', 'aaaaaaaa-0000-4000-8000-0000000000a1',
          'c1000000-0000-4000-8000-0000000000e1');
SET SESSION AUTHORIZATION postgres;
SELECT oauth_rls.current_tier(), oauth_rls.client_id();
-- Its column dropped: no client is read from it (not the old table's).
RESET SESSION AUTHORIZATION;
ALTER TABLE auth.sessions DROP COLUMN oauth_client_id;
SET SESSION AUTHORIZATION postgres;
SELECT oauth_rls.current_tier(), oauth_rls.client_id();
ROLLBACK;
SELECT oauth_rls.current_tier(), oauth_rls.client_id();

--
-- Cost and freshness: at most one auth.sessions lookup per statement, never
-- kept past it.
--
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000d0');
BEGIN;
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) AS lookups_before \gset
SELECT count(*) FILTER (WHERE oauth_rls.current_tier() = 'direct' AND NOT oauth_rls.is_oauth()
                          AND oauth_rls.client_id() IS NULL AND oauth_rls.session_active()
                          AND oauth_rls.allows('public.os_notes', 'select')) AS direct_rows
  FROM generate_series(1, 1000);
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) - :lookups_before AS lookups_direct;
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', NULL, 'openid');
SELECT count(*) FILTER (WHERE oauth_rls.current_tier() = 'third_party' AND oauth_rls.is_oauth()
                          AND oauth_rls.client_id() = 'c3000000-0000-4000-8000-0000000000e3'
                          AND oauth_rls.session_active()
                          AND oauth_rls.allows('public.os_notes', 'select')) AS partner_rows
  FROM generate_series(1, 1000);
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) - :lookups_before AS lookups_both;
-- A token with the client_id claim needs no lookup for its tier.
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', 'c3000000-0000-4000-8000-0000000000e3', 'openid');
SELECT count(*) FILTER (WHERE oauth_rls.current_tier() = 'third_party') AS claim_rows FROM generate_series(1, 1000);
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) - :lookups_before AS lookups_all;
COMMIT;

-- A pooled backend, one request after another inside one transaction: each
-- gets its own answer.
BEGIN;
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000e3', NULL, 'openid');
SELECT oauth_rls.current_tier(), oauth_rls.client_id();
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000d0');
SELECT oauth_rls.current_tier(), oauth_rls.client_id();
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000eb', NULL, 'openid');
SELECT oauth_rls.current_tier(), oauth_rls.client_id();
COMMIT;

-- A change to the session row is seen at the next command, even inside one
-- function (a prepared plan keeps its call-site caches).
SELECT pg_temp.token('5e550000-0000-4000-8000-0000000000d0');
CREATE FUNCTION pg_temp.becomes_oauth() RETURNS text LANGUAGE plpgsql AS $$
DECLARE before text := format('%s/%s', oauth_rls.current_tier(), coalesce(oauth_rls.client_id(), '-'));
BEGIN
  UPDATE auth.sessions SET oauth_client_id = 'cb000000-0000-4000-8000-0000000000eb'
   WHERE id = '5e550000-0000-4000-8000-0000000000d0';
  RETURN format('before %s, after %s/%s', before, oauth_rls.current_tier(), oauth_rls.client_id());
END $$;
SELECT pg_temp.becomes_oauth();
UPDATE auth.sessions SET oauth_client_id = NULL WHERE id = '5e550000-0000-4000-8000-0000000000d0';
PREPARE who AS SELECT oauth_rls.current_tier(), oauth_rls.client_id();
EXECUTE who;
UPDATE auth.sessions SET oauth_client_id = 'cb000000-0000-4000-8000-0000000000eb'
 WHERE id = '5e550000-0000-4000-8000-0000000000d0';
EXECUTE who;
UPDATE auth.sessions SET oauth_client_id = NULL WHERE id = '5e550000-0000-4000-8000-0000000000d0';
EXECUTE who;
DEALLOCATE who;
RESET request.jwt.claims;

--
-- The hook: the token it returns carries the session's client.
--
CREATE FUNCTION pg_temp.ev(session text, patch jsonb DEFAULT '{}', drop_keys text[] DEFAULT '{}')
  RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'user_id', 'aaaaaaaa-0000-4000-8000-0000000000a1',
    'authentication_method', 'mfa/totp',
    'claims', ('{"iss": "https://abcd.supabase.co/auth/v1",
                 "sub": "aaaaaaaa-0000-4000-8000-0000000000a1", "aud": "authenticated",
                 "exp": 1767000000, "iat": 1766996400,
                 "email": "a@example.com", "phone": "15550001111",
                 "app_metadata": {"provider": "email"}, "user_metadata": {"full_name": "Ada"},
                 "role": "authenticated", "aal": "aal2",
                 "amr": [{"method": "totp", "timestamp": 1766996400}],
                 "is_anonymous": false}'::jsonb
               || jsonb_build_object('session_id', session) || patch) - drop_keys)
$$;
CREATE FUNCTION pg_temp.issued(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT CASE WHEN r ? 'error' THEN r
         ELSE jsonb_build_object('client_id', r #> '{claims,client_id}', 'client_tier', r #> '{claims,client_tier}',
                                 'aud', r #> '{claims,aud}', 'email', r #> '{claims,email}',
                                 'user_metadata', r #> '{claims,user_metadata}', 'plan', r #> '{claims,plan}',
                                 'scope', r #> '{claims,scope}') END
  FROM oauth_rls.custom_access_token_hook(event) AS r
$$;
GRANT EXECUTE ON FUNCTION pg_temp.ev(text, jsonb, text[]), pg_temp.issued(jsonb) TO supabase_auth_admin;
SET SESSION AUTHORIZATION supabase_auth_admin;
-- The partner's MFA re-issue: client_id restored, third-party minimisation
-- (no email scope), the partner's audience and extra claims.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3', '{"scope": "openid profile"}'));
-- The same event as Auth sends it at the code exchange: the same token.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3',
  '{"scope": "openid profile", "client_id": "c3000000-0000-4000-8000-0000000000e3"}'));
-- The same client in capitals is the same client.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3',
  '{"scope": "openid profile", "client_id": "C3000000-0000-4000-8000-0000000000E3"}')) ->> 'client_tier' AS tier;
-- Another client's id on the partner's session: refused.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3',
  '{"scope": "openid", "client_id": "c1000000-0000-4000-8000-0000000000e1"}'));
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3',
  '{"scope": "openid", "client_id": "not-a-uuid"}'));
-- The scraper's session: refused as blocked.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000eb', '{"scope": "openid"}'));
-- The web app's: first-party, nothing minimised.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e1', '{"scope": "openid email"}'));
-- An unregistered client's: oauth_rls.unregistered_client_tier.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e0', '{"scope": "openid"}'));
-- The user's own session: direct, no client_id.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000d0'));
-- A scope but no client and no OAuth session: an unknown client's token.
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-00000000dead', '{"scope": "openid"}'));
SET SESSION AUTHORIZATION postgres;  -- the setting is the owner's (only roles granted SET may change it)
SET oauth_rls.unregistered_client_tier = blocked;
SET SESSION AUTHORIZATION supabase_auth_admin;
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-00000000dead', '{"scope": "openid"}'));
SET SESSION AUTHORIZATION postgres;
RESET oauth_rls.unregistered_client_tier;
-- A chained hook is given the event with the session's client_id.
CREATE FUNCTION public.os_chained(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('claims', (event -> 'claims')
    || jsonb_build_object('seen_client', coalesce(event #>> '{claims,client_id}', 'none')))
$$;
GRANT EXECUTE ON FUNCTION public.os_chained(jsonb) TO supabase_auth_admin;
SET oauth_rls.chained_hook = 'public.os_chained(jsonb)';
SET SESSION AUTHORIZATION supabase_auth_admin;
SELECT r #>> '{claims,seen_client}' AS seen_client, r #>> '{claims,client_id}' AS client_id
  FROM oauth_rls.custom_access_token_hook(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3', '{"scope": "openid"}')) AS r;
SET SESSION AUTHORIZATION postgres;
RESET oauth_rls.chained_hook;
-- Where auth.sessions does not exist: today's behaviour.
BEGIN;
RESET SESSION AUTHORIZATION;
ALTER TABLE auth.sessions RENAME TO sessions_elsewhere;
SET SESSION AUTHORIZATION postgres;
SET LOCAL SESSION AUTHORIZATION supabase_auth_admin;
SELECT pg_temp.issued(pg_temp.ev('5e550000-0000-4000-8000-0000000000e3'));
ROLLBACK;

-- Clean up.
SELECT oauth_rls.unguard('public.os_notes');
DROP TABLE public.os_notes;
DROP FUNCTION public.os_chained(jsonb);
DELETE FROM auth.sessions;
DELETE FROM auth.oauth_clients;
DELETE FROM auth.users;
DELETE FROM oauth_rls.clients;
DELETE FROM oauth_rls.token_issuance;
