-- Realistic schemas: apply_rewrite() and guard_schema() keep every direct
-- session's and first-party client's outcome (rows and errors), give
-- third-party clients exactly what the access matrix allows, and
-- revert_rewrite() / unguard() restore pg_policies exactly (issue 11).
--
-- Three schemas in the styles real projects use, with data for three users:
--   saas    multi-tenant: organisations, membership read through SECURITY
--           DEFINER helpers (a SQL one and a plpgsql one), a foreign-key chain
--           orgs <- projects <- tasks whose policy follows it, a restrictive
--           policy, a definer view and an invoker view;
--   social  profiles with an admin check on the table itself (the pattern
--           that turned into "infinite recursion detected in policy" once a
--           guard or a rewrite added a subquery), anon read policies;
--   storage Supabase Storage objects in per-user folders (storage.foldername()).
-- Every caller (anon; alice, bob and carol as a direct session, through a
-- first-party app and through a third-party app) is probed on every table
-- for select (the row ids), insert (each candidate row), update and delete
-- (each row); an error is recorded as its SQLSTATE, never skipped.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(22);

---------------------------------------------------------------------------
-- Who exists.
INSERT INTO auth.users (id, email, role, aud) VALUES
  ('a1000000-0000-4000-8000-00000000000a', 'alice@realistic.example', 'authenticated', 'authenticated'),
  ('b1000000-0000-4000-8000-00000000000b', 'bob@realistic.example', 'authenticated', 'authenticated'),
  ('c1000000-0000-4000-8000-00000000000c', 'carol@realistic.example', 'authenticated', 'authenticated');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types, client_name) VALUES
  ('e1000000-0000-4000-8000-000000000001', 'client_secret_basic', 'manual', 'https://app.realistic.example/cb', 'authorization_code', 'Our app'),
  ('e2000000-0000-4000-8000-000000000002', 'client_secret_basic', 'dynamic', 'https://agent.example.net/cb', 'authorization_code', 'An agent');
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('e1000000-0000-4000-8000-000000000001', 'Our app', 'first_party'),
  ('e2000000-0000-4000-8000-000000000002', 'An agent', 'third_party');
INSERT INTO auth.sessions (id, user_id, created_at, oauth_client_id)
  SELECT gen_random_uuid(), u.id, now(), c.id
    FROM auth.users u
   CROSS JOIN (VALUES (NULL::uuid), ('e1000000-0000-4000-8000-000000000001'),
                      ('e2000000-0000-4000-8000-000000000002')) AS c(id)
   WHERE u.email LIKE '%@realistic.example';

