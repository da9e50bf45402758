-- oauth_rls.audit(): every finding code appears on a table that has the
-- problem and disappears once it is fixed; detection reads expression trees,
-- so spelling tricks neither hide nor fake a finding.
SET client_min_messages = warning;
-- One step below acts as Auth's role, which postgres may not SET ROLE to.
-- On Supabase that would be a separate connection; here the file connects as
-- supabase_admin and acts as postgres (SET SESSION AUTHORIZATION), switching
-- identity for that step only: one session, so temporary helpers survive.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
SET client_min_messages = warning;
-- Error context (line numbers inside the functions) is left out of the output.
\set SHOW_CONTEXT never
CREATE SCHEMA aud;
GRANT USAGE ON SCHEMA aud TO anon, authenticated;

-- The findings of schema aud, without the prose.
CREATE FUNCTION pg_temp.findings(only_table name DEFAULT NULL)
  RETURNS TABLE (tbl name, policy name, command text, roles text, severity text, code text)
  LANGUAGE sql AS $$
  SELECT a.table_name, a.policy_name, a.command, array_to_string(a.roles, ','), a.severity, a.code
    FROM oauth_rls.audit('{aud}') a
   WHERE only_table IS NULL OR a.table_name = only_table
$$;

-- A person or a team member owns most rows below.
CREATE TABLE aud.members (team_id int, user_id uuid);

---------------------------------------------------------------------------
-- RLS_DISABLED_EXPOSED, POLICIES_RLS_DISABLED, RLS_NO_POLICY
CREATE TABLE aud.open_tbl (id int);
GRANT SELECT ON aud.open_tbl TO anon;
CREATE TABLE aud.pol_off (user_id uuid);
CREATE POLICY owner ON aud.pol_off TO authenticated USING ((select auth.uid()) = user_id);
CREATE TABLE aud.no_pol (id int);
ALTER TABLE aud.no_pol ENABLE ROW LEVEL SECURITY;
SELECT * FROM pg_temp.findings() WHERE tbl IN ('open_tbl', 'pol_off', 'no_pol') ORDER BY 1, 6;
SELECT message, fix_ddl FROM oauth_rls.audit('{aud}')
 WHERE code IN ('RLS_DISABLED_EXPOSED', 'POLICIES_RLS_DISABLED', 'RLS_NO_POLICY') ORDER BY code;

-- Fixed: RLS on (the fix_ddl given), and a policy for no_pol.  open_tbl now
-- has RLS without a policy, which is reported as such.
SELECT fix_ddl FROM oauth_rls.audit('{aud}')
 WHERE code IN ('RLS_DISABLED_EXPOSED', 'POLICIES_RLS_DISABLED') ORDER BY table_name \gexec
CREATE POLICY owner ON aud.no_pol TO service_role USING (true);
SELECT * FROM pg_temp.findings() WHERE tbl IN ('open_tbl', 'pol_off', 'no_pol') ORDER BY 1, 6;
REVOKE ALL ON aud.open_tbl FROM anon;
DROP TABLE aud.open_tbl;

-- A guarded table with no permissive policy still shows nobody any row: its
-- guards (restrictive) only narrow what permissive policies grant.  So is a
-- table with a restrictive policy of its own only.
CREATE TABLE aud.guarded_empty (id int);
ALTER TABLE aud.guarded_empty ENABLE ROW LEVEL SECURITY;
SELECT oauth_rls.guard('aud.guarded_empty');
CREATE TABLE aud.only_restrictive (id int);
ALTER TABLE aud.only_restrictive ENABLE ROW LEVEL SECURITY;
CREATE POLICY narrow ON aud.only_restrictive AS RESTRICTIVE TO authenticated USING (oauth_rls.is_first_party());
SELECT table_name, code, message FROM oauth_rls.audit('{aud}')
 WHERE table_name IN ('guarded_empty', 'only_restrictive') AND code = 'RLS_NO_POLICY' ORDER BY 1;
SELECT oauth_rls.unguard('aud.guarded_empty');
DROP TABLE aud.guarded_empty, aud.only_restrictive;

