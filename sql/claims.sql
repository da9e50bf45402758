-- Claim functions: output for each kind of request, and every error.

-- No claims at all: NULLs, empty scopes, direct session.
SELECT oauth_rls.claims() IS NULL AS no_claims,
       oauth_rls.claim('sub') IS NULL AS no_sub,
       oauth_rls.user_id() IS NULL AS no_user,
       oauth_rls.client_id() IS NULL AS no_client,
       oauth_rls.session_id() IS NULL AS no_session,
       oauth_rls.scopes() AS scopes,
       oauth_rls.has_scope('email') AS has_email;

-- '' means "not set", as after a transaction ends.
SELECT set_config('request.jwt.claims', '', false) AS cleared;
SELECT oauth_rls.claims() IS NULL AS no_claims, oauth_rls.client_id() IS NULL AS no_client;

-- A direct session: Supabase's claims without client_id.
BEGIN;
SELECT set_config('request.jwt.claims', '{"iss":"https://x.supabase.co/auth/v1","sub":"11111111-1111-4111-8111-111111111111","aud":"authenticated","exp":4102444800,"iat":1700000000,"email":"ann@example.com","phone":"","role":"authenticated","aal":"aal1","session_id":"22222222-2222-4222-8222-222222222222","is_anonymous":false,"app_metadata":{"provider":"email"},"user_metadata":{"name":"Ann"}}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id(), oauth_rls.session_id(), oauth_rls.client_id(), oauth_rls.scopes();
SELECT oauth_rls.claim('email') AS email, oauth_rls.claim('exp') AS exp,
       oauth_rls.claim('is_anonymous') AS anon, oauth_rls.claim('app_metadata') AS app_metadata,
       oauth_rls.claim('phone') AS phone, oauth_rls.claim('missing') IS NULL AS missing;
SELECT oauth_rls.claims() ->> 'role' AS role, oauth_rls.claims() = auth.jwt() AS same_as_auth_jwt,
       oauth_rls.user_id() = auth.uid() AS same_as_auth_uid;
COMMIT;

-- The transaction-local claims are gone after commit.
SELECT oauth_rls.user_id() IS NULL AS user_gone, oauth_rls.claims() IS NULL AS claims_gone;

-- An OAuth token: client_id and scope.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"11111111-1111-4111-8111-111111111111","role":"authenticated","client_id":"9a8b7c6d-0000-4000-8000-000000000001","scope":"openid  email profile"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id(), oauth_rls.scopes(),
       oauth_rls.has_scope('email') AS email, oauth_rls.has_scope('phone') AS phone,
       oauth_rls.has_scope('') AS empty, oauth_rls.has_scope(NULL) AS null_scope;
ROLLBACK;

-- Legacy per-claim settings alone (hand-written tests) are read as auth.uid() reads them.
BEGIN;
SELECT set_config('request.jwt.claim.sub', '33333333-3333-4333-8333-333333333333', true) IS NOT NULL AS set;
SELECT set_config('request.jwt.claim.client_id', 'legacy-client', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id(), oauth_rls.client_id(), oauth_rls.claims() IS NULL AS no_claims;
ROLLBACK;

-- With request.jwt.claims too, they must agree with it.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"33333333-3333-4333-8333-333333333333","client_id":"legacy-client"}', true) IS NOT NULL AS set;
SELECT set_config('request.jwt.claim.sub', '33333333-3333-4333-8333-333333333333', true) IS NOT NULL AS set;
SELECT set_config('request.jwt.claim.client_id', 'legacy-client', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id(), oauth_rls.client_id();
ROLLBACK;

-- A legacy value left at session level (a pooled backend) never overrides
-- the next request's token: disagreement is an error.
SET request.jwt.claim.sub = '33333333-3333-4333-8333-333333333333';
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"11111111-1111-4111-8111-111111111111"}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"role":"anon"}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;
RESET request.jwt.claim.sub;
SET request.jwt.claim.client_id = 'first-party-app';
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"11111111-1111-4111-8111-111111111111","client_id":"third-party-app"}', true) IS NOT NULL AS set;
SELECT oauth_rls.current_tier();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"11111111-1111-4111-8111-111111111111"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id();
ROLLBACK;
RESET request.jwt.claim.client_id;

