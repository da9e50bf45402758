-- The per-statement caches of the tier, client and guard answers (one
-- counter, the cache epoch, compared per row) are recomputed whenever what
-- they were read from may have changed inside one statement: the claims
-- changed between two rows, Auth's session row changed by a command of a
-- function, or by a subtransaction that was rolled back.
\set VERBOSITY terse
INSERT INTO auth.users (id) VALUES ('aaaaaaaa-0000-4000-8000-0000000000c0');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types) VALUES
  ('c3000000-0000-4000-8000-0000000000c3', 'client_secret_basic', 'dynamic', 'https://partner.example.com/cb', 'authorization_code');
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('c1000000-0000-4000-8000-0000000000c1', 'Web app', 'first_party'),
  ('c3000000-0000-4000-8000-0000000000c3', 'Partner', 'third_party');
-- The user's own (direct) session, and the partner's.
INSERT INTO auth.sessions (id, user_id, oauth_client_id) VALUES
  ('5e550000-0000-4000-8000-0000000000c0', 'aaaaaaaa-0000-4000-8000-0000000000c0', NULL),
  ('5e550000-0000-4000-8000-0000000000c3', 'aaaaaaaa-0000-4000-8000-0000000000c0', 'c3000000-0000-4000-8000-0000000000c3');
CREATE TABLE public.sc_notes (id int PRIMARY KEY, user_id uuid NOT NULL);
ALTER TABLE public.sc_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY sc_owner ON public.sc_notes FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
GRANT SELECT ON public.sc_notes TO authenticated;
INSERT INTO public.sc_notes VALUES (1, 'aaaaaaaa-0000-4000-8000-0000000000c0');
SELECT oauth_rls.guard('public.sc_notes');
SELECT oauth_rls.set_access('public.sc_notes', 'first_party', '{}');
SELECT oauth_rls.set_access('public.sc_notes', 'third_party', '{select}');

-- Claims text of the user: on a session, with a client_id claim or none.
CREATE FUNCTION pg_temp.claims(session text, client text DEFAULT NULL) RETURNS text
  LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('sub', 'aaaaaaaa-0000-4000-8000-0000000000c0',
    'role', 'authenticated', 'session_id', session, 'client_id', client))::text
$$;

-- The claims change between the rows of one statement (set_config per row,
-- before the target list): every row gets its own request's answers, at the
-- same call sites.  Rows 2 and 5 carry no client_id: their client comes from
-- the session row.
SELECT v.n, oauth_rls.current_tier() AS tier, oauth_rls.is_first_party() AS first_party,
       oauth_rls.is_oauth() AS oauth, oauth_rls.client_id() AS client,
       oauth_rls.allows('public.sc_notes', 'select') AS allowed
  FROM (VALUES (1, pg_temp.claims('5e550000-0000-4000-8000-0000000000c0')),
               (2, pg_temp.claims('5e550000-0000-4000-8000-0000000000c3')),
               (3, pg_temp.claims('5e550000-0000-4000-8000-0000000000c0', 'c1000000-0000-4000-8000-0000000000c1')),
               (4, pg_temp.claims('5e550000-0000-4000-8000-0000000000c3', 'c3000000-0000-4000-8000-0000000000c3')),
               (5, pg_temp.claims('5e550000-0000-4000-8000-0000000000c3')),
               (6, pg_temp.claims('5e550000-0000-4000-8000-0000000000c0'))) AS v(n, c),
       LATERAL set_config('request.jwt.claims', v.c, true) AS s
 ORDER BY v.n;
