-- The rewrite preserves meaning.
--
-- A realistic schema (the three policies of user-needs §2, team membership
-- joins, SECURITY DEFINER helpers, WITH CHECK on inserts) is probed for every
-- caller: anon, and two users each as a direct session and through a
-- first-party, a third-party and a blocked OAuth client.  For every table the
-- probe records which rows it can select, which candidate rows it can insert,
-- and how many rows each update and delete would change (then undoes them).
--
-- After apply_rewrite(): direct sessions and first-party clients have exactly
-- the rights they had; third-party and blocked clients have, on the tables
-- the rewrite guarded, exactly what the access matrix allows (their old
-- rights for allowed commands, nothing for the others), and on tables where
-- every permissive policy already looked at the client, their old rights.
-- A table where only some policies look at the client (documents) must be
-- guarded: permissive policies are ORed.  After
-- revert_rewrite(), everyone has the original rights again.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(186);

---------------------------------------------------------------------------
-- Who exists: users, OAuth clients, and a session for each user and client
-- (revocation enforcement is on: OAuth requests need a live session).
INSERT INTO auth.users (id, email, role, aud) VALUES
  ('a0000000-0000-4000-8000-00000000000a', 'alice@example.com', 'authenticated', 'authenticated'),
  ('b0000000-0000-4000-8000-00000000000b', 'bob@example.com', 'authenticated', 'authenticated'),
  ('c0000000-0000-4000-8000-00000000000c', 'carol@example.com', 'authenticated', 'authenticated');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types, client_name) VALUES
  ('f1000000-0000-4000-8000-000000000001', 'client_secret_basic', 'manual', 'https://app.example.com/cb', 'authorization_code', 'Our mobile app'),
  ('f2000000-0000-4000-8000-000000000002', 'client_secret_basic', 'dynamic', 'https://agent.example.net/cb', 'authorization_code', 'Some MCP agent'),
  ('f3000000-0000-4000-8000-000000000003', 'client_secret_basic', 'dynamic', 'https://scraper.example.org/cb', 'authorization_code', 'Scraper');
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('f1000000-0000-4000-8000-000000000001', 'Our mobile app', 'first_party'),
  ('f2000000-0000-4000-8000-000000000002', 'Some MCP agent', 'third_party'),
  ('f3000000-0000-4000-8000-000000000003', 'Scraper', 'blocked');
INSERT INTO auth.sessions (id, user_id, created_at, oauth_client_id)
  SELECT gen_random_uuid(), u.id, now(), c.id
    FROM auth.users u
   CROSS JOIN (VALUES (NULL::uuid), ('f1000000-0000-4000-8000-000000000001'),
                      ('f2000000-0000-4000-8000-000000000002'),
                      ('f3000000-0000-4000-8000-000000000003')) AS c(id);

---------------------------------------------------------------------------
-- The application schema, with policies as teams write them today.
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO anon, authenticated;

