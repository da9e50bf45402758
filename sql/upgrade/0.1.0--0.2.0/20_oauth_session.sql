-- oauth_rls upgrade script 0.1.0 -> 0.2.0, part 20: a request's OAuth client
-- is also known from its auth.sessions row (Supabase Auth re-issues an OAuth
-- session's token without client_id after MFA), and a scope claim without a
-- client is an unknown client's.  Only the functions' descriptions change.

COMMENT ON FUNCTION oauth_rls.client_id() IS
  'The OAuth client of the request: claim client_id, else the oauth_client_id of its auth.sessions row (session_id); NULL for a direct session';
COMMENT ON FUNCTION oauth_rls.current_tier() IS
  'The tier of the request''s client (claim client_id, else its auth.sessions row''s OAuth client): registered tier, else oauth_rls.unregistered_client_tier (also for a scope claim without a client); direct without a client';
COMMENT ON FUNCTION oauth_rls.is_oauth() IS
  'Whether the request comes through an OAuth client, by its client_id claim or its auth.sessions row (tier is not direct)';
COMMENT ON FUNCTION oauth_rls.session_active() IS
  'True for a direct session; for an OAuth request (client_id claim, OAuth session, or scope claim), true only while its auth.sessions row exists, belongs to the token''s user and client, and the client is not soft-deleted';
