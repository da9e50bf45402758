-- Guards and rewrites never add a failure: PostgreSQL runs its policy
-- recursion check only when the policies it adds to a relation hold a
-- sublink.  An admin check on the table itself is fine until then; a guard
-- or a rewrite that adds a subquery turns every INSERT and DELETE on it into
-- "infinite recursion detected in policy" (issue 11, item 1).
SET client_min_messages = warning;
CREATE SCHEMA rec;
GRANT USAGE ON SCHEMA rec TO authenticated, anon;
CREATE TABLE rec.profiles (id uuid PRIMARY KEY, role text NOT NULL DEFAULT 'member', name text);
ALTER TABLE rec.profiles ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON rec.profiles TO authenticated;
-- Per-row auth.uid() (the 0.1.0 rewrite wrapped it in a subquery).
CREATE POLICY profiles_read ON rec.profiles FOR SELECT TO authenticated USING (auth.uid() IS NOT NULL);
CREATE POLICY profiles_own ON rec.profiles FOR UPDATE TO authenticated USING (id = auth.uid());
CREATE POLICY profiles_admin_insert ON rec.profiles FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM rec.profiles p WHERE p.id = auth.uid() AND p.role = 'admin'));
CREATE POLICY profiles_admin_delete ON rec.profiles FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM rec.profiles p WHERE p.id = auth.uid() AND p.role = 'admin'));
INSERT INTO rec.profiles VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'admin', 'Ada'),
                                ('bbbbbbbb-0000-4000-8000-000000000002', 'member', 'Bob');
CREATE TABLE pg_temp.policies_before AS
  SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'rec';

-- What each caller gets, as rows or as the error raised.
CREATE FUNCTION pg_temp.outcomes(label text) RETURNS TABLE (caller text, command text, outcome text)
  LANGUAGE plpgsql AS $$
DECLARE
  who record;
  n integer;
BEGIN
  FOR who IN SELECT * FROM (VALUES ('admin', 'aaaaaaaa-0000-4000-8000-000000000001'::uuid, NULL::text),
                                   ('member', 'bbbbbbbb-0000-4000-8000-000000000002', NULL),
                                   ('member via third-party app', 'bbbbbbbb-0000-4000-8000-000000000002', 'tp-app'))
                           AS w(name, uid, client) LOOP
    FOREACH command IN ARRAY ARRAY['select', 'insert', 'update', 'delete'] LOOP
      caller := who.name;
      BEGIN
        PERFORM oauth_rls.act_as(who.uid, who.client, session_id => 'cccccccc-0000-4000-8000-000000000003');
        CASE command
          WHEN 'select' THEN SELECT count(*) INTO n FROM rec.profiles;
          WHEN 'insert' THEN INSERT INTO rec.profiles VALUES (gen_random_uuid(), 'member', 'new');
                             GET DIAGNOSTICS n = ROW_COUNT;
          WHEN 'update' THEN UPDATE rec.profiles SET name = name || '!';
                             GET DIAGNOSTICS n = ROW_COUNT;
          ELSE DELETE FROM rec.profiles WHERE role = 'member';
               GET DIAGNOSTICS n = ROW_COUNT;
        END CASE;
        outcome := n || ' rows';
        RAISE EXCEPTION 'roll back' USING ERRCODE = 'P0004';
      EXCEPTION
        WHEN SQLSTATE 'P0004' THEN NULL;
        WHEN OTHERS THEN outcome := SQLSTATE || ': ' || SQLERRM;
      END;
      PERFORM set_config('role', 'none', true);
      RETURN NEXT;
    END LOOP;
  END LOOP;
END
$$;

-- Before: the admin may insert and delete; the member gets row-level denials.
CREATE TABLE pg_temp.before AS SELECT * FROM pg_temp.outcomes('before');
SELECT * FROM pg_temp.before ORDER BY 1, 2;

-- How 0.1.0 failed: a guard written as a scalar subquery holds a sublink, so
-- the admin check's read of profiles now runs PostgreSQL's recursion check.
CREATE POLICY oauth_rls_guard_select ON rec.profiles AS RESTRICTIVE FOR SELECT TO public
  USING ((select oauth_rls.allows('rec.profiles'::regclass, 'select')));
