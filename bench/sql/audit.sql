-- bench/sql/audit.sql: oauth_rls.audit() and plan_rewrite() as a ratio to
-- reading every policy's expressions once (issue 11's targets: <= 3x, and
-- ten copies of a schema <= 12x one copy).
--   * 2,000 tables with three typical policies each;
--   * a schema in the style of multi-tenant projects (membership through
--     SECURITY DEFINER helpers, an admin self-reference, a plpgsql helper),
--     in ten copies: one copy audited, and all ten.
-- The baseline reads each policy's USING and WITH CHECK once, the way
-- pg_policies shows them (pg_get_expr), over the same schemas.  The literal
-- SELECT count(*) FROM pg_policies (which deparses nothing) is measured
-- beside it for reference.
-- psql variables: tables, rounds.
\set ON_ERROR_STOP 1

\echo [bench] audit: creating tables
CREATE SCHEMA bench_audit;
GRANT USAGE ON SCHEMA bench_audit TO anon, authenticated;
SELECT format($ddl$
  CREATE TABLE bench_audit.t%1$s (id bigint PRIMARY KEY, user_id uuid NOT NULL, body text);
  ALTER TABLE bench_audit.t%1$s ENABLE ROW LEVEL SECURITY;
  GRANT SELECT, INSERT, UPDATE, DELETE ON bench_audit.t%1$s TO authenticated;
  CREATE POLICY owner_read ON bench_audit.t%1$s FOR SELECT TO authenticated USING (auth.uid() = user_id);
  CREATE POLICY owner_insert ON bench_audit.t%1$s FOR INSERT TO authenticated
    WITH CHECK ((SELECT auth.uid()) = user_id);
  CREATE POLICY first_party_update ON bench_audit.t%1$s FOR UPDATE TO authenticated
    USING (auth.uid() = user_id AND (auth.jwt() ->> 'client_id') IS NULL);
  $ddl$, k)
FROM generate_series(1, :tables) k \gexec

\echo [bench] audit: creating ten copies of a schema with helpers
SELECT format($ddl$
  CREATE SCHEMA %1$I;
  GRANT USAGE ON SCHEMA %1$I TO anon, authenticated;
  CREATE TABLE %1$I.profiles (id uuid PRIMARY KEY, role text NOT NULL DEFAULT 'member', full_name text);
  CREATE TABLE %1$I.orgs (id uuid PRIMARY KEY, name text NOT NULL, public boolean NOT NULL DEFAULT false);
  CREATE TABLE %1$I.members (org_id uuid REFERENCES %1$I.orgs, user_id uuid, role text NOT NULL,
                             PRIMARY KEY (org_id, user_id));
  CREATE TABLE %1$I.projects (id uuid PRIMARY KEY, org_id uuid REFERENCES %1$I.orgs, name text);
  CREATE TABLE %1$I.tasks (id uuid PRIMARY KEY, project_id uuid REFERENCES %1$I.projects, title text,
                           assignee uuid);
  CREATE TABLE %1$I.comments (id uuid PRIMARY KEY, task_id uuid REFERENCES %1$I.tasks, author uuid, body text);
  CREATE TABLE %1$I.invoices (id uuid PRIMARY KEY, org_id uuid REFERENCES %1$I.orgs, total numeric);
  CREATE TABLE %1$I.audit_log (id bigint PRIMARY KEY, org_id uuid, actor uuid, at timestamptz);
  CREATE FUNCTION %1$I.is_member(org uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = '' AS 'SELECT EXISTS (SELECT 1 FROM %1$I.members m WHERE m.org_id = org AND m.user_id = auth.uid())';
  CREATE FUNCTION %1$I.has_role(org uuid, wanted text) RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = '' AS 'BEGIN RETURN EXISTS (SELECT 1 FROM %1$I.members m WHERE m.org_id = org
      AND m.user_id = auth.uid() AND m.role = wanted); END';
  CREATE FUNCTION %1$I.is_admin() RETURNS boolean LANGUAGE sql STABLE
    AS 'SELECT coalesce((auth.jwt() -> ''app_metadata'' ->> ''admin'')::boolean, false)';
  ALTER TABLE %1$I.profiles ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.orgs ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.members ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.projects ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.tasks ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.comments ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.invoices ENABLE ROW LEVEL SECURITY;
  ALTER TABLE %1$I.audit_log ENABLE ROW LEVEL SECURITY;
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %1$I TO authenticated;
  GRANT SELECT ON %1$I.orgs TO anon;
  CREATE POLICY read_all ON %1$I.profiles FOR SELECT TO authenticated USING (true);
  CREATE POLICY own ON %1$I.profiles FOR UPDATE TO authenticated USING (id = auth.uid());
  CREATE POLICY admin_delete ON %1$I.profiles FOR DELETE TO authenticated
    USING (EXISTS (SELECT 1 FROM %1$I.profiles p WHERE p.id = auth.uid() AND p.role = 'admin'));
  CREATE POLICY public_orgs ON %1$I.orgs FOR SELECT TO anon, authenticated USING (public);
  CREATE POLICY member_orgs ON %1$I.orgs FOR SELECT TO authenticated USING (%1$I.is_member(id));
  CREATE POLICY own_membership ON %1$I.members FOR SELECT TO authenticated USING (user_id = auth.uid());
  CREATE POLICY owner_manages ON %1$I.members FOR ALL TO authenticated
    USING (%1$I.has_role(org_id, 'owner')) WITH CHECK (%1$I.has_role(org_id, 'owner'));
  CREATE POLICY member_projects ON %1$I.projects FOR ALL TO authenticated USING (%1$I.is_member(org_id));
  CREATE POLICY member_tasks ON %1$I.tasks FOR ALL TO authenticated
    USING (EXISTS (SELECT 1 FROM %1$I.projects p WHERE p.id = project_id AND %1$I.is_member(p.org_id)));
  CREATE POLICY read_comments ON %1$I.comments FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM %1$I.tasks t WHERE t.id = task_id));
  CREATE POLICY write_comments ON %1$I.comments FOR INSERT TO authenticated WITH CHECK (author = auth.uid());
  CREATE POLICY billing ON %1$I.invoices FOR SELECT TO authenticated
    USING (%1$I.has_role(org_id, 'billing') OR %1$I.is_admin());
  CREATE POLICY no_direct_edit ON %1$I.invoices AS RESTRICTIVE FOR ALL TO authenticated
    USING (oauth_rls.is_first_party());
  CREATE POLICY read_log ON %1$I.audit_log FOR SELECT TO authenticated USING (%1$I.is_admin());
  $ddl$, 'bench_helpers_' || k)