-- One allows() call site whose arguments change between rows, or between
-- the calls of a PL/pgSQL loop (one expression state): each pair gets its
-- own answer.  The partner may select on sc_notes, nothing else.
CREATE TABLE public.sc_other (id int);
SELECT set_config('request.jwt.claims', pg_temp.claims('5e550000-0000-4000-8000-0000000000c3'), false) IS NOT NULL;
SELECT t, c, oauth_rls.allows(t, c) AS allowed
  FROM (VALUES (1, 'public.sc_notes'::regclass, 'select'), (2, 'public.sc_notes', 'delete'),
               (3, 'public.sc_notes', 'SELECT'), (4, 'public.sc_other', 'select'),
               (5, 'public.sc_notes', 'select')) AS v(n, t, c)
 ORDER BY n;
CREATE FUNCTION pg_temp.allows_loop() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  c text;
  answers text := '';
BEGIN
  FOREACH c IN ARRAY '{select,delete,select,update}'::text[] LOOP
    answers := answers || c || '=' || oauth_rls.allows('public.sc_notes', c) || ' ';
  END LOOP;
  RETURN answers;
END $$;
SELECT pg_temp.allows_loop();
SELECT oauth_rls.allows('public.sc_notes', 'truncate');
DROP TABLE public.sc_other;
SELECT set_config('request.jwt.claims', pg_temp.claims('5e550000-0000-4000-8000-0000000000c0'), false) IS NOT NULL;

-- Within one target list: the calls after set_config() see its claims.
SELECT oauth_rls.current_tier() AS before,
       set_config('request.jwt.claims', pg_temp.claims('5e550000-0000-4000-8000-0000000000c3'), false) IS NOT NULL AS changed,
       oauth_rls.current_tier() AS after, oauth_rls.client_id() AS client;

-- Auth's row changed by a command of a function, then that change rolled
-- back with its subtransaction: what was read after the write is not kept.
-- Both ways: the user's own session made the partner's, and the partner's
-- session made to look like the user's own (which would widen access).
CREATE FUNCTION pg_temp.rolled_back(session uuid, client uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  inside text;
BEGIN
  PERFORM set_config('request.jwt.claims', pg_temp.claims(session::text), true);
  BEGIN
    UPDATE auth.sessions SET oauth_client_id = client WHERE id = session;
    inside := format('%s/%s/%s', oauth_rls.current_tier(), coalesce(oauth_rls.client_id(), '-'),
                     oauth_rls.is_first_party());
    RAISE EXCEPTION 'roll back';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN format('inside %s, after %s/%s/%s', inside, oauth_rls.current_tier(),
                coalesce(oauth_rls.client_id(), '-'), oauth_rls.is_first_party());
END $$;
SELECT pg_temp.rolled_back('5e550000-0000-4000-8000-0000000000c0', 'c3000000-0000-4000-8000-0000000000c3');
SELECT pg_temp.rolled_back('5e550000-0000-4000-8000-0000000000c3', NULL);
SELECT id, oauth_client_id FROM auth.sessions ORDER BY id;

-- Guarded scans, one request after another in one transaction (a pooled
-- backend): the partner's session without client_id may read, the web app
-- (no access) may not, the user's own session may.
SET ROLE authenticated;
BEGIN;
SELECT set_config('request.jwt.claims', pg_temp.claims('5e550000-0000-4000-8000-0000000000c3'), true) IS NOT NULL;
SELECT count(*) AS partner_rows FROM public.sc_notes;
SELECT set_config('request.jwt.claims', pg_temp.claims('5e550000-0000-4000-8000-0000000000c0', 'c1000000-0000-4000-8000-0000000000c1'), true) IS NOT NULL;
SELECT count(*) AS web_app_rows FROM public.sc_notes;
SELECT set_config('request.jwt.claims', pg_temp.claims('5e550000-0000-4000-8000-0000000000c0'), true) IS NOT NULL;
SELECT count(*) AS direct_rows FROM public.sc_notes;
COMMIT;
RESET ROLE;

RESET request.jwt.claims;
SELECT oauth_rls.unguard('public.sc_notes');
DROP TABLE public.sc_notes;
DELETE FROM auth.sessions;
DELETE FROM auth.oauth_clients;
DELETE FROM auth.users;
DELETE FROM oauth_rls.clients;