---------------------------------------------------------------------------
-- saas: membership through SECURITY DEFINER helpers.
CREATE SCHEMA saas;
GRANT USAGE ON SCHEMA saas TO anon, authenticated;
CREATE TABLE saas.orgs (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE saas.members (id int PRIMARY KEY, org_id int NOT NULL REFERENCES saas.orgs,
                           user_id uuid NOT NULL, role text NOT NULL);
CREATE TABLE saas.projects (id int PRIMARY KEY, org_id int NOT NULL REFERENCES saas.orgs, name text);
CREATE TABLE saas.tasks (id int PRIMARY KEY, project_id int NOT NULL REFERENCES saas.projects, title text,
                         assignee uuid);
INSERT INTO saas.orgs VALUES (1, 'Acme'), (2, 'Globex');
INSERT INTO saas.members VALUES (1, 1, 'a1000000-0000-4000-8000-00000000000a', 'owner'),
  (2, 1, 'b1000000-0000-4000-8000-00000000000b', 'member'),
  (3, 2, 'c1000000-0000-4000-8000-00000000000c', 'owner');
INSERT INTO saas.projects VALUES (1, 1, 'Rockets'), (2, 1, 'Anvils'), (3, 2, 'Widgets');
INSERT INTO saas.tasks VALUES (1, 1, 'launch', 'b1000000-0000-4000-8000-00000000000b'),
  (2, 2, 'drop', 'a1000000-0000-4000-8000-00000000000a'), (3, 3, 'make', 'c1000000-0000-4000-8000-00000000000c');
CREATE FUNCTION saas.is_member(org int) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS
  'SELECT EXISTS (SELECT 1 FROM saas.members m WHERE m.org_id = org AND m.user_id = auth.uid())';
CREATE FUNCTION saas.has_role(org int, wanted text) RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS
$$ BEGIN
  RETURN EXISTS (SELECT 1 FROM saas.members m WHERE m.org_id = org AND m.user_id = auth.uid()
                   AND m.role = wanted);
END $$;
CREATE POLICY member_orgs ON saas.orgs FOR SELECT TO authenticated USING (saas.is_member(id));
CREATE POLICY own_or_same_org ON saas.members FOR SELECT TO authenticated
  USING (user_id = auth.uid() OR saas.is_member(org_id));
CREATE POLICY owner_manages ON saas.members FOR ALL TO authenticated
  USING (saas.has_role(org_id, 'owner')) WITH CHECK (saas.has_role(org_id, 'owner'));
CREATE POLICY member_projects ON saas.projects FOR ALL TO authenticated
  USING (saas.is_member(org_id)) WITH CHECK (saas.is_member(org_id));
CREATE POLICY only_owners_delete ON saas.projects AS RESTRICTIVE FOR DELETE TO authenticated
  USING (saas.has_role(org_id, 'owner'));
CREATE POLICY member_tasks ON saas.tasks FOR ALL TO authenticated
  USING (EXISTS (SELECT 1 FROM saas.projects p WHERE p.id = project_id AND saas.is_member(p.org_id)))
  WITH CHECK (EXISTS (SELECT 1 FROM saas.projects p WHERE p.id = project_id AND saas.is_member(p.org_id)));
-- A definer view (reads as its owner, past RLS) and an invoker view.
CREATE VIEW saas.project_names AS SELECT id, name FROM saas.projects;
CREATE VIEW saas.my_tasks WITH (security_invoker = true) AS
  SELECT t.id, t.title FROM saas.tasks t WHERE t.assignee = auth.uid();

---------------------------------------------------------------------------
-- social: an admin check on profiles itself, anon read policies.
CREATE SCHEMA social;
GRANT USAGE ON SCHEMA social TO anon, authenticated;
CREATE TABLE social.profiles (id uuid PRIMARY KEY, role text NOT NULL DEFAULT 'member', name text);
CREATE TABLE social.posts (id int PRIMARY KEY, author uuid NOT NULL REFERENCES social.profiles ON DELETE CASCADE,
                           body text, published boolean NOT NULL DEFAULT false);
INSERT INTO social.profiles VALUES ('a1000000-0000-4000-8000-00000000000a', 'admin', 'Alice'),
  ('b1000000-0000-4000-8000-00000000000b', 'member', 'Bob'), ('c1000000-0000-4000-8000-00000000000c', 'member', 'Carol');
INSERT INTO social.posts VALUES (1, 'a1000000-0000-4000-8000-00000000000a', 'hello', true),
  (2, 'b1000000-0000-4000-8000-00000000000b', 'draft', false), (3, 'c1000000-0000-4000-8000-00000000000c', 'hi', true);
CREATE POLICY profiles_public ON social.profiles FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY profiles_own ON social.profiles FOR UPDATE TO authenticated
  USING ((select auth.uid()) = id) WITH CHECK ((select auth.uid()) = id);
CREATE POLICY profiles_admin_insert ON social.profiles FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM social.profiles p WHERE p.id = auth.uid() AND p.role = 'admin'));
CREATE POLICY profiles_admin_delete ON social.profiles FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM social.profiles p WHERE p.id = auth.uid() AND p.role = 'admin'));
CREATE POLICY posts_published ON social.posts FOR SELECT TO anon USING (published);
CREATE POLICY posts_read ON social.posts FOR SELECT TO authenticated USING (published OR author = auth.uid());
CREATE POLICY posts_write ON social.posts FOR INSERT TO authenticated WITH CHECK (author = auth.uid());
CREATE POLICY posts_edit ON social.posts FOR UPDATE TO authenticated USING (author = auth.uid());
CREATE POLICY posts_delete ON social.posts FOR DELETE TO authenticated
  USING (author = auth.uid()
         OR EXISTS (SELECT 1 FROM social.profiles p WHERE p.id = auth.uid() AND p.role = 'admin'));

---------------------------------------------------------------------------
-- storage: per-user folders (a minimal stand-in of its
-- tables where the Supabase stand-in has none).
CREATE SCHEMA IF NOT EXISTS storage;
GRANT USAGE ON SCHEMA storage TO anon, authenticated;
CREATE TABLE IF NOT EXISTS storage.buckets (id text PRIMARY KEY, name text NOT NULL, public boolean DEFAULT false);
CREATE TABLE IF NOT EXISTS storage.objects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), bucket_id text,
                                            name text, owner uuid);
