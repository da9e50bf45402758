-- Guard policies enforcing the access matrix, seen through row level security
-- by every kind of request: direct session, first-party, third-party,
-- unregistered and blocked clients, and a revoked session.
-- One transaction, rolled back, as `supabase test db` runs a file.
BEGIN;
SELECT plan(46);

-- The three tables of a typical plan (user-needs §2), with the permissive
-- policies a team already has.
CREATE TABLE public.user_data (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL DEFAULT auth.uid(),
  content text);
CREATE TABLE public.public_profiles (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL DEFAULT auth.uid(),
  content text);
CREATE TABLE public.payment_methods (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL DEFAULT auth.uid(),
  content text);
ALTER TABLE public.user_data ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.public_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.payment_methods ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON public.user_data FOR ALL TO authenticated
  USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
CREATE POLICY signed_in_read ON public.public_profiles FOR SELECT TO authenticated
  USING ((select auth.uid()) IS NOT NULL);
CREATE POLICY owner_insert ON public.public_profiles FOR INSERT TO authenticated
  WITH CHECK ((select auth.uid()) = user_id);
CREATE POLICY owner_update ON public.public_profiles FOR UPDATE TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY owner_delete ON public.public_profiles FOR DELETE TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY owner_all ON public.payment_methods FOR ALL TO authenticated
  USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.user_data, public.public_profiles,
  public.payment_methods TO authenticated;

-- Alice and Bob; Alice's rows: 2 user_data, 1 profile, 1 card; Bob: 1 of each.
INSERT INTO auth.users (id, email, aud, role) VALUES
  ('a11ce000-0000-4000-8000-000000000001', 'alice@example.com', 'authenticated', 'authenticated'),
  ('b0b00000-0000-4000-8000-000000000002', 'bob@example.com', 'authenticated', 'authenticated');
INSERT INTO public.user_data (user_id, content) VALUES
  ('a11ce000-0000-4000-8000-000000000001', 'alice notes'),
  ('a11ce000-0000-4000-8000-000000000001', 'alice todo'),
  ('b0b00000-0000-4000-8000-000000000002', 'bob notes');
INSERT INTO public.public_profiles (user_id, content) VALUES
  ('a11ce000-0000-4000-8000-000000000001', 'Alice'),
  ('b0b00000-0000-4000-8000-000000000002', 'Bob');
INSERT INTO public.payment_methods (user_id, content) VALUES
  ('a11ce000-0000-4000-8000-000000000001', 'visa 4242'),
  ('b0b00000-0000-4000-8000-000000000002', 'amex 0005');

-- OAuth clients as Supabase Auth records them, and our registry: the web app
-- is first-party, the partner third-party, the scraper blocked; the MCP agent
-- registered itself and is in no registry of ours.
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, client_name, redirect_uris, grant_types) VALUES
  ('0a000000-0000-4000-8000-00000000000a', 'client_secret_basic', 'manual', 'Web app', 'https://app.example.com/cb', 'authorization_code,refresh_token'),
  ('0b000000-0000-4000-8000-00000000000b', 'client_secret_basic', 'manual', 'Partner', 'https://partner.example.com/cb', 'authorization_code,refresh_token'),
  ('0c000000-0000-4000-8000-00000000000c', 'client_secret_basic', 'dynamic', 'Scraper', 'https://scraper.example.net/cb', 'authorization_code'),
  ('0d000000-0000-4000-8000-00000000000d', 'client_secret_basic', 'dynamic', 'MCP agent', 'http://localhost:7777/cb', 'authorization_code');
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('0a000000-0000-4000-8000-00000000000a', 'Web app', 'first_party'),
  ('0b000000-0000-4000-8000-00000000000b', 'Partner', 'third_party'),
  ('0c000000-0000-4000-8000-00000000000c', 'Scraper', 'blocked');
