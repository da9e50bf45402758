-- Run in ONE session on the standby (psql -v ON_ERROR_STOP=1): read functions
-- and RLS work there, and registry changes made on the primary reach this
-- session's caches once replayed.  :'wait' is the command that makes a
-- change on the primary and waits until the standby has replayed it.
\set QUIET on
-- The hook step runs as Auth's role, which postgres may not SET ROLE to: the
-- session connects as supabase_admin and acts as postgres (SET SESSION
-- AUTHORIZATION), becoming Auth's role the same way for that step.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
DO $$ BEGIN ASSERT pg_is_in_recovery(), 'not connected to the standby'; END $$;

-- every read function, with no claims and NULL arguments
SELECT count(*) AS swept FROM public.sb_sweep() \gset
\echo swept :swept functions

-- a first-party token
SELECT set_config('request.jwt.claims', '{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"sb-tp","session_id":"11111111-1111-4111-8111-111111111111","scope":"openid email"}', false) IS NULL;
DO $$
BEGIN
  ASSERT oauth_rls.user_id() = '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'user_id';
  ASSERT oauth_rls.client_id() = 'sb-tp', 'client_id';
  ASSERT oauth_rls.session_id() = '11111111-1111-4111-8111-111111111111', 'session_id';
  ASSERT oauth_rls.scopes() = '{openid,email}', 'scopes';
  ASSERT oauth_rls.has_scope('email') AND NOT oauth_rls.has_scope('phone'), 'has_scope';
  ASSERT oauth_rls.claim('scope') = 'openid email' AND oauth_rls.claims() ? 'sub', 'claim/claims';
  ASSERT oauth_rls.current_tier() = 'third_party' AND oauth_rls.is_oauth() AND NOT oauth_rls.is_first_party(), 'tier';
  ASSERT oauth_rls.tier_of('sb-fp') = 'first_party' AND oauth_rls.tier_of('sb-bl') = 'blocked'
     AND oauth_rls.tier_of('sb-new') = 'third_party', 'tier_of';
END $$;
SET ROLE authenticated;
DO $$ BEGIN ASSERT (SELECT count(*) FROM public.sb_data) = 0, 'third party saw rows'; END $$;
RESET ROLE;
SELECT count(*) AS swept FROM public.sb_sweep() \gset

-- the primary promotes sb-tp and registers sb-new: this session's cached
-- tiers (positive and negative) must follow once the change is replayed
\set change 'UPDATE oauth_rls.clients SET tier = ''first_party'' WHERE client_id = ''sb-tp''; INSERT INTO oauth_rls.clients VALUES (''sb-new'', ''new'', ''blocked'')'
\setenv CHANGE :change
\! "$WAIT_REPLAY"
DO $$
BEGIN
  ASSERT oauth_rls.current_tier() = 'first_party', format('after replay: tier %s', oauth_rls.current_tier());
  ASSERT oauth_rls.tier_of('sb-new') = 'blocked', format('after replay: sb-new %s', oauth_rls.tier_of('sb-new'));
END $$;
SET ROLE authenticated;
DO $$ BEGIN ASSERT (SELECT array_agg(note) FROM public.sb_data) = '{mine}', 'first party sees its own row only'; END $$;
RESET ROLE;