DO $$ BEGIN
  IF to_regprocedure('storage.foldername(text)') IS NULL THEN
    CREATE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE sql IMMUTABLE
      AS 'SELECT (string_to_array(name, ''/''))[1:array_length(string_to_array(name, ''/''), 1) - 1]';
  END IF;
END $$;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
INSERT INTO storage.buckets (id, name) VALUES ('rs-docs', 'rs-docs');
INSERT INTO storage.objects (id, bucket_id, name, owner) VALUES
  ('0b100000-0000-4000-8000-000000000001', 'rs-docs', 'a1000000-0000-4000-8000-00000000000a/cv.pdf', 'a1000000-0000-4000-8000-00000000000a'),
  ('0b100000-0000-4000-8000-000000000002', 'rs-docs', 'b1000000-0000-4000-8000-00000000000b/tax.pdf', 'b1000000-0000-4000-8000-00000000000b');
CREATE POLICY rs_own_folder_read ON storage.objects FOR SELECT TO authenticated
  USING (bucket_id = 'rs-docs' AND (storage.foldername(name))[1] = auth.uid()::text);
CREATE POLICY rs_own_folder_write ON storage.objects FOR INSERT TO authenticated
  WITH CHECK (bucket_id = 'rs-docs' AND (storage.foldername(name))[1] = auth.uid()::text);
CREATE POLICY rs_own_folder_delete ON storage.objects FOR DELETE TO authenticated
  USING (bucket_id = 'rs-docs' AND (storage.foldername(name))[1] = auth.uid()::text);

SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO authenticated', c.oid::regclass),
       format('GRANT SELECT ON %s TO anon', c.oid::regclass),
       format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace IN ('saas'::regnamespace, 'social'::regnamespace) AND c.relkind = 'r' \gexec
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.objects TO authenticated;
GRANT SELECT ON saas.project_names, saas.my_tasks TO anon, authenticated;

-- What third-party apps may do, declared up front (tables not named here:
-- nothing, the default).  Projects are readable so that the tasks policy,
-- which reads projects, can find rows for them.
SELECT oauth_rls.set_access('social.posts', 'third_party', '{select}');
SELECT oauth_rls.set_access('saas.tasks', 'third_party', '{select,update}');
SELECT oauth_rls.set_access('saas.projects', 'third_party', '{select}');

CREATE TEMP TABLE policies_before AS
  SELECT schemaname, tablename, policyname, permissive, roles, cmd, qual, with_check FROM pg_policies
   WHERE schemaname IN ('saas', 'social') OR (schemaname = 'storage' AND policyname LIKE 'rs\_%');

---------------------------------------------------------------------------
-- The probe: rows and errors, for every caller, table and command.
CREATE SCHEMA rs_probe;
GRANT USAGE ON SCHEMA rs_probe TO anon, authenticated;
CREATE TABLE rs_probe.targets (tbl regclass PRIMARY KEY, selects_only boolean NOT NULL DEFAULT false);
INSERT INTO rs_probe.targets (tbl)
  SELECT c.oid FROM pg_class c
   WHERE c.relnamespace IN ('saas'::regnamespace, 'social'::regnamespace) AND c.relkind = 'r';
INSERT INTO rs_probe.targets VALUES ('storage.objects', false), ('saas.my_tasks', true);
CREATE TABLE rs_probe.inserts (tbl regclass, label text, row_data jsonb);
INSERT INTO rs_probe.inserts VALUES
  ('saas.orgs', 'new', '{"id": 10, "name": "Initech"}'),
  ('saas.members', 'bob_to_2', '{"id": 10, "org_id": 2, "user_id": "b1000000-0000-4000-8000-00000000000b", "role": "member"}'),
  ('saas.members', 'carol_to_1', '{"id": 11, "org_id": 1, "user_id": "c1000000-0000-4000-8000-00000000000c", "role": "member"}'),
  ('saas.projects', 'org1', '{"id": 10, "org_id": 1, "name": "New"}'),
  ('saas.projects', 'org2', '{"id": 11, "org_id": 2, "name": "New"}'),
  ('saas.tasks', 'p1', '{"id": 10, "project_id": 1, "title": "t"}'),
  ('saas.tasks', 'p3', '{"id": 11, "project_id": 3, "title": "t"}'),
  ('social.profiles', 'dave', '{"id": "d1000000-0000-4000-8000-00000000000d", "name": "Dave"}'),
  ('social.posts', 'by_alice', '{"id": 10, "author": "a1000000-0000-4000-8000-00000000000a", "body": "x"}'),
  ('social.posts', 'by_bob', '{"id": 11, "author": "b1000000-0000-4000-8000-00000000000b", "body": "x"}'),
  ('storage.objects', 'alice_folder', '{"id": "0b100000-0000-4000-8000-000000000010", "bucket_id": "rs-docs", "name": "a1000000-0000-4000-8000-00000000000a/new.txt"}'),
  ('storage.objects', 'bob_folder', '{"id": "0b100000-0000-4000-8000-000000000011", "bucket_id": "rs-docs", "name": "b1000000-0000-4000-8000-00000000000b/new.txt"}');