-- Alice's live sessions: one direct, one per client.
INSERT INTO auth.sessions (id, user_id, oauth_client_id, created_at) VALUES
  ('5e000000-0000-4000-8000-000000000000', 'a11ce000-0000-4000-8000-000000000001', NULL, now()),
  ('5e000000-0000-4000-8000-00000000000a', 'a11ce000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-00000000000a', now()),
  ('5e000000-0000-4000-8000-00000000000b', 'a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', now()),
  ('5e000000-0000-4000-8000-00000000000c', 'a11ce000-0000-4000-8000-000000000001', '0c000000-0000-4000-8000-00000000000c', now()),
  ('5e000000-0000-4000-8000-00000000000d', 'a11ce000-0000-4000-8000-000000000001', '0d000000-0000-4000-8000-00000000000d', now());
INSERT INTO auth.oauth_consents (id, user_id, client_id, scopes) VALUES
  ('c0000000-0000-4000-8000-00000000000b', 'a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', 'openid email profile');

-- What the current request can do on a table: rows it selects, and what an
-- insert of its own row, an update and a delete of every row would do (each
-- tried in a subtransaction that is then undone).
CREATE FUNCTION pg_temp.dml(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  BEGIN
    EXECUTE stmt;
    GET DIAGNOSTICS n = ROW_COUNT;
    RAISE EXCEPTION USING ERRCODE = 'OR001', MESSAGE = n::text;
  EXCEPTION
    WHEN SQLSTATE 'OR001' THEN RETURN SQLERRM;
    WHEN insufficient_privilege THEN RETURN 'denied';
  END;
END
$$;
CREATE FUNCTION pg_temp.rights(tbl text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  seen bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM public.%I', tbl) INTO seen;
  RETURN format('select %s, insert %s, update %s, delete %s', seen,
    pg_temp.dml(format('INSERT INTO public.%I (content) VALUES (%L)', tbl, 'new')),
    pg_temp.dml(format('UPDATE public.%I SET content = content', tbl)),
    pg_temp.dml(format('DELETE FROM public.%I', tbl)));
END
$$;

-- The matrix: partners may read public profiles; nobody reaches payment
-- methods through OAuth, not even the company's own apps.
SELECT oauth_rls.set_access('public.public_profiles', 'third_party', '{select}');
SELECT oauth_rls.set_access('public.payment_methods', 'first_party', '{}');
SELECT lives_ok($$SELECT oauth_rls.guard_schema('public')$$, 'guard_schema guards the public schema');
SELECT bag_eq(
  $$SELECT c.relname::text, p.polname::text FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
    WHERE NOT p.polpermissive$$,
  $$SELECT t, 'oauth_rls_guard_' || cmd FROM unnest(ARRAY['user_data', 'public_profiles', 'payment_methods']) t,
    unnest(ARRAY['select', 'insert', 'update', 'delete']) cmd$$,
  'one restrictive guard policy per command on each table');

-- Direct session (the company website): everything its policies grant.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001');
SELECT is(pg_temp.rights('user_data'), 'select 2, insert 1, update 2, delete 2', 'direct: user_data as the owner policy says');
SELECT is(pg_temp.rights('public_profiles'), 'select 2, insert 1, update 1, delete 1', 'direct: public_profiles as its policies say');
SELECT is(pg_temp.rights('payment_methods'), 'select 1, insert 1, update 1, delete 1', 'direct: payment_methods as the owner policy says');
RESET ROLE;

-- First-party app: same as direct, except where the matrix says otherwise.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-00000000000a', 'openid email profile');
SELECT is(oauth_rls.current_tier(), 'first_party', 'the web app is first-party');
SELECT is(pg_temp.rights('user_data'), 'select 2, insert 1, update 2, delete 2', 'first-party: full user_data (default)');
SELECT is(pg_temp.rights('public_profiles'), 'select 2, insert 1, update 1, delete 1', 'first-party: full public_profiles (default)');
SELECT is(pg_temp.rights('payment_methods'), 'select 0, insert denied, update 0, delete 0', 'first-party: no payment_methods (matrix {})');
RESET ROLE;

-- Third-party partner: only what was opted into.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', 'openid profile');
SELECT is(oauth_rls.current_tier(), 'third_party', 'the partner is third-party');
SELECT is(pg_temp.rights('user_data'), 'select 0, insert denied, update 0, delete 0', 'third-party: nothing on user_data (default)');
SELECT is(pg_temp.rights('public_profiles'), 'select 2, insert denied, update 0, delete 0', 'third-party: reads public_profiles (matrix {select})');
SELECT is(pg_temp.rights('payment_methods'), 'select 0, insert denied, update 0, delete 0', 'third-party: nothing on payment_methods');
RESET ROLE;

-- Unregistered MCP agent: third-party by default.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0d000000-0000-4000-8000-00000000000d', 'openid');
SELECT is(oauth_rls.current_tier(), 'third_party', 'an unregistered client is third-party');
SELECT is(pg_temp.rights('user_data'), 'select 0, insert denied, update 0, delete 0', 'unregistered: nothing on user_data');
SELECT is(pg_temp.rights('public_profiles'), 'select 2, insert denied, update 0, delete 0', 'unregistered: reads public_profiles like any third party');
RESET ROLE;
-- ... or blocked, when the project says so.
SET LOCAL oauth_rls.unregistered_client_tier = 'blocked';
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0d000000-0000-4000-8000-00000000000d', 'openid');
SELECT is(pg_temp.rights('public_profiles'), 'select 0, insert denied, update 0, delete 0', 'unregistered, set to blocked: nothing');
RESET ROLE;
SET LOCAL oauth_rls.unregistered_client_tier = 'third_party';

-- Blocked client: nothing anywhere, whatever the user's policies say.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0c000000-0000-4000-8000-00000000000c', 'openid');
SELECT is(pg_temp.rights('user_data'), 'select 0, insert denied, update 0, delete 0', 'blocked: nothing on user_data');
SELECT is(pg_temp.rights('public_profiles'), 'select 0, insert denied, update 0, delete 0', 'blocked: nothing on public_profiles');
RESET ROLE;

-- A matrix change takes effect at the next statement.
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{select,update}');
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', 'openid profile');
SELECT is(pg_temp.rights('user_data'), 'select 2, insert denied, update 2, delete 0', 'third-party after set_access {select,update}: reads and updates own rows only');
RESET ROLE;
SELECT oauth_rls.clear_access('public.user_data', 'third_party');
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', 'openid profile');
SELECT is(pg_temp.rights('user_data'), 'select 0, insert denied, update 0, delete 0', 'third-party after clear_access: back to nothing');
RESET ROLE;

-- guard() is idempotent.
CREATE TEMP TABLE guard_before AS
  SELECT p.oid, p.polname FROM pg_policy p WHERE p.polrelid = 'public.user_data'::regclass;
SELECT lives_ok($$SELECT oauth_rls.guard('public.user_data')$$, 'guard() again');
SELECT set_eq($$SELECT oid, polname FROM pg_policy WHERE polrelid = 'public.user_data'::regclass$$,
              $$SELECT oid, polname FROM guard_before$$, 'a second guard() changes no policy');
SELECT is((SELECT count(*)::int FROM oauth_rls.guarded_tables WHERE tbl = 'public.user_data'::regclass), 1,
          'the table is recorded once');

-- unguard() removes exactly the guard policies; the partner then sees what
-- the user's own policies allow (not client-aware).
SELECT lives_ok($$SELECT oauth_rls.unguard('public.public_profiles')$$, 'unguard public_profiles');
SELECT set_eq($$SELECT polname::text FROM pg_policy WHERE polrelid = 'public.public_profiles'::regclass$$,
              ARRAY['signed_in_read', 'owner_insert', 'owner_update', 'owner_delete'],
              'unguard leaves the permissive policies, and only them');
SELECT ok(NOT EXISTS (SELECT 1 FROM oauth_rls.guarded_tables WHERE tbl = 'public.public_profiles'::regclass),
          'unguard forgets the table');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.public_profiles'::regclass),
          'unguard leaves RLS on, as guard found it');
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', 'openid profile');
SELECT is(pg_temp.rights('public_profiles'), 'select 2, insert 1, update 1, delete 1', 'unguarded: the partner gets what the user gets');
RESET ROLE;
SELECT lives_ok($$SELECT oauth_rls.guard('public.public_profiles')$$, 'guard public_profiles again');