SELECT caller, command, outcome FROM pg_temp.outcomes('subquery guard')
 WHERE caller <> 'member via third-party app' ORDER BY 1, 2;
-- The audit sees the cycle it makes (and still takes it for a guard's shape).
SELECT table_name, policy_name, command, code FROM oauth_rls.audit('{rec}')
 WHERE code IN ('POLICY_RECURSION', 'GUARD_EDITED') ORDER BY 1, 2, 3;
DROP POLICY oauth_rls_guard_select ON rec.profiles;

-- The rewrite replaces auth.uid() by oauth_rls.user_id(): no subquery added.
SELECT * FROM oauth_rls.plan_rewrite('{rec}');
SELECT count(*) AS statements FROM oauth_rls.apply_rewrite('{rec}');
SELECT policyname, qual, with_check FROM pg_policies WHERE schemaname = 'rec' ORDER BY 1;
-- Direct sessions: exactly what they had; the third-party app: nothing.
SELECT a.caller, a.command, b.outcome AS before, a.outcome AS after
  FROM pg_temp.outcomes('rewritten') a JOIN pg_temp.before b USING (caller, command)
 WHERE a.outcome IS DISTINCT FROM b.outcome ORDER BY 1, 2;
SELECT count(*) AS reverted FROM oauth_rls.revert_rewrite('{rec}');

-- guard() alone: the same.
SELECT oauth_rls.guard('rec.profiles');
SELECT policyname, qual, with_check FROM pg_policies
 WHERE schemaname = 'rec' AND policyname LIKE 'oauth_rls_guard_%' ORDER BY 1;
SELECT a.caller, a.command, b.outcome AS before, a.outcome AS after
  FROM pg_temp.outcomes('guarded') a JOIN pg_temp.before b USING (caller, command)
 WHERE a.outcome IS DISTINCT FROM b.outcome ORDER BY 1, 2;
SELECT oauth_rls.unguard('rec.profiles');
-- Everything is as it was.
(SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'rec'
 EXCEPT SELECT * FROM pg_temp.policies_before)
UNION ALL
(SELECT * FROM pg_temp.policies_before
 EXCEPT SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'rec');

-- POLICY_RECURSION: cycles between tables the audit can see.  A SELECT
-- policy of one reads the other and back: every read of either fails.
CREATE TABLE rec.teams (id int PRIMARY KEY);
CREATE TABLE rec.members (team_id int, user_id uuid);
ALTER TABLE rec.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE rec.members ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON rec.teams, rec.members TO authenticated;
CREATE POLICY teams_of_members ON rec.teams FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM rec.members m WHERE m.team_id = id AND m.user_id = oauth_rls.user_id()));
CREATE POLICY members_of_teams ON rec.members FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM rec.teams t WHERE t.id = team_id));
BEGIN;
SELECT oauth_rls.act_as('bbbbbbbb-0000-4000-8000-000000000002') IS NOT NULL AS acting;
SELECT count(*) FROM rec.teams;
ROLLBACK;
SELECT table_name, policy_name, command, severity, code, message FROM oauth_rls.audit('{rec}')
 WHERE code = 'POLICY_RECURSION' ORDER BY 1, 2, 3;
-- A cycle through a SECURITY DEFINER function is no cycle for PostgreSQL (the
-- function's query is planned on its own, as its owner): not reported.
DROP POLICY members_of_teams ON rec.members;
CREATE FUNCTION rec.team_exists(team int) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = '' AS 'SELECT EXISTS (SELECT 1 FROM rec.teams t WHERE t.id = team)';
CREATE POLICY members_of_teams ON rec.members FOR SELECT TO authenticated USING (rec.team_exists(team_id));
SELECT count(*) AS recursion_findings FROM oauth_rls.audit('{rec}') WHERE code = 'POLICY_RECURSION';

RESET client_min_messages;
DROP SCHEMA rec CASCADE;