-- request.jwt.claim (singular, whole JSON) is read when it agrees with request.jwt.claims.
BEGIN;
SELECT set_config('request.jwt.claim', '{"client_id":"from-claim"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id(), oauth_rls.claim('client_id');
SELECT set_config('request.jwt.claims', '{ "client_id" : "from-claim" }', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id() AS same_claims_other_spelling;
SELECT set_config('request.jwt.claims', '{"client_id":"from-claims"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id();
ROLLBACK;

-- Duplicate keys: the last one wins, as in jsonb and auth.jwt().
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":"first","client_id":"last"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id(), auth.jwt() ->> 'client_id' AS auth_jwt;
ROLLBACK;

-- JSON null sub/session_id/scope mean "none"; uppercase uuids are accepted.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":null,"session_id":null,"scope":null}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id() IS NULL AS no_user, oauth_rls.session_id() IS NULL AS no_session, oauth_rls.scopes();
SELECT set_config('request.jwt.claims', '{"sub":"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;

-- A savepoint rolled back restores the outer claims.
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":"outer"}', true) IS NOT NULL AS set;
SAVEPOINT s;
SELECT set_config('request.jwt.claims', '{"client_id":"inner"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id() AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT oauth_rls.client_id() AS after_rollback_to;
ROLLBACK;

-- Session-level SET then RESET.
SET request.jwt.claims = '{"client_id":"session-level"}';
SELECT oauth_rls.client_id();
RESET request.jwt.claims;
SELECT oauth_rls.client_id() IS NULL AS reset_to_direct;

-- Errors: malformed claims never read as "no client".  Values are never shown.
\set VERBOSITY default
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":"secret-ish", "sub": ', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '["not", "an", "object"]', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '"just a string"', true) IS NOT NULL AS set;
SELECT oauth_rls.current_tier();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"not-a-uuid"}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":42}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"session_id":"11111111-1111-4111-8111-11111111111"}', true) IS NOT NULL AS set;
SELECT oauth_rls.session_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":null}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":""}', true) IS NOT NULL AS set;
SELECT oauth_rls.is_oauth();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":{"id":"x"}}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"scope":["email"]}', true) IS NOT NULL AS set;
SELECT oauth_rls.has_scope('email');
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claim.sub', 'abc', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"n": 1e1000000000}', true) IS NOT NULL AS set;
SELECT oauth_rls.claims();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"bad":"\u0000"}', true) IS NOT NULL AS set;
SELECT oauth_rls.claims();
ROLLBACK;
-- Every reader fails, not just the first call.
BEGIN;
SELECT set_config('request.jwt.claims', '{', true) IS NOT NULL AS set;
SELECT oauth_rls.claim('sub');
ROLLBACK;

-- Changing claims mid-statement is seen at the next call (per-call-site cache).
SELECT c, oauth_rls.client_id()
FROM (VALUES ('{"client_id":"a"}'), ('{"client_id":"b"}')) v(c),
     LATERAL (SELECT set_config('request.jwt.claims', v.c, false)) s
ORDER BY c;
RESET request.jwt.claims;

-- claim() with a different name per row.
BEGIN;
SELECT set_config('request.jwt.claims', '{"a":"1","b":"2"}', true) IS NOT NULL AS set;
SELECT n, oauth_rls.claim(n) FROM (VALUES ('a'), ('b'), ('c'), ('a')) v(n);
ROLLBACK;

-- A fresh backend: PostgREST sets the claims before oauth_rls's library is
-- loaded; the value set before loading is taken over, and still reverts at
-- transaction end.
\c -
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"44444444-4444-4444-8444-444444444444","client_id":"before-load"}', true) IS NOT NULL AS set;
SELECT oauth_rls.user_id(), oauth_rls.client_id();
COMMIT;
SELECT oauth_rls.user_id() IS NULL AS no_user, oauth_rls.client_id() IS NULL AS no_client;
\c -
SET request.jwt.claims = '{"client_id":"session-before-load"}';
BEGIN;
SELECT set_config('request.jwt.claims', '{"client_id":"local-before-load"}', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id() AS local_value;
ROLLBACK;
SELECT oauth_rls.client_id() AS session_value;
RESET request.jwt.claims;
SELECT oauth_rls.client_id() IS NULL AS reset_to_direct;

-- Switching users many times inside one transaction (PL/pgSQL keeps call
-- sites for the whole transaction) uses bounded memory.
DO $$
DECLARE
  j jsonb; u uuid; c text; before bigint; after bigint;
BEGIN
  SELECT sum(total_bytes) INTO before FROM pg_backend_memory_contexts;
  FOR i IN 1..20000 LOOP
    PERFORM set_config('request.jwt.claims', json_build_object(
      'sub', 'a0000000-0000-4000-8000-00000000000' || (i % 10), 'client_id', 'c' || i,
      'pad', repeat('x', 300))::text, true);
    j := oauth_rls.claims(); u := oauth_rls.user_id(); c := oauth_rls.client_id();
  END LOOP;
  SELECT sum(total_bytes) INTO after FROM pg_backend_memory_contexts;
  IF after - before > 2 * 1024 * 1024 THEN
    RAISE EXCEPTION 'backend memory grew by % kB over 20000 claim changes', (after - before) / 1024;
  END IF;
  RAISE NOTICE 'memory stayed bounded';
END
$$;