-- A table with RLS off is refused, unchanged.
CREATE TABLE public.app_settings (key text PRIMARY KEY, value text);
SELECT throws_ok($$SELECT oauth_rls.guard('public.app_settings')$$, '55000',
  'guard: row level security is disabled on table public.app_settings',
  'guard refuses a table with RLS off');
SELECT ok((SELECT NOT relrowsecurity FROM pg_class WHERE oid = 'public.app_settings'::regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = 'public.app_settings'::regclass),
          'the refused table keeps RLS off and gets no policy');

-- A renamed table keeps its matrix entries and guards.
ALTER TABLE public.payment_methods RENAME TO billing_methods;
SELECT is((SELECT commands FROM oauth_rls.access_matrix
           WHERE tbl = 'public.billing_methods'::regclass AND tier = 'first_party'), '{}'::text[],
          'the matrix entry follows the rename');
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-00000000000a', 'openid');
SELECT is((SELECT count(*)::int FROM public.billing_methods), 0, 'first-party still sees no billing_methods after the rename');
RESET ROLE;
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001');
SELECT is((SELECT count(*)::int FROM public.billing_methods), 1, 'direct still sees its card after the rename');
RESET ROLE;

-- A dropped table leaves nothing behind for a later table to inherit.
SELECT oauth_rls.set_access('public.billing_methods', 'third_party', '{select}');
DROP TABLE public.billing_methods;
SELECT is((SELECT count(*)::int FROM oauth_rls.access_matrix m
           WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = m.tbl)), 0,
          'no matrix entry points at a dropped table');
