-- Behaviour under RLS of the three policy patterns users start from
-- (shared/user-needs.md §2), written with oauth_rls's functions, for every
-- kind of request.  Runs as several transactions on one backend, the way a
-- transaction-mode pooler hands a backend from one user to the next.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO anon, authenticated;

CREATE TABLE app.user_data (id serial PRIMARY KEY, user_id uuid NOT NULL, note text);
CREATE TABLE app.public_profiles (user_id uuid PRIMARY KEY, display_name text);
CREATE TABLE app.payment_methods (id serial PRIMARY KEY, user_id uuid NOT NULL, last4 text);
ALTER TABLE app.user_data ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.public_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.payment_methods ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO authenticated;
GRANT SELECT ON app.public_profiles TO anon;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO authenticated;

-- user_data: owner only, and only direct sessions or first-party apps.
CREATE POLICY user_data_owner ON app.user_data FOR ALL TO authenticated
  USING (user_id = (SELECT oauth_rls.user_id()) AND (SELECT oauth_rls.is_first_party()))
  WITH CHECK (user_id = (SELECT oauth_rls.user_id()) AND (SELECT oauth_rls.is_first_party()));
-- public_profiles: any signed-in user, through any OAuth client that is not blocked.
CREATE POLICY public_profiles_read ON app.public_profiles FOR SELECT TO authenticated
  USING ((SELECT oauth_rls.user_id()) IS NOT NULL
         AND (SELECT oauth_rls.current_tier()) <> 'blocked');
-- payment_methods: owner only, direct sessions only, never through OAuth.
CREATE POLICY payment_methods_owner ON app.payment_methods FOR ALL TO authenticated
  USING (user_id = (SELECT oauth_rls.user_id()) AND NOT (SELECT oauth_rls.is_oauth()))
  WITH CHECK (user_id = (SELECT oauth_rls.user_id()) AND NOT (SELECT oauth_rls.is_oauth()));

-- Ann and Bob each own two notes, a profile and a card.
INSERT INTO app.user_data (user_id, note) VALUES
  ('a0000000-0000-4000-8000-000000000001', 'ann 1'), ('a0000000-0000-4000-8000-000000000001', 'ann 2'),
  ('b0000000-0000-4000-8000-000000000002', 'bob 1'), ('b0000000-0000-4000-8000-000000000002', 'bob 2');
INSERT INTO app.public_profiles VALUES
  ('a0000000-0000-4000-8000-000000000001', 'Ann'), ('b0000000-0000-4000-8000-000000000002', 'Bob');
INSERT INTO app.payment_methods (user_id, last4) VALUES
  ('a0000000-0000-4000-8000-000000000001', '1111'), ('b0000000-0000-4000-8000-000000000002', '2222');

INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('c0000000-0000-4000-8000-00000000f1a7', 'Company mobile app', 'first_party'),
  ('c0000000-0000-4000-8000-0000000000a3', 'Partner integration', 'third_party'),
  ('c0000000-0000-4000-8000-0000000000bb', 'Abusive client', 'blocked');

-- Impersonates a request the way PostgREST does: role and claims, transaction-locally.
CREATE FUNCTION pg_temp.request(usr uuid, client text DEFAULT NULL, scope text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', jsonb_strip_nulls(jsonb_build_object(
           'iss', 'https://project.supabase.co/auth/v1', 'sub', usr, 'aud', 'authenticated',
           'exp', 4102444800, 'iat', 1700000000, 'email', 'user@example.com', 'phone', '',
           'role', 'authenticated', 'aal', 'aal1', 'session_id', gen_random_uuid(),
           'is_anonymous', false, 'client_id', client, 'scope', scope))::text, true),
         set_config('role', 'authenticated', true);
$$;

SELECT plan(44);

