-- bench/sql/audit.sql: oauth_rls.audit() and plan_rewrite() over many tables
-- with three typical policies each (issue 3's target: 2,000 tables < 2 s).
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
ANALYZE;

-- The floor: reading every policy's expressions once, as text (the least any
-- audit of these policies must do).
INSERT INTO bench.comparisons VALUES
  ('audit', 6, 'floor: read pg_policies once', 'ms', 'whole call over schema bench_audit');

\echo [bench] audit
SELECT bench.run('audit', to_char(:tables, 'FM999,999') || ' tables x 3 policies',
                 ARRAY['floor: read pg_policies once', 'oauth_rls.audit()', 'oauth_rls.plan_rewrite()'],
                 ARRAY['none', 'none', 'none'],
                 ARRAY['SELECT sum(length(coalesce(qual, '''')) + length(coalesce(with_check, ''''))) FROM pg_policies WHERE schemaname = ''bench_audit''',
                       'SELECT count(*) FROM oauth_rls.audit(ARRAY[''bench_audit''])',
                       'SELECT count(*) FROM oauth_rls.plan_rewrite(ARRAY[''bench_audit''])'],
                 ARRAY[''], ARRAY[''], :rounds, 1) \g /dev/null