---------------------------------------------------------------------------
-- PER_ROW_CALL: one restrictive policy per spelling, so that nothing else is
-- reported on this table (it is not granted to the API roles).
CREATE TABLE aud.notes (id int, team_id int, user_id uuid, body text);
ALTER TABLE aud.notes ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION aud.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$;
CREATE POLICY n_plain ON aud.notes AS RESTRICTIVE USING (auth.uid() = user_id);
CREATE POLICY n_spacing ON aud.notes AS RESTRICTIVE USING (user_id="auth" . "uid" (  ));
CREATE POLICY n_cast ON aud.notes AS RESTRICTIVE USING (auth.uid()::text = user_id::text);
SET search_path = auth, public;
CREATE POLICY n_search_path ON aud.notes AS RESTRICTIVE USING (uid() = user_id);
RESET search_path;
CREATE POLICY n_setting ON aud.notes AS RESTRICTIVE
  USING ((current_setting('request.jwt.claims', true)::jsonb ->> 'sub') = user_id::text);
CREATE POLICY n_exists ON aud.notes AS RESTRICTIVE
  USING (EXISTS (SELECT 1 FROM aud.members m WHERE m.team_id = notes.team_id AND m.user_id = auth.uid()));
CREATE POLICY n_correlated ON aud.notes AS RESTRICTIVE USING ((SELECT auth.uid() = notes.user_id));
CREATE POLICY n_ours ON aud.notes AS RESTRICTIVE
  USING (oauth_rls.user_id() = user_id AND oauth_rls.has_scope('notes'));
CREATE POLICY n_update ON aud.notes AS RESTRICTIVE FOR UPDATE
  USING ((select auth.uid()) = user_id) WITH CHECK (auth.role() = 'authenticated');
-- Not per-row: wrapped (in any spelling), a string that only looks like a
-- call, a function of another schema, a call that depends on the row.
CREATE POLICY n_wrapped ON aud.notes AS RESTRICTIVE
  USING ((select auth.uid()) = user_id AND (  SELECT "auth"."uid"( ) ) IS NOT NULL
         AND user_id = (select (select auth.jwt()) ->> 'sub')::uuid);
CREATE POLICY n_literal ON aud.notes AS RESTRICTIVE USING (body <> 'auth.uid() = user_id');
CREATE POLICY n_decoy ON aud.notes AS RESTRICTIVE USING (aud.uid() = user_id);
CREATE POLICY n_row_arg ON aud.notes AS RESTRICTIVE USING (oauth_rls.tier_of(body) <> 'blocked');
SELECT f.policy, f.command, f.code, a.message FROM oauth_rls.audit('{aud}') a
  JOIN pg_temp.findings('notes') f ON f.policy = a.policy_name AND f.code = a.code
 ORDER BY 1, 3;
-- The fix replaces auth.uid() by oauth_rls.user_id() (no subquery); its DDL is
-- exact SQL, and afterwards only the calls without an oauth_rls equivalent
-- (current_setting(), auth.role()) are left, without a fix. oauth_rls's own
-- functions (n_ours) keep their answer per statement and are not reported.
SELECT policy_name, fix_ddl FROM oauth_rls.audit('{aud}') WHERE table_name = 'notes' ORDER BY 1;
SELECT DISTINCT fix_ddl FROM oauth_rls.audit('{aud}') WHERE table_name = 'notes' \gexec
SELECT * FROM pg_temp.findings('notes');

---------------------------------------------------------------------------
-- NOT_CLIENT_AWARE and MATRIX_UNGUARDED; every spelling of a client test
-- makes a table client-aware.
CREATE TABLE aud.aware_0 (id int, user_id uuid);
CREATE TABLE aud.aware_1 (LIKE aud.aware_0);
CREATE TABLE aud.aware_2 (LIKE aud.aware_0);
CREATE TABLE aud.aware_3 (LIKE aud.aware_0);
CREATE TABLE aud.aware_4 (LIKE aud.aware_0);
CREATE TABLE aud.aware_5 (LIKE aud.aware_0);
CREATE TABLE aud.aware_6 (LIKE aud.aware_0);
CREATE TABLE aud.aware_7 (LIKE aud.aware_0);
CREATE TABLE aud.aware_8 (LIKE aud.aware_0);
CREATE TABLE aud.aware_9 (LIKE aud.aware_0);
CREATE TABLE aud.aware_10 (LIKE aud.aware_0);
SELECT format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', c.oid::regclass),
       format('GRANT SELECT ON %s TO authenticated', c.oid::regclass)
  FROM pg_class c WHERE c.relnamespace = 'aud'::regnamespace AND c.relname LIKE 'aware\_%' \gexec