-- user-needs §2: owner only, and either no client or a first-party client.
CREATE TABLE app.user_data (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
CREATE POLICY user_data_owner ON app.user_data FOR ALL TO authenticated
  USING (auth.uid() = user_id
         AND ((auth.jwt() ->> 'client_id') IS NULL
              OR (auth.jwt() ->> 'client_id') IN ('f1000000-0000-4000-8000-000000000001')));

-- user-needs §2: any signed-in user may read; owners may update theirs.
CREATE TABLE app.public_profiles (id int PRIMARY KEY, user_id uuid NOT NULL, display_name text);
CREATE POLICY profiles_read ON app.public_profiles FOR SELECT TO authenticated
  USING (auth.uid() IS NOT NULL);
CREATE POLICY profiles_update ON app.public_profiles FOR UPDATE TO authenticated
  USING (auth.uid() = user_id);

-- user-needs §2: owner only and never through OAuth.
CREATE TABLE app.payment_methods (id int PRIMARY KEY, user_id uuid NOT NULL, last4 text);
CREATE POLICY payment_owner ON app.payment_methods FOR ALL TO authenticated
  USING (auth.uid() = user_id AND auth.jwt() ->> 'client_id' IS NULL);

-- Teams: membership decides, through SECURITY DEFINER helpers (the usual way
-- to read memberships from a memberships policy without recursion).
CREATE TABLE app.teams (id int PRIMARY KEY, name text);
CREATE TABLE app.memberships (id int PRIMARY KEY, team_id int NOT NULL, user_id uuid NOT NULL, role text NOT NULL);
CREATE TABLE app.projects (id int PRIMARY KEY, team_id int NOT NULL, name text);
CREATE FUNCTION app.my_teams() RETURNS SETOF int
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
  $$ SELECT m.team_id FROM app.memberships m WHERE m.user_id = auth.uid() $$;
CREATE FUNCTION app.is_team_admin(team int) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
  $$ SELECT EXISTS (SELECT 1 FROM app.memberships m
                     WHERE m.team_id = team AND m.user_id = auth.uid() AND m.role = 'admin') $$;
GRANT EXECUTE ON FUNCTION app.my_teams(), app.is_team_admin(int) TO anon, authenticated;
CREATE POLICY teams_member ON app.teams FOR SELECT TO authenticated
  USING (id IN (SELECT app.my_teams()));
CREATE POLICY memberships_read ON app.memberships FOR SELECT TO authenticated
  USING (team_id IN (SELECT app.my_teams()));
CREATE POLICY memberships_admin_insert ON app.memberships FOR INSERT TO authenticated
  WITH CHECK (app.is_team_admin(team_id));
CREATE POLICY memberships_admin_delete ON app.memberships FOR DELETE TO authenticated
  USING (app.is_team_admin(team_id) AND user_id <> auth.uid());
CREATE POLICY projects_member ON app.projects FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM app.memberships m
                  WHERE m.team_id = projects.team_id AND m.user_id = auth.uid()));
CREATE POLICY projects_admin_insert ON app.projects FOR INSERT TO authenticated
  WITH CHECK (app.is_team_admin(team_id));
CREATE POLICY projects_member_update ON app.projects FOR UPDATE TO authenticated
  USING (EXISTS (SELECT 1 FROM app.memberships m
                  WHERE m.team_id = projects.team_id AND m.user_id = auth.uid()))
  WITH CHECK (app.is_team_admin(team_id));
CREATE POLICY projects_admin_delete ON app.projects FOR DELETE TO authenticated
  USING (app.is_team_admin(team_id));

-- Own notes; inserts checked against the author.
CREATE TABLE app.notes (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
CREATE POLICY notes_read ON app.notes FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY notes_write ON app.notes FOR INSERT TO authenticated
  WITH CHECK (auth.uid() = user_id AND current_setting('request.jwt.claims', true)::jsonb ->> 'role' = 'authenticated');

-- Documents: the owner may do everything (FOR ALL), and a second policy reads
-- only for direct sessions.  Permissive policies are ORed: the FOR ALL one
-- lets every OAuth client do everything, although a policy of the table
-- looks at the client.  The rewrite must guard it.
CREATE TABLE app.documents (id int PRIMARY KEY, user_id uuid NOT NULL, title text);
CREATE POLICY documents_owner ON app.documents FOR ALL TO authenticated
  USING ((select auth.uid()) = user_id);
CREATE POLICY documents_read_direct ON app.documents FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id AND (select oauth_rls.client_id()) IS NULL);

-- Public announcements: anyone, signed in or not.
CREATE TABLE app.announcements (id int PRIMARY KEY, body text);
CREATE POLICY announcements_read ON app.announcements FOR SELECT TO anon, authenticated USING (true);

SELECT format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', c.oid::regclass),
       format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO authenticated', c.oid::regclass),
       format('GRANT SELECT ON %s TO anon', c.oid::regclass)
  FROM pg_class c WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r' \gexec

INSERT INTO app.user_data VALUES (1, 'a0000000-0000-4000-8000-00000000000a', 'a'),
  (2, 'b0000000-0000-4000-8000-00000000000b', 'b'), (3, 'c0000000-0000-4000-8000-00000000000c', 'c');
INSERT INTO app.public_profiles VALUES (1, 'a0000000-0000-4000-8000-00000000000a', 'Alice'),
  (2, 'b0000000-0000-4000-8000-00000000000b', 'Bob'), (3, 'c0000000-0000-4000-8000-00000000000c', 'Carol');