SELECT is((SELECT count(*)::int FROM oauth_rls.guarded_tables g
           WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = g.tbl)), 0,
          'no guard record points at a dropped table');
SELECT set_eq($$SELECT tbl::text FROM oauth_rls.guarded_tables$$,
              ARRAY['user_data', 'public_profiles'], 'the other guards remain');

-- Revocation: the partner's token is valid for an hour, its session is live.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0b000000-0000-4000-8000-00000000000b', 'openid profile');
SELECT ok((oauth_rls.claim('exp'))::bigint > extract(epoch FROM now()), 'the partner token is unexpired');
SELECT is((SELECT count(*)::int FROM public.public_profiles), 2, 'before revocation the partner reads public_profiles');
-- Alice revokes the partner: Supabase Auth marks the consent revoked and
-- deletes her sessions for that client.
-- (As docs/guards.md shows: postgres may not become supabase_auth_admin on
-- Supabase, but may write Auth's tables itself.)
RESET ROLE;
UPDATE auth.oauth_consents SET revoked_at = now()
  WHERE user_id = 'a11ce000-0000-4000-8000-000000000001' AND client_id = '0b000000-0000-4000-8000-00000000000b';
DELETE FROM auth.sessions
  WHERE user_id = 'a11ce000-0000-4000-8000-000000000001' AND oauth_client_id = '0b000000-0000-4000-8000-00000000000b';
-- The same token, next statement.
SET LOCAL ROLE authenticated;
SELECT is(oauth_rls.claim('client_id'), '0b000000-0000-4000-8000-00000000000b', 'the request still carries the same token');
SELECT is((SELECT count(*)::int FROM public.public_profiles), 0, 'after revocation the same token reads nothing');
SELECT is(pg_temp.rights('public_profiles'), 'select 0, insert denied, update 0, delete 0', 'after revocation: no command at all');
RESET ROLE;
-- Alice's other sessions are untouched.
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-00000000000a', 'openid');
SELECT is((SELECT count(*)::int FROM public.user_data), 2, 'the first-party app keeps its access');
RESET ROLE;
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001');
SELECT is((SELECT count(*)::int FROM public.user_data), 2, 'the direct session keeps its access');
RESET ROLE;
-- A soft-deleted client loses access at once too.
UPDATE auth.oauth_clients SET deleted_at = now() WHERE id = '0a000000-0000-4000-8000-00000000000a';
SELECT oauth_rls.act_as('a11ce000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-00000000000a', 'openid');
SELECT is((SELECT count(*)::int FROM public.user_data), 0, 'a soft-deleted client reads nothing');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