CREATE POLICY p ON aud.aware_0 FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
CREATE POLICY p ON aud.aware_1 FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id AND (select auth.jwt() ->> 'client_id') IS NULL);
CREATE POLICY p ON aud.aware_2 FOR SELECT TO authenticated
  USING (((select auth.jwt()) -> 'client_id')::text IS NULL);
CREATE POLICY p ON aud.aware_3 FOR SELECT TO authenticated
  USING ((select auth.jwt()) #>> '{client_id}' IS NULL);
CREATE POLICY p ON aud.aware_4 FOR SELECT TO authenticated
  USING (jsonb_extract_path_text((select auth.jwt()), 'client_id') IS NULL);
CREATE POLICY p ON aud.aware_5 FOR SELECT TO authenticated
  USING ((select auth.jwt())['client_id'] IS NULL);
CREATE POLICY p ON aud.aware_6 FOR SELECT TO authenticated
  USING ((select current_setting('request.jwt.claims', true))::jsonb ->> 'client_id' IS NULL);
CREATE POLICY p ON aud.aware_7 FOR SELECT TO authenticated
  USING ((select oauth_rls.current_tier()) IN ('direct', 'first_party'));
CREATE POLICY p ON aud.aware_8 FOR SELECT TO authenticated
  USING ((select oauth_rls.claim('client_id')) IS NULL);
CREATE POLICY p ON aud.aware_9 FOR SELECT TO authenticated
  USING (NOT ((select auth.jwt()) ? 'client_id'));
CREATE POLICY p ON aud.aware_10 FOR SELECT TO authenticated
  USING ((select current_setting('request.jwt.claim.client_id', true)) = '');
SELECT * FROM pg_temp.findings() WHERE tbl LIKE 'aware\_%' ORDER BY 1;
SELECT message, fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'NOT_CLIENT_AWARE';
-- A matrix entry for a table that is not guarded has no effect.
SELECT oauth_rls.set_access('aud.aware_0', 'third_party', '{select}');
SELECT * FROM pg_temp.findings('aware_0') ORDER BY code;
SELECT message FROM oauth_rls.audit('{aud}') WHERE code = 'MATRIX_UNGUARDED';
-- Guarding fixes both.
SELECT fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'NOT_CLIENT_AWARE' \gexec
SELECT * FROM pg_temp.findings('aware_0');

---------------------------------------------------------------------------
-- GUARD_MISSING, GUARD_EDITED: aware_0 is guarded now.
DROP POLICY oauth_rls_guard_delete ON aud.aware_0;
ALTER POLICY oauth_rls_guard_select ON aud.aware_0 USING (true);
ALTER POLICY oauth_rls_guard_update ON aud.aware_0 TO authenticated;
ALTER POLICY oauth_rls_guard_insert ON aud.aware_0
  WITH CHECK ((select oauth_rls.allows('aud.aware_1'::regclass, 'insert')));
SELECT * FROM pg_temp.findings('aware_0') ORDER BY code, policy;
SELECT message, fix_ddl FROM oauth_rls.audit('{aud}') WHERE table_name = 'aware_0' ORDER BY code, policy_name;
SELECT DISTINCT fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'GUARD_EDITED' \gexec
SELECT DISTINCT fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'GUARD_MISSING' \gexec
SELECT * FROM pg_temp.findings('aware_0');
-- An UPDATE guard has two trees: an edit of either one is drift.
ALTER POLICY oauth_rls_guard_update ON aud.aware_0 WITH CHECK (true);
SELECT * FROM pg_temp.findings('aware_0');
SELECT DISTINCT fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'GUARD_EDITED' \gexec
SELECT * FROM pg_temp.findings('aware_0');
-- The same guard, spelled by hand, is recognised from its tree.
DROP POLICY oauth_rls_guard_select ON aud.aware_0;
CREATE POLICY oauth_rls_guard_select ON aud.aware_0 AS RESTRICTIVE FOR SELECT
  USING ((  SELECT oauth_rls.allows( 'aud.aware_0' , 'select'::text ) ));
SELECT * FROM pg_temp.findings('aware_0');

---------------------------------------------------------------------------
-- MATRIX_DEPENDENCY: a policy reads another guarded table under that table's
-- guard, so a matrix entry for its own table can have no effect.
CREATE TABLE aud.teams (id int, owner uuid);
CREATE TABLE aud.projects (id int, team_id int);
ALTER TABLE aud.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE aud.projects ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON aud.teams, aud.projects TO authenticated;
CREATE POLICY team_owner ON aud.teams FOR SELECT TO authenticated USING ((select auth.uid()) = owner);
CREATE POLICY team_projects ON aud.projects FOR SELECT TO authenticated
  USING (team_id IN (SELECT t.id FROM aud.teams t WHERE t.owner = (select auth.uid())));
SELECT oauth_rls.guard('aud.teams'), oauth_rls.guard('aud.projects');
SELECT * FROM pg_temp.findings() WHERE tbl IN ('teams', 'projects');
SELECT oauth_rls.set_access('aud.projects', 'third_party', '{select}');
SELECT * FROM pg_temp.findings() WHERE tbl IN ('teams', 'projects');
SELECT message FROM oauth_rls.audit('{aud}') WHERE code = 'MATRIX_DEPENDENCY';
SELECT oauth_rls.set_access('aud.teams', 'third_party', '{select}');
SELECT * FROM pg_temp.findings() WHERE tbl IN ('teams', 'projects');
-- First-party clients may do everything by default: restricting them on
-- teams alone shows the same dependency.
SELECT oauth_rls.set_access('aud.teams', 'first_party', '{}');
SELECT * FROM pg_temp.findings() WHERE tbl IN ('teams', 'projects');
SELECT oauth_rls.clear_access('aud.teams', 'first_party');
SELECT * FROM pg_temp.findings() WHERE tbl IN ('teams', 'projects');

---------------------------------------------------------------------------
-- USER_METADATA
CREATE TABLE aud.meta (id int, user_id uuid);
ALTER TABLE aud.meta ENABLE ROW LEVEL SECURITY;
CREATE POLICY m_arrow ON aud.meta AS RESTRICTIVE
  USING (((select auth.jwt()) -> 'user_metadata' ->> 'role') = 'admin');
CREATE POLICY m_path ON aud.meta AS RESTRICTIVE
  USING (((select auth.jwt()) #>> '{user_metadata,role}') = 'admin');
CREATE POLICY m_func ON aud.meta AS RESTRICTIVE
  USING (jsonb_extract_path_text((select auth.jwt()), 'user_metadata', 'role') = 'admin');
CREATE POLICY m_claim ON aud.meta AS RESTRICTIVE
  USING ((select oauth_rls.claim('user_metadata'))::jsonb ->> 'role' = 'admin');
CREATE POLICY m_users ON aud.meta AS RESTRICTIVE
  USING (EXISTS (SELECT 1 FROM auth.users u
                  WHERE u.id = (select auth.uid()) AND u.raw_user_meta_data ->> 'role' = 'admin'));
CREATE POLICY m_users_app ON aud.meta AS RESTRICTIVE
  USING (EXISTS (SELECT 1 FROM auth.users u
                  WHERE u.id = (select auth.uid()) AND u.raw_app_meta_data ->> 'role' = 'admin'));
CREATE POLICY m_app ON aud.meta AS RESTRICTIVE
  USING (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
SELECT * FROM pg_temp.findings('meta') ORDER BY policy;
SELECT message FROM oauth_rls.audit('{aud}') WHERE code = 'USER_METADATA' AND policy_name = 'm_arrow';
ALTER POLICY m_arrow ON aud.meta USING (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
DROP POLICY m_path ON aud.meta;
DROP POLICY m_func ON aud.meta;
DROP POLICY m_claim ON aud.meta;
DROP POLICY m_users ON aud.meta;
SELECT * FROM pg_temp.findings('meta');

---------------------------------------------------------------------------
-- MULTIPLE_PERMISSIVE: per role and command; a PUBLIC policy counts for every role.
CREATE TABLE aud.multi (id int, user_id uuid, published boolean);
ALTER TABLE aud.multi ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON aud.multi FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
CREATE POLICY pub ON aud.multi FOR SELECT USING (published);
CREATE POLICY own_all ON aud.multi TO authenticated, anon USING ((select auth.uid()) = user_id);
CREATE POLICY strict ON aud.multi AS RESTRICTIVE FOR SELECT TO authenticated USING (id > 0);
SELECT * FROM pg_temp.findings('multi') ORDER BY roles, command;
SELECT message FROM oauth_rls.audit('{aud}') WHERE code = 'MULTIPLE_PERMISSIVE' ORDER BY roles, command LIMIT 1;
DROP POLICY own ON aud.multi;
DROP POLICY own_all ON aud.multi;
SELECT * FROM pg_temp.findings('multi');

---------------------------------------------------------------------------
-- ALWAYS_TRUE_WRITE
CREATE TABLE aud.writes (id int, user_id uuid);
ALTER TABLE aud.writes ENABLE ROW LEVEL SECURITY;
CREATE POLICY w_insert ON aud.writes FOR INSERT TO authenticated WITH CHECK (true);
CREATE POLICY w_update ON aud.writes FOR UPDATE TO anon USING (1 = 1);
CREATE POLICY w_delete ON aud.writes FOR DELETE USING (true OR user_id IS NULL);
-- Not always true: no expression at all denies; a service_role policy is not for users.
CREATE POLICY w_insert_none ON aud.writes FOR INSERT TO anon;
CREATE POLICY w_service ON aud.writes FOR UPDATE TO service_role USING (true);
SELECT * FROM pg_temp.findings('writes') ORDER BY policy;
SELECT message FROM oauth_rls.audit('{aud}') WHERE code = 'ALWAYS_TRUE_WRITE' ORDER BY policy_name;
ALTER POLICY w_insert ON aud.writes WITH CHECK ((select auth.uid()) = user_id);
ALTER POLICY w_update ON aud.writes USING ((select auth.uid()) = user_id);
ALTER POLICY w_delete ON aud.writes USING ((select auth.uid()) = user_id);
SELECT * FROM pg_temp.findings('writes');

---------------------------------------------------------------------------
-- JWT_CLIENT_ID, and the plan / apply / revert cycle on what is left.
CREATE TABLE aud.user_data (id int, user_id uuid);
ALTER TABLE aud.user_data ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON aud.user_data TO authenticated;
CREATE POLICY ud ON aud.user_data TO authenticated
  USING (auth.uid() = user_id AND ((auth.jwt() ->> 'client_id') IS NULL
                                   OR (auth.jwt() ->> 'client_id') = ANY ('{fp-web,fp-mobile}')))
  WITH CHECK ((select auth.uid()) = user_id AND ((select auth.jwt()) ->> 'client_id') IS NULL);
SELECT * FROM pg_temp.findings('user_data') ORDER BY code;
SELECT fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'JWT_CLIENT_ID';

CREATE TABLE pg_temp.before AS
  SELECT p.polname, oauth_rls._policy_ddl(p.oid) AS ddl FROM pg_policy p
   WHERE p.polrelid = 'aud.user_data'::regclass;
SELECT oauth_rls.set_access('aud.aware_1', 'third_party', '{}');
SELECT * FROM oauth_rls.plan_rewrite('{aud}');
SELECT * FROM oauth_rls.apply_rewrite('{aud}');
SELECT * FROM oauth_rls.plan_rewrite('{aud}');
SELECT code, count(*) FROM oauth_rls.audit('{aud}') GROUP BY code ORDER BY code;
SELECT kind, tbl, policy_name, original_ddl FROM oauth_rls.rewrite_log ORDER BY id;
SELECT * FROM oauth_rls.revert_rewrite('{aud}');
-- Restored exactly, and the rewrite is planned again.
SELECT b.polname, b.ddl = oauth_rls._policy_ddl(p.oid) AS same
  FROM pg_temp.before b JOIN pg_policy p ON p.polrelid = 'aud.user_data'::regclass AND p.polname = b.polname;
SELECT count(*) AS planned_again FROM oauth_rls.plan_rewrite('{aud}');
SELECT count(*) AS left_unreverted FROM oauth_rls.rewrite_log WHERE reverted_at IS NULL;
-- A policy edited after the rewrite is not silently overwritten.
SELECT count(*) FROM oauth_rls.apply_rewrite('{aud}');
ALTER POLICY ud ON aud.user_data USING (false);
SELECT * FROM oauth_rls.revert_rewrite('{aud}');

---------------------------------------------------------------------------
-- NOT_CLIENT_AWARE is decided per command: permissive policies are ORed, so
-- one that ignores the client lets every OAuth client in, whatever another
-- policy checks.  FOR ALL on the owner, and a SELECT policy that tests the
-- client: a third-party client could still update and delete the user's rows.
CREATE TABLE aud.mixed (id int, user_id uuid);
ALTER TABLE aud.mixed ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON aud.mixed TO authenticated;
CREATE POLICY owner_all ON aud.mixed FOR ALL TO authenticated USING ((select auth.uid()) = user_id);
CREATE POLICY read_direct ON aud.mixed FOR SELECT TO authenticated
  USING ((select auth.uid()) = user_id AND (select oauth_rls.client_id()) IS NULL);
SELECT * FROM pg_temp.findings('mixed');
SELECT message, fix_ddl FROM oauth_rls.audit('{aud}') WHERE table_name = 'mixed';
SELECT p AS planned FROM oauth_rls.plan_rewrite('{aud}') p WHERE p LIKE '%aud.mixed%';
-- A restrictive policy that looks at the client limits every permissive one,
-- but only for its commands and roles.
CREATE POLICY oauth_read ON aud.mixed AS RESTRICTIVE FOR SELECT TO authenticated
  USING ((select oauth_rls.current_tier()) IN ('direct', 'first_party'));
CREATE POLICY oauth_anon ON aud.mixed AS RESTRICTIVE FOR ALL TO anon
  USING ((select oauth_rls.current_tier()) IN ('direct', 'first_party'));
SELECT message FROM oauth_rls.audit('{aud}') WHERE table_name = 'mixed' AND code = 'NOT_CLIENT_AWARE';
CREATE POLICY oauth_all ON aud.mixed AS RESTRICTIVE FOR ALL
  USING ((select oauth_rls.current_tier()) IN ('direct', 'first_party'));
SELECT * FROM pg_temp.findings('mixed');
-- Commands the API roles may not run do not count ...
CREATE TABLE aud.read_only (id int, user_id uuid);
ALTER TABLE aud.read_only ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON aud.read_only TO authenticated;
CREATE POLICY owner_all ON aud.read_only FOR ALL TO authenticated USING ((select auth.uid()) = user_id);
CREATE POLICY oauth_read ON aud.read_only AS RESTRICTIVE FOR SELECT TO authenticated
  USING ((select oauth_rls.client_id()) IS NULL);
SELECT * FROM pg_temp.findings('read_only');
DROP POLICY oauth_read ON aud.read_only;
SELECT message FROM oauth_rls.audit('{aud}') WHERE table_name = 'read_only' AND code = 'NOT_CLIENT_AWARE';
-- ... and a policy for a role that authenticated belongs to applies to it
-- as Postgres applies it: only where authenticated inherits that role's
-- privileges (Supabase makes it INHERIT since 2023-05; older projects have
-- NOINHERIT).
CREATE ROLE aud_api_users NOLOGIN;
GRANT aud_api_users TO authenticated;
CREATE POLICY oauth_members ON aud.read_only AS RESTRICTIVE FOR SELECT TO aud_api_users
  USING ((select oauth_rls.client_id()) IS NULL);
SELECT * FROM pg_temp.findings('read_only');
BEGIN;
ALTER ROLE authenticated NOINHERIT;
-- Up to PostgreSQL 15 the role's INHERIT attribute decides for all its
-- memberships, so authenticated no longer inherits aud_api_users and the
-- policy no longer applies to it; from 16 a membership keeps the INHERIT
-- option it was granted with (from the INHERIT role: yes), so it still does.
-- The audit follows whichever PostgreSQL applies.
SELECT pg_has_role('authenticated', 'aud_api_users', 'USAGE')
         = (current_setting('server_version_num')::int >= 160000) AS inherits_as_this_version_does,
       (SELECT count(*) FROM pg_temp.findings('read_only'))
         = CASE WHEN pg_has_role('authenticated', 'aud_api_users', 'USAGE') THEN 0 ELSE 1 END AS audit_agrees;
-- A membership granted while authenticated is NOINHERIT does not inherit, on
-- every version: the policy does not apply.
REVOKE aud_api_users FROM authenticated;
GRANT aud_api_users TO authenticated;
SELECT pg_has_role('authenticated', 'aud_api_users', 'USAGE') AS inherits;
SELECT * FROM pg_temp.findings('read_only');
ROLLBACK;
DROP TABLE aud.mixed, aud.read_only;
REVOKE aud_api_users FROM authenticated;
DROP ROLE aud_api_users;

---------------------------------------------------------------------------
-- GUARD_EDITED: a guard is exactly (select oauth_rls.allows(...)); anything
-- around the call could change its answer.
CREATE TABLE aud.edited (id int);
ALTER TABLE aud.edited ENABLE ROW LEVEL SECURITY;
SELECT oauth_rls.guard('aud.edited');
ALTER POLICY oauth_rls_guard_select ON aud.edited
  USING ((select oauth_rls.allows('aud.edited', 'select') OR true));
ALTER POLICY oauth_rls_guard_delete ON aud.edited
  USING ((select oauth_rls.allows('aud.edited', 'delete') IS NOT NULL));
ALTER POLICY oauth_rls_guard_insert ON aud.edited
  WITH CHECK ((select oauth_rls.allows('aud.edited', 'insert')) OR (select oauth_rls.is_oauth()));
SELECT * FROM pg_temp.findings('edited') ORDER BY policy;
SELECT oauth_rls.guard('aud.edited');
SELECT * FROM pg_temp.findings('edited');
DROP TABLE aud.edited;

---------------------------------------------------------------------------
-- VIEW_BYPASSES_RLS: a view reads with its owner's rights (unless
-- security_invoker), and the owner of a table is exempt from its RLS.
CREATE TABLE aud.secrets (id int, user_id uuid);
ALTER TABLE aud.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON aud.secrets FOR ALL TO authenticated USING ((select auth.uid()) = user_id);
INSERT INTO aud.secrets VALUES (1, 'a1a1a1a1-0000-4000-8000-000000000001');
SELECT oauth_rls.guard('aud.secrets');
CREATE VIEW aud.secrets_v AS SELECT s.id FROM aud.secrets s;
CREATE VIEW aud.secrets_nested AS
  SELECT m.user_id FROM aud.members m WHERE EXISTS (SELECT 1 FROM aud.secrets s WHERE s.user_id = m.user_id);
CREATE VIEW aud.secrets_invoker WITH (security_invoker = on) AS SELECT s.id FROM aud.secrets s;
CREATE VIEW aud.secrets_unexposed AS SELECT s.id FROM aud.secrets s;
CREATE VIEW aud.members_v AS SELECT m.team_id FROM aud.members m;
CREATE MATERIALIZED VIEW aud.secrets_mv AS SELECT s.id FROM aud.secrets s;
-- Owned by a role that is not exempt, a view reads under the table's
-- policies and guards (as that role): not reported.
CREATE ROLE aud_view_owner NOLOGIN;
-- (postgres, not a superuser, may hand a view to a role it belongs to and
-- that may create in the schema)
GRANT aud_view_owner TO postgres;
GRANT USAGE, CREATE ON SCHEMA aud TO aud_view_owner;
GRANT SELECT ON aud.secrets TO aud_view_owner;
CREATE VIEW aud.secrets_other_owner AS SELECT s.id FROM aud.secrets s;
ALTER VIEW aud.secrets_other_owner OWNER TO aud_view_owner;
GRANT SELECT ON aud.secrets, aud.secrets_v, aud.secrets_nested, aud.secrets_invoker, aud.members_v,
  aud.secrets_mv, aud.secrets_other_owner TO authenticated;
GRANT SELECT ON aud.secrets_v TO anon;
SELECT * FROM pg_temp.findings() WHERE tbl LIKE 'secrets%' OR tbl = 'members_v' ORDER BY 1;
SELECT table_name, message, fix_ddl FROM oauth_rls.audit('{aud}')
 WHERE code = 'VIEW_BYPASSES_RLS' ORDER BY table_name;
-- What it means: a third-party client sees nothing in the guarded table,
-- and the user's row through the view.
BEGIN;
SELECT oauth_rls.act_as('a1a1a1a1-0000-4000-8000-000000000001', client_id => 'some-partner') IS NOT NULL AS acting;
SELECT (SELECT count(*) FROM aud.secrets) AS through_table, (SELECT count(*) FROM aud.secrets_v) AS through_view,
       (SELECT count(*) FROM aud.secrets_invoker) AS through_invoker_view;
ROLLBACK;
-- The fix: the view reads with the caller's rights, policies and guards apply.
SELECT fix_ddl FROM oauth_rls.audit('{aud}') WHERE code = 'VIEW_BYPASSES_RLS' AND fix_ddl IS NOT NULL
 ORDER BY table_name \gexec
BEGIN;
SELECT oauth_rls.act_as('a1a1a1a1-0000-4000-8000-000000000001', client_id => 'some-partner') IS NOT NULL AS acting;
SELECT (SELECT count(*) FROM aud.secrets_v) AS through_view;
RESET ROLE;
SELECT oauth_rls.act_as('a1a1a1a1-0000-4000-8000-000000000001') IS NOT NULL AS acting;
SELECT (SELECT count(*) FROM aud.secrets_v) AS direct_session_through_view;
ROLLBACK;
SELECT * FROM pg_temp.findings() WHERE tbl LIKE 'secrets%' ORDER BY 1;
DROP OWNED BY aud_view_owner;
DROP ROLE aud_view_owner;
DROP MATERIALIZED VIEW aud.secrets_mv;
DROP VIEW aud.secrets_v, aud.secrets_nested, aud.secrets_invoker, aud.secrets_unexposed, aud.members_v;
DROP TABLE aud.secrets;

---------------------------------------------------------------------------
-- The rewrite log forgets dropped tables, and revert_rewrite() removes only
-- the guard record the rewrite made: a table that reuses a dropped table's
-- oid is never unguarded by an old log entry.
CREATE SCHEMA aud_log;
GRANT USAGE ON SCHEMA aud_log TO authenticated;
CREATE TABLE aud_log.gone (id int, user_id uuid);
ALTER TABLE aud_log.gone ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON aud_log.gone TO authenticated;
CREATE POLICY owner_read ON aud_log.gone FOR SELECT TO authenticated USING (auth.uid() = user_id);
SELECT 'aud_log.gone'::regclass::oid AS gone_oid \gset
SELECT * FROM oauth_rls.apply_rewrite('{aud_log}');
SELECT kind, count(*) FROM oauth_rls.rewrite_log WHERE tbl = :gone_oid GROUP BY kind ORDER BY kind;
DROP TABLE aud_log.gone;
SELECT count(*) AS log_entries_of_dropped_table FROM oauth_rls.rewrite_log WHERE tbl = :gone_oid;
-- A log entry left by a table whose oid a new, hand-guarded table got (made
-- here by hand: oids cannot be chosen).
CREATE TABLE aud_log.fresh (id int);
ALTER TABLE aud_log.fresh ENABLE ROW LEVEL SECURITY;
SELECT oauth_rls.guard('aud_log.fresh');
-- (Only the extension and a superuser write the log: supabase_admin forges it.)
RESET SESSION AUTHORIZATION;
INSERT INTO oauth_rls.rewrite_log (applied_at, kind, tbl, applied_ddl)
  VALUES (now() - interval '1 day', 'guard', 'aud_log.fresh', 'SELECT oauth_rls.guard(''aud_log.gone''::regclass);');
SET SESSION AUTHORIZATION postgres;
SELECT * FROM oauth_rls.revert_rewrite('{aud_log}');
SELECT cmd, oauth_rls.guard_policy_intact('aud_log.fresh', cmd) AS still_guarded
  FROM unnest(ARRAY['select', 'insert', 'update', 'delete']) cmd;
SELECT count(*) AS unreverted FROM oauth_rls.rewrite_log l WHERE l.tbl = 'aud_log.fresh'::regclass AND reverted_at IS NULL;
DROP SCHEMA aud_log CASCADE;

---------------------------------------------------------------------------
-- Supabase's schemas are skipped unless named; the API roles cannot run it.
-- On Supabase only Auth's role creates tables in auth (postgres may not).
SET SESSION AUTHORIZATION supabase_auth_admin;
CREATE TABLE auth.audit_probe (id int);
GRANT SELECT ON auth.audit_probe TO anon;
SET SESSION AUTHORIZATION postgres;
SELECT count(*) FILTER (WHERE schema_name = 'auth') AS auth_findings_unnamed FROM oauth_rls.audit(NULL);
SELECT table_name, code FROM oauth_rls.audit('{auth}') WHERE table_name = 'audit_probe';
SET SESSION AUTHORIZATION supabase_auth_admin;
DROP TABLE auth.audit_probe;
SET SESSION AUTHORIZATION postgres;
SET ROLE authenticated;
SELECT * FROM oauth_rls.audit();
SELECT * FROM oauth_rls.plan_rewrite();
RESET ROLE;

-- Leave the database as found for the tests that follow.
DROP SCHEMA aud CASCADE;
DELETE FROM oauth_rls.rewrite_log;
SELECT count(*) AS matrix_rows_left FROM oauth_rls.access_matrix;