INSERT INTO app.payment_methods VALUES (1, 'a0000000-0000-4000-8000-00000000000a', '4242'),
  (2, 'b0000000-0000-4000-8000-00000000000b', '1881');
INSERT INTO app.teams VALUES (1, 'alpha'), (2, 'beta');
INSERT INTO app.memberships VALUES (1, 1, 'a0000000-0000-4000-8000-00000000000a', 'admin'),
  (2, 1, 'b0000000-0000-4000-8000-00000000000b', 'member'),
  (3, 2, 'c0000000-0000-4000-8000-00000000000c', 'admin');
INSERT INTO app.projects VALUES (1, 1, 'apollo'), (2, 1, 'gemini'), (3, 2, 'mercury');
INSERT INTO app.notes VALUES (1, 'a0000000-0000-4000-8000-00000000000a', 'x'),
  (2, 'b0000000-0000-4000-8000-00000000000b', 'y');
INSERT INTO app.announcements VALUES (1, 'hello'), (2, 'maintenance');
INSERT INTO app.documents VALUES (1, 'a0000000-0000-4000-8000-00000000000a', 'plan'),
  (2, 'b0000000-0000-4000-8000-00000000000b', 'memo');

-- What OAuth clients may do once guarded (first-party keeps the default: all).
DO $$ BEGIN PERFORM oauth_rls.set_access('app.public_profiles', 'third_party', '{select}'); END $$;
DO $$ BEGIN PERFORM oauth_rls.set_access('app.projects', 'third_party', '{select}'); END $$;
-- The project policies read memberships (under its own policies and guard):
-- third parties must be able to read memberships to see any project.
DO $$ BEGIN PERFORM oauth_rls.set_access('app.memberships', 'third_party', '{select}'); END $$;
DO $$ BEGIN PERFORM oauth_rls.set_access('app.notes', 'third_party', '{select,insert}'); END $$;
DO $$ BEGIN PERFORM oauth_rls.set_access('app.documents', 'third_party', '{select}'); END $$;

---------------------------------------------------------------------------
-- The probe.
CREATE SCHEMA probe;
GRANT USAGE ON SCHEMA probe TO anon, authenticated;
CREATE TABLE probe.tables (tbl regclass PRIMARY KEY);
INSERT INTO probe.tables SELECT c.oid FROM pg_class c
  WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r';
-- Rows a caller tries to insert, and updates it tries on each row.
CREATE TABLE probe.inserts (tbl regclass, label text, row_data jsonb);
INSERT INTO probe.inserts VALUES
  ('app.user_data', 'alice', '{"id": 10, "user_id": "a0000000-0000-4000-8000-00000000000a"}'),
  ('app.user_data', 'bob', '{"id": 11, "user_id": "b0000000-0000-4000-8000-00000000000b"}'),
  ('app.public_profiles', 'alice', '{"id": 10, "user_id": "a0000000-0000-4000-8000-00000000000a"}'),
  ('app.payment_methods', 'alice', '{"id": 10, "user_id": "a0000000-0000-4000-8000-00000000000a"}'),
  ('app.payment_methods', 'bob', '{"id": 11, "user_id": "b0000000-0000-4000-8000-00000000000b"}'),
  ('app.teams', 'gamma', '{"id": 10, "name": "gamma"}'),
  ('app.memberships', 'carol_to_1', '{"id": 10, "team_id": 1, "user_id": "c0000000-0000-4000-8000-00000000000c", "role": "member"}'),
  ('app.memberships', 'alice_to_2', '{"id": 11, "team_id": 2, "user_id": "a0000000-0000-4000-8000-00000000000a", "role": "admin"}'),
  ('app.projects', 'team1', '{"id": 10, "team_id": 1}'),
  ('app.projects', 'team2', '{"id": 11, "team_id": 2}'),
  ('app.notes', 'alice', '{"id": 10, "user_id": "a0000000-0000-4000-8000-00000000000a"}'),
  ('app.notes', 'bob', '{"id": 11, "user_id": "b0000000-0000-4000-8000-00000000000b"}'),
  ('app.announcements', 'news', '{"id": 10, "body": "news"}'),
  ('app.documents', 'alice', '{"id": 10, "user_id": "a0000000-0000-4000-8000-00000000000a"}'),
  ('app.documents', 'bob', '{"id": 11, "user_id": "b0000000-0000-4000-8000-00000000000b"}');