-- 1. Direct session (no client_id): Ann sees everything of hers.
BEGIN;
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001');
SELECT is(oauth_rls.current_tier(), 'direct', 'direct session: tier direct');
SELECT results_eq('SELECT note FROM app.user_data ORDER BY note', ARRAY['ann 1', 'ann 2'], 'direct: own user_data only');
SELECT is((SELECT count(*) FROM app.public_profiles), 2::bigint, 'direct: all public profiles');
SELECT results_eq('SELECT last4 FROM app.payment_methods', ARRAY['1111'], 'direct: own payment method');
SELECT lives_ok($$INSERT INTO app.user_data (user_id, note) VALUES ('a0000000-0000-4000-8000-000000000001', 'ann 3')$$,
                'direct: may insert own user_data');
SELECT throws_ok($$INSERT INTO app.user_data (user_id, note) VALUES ('b0000000-0000-4000-8000-000000000002', 'forged')$$,
                 '42501', NULL, 'direct: may not insert for another user');
ROLLBACK;

-- 2. First-party app: same as direct, except payment methods (never through OAuth).
BEGIN;
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-00000000f1a7', 'openid email profile');
SELECT is(oauth_rls.current_tier(), 'first_party', 'first-party client: tier first_party');
SELECT ok(oauth_rls.is_oauth() AND oauth_rls.is_first_party(), 'first-party client: is_oauth and is_first_party');
SELECT results_eq('SELECT note FROM app.user_data ORDER BY note', ARRAY['ann 1', 'ann 2'], 'first-party: own user_data');
SELECT is((SELECT count(*) FROM app.public_profiles), 2::bigint, 'first-party: public profiles');
SELECT is_empty('SELECT * FROM app.payment_methods', 'first-party: no payment methods through OAuth');
SELECT throws_ok($$INSERT INTO app.payment_methods (user_id, last4) VALUES ('a0000000-0000-4000-8000-000000000001', '9999')$$,
                 '42501', NULL, 'first-party: cannot add a payment method through OAuth');
UPDATE app.user_data SET note = note || '!' WHERE note = 'ann 1';
SELECT results_eq('SELECT note FROM app.user_data ORDER BY note', ARRAY['ann 1!', 'ann 2'],
                  'first-party: an update of own data takes effect');
ROLLBACK;

-- 3. Third-party app: public profiles only.
BEGIN;
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-0000000000a3', 'openid');
SELECT is(oauth_rls.current_tier(), 'third_party', 'third-party client: tier third_party');
SELECT is_empty('SELECT * FROM app.user_data', 'third-party: no user_data');
SELECT is((SELECT count(*) FROM app.public_profiles), 2::bigint, 'third-party: public profiles readable');
SELECT is_empty('SELECT * FROM app.payment_methods', 'third-party: no payment methods');
SELECT throws_ok($$INSERT INTO app.user_data (user_id, note) VALUES ('a0000000-0000-4000-8000-000000000001', 'x')$$,
                 '42501', NULL, 'third-party: cannot write user_data');
UPDATE app.user_data SET note = 'hijacked';
RESET role;
SELECT is((SELECT count(*) FROM app.user_data WHERE note = 'hijacked'), 0::bigint,
          'third-party: an update reaches no row');
ROLLBACK;

-- 4. Blocked client: nothing at all.
BEGIN;
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-0000000000bb', 'openid email');
SELECT is(oauth_rls.current_tier(), 'blocked', 'blocked client: tier blocked');
SELECT is_empty('SELECT * FROM app.user_data', 'blocked: no user_data');
SELECT is_empty('SELECT * FROM app.public_profiles', 'blocked: no public profiles');
SELECT is_empty('SELECT * FROM app.payment_methods', 'blocked: no payment methods');
ROLLBACK;

-- 5. Unregistered client, default setting: treated as third-party.
BEGIN;
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-00000000dead');
SELECT is(oauth_rls.current_tier(), 'third_party', 'unregistered client: third_party by default');
SELECT is_empty('SELECT * FROM app.user_data', 'unregistered (third_party): no user_data');
SELECT is((SELECT count(*) FROM app.public_profiles), 2::bigint, 'unregistered (third_party): public profiles');
ROLLBACK;