CREATE TABLE rs_probe.ids (tbl regclass, id text);
SELECT format('INSERT INTO rs_probe.ids SELECT %L::regclass, id::text FROM %s', t.tbl, t.tbl)
  FROM rs_probe.targets t WHERE NOT t.selects_only \gexec
DELETE FROM rs_probe.ids WHERE tbl = 'storage.objects'::regclass AND id NOT LIKE '0b1%';
CREATE TABLE rs_probe.callers (who text, tier text, user_id uuid, client_id text, ord int);
INSERT INTO rs_probe.callers VALUES ('anon', 'direct', NULL, NULL, 0);
INSERT INTO rs_probe.callers
  SELECT u.who, c.tier, u.id, c.client_id, u.n * 10 + c.n
    FROM (VALUES ('alice', 'a1000000-0000-4000-8000-00000000000a'::uuid, 1),
                 ('bob', 'b1000000-0000-4000-8000-00000000000b'::uuid, 2),
                 ('carol', 'c1000000-0000-4000-8000-00000000000c'::uuid, 3)) AS u(who, id, n)
   CROSS JOIN (VALUES ('direct', NULL, 1), ('first_party', 'e1000000-0000-4000-8000-000000000001', 2),
                      ('third_party', 'e2000000-0000-4000-8000-000000000002', 3)) AS c(tier, client_id, n);
CREATE TABLE rs_probe.snap (phase text, who text, tier text, tbl regclass, command text, outcome text);
GRANT SELECT ON ALL TABLES IN SCHEMA rs_probe TO anon, authenticated;
GRANT INSERT ON rs_probe.snap TO anon, authenticated;

-- One caller's outcomes on one table.  Each statement runs in its own
-- subtransaction and is undone by raising RS999 with its result; any other
-- error is recorded by its SQLSTATE.
CREATE FUNCTION rs_probe.outcomes(t regclass, selects_only boolean)
  RETURNS TABLE (command text, outcome text) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n bigint;
  parts text[];