CREATE TABLE probe.updates (tbl regclass, label text, set_clause text);
INSERT INTO probe.updates SELECT t.tbl, 'touch', 'id = id' FROM probe.tables t;
INSERT INTO probe.updates VALUES
  ('app.user_data', 'give_to_carol', 'user_id = ''c0000000-0000-4000-8000-00000000000c'''),
  ('app.public_profiles', 'give_to_carol', 'user_id = ''c0000000-0000-4000-8000-00000000000c'''),
  ('app.projects', 'move_to_team2', 'team_id = 2');
-- Every row id of each table, read with the owner's eyes.
CREATE TABLE probe.ids (tbl regclass, id int);
SELECT format('INSERT INTO probe.ids SELECT %L::regclass, id FROM %s', t.tbl, t.tbl) FROM probe.tables t \gexec
-- Who calls: anon, and alice and bob through each kind of client.
CREATE TABLE probe.callers (who text, tier text, user_id uuid, client_id text, ord int);
INSERT INTO probe.callers VALUES ('anon', 'direct', NULL, NULL, 0);
INSERT INTO probe.callers
  SELECT u.who, c.tier, u.id, c.client_id, u.n * 10 + c.n
    FROM (VALUES ('alice', 'a0000000-0000-4000-8000-00000000000a'::uuid, 1),
                 ('bob', 'b0000000-0000-4000-8000-00000000000b'::uuid, 2)) AS u(who, id, n)
   CROSS JOIN (VALUES ('direct', NULL, 1), ('first_party', 'f1000000-0000-4000-8000-000000000001', 2),
                      ('third_party', 'f2000000-0000-4000-8000-000000000002', 3),
                      ('blocked', 'f3000000-0000-4000-8000-000000000003', 4)) AS c(tier, client_id, n);
CREATE TABLE probe.snap (phase text, who text, tier text, tbl regclass, command text, outcome text);
GRANT SELECT ON ALL TABLES IN SCHEMA probe TO anon, authenticated;
GRANT INSERT ON probe.snap TO anon, authenticated;

-- One caller's rights on one table.  Every write is undone by raising
-- (SQLSTATE OR999, carrying the result) out of its own subtransaction.
CREATE FUNCTION probe.rights(t regclass) RETURNS TABLE (command text, outcome text)
  LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n bigint;
  parts text[];