-- 6. Unregistered client with oauth_rls.unregistered_client_tier = blocked.
BEGIN;
SET LOCAL oauth_rls.unregistered_client_tier = 'blocked';
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-00000000dead');
SELECT is(oauth_rls.current_tier(), 'blocked', 'unregistered client: blocked when the setting says so');
SELECT is_empty('SELECT * FROM app.public_profiles', 'unregistered (blocked): no public profiles');
SELECT is_empty('SELECT * FROM app.user_data', 'unregistered (blocked): no user_data');
ROLLBACK;

-- 7. anon without claims: nothing user-bound.
BEGIN;
SET LOCAL role anon;
SELECT is(oauth_rls.user_id(), NULL, 'anon: no user');
SELECT is(oauth_rls.current_tier(), 'direct', 'anon: no client, so tier direct (no user either)');
SELECT is_empty('SELECT * FROM app.public_profiles', 'anon: policies are for authenticated only');
SELECT throws_ok('SELECT * FROM app.user_data', '42501', NULL, 'anon: no table privilege on user_data');
ROLLBACK;

-- 8. Malformed claims fail the query instead of reading as a direct session.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"a0000000-0000-4000-8000-000000000001","client_id":', true);
SET LOCAL role authenticated;
SELECT throws_ok('SELECT * FROM app.user_data', '22P02', 'setting "request.jwt.claims" is not valid JSON',
                 'malformed claims: query fails');
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"a0000000-0000-4000-8000-000000000001","client_id":null}', true);
SET LOCAL role authenticated;
SELECT throws_ok('SELECT * FROM app.payment_methods', '22023', NULL,
                 'client_id null: query fails rather than counting as direct');
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"ann","role":"authenticated"}', true);
SET LOCAL role authenticated;
SELECT throws_ok('SELECT * FROM app.user_data', '22P02', NULL, 'non-uuid sub: query fails');
ROLLBACK;

-- 9. A pooled backend switching users between transactions: Bob, then a
--    third-party token, then Ann again, then a registry change.
BEGIN;
SELECT pg_temp.request('b0000000-0000-4000-8000-000000000002');
SELECT results_eq('SELECT note FROM app.user_data ORDER BY note', ARRAY['bob 1', 'bob 2'], 'pooled: Bob sees only his notes');
SELECT results_eq('SELECT last4 FROM app.payment_methods', ARRAY['2222'], 'pooled: Bob sees only his card');
COMMIT;
BEGIN;
SELECT pg_temp.request('b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-0000000000a3');
SELECT is_empty('SELECT * FROM app.user_data', 'pooled: Bob through a third-party app sees no notes');
COMMIT;
BEGIN;
SELECT pg_temp.request('a0000000-0000-4000-8000-000000000001');
SELECT results_eq('SELECT note FROM app.user_data ORDER BY note', ARRAY['ann 1', 'ann 2'], 'pooled: Ann again sees her own notes');
SELECT results_eq('SELECT last4 FROM app.payment_methods', ARRAY['1111'], 'pooled: Ann sees her card, not Bob''s');
COMMIT;
SELECT is(oauth_rls.user_id(), NULL, 'pooled: between transactions nobody is signed in');
SELECT is(oauth_rls.client_id(), NULL, 'pooled: between transactions no client');
-- Promote the partner to first party: the very next transaction sees it.
UPDATE oauth_rls.clients SET tier = 'first_party' WHERE client_id = 'c0000000-0000-4000-8000-0000000000a3';
BEGIN;
SELECT pg_temp.request('b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-0000000000a3');
SELECT results_eq('SELECT note FROM app.user_data ORDER BY note', ARRAY['bob 1', 'bob 2'],
                  'registry change: promoted client sees user_data at once');
COMMIT;

SELECT * FROM finish();

RESET role;
DROP SCHEMA app CASCADE;
DELETE FROM oauth_rls.clients;