FROM generate_series(1, 10) k \gexec
ANALYZE;

INSERT INTO bench.comparisons VALUES
  ('audit', 6, 'baseline: each policy expression read once', 'ms',
   'whole call; baseline: pg_get_expr of every USING and WITH CHECK of the same schemas');

\echo [bench] audit
SELECT bench.run('audit', to_char(:tables, 'FM999,999') || ' tables x 3 policies',
                 ARRAY['baseline: each policy expression read once', 'reference: SELECT count(*) FROM pg_policies',
                       'oauth_rls.audit()', 'oauth_rls.plan_rewrite()'],
                 ARRAY['none', 'none', 'none', 'none'],
                 ARRAY['SELECT count(qual) + count(with_check) FROM pg_policies WHERE schemaname = ''bench_audit''',
                       'SELECT count(*) FROM pg_policies',
                       'SELECT count(*) FROM oauth_rls.audit(ARRAY[''bench_audit''])',
                       'SELECT count(*) FROM oauth_rls.plan_rewrite(ARRAY[''bench_audit''])'],
                 ARRAY[''], ARRAY[''], :rounds, 1) \g /dev/null
-- The helper schema is small: each measurement repeats the call 20 times.
SELECT bench.run('audit', 'schema with helpers, 10 copies',
                 ARRAY['baseline: each policy expression read once', 'oauth_rls.audit()',
                       'oauth_rls.plan_rewrite()', 'oauth_rls.audit(), one copy',
                       'baseline, one copy'],
                 ARRAY['none', 'none', 'none', 'none', 'none'],
                 ARRAY['SELECT count(qual) + count(with_check) FROM pg_policies WHERE schemaname LIKE ''bench\_helpers\_%''',
                       'SELECT count(*) FROM oauth_rls.audit(ARRAY(SELECT ''bench_helpers_'' || k FROM generate_series(1, 10) k))',
                       'SELECT count(*) FROM oauth_rls.plan_rewrite(ARRAY(SELECT ''bench_helpers_'' || k FROM generate_series(1, 10) k))',
                       'SELECT count(*) FROM oauth_rls.audit(ARRAY[''bench_helpers_1''])',
                       'SELECT count(qual) + count(with_check) FROM pg_policies WHERE schemaname = ''bench_helpers_1'''],
                 ARRAY[''], ARRAY[''], :rounds, 20) \g /dev/null