BEGIN
  command := 'select';
  BEGIN
    EXECUTE format('SELECT coalesce(string_agg(id::text, '','' ORDER BY id), '''') FROM %s', t) INTO outcome;
  EXCEPTION WHEN insufficient_privilege THEN
    outcome := 'denied';
  END;
  RETURN NEXT;

  command := 'insert';
  parts := '{}';
  FOR r IN SELECT i.label, i.row_data FROM probe.inserts i WHERE i.tbl = t ORDER BY i.label LOOP
    BEGIN
      EXECUTE format('INSERT INTO %s SELECT * FROM jsonb_populate_record(NULL::%s, $1)', t, t) USING r.row_data;
      RAISE EXCEPTION USING ERRCODE = 'OR999', MESSAGE = 'ok';
    EXCEPTION
      WHEN SQLSTATE 'OR999' THEN parts := parts || (r.label || ':ok');
      WHEN insufficient_privilege THEN parts := parts || (r.label || ':denied');
    END;
  END LOOP;
  outcome := array_to_string(parts, ' ');
  RETURN NEXT;

  command := 'update';
  parts := '{}';
  FOR r IN SELECT u.label, u.set_clause, i.id FROM probe.updates u JOIN probe.ids i ON i.tbl = u.tbl
            WHERE u.tbl = t ORDER BY u.label, i.id LOOP
    BEGIN
      EXECUTE format('UPDATE %s SET %s WHERE id = $1', t, r.set_clause) USING r.id;
      GET DIAGNOSTICS n = ROW_COUNT;
      RAISE EXCEPTION USING ERRCODE = 'OR999', MESSAGE = n::text;
    EXCEPTION
      WHEN SQLSTATE 'OR999' THEN parts := parts || format('%s#%s:%s', r.label, r.id, SQLERRM);
      WHEN insufficient_privilege THEN parts := parts || format('%s#%s:denied', r.label, r.id);
    END;
  END LOOP;
  outcome := array_to_string(parts, ' ');
  RETURN NEXT;

  command := 'delete';
  parts := '{}';
  FOR r IN SELECT i.id FROM probe.ids i WHERE i.tbl = t ORDER BY i.id LOOP
    BEGIN
      EXECUTE format('DELETE FROM %s WHERE id = $1', t) USING r.id;
      GET DIAGNOSTICS n = ROW_COUNT;
      RAISE EXCEPTION USING ERRCODE = 'OR999', MESSAGE = n::text;
    EXCEPTION
      WHEN SQLSTATE 'OR999' THEN parts := parts || format('#%s:%s', r.id, SQLERRM);
      WHEN insufficient_privilege THEN parts := parts || format('#%s:denied', r.id);
    END;
  END LOOP;
  outcome := array_to_string(parts, ' ');
  RETURN NEXT;
END
$$;

-- Every caller's rights on every table, as the API would see them.
CREATE FUNCTION probe.take(phase text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM probe.callers ORDER BY ord LOOP
    IF c.who = 'anon' THEN
      PERFORM set_config('request.jwt.claims', '{"role": "anon"}', true);
      PERFORM set_config('role', 'anon', true);
    ELSE
      PERFORM oauth_rls.act_as(c.user_id, c.client_id);
    END IF;
    INSERT INTO probe.snap
      SELECT phase, c.who, c.tier, t.tbl, r.command, r.outcome
        FROM probe.tables t CROSS JOIN LATERAL probe.rights(t.tbl) r;
    PERFORM set_config('role', 'none', true);
    PERFORM set_config('request.jwt.claims', '', true);
  END LOOP;
  RETURN (SELECT count(*) FROM probe.snap s WHERE s.phase = take.phase);
END
$$;

-- One line per (caller, table): all four commands.
CREATE VIEW probe.rights_by_table AS
  SELECT s.phase, s.who, s.tier, s.tbl,
         string_agg(s.command || '=[' || s.outcome || ']', ' ' ORDER BY s.command) AS rights
    FROM probe.snap s GROUP BY s.phase, s.who, s.tier, s.tbl;

---------------------------------------------------------------------------
-- Before: the probe sees real, differing rights (it cannot pass vacuously).
SELECT is(probe.take('before'), 9 * 9 * 4::bigint, 'before: 9 callers x 9 tables x 4 commands probed');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'direct'
             AND tbl = 'app.user_data'::regclass AND command = 'select'), '1',
          'before: alice sees her own user_data row only');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'third_party'
             AND tbl = 'app.projects'::regclass AND command = 'update'),
          'move_to_team2#1:denied move_to_team2#2:denied move_to_team2#3:0 touch#1:1 touch#2:1 touch#3:0',
          'before: a third-party client updates projects for alice (team admin); WITH CHECK refuses a move to another team');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'before' AND who = 'bob' AND tier = 'third_party'
             AND tbl = 'app.projects'::regclass AND command = 'update'),
          'move_to_team2#1:denied move_to_team2#2:denied move_to_team2#3:0 touch#1:denied touch#2:denied touch#3:0',
          'before: bob (member) is refused by WITH CHECK on project updates');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'third_party'
             AND tbl = 'app.notes'::regclass AND command = 'select'), '1',
          'before: any OAuth client reads alice''s notes (the gap the guards close)');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'blocked'
             AND tbl = 'app.memberships'::regclass AND command = 'insert'),
          'alice_to_2:denied carol_to_1:ok', 'before: even a blocked client may add members for alice');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'before' AND who = 'alice' AND tier = 'third_party'
             AND tbl = 'app.documents'::regclass AND command = 'delete'),
          '#1:1 #2:0', 'before: a third-party client deletes alice''s document, although a documents policy looks at the client');

---------------------------------------------------------------------------
-- The rewrite.
-- (each planned statement ends with a comment saying why: compared apart)
SELECT set_eq($$SELECT split_part(ddl, ' -- ', 1) FROM oauth_rls._rewrite_plan('{app}') WHERE kind = 'guard'$$,
              ARRAY['SELECT oauth_rls.guard(''app.announcements''::regclass);',
                    'SELECT oauth_rls.guard(''app.documents''::regclass);',
                    'SELECT oauth_rls.guard(''app.memberships''::regclass);',
                    'SELECT oauth_rls.guard(''app.notes''::regclass);',
                    'SELECT oauth_rls.guard(''app.projects''::regclass);',
                    'SELECT oauth_rls.guard(''app.public_profiles''::regclass);',
                    'SELECT oauth_rls.guard(''app.teams''::regclass);'],
              'plan: guards for every table where a permissive policy that ignores the client lets OAuth clients in');
SELECT set_eq($$SELECT policy_name::text FROM oauth_rls._rewrite_plan('{app}') WHERE kind = 'policy'$$,
              ARRAY['user_data_owner', 'profiles_read', 'profiles_update', 'payment_owner',
                    'memberships_admin_delete', 'projects_member', 'projects_member_update',
                    'notes_read', 'notes_write'],
              'plan: every policy with a per-row request call is rewritten, and no other');
SELECT is((SELECT count(*) FROM oauth_rls.apply_rewrite('{app}')), 16::bigint, 'apply_rewrite runs the 16 planned statements');
SELECT is_empty($$SELECT * FROM oauth_rls.plan_rewrite('{app}')$$, 'after apply_rewrite, plan_rewrite returns nothing');
SELECT set_eq($$SELECT policy_name::text || ': ' || code || coalesce(': ' || fix_ddl, '')
                  FROM oauth_rls.audit('{app}')
                 WHERE code IN ('PER_ROW_CALL', 'JWT_CLIENT_ID', 'NOT_CLIENT_AWARE')$$,
              ARRAY['notes_write: PER_ROW_CALL'],
              'after apply_rewrite, audit reports no hand-written client test or unaware table, and as per-row '
              'call only current_setting(), which has no oauth_rls equivalent (and no fix: no subquery is added)');
SELECT is((SELECT pg_get_expr(polqual, polrelid) FROM pg_policy
            WHERE polrelid = 'app.user_data'::regclass AND polname = 'user_data_owner'),
          '((oauth_rls.user_id() = user_id) AND ((oauth_rls.client_id() IS NULL) OR (oauth_rls.client_id() = ''f1000000-0000-4000-8000-000000000001''::text)))',
          'user_data: auth.uid() replaced by oauth_rls.user_id(), auth.jwt() ->> ''client_id'' by oauth_rls.client_id(), no subquery');

SELECT is(probe.take('after'), 9 * 9 * 4::bigint, 'after: every caller probed again');

-- What the matrix lets a tier do on a table the rewrite must guard; NULL for
-- the two tables whose every policy already tests the client (their own policies
-- still decide).  Fixed here, not read back from what the rewrite did.
CREATE FUNCTION probe.matrix_allows(t regclass, tier text, command text) RETURNS boolean
  LANGUAGE sql AS $$
  SELECT CASE WHEN t IN ('app.user_data'::regclass, 'app.payment_methods'::regclass)
              THEN NULL
              ELSE coalesce((SELECT command = ANY (m.commands) FROM oauth_rls.access_matrix m
                              WHERE m.tbl = t AND m.tier::text = matrix_allows.tier),
                            tier IN ('direct', 'first_party')) END
$$;
-- What a caller gets for a command the matrix refuses: no row to select,
-- update or delete, and every insert refused.
CREATE FUNCTION probe.nothing(command text, outcome text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE command
           WHEN 'select' THEN ''
           WHEN 'insert' THEN regexp_replace(outcome, ':ok\M', ':denied', 'g')
           ELSE regexp_replace(outcome, ':(\d+|denied)', ':0', 'g') END
$$;
CREATE VIEW probe.expected_after AS
  SELECT s.who, s.tier, s.tbl,
         string_agg(s.command || '=[' ||
                    CASE WHEN s.tier IN ('third_party', 'blocked')
                              AND NOT probe.matrix_allows(s.tbl, s.tier, s.command)
                         THEN probe.nothing(s.command, s.outcome) ELSE s.outcome END || ']',
                    ' ' ORDER BY s.command) AS rights
    FROM probe.snap s WHERE s.phase = 'before' GROUP BY s.who, s.tier, s.tbl;

-- 81 tests: each (caller, table).
SELECT is(a.rights, e.rights,
          format('after rewrite: %s via %s on %s %s', a.who, a.tier, a.tbl,
                 CASE WHEN a.tier IN ('direct', 'first_party') THEN 'keeps its rights'
                      WHEN probe.matrix_allows(a.tbl, a.tier, 'select') IS NULL THEN 'keeps its rights (policy already client-aware)'
                      ELSE 'gets what the matrix allows' END))
  FROM probe.rights_by_table a
  JOIN probe.expected_after e USING (who, tier, tbl)
 WHERE a.phase = 'after'
 ORDER BY a.who, a.tier, a.tbl::text;

-- And the matrix really changed something for OAuth clients.
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'after' AND who = 'alice' AND tier = 'third_party'
             AND tbl = 'app.notes'::regclass AND command = 'insert'),
          'alice:ok bob:denied', 'after: third party may insert alice''s notes (matrix: select, insert)');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'after' AND who = 'alice' AND tier = 'blocked'
             AND tbl = 'app.memberships'::regclass AND command = 'insert'),
          'alice_to_2:denied carol_to_1:denied', 'after: a blocked client can no longer add members');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'after' AND who = 'bob' AND tier = 'third_party'
             AND tbl = 'app.announcements'::regclass AND command = 'select'),
          '', 'after: announcements are closed to third parties (no matrix entry: OAuth is opt-in)');
SELECT is((SELECT outcome FROM probe.snap WHERE phase = 'after' AND who = 'alice' AND tier = 'third_party'
             AND tbl = 'app.documents'::regclass AND command = 'delete'),
          '#1:0 #2:0', 'after: the guard stops a third-party client deleting alice''s document (matrix: select only)');

-- Without select on memberships, the projects entry would have no effect:
-- audit says so.
DO $$ BEGIN PERFORM oauth_rls.clear_access('app.memberships', 'third_party'); END $$;
SELECT set_eq($$SELECT policy_name::text || ':' || command FROM oauth_rls.audit('{app}') WHERE code = 'MATRIX_DEPENDENCY'$$,
              ARRAY['projects_member:select'],
              'audit: the projects select policy reads memberships, which third parties may no longer select');
DO $$ BEGIN PERFORM oauth_rls.set_access('app.memberships', 'third_party', '{select}'); END $$;
SELECT is_empty($$SELECT 1 FROM oauth_rls.audit('{app}') WHERE code = 'MATRIX_DEPENDENCY'$$,
                'audit: with select on memberships allowed, no dependency is left open');

---------------------------------------------------------------------------
-- Revert: the originals, exactly, and the original rights.
SELECT is((SELECT count(*) FROM oauth_rls.revert_rewrite('{app}')), 16::bigint, 'revert_rewrite undoes the 16 statements');
SELECT is_empty($$SELECT 1 FROM pg_policy WHERE polname LIKE 'oauth\_rls\_guard\_%'
                    AND polrelid IN (SELECT tbl FROM probe.tables)$$, 'revert removes the guards it added');
SELECT is((SELECT original_ddl FROM oauth_rls.rewrite_log WHERE policy_name = 'user_data_owner'),
          (SELECT oauth_rls._policy_ddl(oid) FROM pg_policy WHERE polname = 'user_data_owner'),
          'user_data_owner is exactly as it was');
SELECT is(probe.take('reverted'), 9 * 9 * 4::bigint, 'reverted: every caller probed again');
-- 81 tests: each (caller, table).
SELECT is(r.rights, b.rights, format('after revert: %s via %s on %s has its original rights', r.who, r.tier, r.tbl))
  FROM probe.rights_by_table r
  JOIN probe.rights_by_table b USING (who, tier, tbl)
 WHERE r.phase = 'reverted' AND b.phase = 'before'
 ORDER BY r.who, r.tier, r.tbl::text;

SELECT * FROM finish();
ROLLBACK;