-- and back: blocked, then deleted (falls back to unregistered_client_tier)
\setenv CHANGE 'UPDATE oauth_rls.clients SET tier = ''blocked'' WHERE client_id = ''sb-tp'''
\! "$WAIT_REPLAY"
DO $$ BEGIN ASSERT oauth_rls.current_tier() = 'blocked', format('after replay: tier %s', oauth_rls.current_tier()); END $$;
\setenv CHANGE 'DELETE FROM oauth_rls.clients WHERE client_id = ''sb-tp'''
\! "$WAIT_REPLAY"
SET oauth_rls.unregistered_client_tier = blocked;
DO $$ BEGIN ASSERT oauth_rls.current_tier() = 'blocked', 'deleted client, strict setting'; END $$;
RESET oauth_rls.unregistered_client_tier;
DO $$ BEGIN ASSERT oauth_rls.current_tier() = 'third_party', format('after replay of delete: tier %s', oauth_rls.current_tier()); END $$;
SET ROLE authenticated;
DO $$ BEGIN ASSERT (SELECT count(*) FROM public.sb_data) = 0, 'deleted client saw rows'; END $$;
RESET ROLE;
-- guarded RLS and session revocation: a live third-party session reads its
-- own row through the guard; its revocation on the primary cuts it off here
SELECT set_config('request.jwt.claims', '{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"0d000000-0000-4000-8000-00000000000d","session_id":"5e000000-0000-4000-8000-00000000000d","role":"authenticated"}', false) IS NULL;
SET ROLE authenticated;
DO $$
BEGIN
  ASSERT oauth_rls.session_active(), 'session not active on the standby';
  ASSERT oauth_rls.allows('public.sb_guarded', 'select') AND NOT oauth_rls.allows('public.sb_guarded', 'delete'), 'matrix';
  ASSERT (SELECT array_agg(owner::text) FROM public.sb_guarded) = '{6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab}', 'guarded rows';
END $$;
RESET ROLE;
-- the token hook: read-only on a standby, it must still answer (never raise)
SET SESSION AUTHORIZATION supabase_auth_admin;
DO $$
DECLARE
  result jsonb := oauth_rls.custom_access_token_hook(jsonb_build_object(
    'user_id', '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'authentication_method', 'token_refresh',
    'claims', jsonb_build_object('iss', 'https://x.supabase.co/auth/v1', 'aud', 'authenticated', 'exp', 4102444800,
      'iat', 1700000000, 'sub', '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'email', 'ann@example.com', 'phone', '',
      'role', 'authenticated', 'aal', 'aal1', 'session_id', '5e000000-0000-4000-8000-00000000000d',
      'is_anonymous', false, 'client_id', '0d000000-0000-4000-8000-00000000000d', 'scope', 'openid email')));
BEGIN
  ASSERT result #>> '{claims,client_tier}' = 'third_party' AND NOT result ? 'error',
    format('hook on the standby answered %s', result);
END $$;
SET SESSION AUTHORIZATION postgres;
\setenv CHANGE 'DELETE FROM auth.sessions WHERE id = ''5e000000-0000-4000-8000-00000000000d'''
\! "$WAIT_REPLAY"
SET ROLE authenticated;
DO $$
BEGIN
  ASSERT NOT oauth_rls.session_active(), 'revoked session still active on the standby';
  ASSERT NOT oauth_rls.allows('public.sb_guarded', 'select'), 'revoked session still allowed';
  ASSERT (SELECT count(*) FROM public.sb_guarded) = 0, 'revoked session still sees rows';
END $$;
RESET ROLE;
-- API keys: validation works read-only (the last_used_at refresh is not
-- attempted), and a revocation on the primary reaches this session
SELECT set_config('request.jwt.claims', '', false) IS NULL;
SELECT set_config('request.headers', json_build_object('x-api-key', key)::text, false) IS NULL FROM public.sb_keys;
SELECT key AS sb_key FROM public.sb_keys \gset
DO $$
BEGIN
  ASSERT oauth_rls.api_key_owner() = '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab', 'api_key_owner() on the standby';
  ASSERT oauth_rls.api_key_scopes() = '{notes:read}' AND oauth_rls.api_key_id() IS NOT NULL, 'api_key_scopes/id';
END $$;
SET ROLE service_role;
SELECT owner = '6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab' AS validated FROM oauth_rls.validate_api_key(:'sb_key') \gset
RESET ROLE;
\if :validated
\else
  SELECT 'validate_api_key() on the standby did not answer the owner' AS failure, 1 / 0;
\endif
\setenv CHANGE 'SELECT oauth_rls.revoke_api_key(key_id) FROM oauth_rls.api_keys'
\! "$WAIT_REPLAY"
DO $$ BEGIN ASSERT oauth_rls.api_key_owner() IS NULL, 'revoked key still valid on the standby'; END $$;
\echo standby checks passed