BEGIN
  command := 'select';
  BEGIN
    EXECUTE format('SELECT coalesce(string_agg(id::text, '','' ORDER BY id::text), '''') FROM %s', t) INTO outcome;
  EXCEPTION WHEN OTHERS THEN
    outcome := SQLSTATE;
  END;
  RETURN NEXT;
  IF selects_only THEN
    RETURN;
  END IF;
  command := 'insert';
  parts := '{}';
  FOR r IN SELECT i.label, i.row_data FROM rs_probe.inserts i WHERE i.tbl = t ORDER BY i.label LOOP
    BEGIN
      EXECUTE format('INSERT INTO %s SELECT * FROM jsonb_populate_record(NULL::%s, $1)', t, t) USING r.row_data;
      RAISE EXCEPTION USING ERRCODE = 'RS999', MESSAGE = 'ok';
    EXCEPTION WHEN OTHERS THEN
      parts := parts || (r.label || ':' || CASE WHEN SQLSTATE = 'RS999' THEN SQLERRM ELSE SQLSTATE END);
    END;
  END LOOP;
  outcome := array_to_string(parts, ' ');
  RETURN NEXT;
  FOREACH command IN ARRAY ARRAY['update', 'delete'] LOOP
    parts := '{}';
    FOR r IN SELECT i.id FROM rs_probe.ids i WHERE i.tbl = t ORDER BY i.id LOOP
      BEGIN
        IF command = 'update' THEN
          EXECUTE format('UPDATE %s SET id = id WHERE id::text = $1', t) USING r.id;
        ELSE
          EXECUTE format('DELETE FROM %s WHERE id::text = $1', t) USING r.id;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        RAISE EXCEPTION USING ERRCODE = 'RS999', MESSAGE = n::text;
      EXCEPTION WHEN OTHERS THEN
        parts := parts || ('#' || r.id || ':' || CASE WHEN SQLSTATE = 'RS999' THEN SQLERRM ELSE SQLSTATE END);
      END;
    END LOOP;
    outcome := array_to_string(parts, ' ');
    RETURN NEXT;
  END LOOP;
END
$$;

CREATE FUNCTION rs_probe.take(phase text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM rs_probe.callers ORDER BY ord LOOP
    IF c.who = 'anon' THEN
      PERFORM set_config('request.jwt.claims', '{"role": "anon"}', true);
      PERFORM set_config('role', 'anon', true);
    ELSE
      PERFORM oauth_rls.act_as(c.user_id, c.client_id);
    END IF;
    INSERT INTO rs_probe.snap
      SELECT phase, c.who, c.tier, t.tbl, o.command, o.outcome
        FROM rs_probe.targets t CROSS JOIN LATERAL rs_probe.outcomes(t.tbl, t.selects_only) o;
    PERFORM set_config('role', 'none', true);
    PERFORM set_config('request.jwt.claims', '', true);
  END LOOP;
  RETURN (SELECT count(*) FROM rs_probe.snap s WHERE s.phase = take.phase);
END
$$;

-- What a third-party app gets where the matrix refuses a command: no rows
-- read, every insert refused, no row changed.
CREATE FUNCTION rs_probe.refused(t regclass, cmd text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE cmd
    WHEN 'select' THEN ''
    WHEN 'insert' THEN (SELECT string_agg(i.label || ':42501', ' ' ORDER BY i.label)
                          FROM rs_probe.inserts i WHERE i.tbl = t)
    ELSE (SELECT string_agg('#' || i.id || ':0', ' ' ORDER BY i.id) FROM rs_probe.ids i WHERE i.tbl = t)
  END
$$;
-- The outcome after a change that the matrix allows: the one before for
-- direct sessions, first-party apps and allowed commands, refused otherwise.
CREATE FUNCTION rs_probe.expected(p text) RETURNS TABLE (who text, tier text, tbl regclass, command text,
                                                       before text, after text, expected text)
  LANGUAGE sql AS $$
  SELECT b.who, b.tier, b.tbl, b.command, b.outcome, a.outcome,
         CASE WHEN b.tier <> 'third_party' OR b.tbl = 'saas.my_tasks'::regclass
                   OR b.command = ANY (coalesce(m.commands, '{}')) THEN b.outcome
              ELSE rs_probe.refused(b.tbl, b.command) END
    FROM rs_probe.snap b
    JOIN rs_probe.snap a ON a.who = b.who AND a.tier = b.tier AND a.tbl = b.tbl AND a.command = b.command
    LEFT JOIN oauth_rls.access_matrix m ON m.tbl = b.tbl AND m.tier = 'third_party'
   WHERE b.phase = 'before' AND a.phase = p
$$;
CREATE FUNCTION rs_probe.policies_now() RETURNS TABLE (schemaname name, tablename name, policyname name,
    permissive text, roles name[], cmd text, qual text, with_check text) LANGUAGE sql AS $$
  SELECT schemaname, tablename, policyname, permissive, roles, cmd, qual, with_check FROM pg_policies
   WHERE schemaname IN ('saas', 'social') OR (schemaname = 'storage' AND policyname LIKE 'rs\_%')
$$;

---------------------------------------------------------------------------
-- Before: real, differing outcomes (the probe cannot pass vacuously).
SELECT is(rs_probe.take('before'), (10 * (7 * 4 + 1))::bigint, 'before: 10 callers x (7 tables x 4 commands + 1 view)');
SELECT is((SELECT outcome FROM rs_probe.snap WHERE phase = 'before' AND who = 'bob' AND tier = 'direct'
             AND tbl = 'social.profiles'::regclass AND command = 'insert'), 'dave:42501',
          'before: bob (no admin) may not insert a profile: a row-level denial');
SELECT is((SELECT outcome FROM rs_probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'direct'
             AND tbl = 'social.profiles'::regclass AND command = 'delete'),
          '#a1000000-0000-4000-8000-00000000000a:1 #b1000000-0000-4000-8000-00000000000b:1 #c1000000-0000-4000-8000-00000000000c:1',
          'before: alice (admin) may delete profiles');
SELECT is((SELECT outcome FROM rs_probe.snap WHERE phase = 'before' AND who = 'bob' AND tier = 'third_party'
             AND tbl = 'saas.tasks'::regclass AND command = 'select'), '1,2',
          'before: an agent acting for bob reads his organisation''s tasks');
SELECT is((SELECT outcome FROM rs_probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'third_party'
             AND tbl = 'storage.objects'::regclass AND command = 'select'), '0b100000-0000-4000-8000-000000000001',
          'before: an agent acting for alice reads her folder');
SELECT is((SELECT outcome FROM rs_probe.snap WHERE phase = 'before' AND who = 'anon'
             AND tbl = 'social.posts'::regclass AND command = 'select'), '1,3', 'before: anon reads published posts');
SELECT cmp_ok((SELECT count(DISTINCT outcome) FROM rs_probe.snap WHERE phase = 'before'), '>', 40::bigint,
              'before: outcomes differ from caller to caller');

-- The audit sees what matters here.
SELECT set_eq($$SELECT DISTINCT code FROM oauth_rls.audit('{saas,social,storage}')
                 WHERE code IN ('NOT_CLIENT_AWARE', 'VIEW_BYPASSES_RLS', 'SECURITY_DEFINER_EXPOSED',
                                'HELPER_UNREAD', 'POLICY_RECURSION')$$,
              ARRAY['NOT_CLIENT_AWARE', 'VIEW_BYPASSES_RLS', 'SECURITY_DEFINER_EXPOSED', 'HELPER_UNREAD'],
              'audit: unaware tables, the definer view, the exposed definer helpers, the plpgsql helper; no recursion');
SELECT is((SELECT count(*) FROM oauth_rls.audit('{saas,social,storage}') WHERE code = 'NOT_CLIENT_AWARE'), 7::bigint,
          'audit: every table lets OAuth clients in');

---------------------------------------------------------------------------
-- apply_rewrite(), then revert_rewrite().
SELECT cmp_ok((SELECT count(*) FROM oauth_rls.apply_rewrite('{saas,social,storage}')), '>=', 7::bigint,
              'apply_rewrite: guards and policy rewrites');
SELECT is_empty($$SELECT * FROM oauth_rls.audit('{saas,social,storage}') WHERE code = 'POLICY_RECURSION'$$,
                'after apply_rewrite: no policy cycle');
SELECT is(rs_probe.take('rewritten'), (10 * 29)::bigint, 'after apply_rewrite: every caller probed');
SELECT is_empty($$SELECT * FROM rs_probe.expected('rewritten') WHERE tier <> 'third_party'
                    AND after IS DISTINCT FROM before$$,
                'after apply_rewrite: every direct session and first-party outcome (rows and errors) is what it was');
SELECT is_empty($$SELECT * FROM rs_probe.expected('rewritten') WHERE tier = 'third_party'
                    AND after IS DISTINCT FROM expected$$,
                'after apply_rewrite: third-party outcomes are exactly what the matrix allows');
SELECT isnt_empty($$SELECT * FROM rs_probe.expected('rewritten') WHERE after IS DISTINCT FROM before$$,
                  'after apply_rewrite: third-party outcomes did change where the matrix refuses');
SELECT cmp_ok((SELECT count(*) FROM oauth_rls.revert_rewrite('{saas,social,storage}')), '>=', 7::bigint,
              'revert_rewrite: undone');
SELECT set_eq('SELECT * FROM rs_probe.policies_now()', 'SELECT * FROM policies_before',
              'after revert_rewrite: pg_policies is exactly what it was');

---------------------------------------------------------------------------
-- guard_schema() on each schema (and guard() on storage.objects), then unguard.
SELECT cmp_ok((SELECT count(*) FROM (SELECT oauth_rls.guard_schema('saas') UNION ALL
                                     SELECT oauth_rls.guard_schema('social')) g), '=', 6::bigint,
              'guard_schema: six tables guarded');
SELECT oauth_rls.guard('storage.objects');
SELECT is(rs_probe.take('guarded'), (10 * 29)::bigint, 'guarded: every caller probed');
SELECT is_empty($$SELECT * FROM rs_probe.expected('guarded') WHERE tier <> 'third_party'
                    AND after IS DISTINCT FROM before$$,
                'guarded: every direct session and first-party outcome (rows and errors) is what it was');
SELECT is_empty($$SELECT * FROM rs_probe.expected('guarded') WHERE tier = 'third_party'
                    AND after IS DISTINCT FROM expected$$,
                'guarded: third-party outcomes are exactly what the matrix allows');
SELECT oauth_rls.unguard(g.tbl) FROM oauth_rls.guarded_tables g;
SELECT set_eq('SELECT * FROM rs_probe.policies_now()', 'SELECT * FROM policies_before',
              'after unguard: pg_policies is exactly what it was');

SELECT * FROM finish();
ROLLBACK;
