-- oauth_rls upgrade 0.1.0 -> 0.2.0, part 40: the audit and the rewrite
-- (issue 11, issue 10 item 9).  Each function here is the one of
-- sql/install/20_policies.sql or 25_audit.sql, replaced as a whole.

-- Their results gained columns: dropped and created again.
DROP FUNCTION oauth_rls._policy_facts(pg_node_tree, pg_node_tree);
DROP FUNCTION oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid);

CREATE OR REPLACE FUNCTION oauth_rls._guard_expression(tbl regclass, command text) RETURNS text
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
  SELECT format('oauth_rls.allows(%L::regclass, %L)', tbl::text, command)
$$;

CREATE FUNCTION oauth_rls._policy_facts(
    qual pg_node_tree, with_check pg_node_tree,
    OUT per_row_calls text[], OUT client_aware boolean, OUT user_metadata boolean,
    OUT using_true boolean, OUT check_true boolean, OUT jwt_client_tests integer,
    OUT guard_table oid, OUT guard_command text, OUT reads_tables oid[], OUT has_sublink boolean,
    OUT helpers oid[], OUT helpers_unread oid[], OUT helper_tables oid[])
  AS 'MODULE_PATHNAME', 'oauth_rls_policy_facts' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._policy_facts(pg_node_tree, pg_node_tree) IS
  'Internal to oauth_rls.audit() and guard_policy_intact(): what a policy''s expression trees call and read';

CREATE FUNCTION oauth_rls._rewrite_policy(qual pg_node_tree, with_check pg_node_tree, relid oid,
    OUT new_qual text, OUT new_check text, OUT changes text[])
  AS 'MODULE_PATHNAME', 'oauth_rls_rewrite_policy' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid) IS
  'Internal to oauth_rls.plan_rewrite(): each expression with auth.uid(), auth.jwt() and auth.jwt() ->> ''client_id'' replaced by their oauth_rls equivalents (NULL where nothing changes), and what was replaced';

-- Every policy of the given tables as audit() reads it (its table's names,
-- its commands, its roles' names, whether the API roles anon and
-- authenticated are subject to it), with the facts of _policy_facts() and,
-- for the policies audit() rewrites, the ALTER POLICY that applies what
-- _rewrite_policy() returns and what it replaces: each tree parsed once, in
-- one call (C, see src/audit_policies.c).  shares_command: another
-- permissive policy of the table (guards aside) covers one of its commands;
-- has_per_row, has_helpers, has_unread: per_row_calls, helpers,
-- helpers_unread are not empty.  The columns audit() filters on come first.
-- Each table's policies are followed by its summary (is_table): how many
-- policies, permissive ones, their names, whether one reads the client, its
-- guard policies, and for which API roles and commands OAuth clients get
-- whatever the user gets (unaware_*: the policies that let them in).  The
-- messages of the findings made for most policies and tables
-- (PER_ROW_CALL, JWT_CLIENT_ID, NOT_CLIENT_AWARE with its fix and plan
-- note) come with them, made in C rather than by format() per finding.
CREATE FUNCTION oauth_rls._audit_policies(tables oid[], anon oid, authenticated oid)
  RETURNS TABLE (is_table boolean, guard_named boolean, polpermissive boolean, has_sublink boolean,
                 user_metadata boolean, shares_command boolean, for_api boolean,
                 jwt_client_tests integer, has_per_row boolean, has_helpers boolean,
                 has_unread boolean, client_aware boolean,
                 polrelid oid, oid oid, polname name, polcmd "char", cmd text, cmds text[],
                 polroles oid[], has_qual boolean, has_check boolean, using_true boolean,
                 check_true boolean, guard_table oid, guard_command text,
                 anon_subject boolean, authenticated_subject boolean,
                 nspname name, relname name, qname text, role_names text[], per_row_calls text[],
                 reads_tables oid[], helpers oid[], helpers_unread oid[], helper_tables oid[],
                 rewrite_ddl text, rewrite_note text,
                 policies integer, permissive_policies integer, policy_names text,
                 table_client_aware boolean, guard_policies text[], unaware_roles text[],
                 unaware_commands text, unaware_policies text, unaware_n integer,
                 per_row_message text, jwt_message text,
                 unaware_message text, unaware_fix text, unaware_note text)
  AS 'MODULE_PATHNAME', 'oauth_rls_audit_policies' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._audit_policies(oid[], oid, oid) IS
  'Internal to oauth_rls.audit(): the policies of the given tables with what their trees call and read, and their rewrite where audit() proposes one';

-- The commands an API role may run on a relation (C, see
-- src/audit_access.c): bits 1 select, 2 insert, 4 update, 8 delete, where
-- the role may use the schema and holds a table privilege, or a column
-- privilege for select, insert and update.
CREATE FUNCTION oauth_rls._api_commands(relid oid, nsp oid, role oid) RETURNS integer
  AS 'MODULE_PATHNAME', 'oauth_rls_api_commands' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._api_commands(oid, oid, oid) IS
  'Internal to oauth_rls.audit(): the commands a role may run on a relation (schema USAGE and a table or column privilege), as bits 1 select, 2 insert, 4 update, 8 delete';

CREATE FUNCTION oauth_rls._public_buckets() RETURNS SETOF text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF to_regclass('storage.buckets') IS NOT NULL
     AND has_table_privilege('storage.buckets', 'SELECT') THEN
    RETURN QUERY EXECUTE 'SELECT b.id::text FROM storage.buckets b WHERE b.public ORDER BY 1';
  END IF;
END
$$;

CREATE FUNCTION oauth_rls._audit(schemas text[], plan_only boolean)
  RETURNS TABLE (relid oid, schema_name name, table_name name, policy_name name, command text,
                 roles text[], severity text, code text, message text, fix_ddl text, plan_note text)
  -- The catalogs are small to the executor, but the planner's row estimates
  -- for them are large: JIT compilation would cost seconds for nothing.  The
  -- findings of thousands of tables are sorted in memory, not on disk.  The
  -- planner estimates every CTE at a handful of rows, and would join two of
  -- them in a nested loop (quadratic: 2,000 tables took seconds): only hash
  -- and merge joins here, so the audit stays linear in the policies it reads.
  -- The per-policy function calls (LATERAL) remain loops, one call per row.
  -- plpgsql, with one generic plan: planning this query takes longer than
  -- running it on a large schema, and a SQL function would plan it again at
  -- every call; now a session plans it once.
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '64MB'
  SET enable_nestloop = off SET plan_cache_mode = force_generic_plan AS
$$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH RECURSIVE api_role AS (
  -- The roles PostgREST switches to for users and their OAuth clients.
  SELECT r.oid, r.rolname FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated')
),
api_oid AS (
  -- The two API roles' oids (NULL where a role does not exist: the privilege
  -- functions then answer NULL, which counts as no).
  SELECT (SELECT r.oid FROM pg_roles r WHERE r.rolname = 'anon') AS anon,
         (SELECT r.oid FROM pg_roles r WHERE r.rolname = 'authenticated') AS authenticated
),
ext_member AS (
  -- Relations and functions an extension owns: they are the extension's
  -- business.  Read from the extensions' side of pg_depend (an index), once.
  SELECT d.classid, d.objid FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
),
rel_base AS (
  -- The relations of the audited schemas.  (A fence, OFFSET 0: the checks
  -- below run on these rows only, not on every row of pg_class.)
  SELECT c.oid, c.relname, c.relkind, c.relowner, c.relrowsecurity, c.reloptions, n.oid AS nsp,
         n.nspname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm')
     AND CASE WHEN schemas IS NULL
              THEN n.nspname <> ALL (oauth_rls._platform_schemas()) AND n.nspname !~ '^pg_'
              ELSE n.nspname = ANY (schemas) END
  OFFSET 0
),
rel AS MATERIALIZED (
  -- Tables, views and materialized views of the audited schemas, but an
  -- extension's, with the API roles that can read them (SELECT) and reach
  -- them (any command).  (What is read per relation is read by index or in
  -- one pass: the cost follows the audited schemas, not the catalogs.)
  SELECT c.oid, c.nspname, c.relname, c.relkind, c.relowner, c.relrowsecurity, c.reloptions,
         format('%I.%I', c.nspname, c.relname) AS qname,
         array_remove(ARRAY[CASE WHEN x.anon_cmds & 1 <> 0 THEN 'anon' END,
                            CASE WHEN x.authenticated_cmds & 1 <> 0 THEN 'authenticated' END], NULL) AS readers,
         array_remove(ARRAY[CASE WHEN x.anon_cmds <> 0 THEN 'anon' END,
                            CASE WHEN x.authenticated_cmds <> 0 THEN 'authenticated' END], NULL) AS reachers,
         x.anon_cmds, x.authenticated_cmds
    FROM rel_base c
   CROSS JOIN api_oid a
   -- The commands each API role may run on it (schema USAGE and a table or
   -- column privilege), as bits: 1 select, 2 insert, 4 update, 8 delete.
   -- One call per role reads each ACL once.
   CROSS JOIN LATERAL (SELECT coalesce(oauth_rls._api_commands(c.oid, c.nsp, a.anon), 0) AS anon_cmds,
                              coalesce(oauth_rls._api_commands(c.oid, c.nsp, a.authenticated), 0)
                                AS authenticated_cmds) x
   WHERE c.oid NOT IN (SELECT e.objid FROM ext_member e WHERE e.classid = 'pg_class'::regclass)
),
tbl AS MATERIALIZED (
  SELECT r.oid, r.nspname, r.relname, r.relrowsecurity, r.qname, r.readers, r.reachers,
         r.anon_cmds, r.authenticated_cmds,
         EXISTS (SELECT 1 FROM oauth_rls.guarded_tables g WHERE g.tbl = r.oid) AS guarded
    FROM rel r
   WHERE r.relkind IN ('r', 'p')
),
scan AS MATERIALIZED (
  -- The policies of the tables, with their facts and rewrites, and each
  -- table's summary: one call.
  -- (The function's rows are stored as they come: no join, no projection.)
  SELECT * FROM oauth_rls._audit_policies(ARRAY(SELECT t.oid FROM tbl t), (SELECT a.anon FROM api_oid a),
                                          (SELECT a.authenticated FROM api_oid a))
),
pol AS NOT MATERIALIZED (
  -- cmd is the command as audit() names it (all for ALL), cmds the commands
  -- it covers; for_api whether anon or authenticated (directly or through
  -- PUBLIC) is subject to it.
  SELECT * FROM scan s WHERE NOT s.is_table
),
user_pol AS NOT MATERIALIZED (
  SELECT * FROM pol WHERE NOT guard_named
),
few AS MATERIALIZED (
  -- The policies the rarer findings look at, each only at policies of its
  -- kind (guards, policies with a subquery, a helper or user_metadata,
  -- permissive ones that share a command, always true or read tables):
  -- picked in one pass over all policies instead of one pass per finding.
  SELECT * FROM pol p
   WHERE p.guard_named OR p.has_sublink OR p.user_metadata OR p.shares_command OR p.has_helpers
      OR p.has_unread
      OR (p.polpermissive AND p.for_api AND p.cmd <> 'select'
          AND (coalesce(p.using_true, false) OR coalesce(p.check_true, false)))
      OR (p.polpermissive AND (cardinality(p.reads_tables) > 0 OR cardinality(p.helper_tables) > 0))
),
few_user AS NOT MATERIALIZED (
  SELECT * FROM few WHERE NOT guard_named
),
tstat AS MATERIALIZED (
  -- Per table, what its policies add up to (_audit_policies()'s summary).
  SELECT t.oid, t.nspname, t.relname, t.qname, t.relrowsecurity, t.readers, t.reachers, t.guarded,
         coalesce(s.policies, 0) AS policies, coalesce(s.permissive_policies, 0) AS permissive_policies,
         s.policy_names, coalesce(s.table_client_aware, false) AS client_aware,
         coalesce(s.guard_policies, '{}') AS guard_policies,
         s.unaware_roles, s.unaware_commands, s.unaware_policies, s.unaware_n,
         s.unaware_message, s.unaware_fix, s.unaware_note
    FROM tbl t
    LEFT JOIN scan s ON s.is_table AND s.polrelid = t.oid
),
unaware AS (
  -- Tables under row level security, not guarded, where OAuth clients get
  -- whatever the user gets: for some API role and command the role may run,
  -- a permissive policy that applies ignores the client (permissive
  -- policies are ORed, so it lets every client in whatever the others
  -- check) and no restrictive policy that applies looks at it.
  SELECT t.oid, t.unaware_roles AS roles, t.unaware_commands AS commands,
         t.unaware_policies AS policies, t.unaware_n AS n_policies, t.unaware_message AS message,
         t.unaware_fix AS fix_ddl, t.unaware_note AS plan_note
    FROM tstat t
   WHERE t.relrowsecurity AND NOT t.guarded AND t.unaware_roles IS NOT NULL
),
view_rel AS MATERIALIZED (
  -- Views and materialized views the API roles can use, and whether a view
  -- reads as its caller (security_invoker, PG 15+).
  SELECT r.oid, r.nspname, r.relname, r.relkind, r.relowner, r.qname, r.reachers,
         coalesce((SELECT substr(o, length('security_invoker=') + 1)::boolean
                     FROM unnest(r.reloptions) AS o WHERE o LIKE 'security\_invoker=%'), false) AS invoker
    FROM rel r
   WHERE r.relkind IN ('v', 'm')
),
view_bypass AS (
  -- The tables under row level security a view reads directly (its rule's
  -- dependencies) with its owner's rights, where the owner is exempt from
  -- row level security there: a superuser or BYPASSRLS role, or the
  -- table's owner unless the table forces RLS.  A materialized view holds
  -- the rows its owner read at the last refresh, whoever reads it.
  SELECT v.oid, v.nspname, v.relname, v.relkind, v.qname, v.reachers,
         string_agg(DISTINCT t.oid::regclass::text, ', ' ORDER BY t.oid::regclass::text) AS tables
    FROM view_rel v
    JOIN pg_roles o ON o.oid = v.relowner
   CROSS JOIN LATERAL (SELECT d.refobjid
                         FROM pg_rewrite w
                         JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                                         AND d.refclassid = 'pg_class'::regclass
                        WHERE w.ev_class = v.oid AND d.refobjid <> v.oid OFFSET 0) d
    JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p') AND t.relrowsecurity
   WHERE cardinality(v.reachers) > 0 AND NOT v.invoker
     AND (v.relkind = 'm' OR o.rolsuper OR o.rolbypassrls
          OR (pg_has_role(v.relowner, t.relowner, 'USAGE') AND NOT t.relforcerowsecurity))
   GROUP BY v.oid, v.nspname, v.relname, v.relkind, v.qname, v.reachers
),
guard_expect AS (
  -- What guard() makes for each command: name, command letter, which trees.
  SELECT * FROM (VALUES ('select', 'r', true, false), ('insert', 'a', false, true),
                        ('update', 'w', true, true), ('delete', 'd', true, false))
                AS v(cmd, letter, with_qual, with_check)
),
tier_commands AS (
  -- What each OAuth tier may do on each guarded table: its matrix entry,
  -- else the defaults (first_party everything, third_party nothing).
  SELECT t.oid, x.tier,
         coalesce(m.commands, CASE x.tier WHEN 'first_party' THEN '{select,insert,update,delete}'::text[]
                                          ELSE '{}'::text[] END) AS commands
    FROM tbl t
   CROSS JOIN (VALUES ('first_party'::oauth_rls.tier), ('third_party'::oauth_rls.tier)) AS x(tier)
    LEFT JOIN oauth_rls.access_matrix m ON m.tbl = t.oid AND m.tier = x.tier
   WHERE t.guarded
),
dependency AS (
  -- A policy that reads another guarded table sees it through that table's
  -- guards: where a tier may use the policy's table but not read the other,
  -- the policy finds no rows there and the matrix entry has no effect.
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.qname, p.role_names, c.cmd, a.tier,
         u.oid::regclass AS other
    FROM few_user p
   CROSS JOIN LATERAL unnest(p.cmds) AS c(cmd)
    JOIN tier_commands a ON a.oid = p.polrelid AND c.cmd = ANY (a.commands)
   CROSS JOIN LATERAL (SELECT DISTINCT x FROM unnest(p.reads_tables || p.helper_tables) AS x) AS r(relid)
    JOIN tier_commands u ON u.oid = r.relid AND u.tier = a.tier AND u.oid <> p.polrelid
   WHERE p.polpermissive AND NOT 'select' = ANY (u.commands)
),
cycle_table AS MATERIALIZED (
  -- The tables a policy recursion cycle can pass: those whose policies'
  -- subqueries read a table, and the tables they read.
  SELECT q.polrelid AS relid FROM few q WHERE q.has_sublink AND cardinality(q.reads_tables) > 0
  UNION
  SELECT r.relid FROM few q CROSS JOIN LATERAL unnest(q.reads_tables) AS r(relid)
   WHERE q.has_sublink AND cardinality(q.reads_tables) > 0
),
pol_cmd AS (
  -- For each table a cycle can pass and each command, whether the policies
  -- PostgreSQL applies hold a subquery (its policy recursion check runs
  -- then) and the tables those subqueries read.  UPDATE and DELETE also
  -- apply the SELECT policies (to the rows they read), INSERT only its own.
  SELECT p.polrelid AS relid, c.cmd, bool_or(p.has_sublink) AS has_sublink,
         array_agg(DISTINCT r.relid) FILTER (WHERE r.relid IS NOT NULL) AS reads,
         string_agg(DISTINCT p.polname, ', ') FILTER (WHERE cardinality(p.reads_tables) > 0) AS readers
    FROM few p
   CROSS JOIN LATERAL unnest(CASE p.polcmd WHEN 'r' THEN '{select,update,delete}'::text[] ELSE p.cmds END) AS c(cmd)
    LEFT JOIN LATERAL unnest(p.reads_tables) AS r(relid) ON true
   -- Only policies with a subquery start or continue a cycle.
   WHERE p.has_sublink AND p.polrelid IN (SELECT x.relid FROM cycle_table x)
   GROUP BY p.polrelid, c.cmd
),
walk (start, cmd, node, path) AS (
  -- PostgreSQL refuses a statement when the policies it adds to a table
  -- hold a subquery while that table's policies are already being expanded
  -- ("infinite recursion detected in policy"): follow the tables the
  -- subqueries read, through their SELECT policies, until one repeats.
  SELECT s.relid, s.cmd, u.relid, ARRAY[s.relid]
    FROM pol_cmd s CROSS JOIN LATERAL unnest(s.reads) AS u(relid)
   WHERE s.has_sublink
  UNION ALL
  SELECT w.start, w.cmd, u.relid, w.path || w.node
    FROM walk w
    JOIN pol_cmd s ON s.relid = w.node AND s.cmd = 'select' AND s.has_sublink
   CROSS JOIN LATERAL unnest(s.reads) AS u(relid)
   WHERE w.node <> ALL (w.path) AND cardinality(w.path) < 8
),
recursion AS (
  SELECT w.start, array_agg(DISTINCT w.cmd) AS cmds,
         (array_agg(array_to_string(ARRAY(SELECT x::regclass::text FROM unnest(w.path || w.node) AS x), ' -> ')
                    ORDER BY cardinality(w.path), w.cmd))[1] AS cycle
    FROM walk w
    JOIN pol_cmd s ON s.relid = w.node AND s.cmd = 'select' AND s.has_sublink
   WHERE w.node = ANY (w.path)
   GROUP BY w.start
),
helper_fn AS (
  -- The functions of the user's that policies call (helpers), and which
  -- policies call them.
  SELECT h.oid, string_agg(DISTINCT format('%I on %s', p.polname, p.qname), ', ') AS used_by
    FROM few p CROSS JOIN LATERAL unnest(p.helpers) AS h(oid)
   WHERE p.has_helpers
   GROUP BY h.oid
),
fn AS (
  -- Functions of the audited schemas the API roles may use, with who may
  -- execute them (PostgREST exposes them as /rest/v1/rpc/<name>).
  SELECT f.oid, n.nspname, f.proname, f.prosecdef,
         format('%I.%I(%s)', n.nspname, f.proname, pg_get_function_identity_arguments(f.oid)) AS signature,
         ARRAY(SELECT a.rolname::text FROM api_role a
                WHERE has_schema_privilege(a.oid, n.oid, 'USAGE')
                  AND has_function_privilege(a.oid, f.oid, 'EXECUTE') ORDER BY 1) AS executors
    FROM pg_proc f
    JOIN pg_namespace n ON n.oid = f.pronamespace
   WHERE f.prosecdef AND f.prokind = 'f'
     AND CASE WHEN schemas IS NULL
              THEN n.nspname <> ALL (oauth_rls._platform_schemas()) AND n.nspname !~ '^pg_'
              ELSE n.nspname = ANY (schemas) END
     AND f.oid NOT IN (SELECT e.objid FROM ext_member e WHERE e.classid = 'pg_proc'::regclass)
     AND NOT plan_only
),
bucket AS (
  -- Public buckets whose objects anyone may list: a permissive SELECT policy
  -- on storage.objects for anon, authenticated or PUBLIC that lets every
  -- row of the bucket through (no condition, always true, or bucket_id =
  -- '<bucket>' alone).  Only where storage is audited.
  SELECT b.id, string_agg(p.polname, ', ' ORDER BY p.polname) AS policies
    FROM oauth_rls._public_buckets() AS b(id)
    JOIN pg_policy p ON p.polrelid = to_regclass('storage.objects')
                    AND p.polpermissive AND p.polcmd IN ('r', '*')
                    AND (0 = ANY (p.polroles) OR p.polroles && ARRAY(SELECT a.oid FROM api_role a))
   WHERE (schemas IS NULL OR 'storage' = ANY (schemas)) AND NOT plan_only
     AND (p.polqual IS NULL
          OR (SELECT f.using_true FROM oauth_rls._policy_facts(p.polqual, NULL) f)
          OR pg_get_expr(p.polqual, p.polrelid)
             ~ ('^\(*bucket_id = ' || replace(quote_literal(b.id), '\', '\\') || '(::text)?\)*$'))
   GROUP BY b.id
),
findings AS (
  SELECT t.oid AS relid, t.nspname, t.relname, NULL::name AS polname, NULL::text AS cmd, t.readers AS roles,
         'error' AS severity, 'RLS_DISABLED_EXPOSED' AS code,
         format('Row level security is off on %s, and %s can read it: every row is visible to '
                'every signed-in user, anonymous visitor and OAuth client.',
                t.qname, array_to_string(t.readers, ' and ')) AS message,
         format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.qname) AS fix_ddl,
         NULL::text AS plan_note
    FROM tbl t
   WHERE NOT t.relrowsecurity AND cardinality(t.readers) > 0 AND NOT plan_only
  UNION ALL
  SELECT t.oid, t.nspname, t.relname, NULL, NULL, NULL, 'error', 'POLICIES_RLS_DISABLED',
         format('%s has %s polic%s (%s), but row level security is off, so none of them applies.',
                t.qname, t.policies, CASE WHEN t.policies = 1 THEN 'y' ELSE 'ies' END, t.policy_names),
         format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.qname),
         NULL
    FROM tstat t
   WHERE NOT t.relrowsecurity AND t.policies > 0 AND NOT plan_only
  UNION ALL
  SELECT t.oid, t.nspname, t.relname, NULL, NULL, NULL, 'info', 'RLS_NO_POLICY',
         CASE WHEN t.policies = 0
           THEN format('Row level security is on for %s but it has no policy: only its owner and roles '
                       'with BYPASSRLS see any row. If users should reach it, add a policy.', t.qname)
           ELSE format('Row level security is on for %s but it has no permissive policy: its restrictive '
                       'policies (%s) only narrow what permissive ones grant, so only its owner and roles '
                       'with BYPASSRLS see any row. If users should reach it, add a permissive policy.',
                       t.qname, t.policy_names) END,
         NULL,
         NULL
    FROM tstat t
   -- Guards and other restrictive policies grant nothing by themselves.
   WHERE t.relrowsecurity AND t.permissive_policies = 0 AND NOT plan_only
  UNION ALL
  SELECT t.oid, t.nspname, t.relname, NULL, NULL, u.roles, 'warning', 'NOT_CLIENT_AWARE',
         -- 'No policy on <table> looks at the OAuth client and it is not
         -- guarded: ...', or where some do, 'Some policies on <table> look
         -- at the OAuth client, but for <commands> the permissive policies
         -- <names> do not, ...' (see src/audit_policies.c); fix_ddl
         -- guard()s it, plan_note says why.
         u.message, u.fix_ddl, CASE WHEN plan_only THEN u.plan_note END
    FROM tstat t JOIN unaware u ON u.oid = t.oid
  UNION ALL
  SELECT v.oid, v.nspname, v.relname, NULL, NULL, v.reachers, 'error', 'VIEW_BYPASSES_RLS',
         CASE v.relkind
           WHEN 'v' THEN
             format('View %s reads %s with the rights of its owner, who is exempt from row level '
                    'security there: through the view, %s get%s every row it shows, with neither '
                    'the table''s policies nor oauth_rls guards applied, whatever the user or OAuth '
                    'client. Make it read with the caller''s rights (security_invoker).',
                    v.qname, v.tables, array_to_string(v.reachers, ' and '),
                    CASE WHEN cardinality(v.reachers) = 1 THEN 's' ELSE '' END)
           ELSE
             format('Materialized view %s holds the rows its owner read from %s at the last '
                    'refresh, past row level security: %s get%s all of them, whatever the user or '
                    'OAuth client. Revoke it from the API roles, or use a view with '
                    'security_invoker.', v.qname, v.tables, array_to_string(v.reachers, ' and '),
                    CASE WHEN cardinality(v.reachers) = 1 THEN 's' ELSE '' END) END,
         CASE WHEN v.relkind = 'v' AND current_setting('server_version_num')::integer >= 150000
              THEN format('ALTER VIEW %s SET (security_invoker = true);', v.qname) END,
         NULL
    FROM view_bypass v
   WHERE NOT plan_only
  UNION ALL
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'warning', 'PER_ROW_CALL',
         -- 'Policy <name> on <table> calls <functions> once per row; the fix
         -- replaces ...', or where oauth_rls has no function of the same
         -- meaning, how to wrap them by hand (see src/audit_policies.c).
         p.per_row_message,
         p.rewrite_ddl, p.rewrite_note
    FROM user_pol p
   WHERE p.has_per_row
  UNION ALL
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'info', 'JWT_CLIENT_ID',
         -- 'Policy <name> on <table> reads client_id from the JWT by hand
         -- ...' (see src/audit_policies.c).
         p.jwt_message,
         p.rewrite_ddl, p.rewrite_note
    FROM user_pol p
   -- The plan runs a policy's ALTER POLICY once: with per-row calls too,
   -- the PER_ROW_CALL row above carries the same statement.
   WHERE p.jwt_client_tests > 0 AND NOT (plan_only AND p.has_per_row)
  UNION ALL
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'error', 'USER_METADATA',
         format('Policy %I on %s decides from user_metadata%s, which every user can change for '
                'themselves: use app_metadata (only the server writes it) or a table.',
                p.polname, p.qname,
                CASE WHEN cardinality(p.helpers) > 0
                  THEN ' (itself or through the functions it calls: ' ||
                       array_to_string(ARRAY(SELECT h::regprocedure::text FROM unnest(p.helpers) AS h
                                              ORDER BY 1), ', ') || ')'
                  ELSE '' END),
         NULL,
         NULL
    FROM few p
   WHERE p.user_metadata AND NOT plan_only
  UNION ALL
  SELECT m.polrelid, m.nspname, m.relname, NULL, m.cmd, ARRAY[m.role_name], 'warning', 'MULTIPLE_PERMISSIVE',
         format('%s permissive policies on %s apply to role %s for %s (%s): Postgres evaluates '
                'every one of them for each row. Merge them into one policy whose condition '
                'ORs theirs.', m.n, m.qname, m.role_name, m.cmd, m.names),
         NULL,
         NULL
    FROM (SELECT p.polrelid, p.nspname, p.relname, p.qname, rn.role_name, c.cmd, count(*) AS n,
                 string_agg(p.polname, ', ' ORDER BY p.polname) AS names,
                 bool_or(rn.role_name = ANY (p.role_names)) AS named
            FROM few_user p
            CROSS JOIN LATERAL unnest(p.cmds) AS c(cmd)
            JOIN (SELECT DISTINCT q.polrelid, x.role_name
                    FROM few_user q CROSS JOIN LATERAL unnest(q.role_names) AS x(role_name)
                   WHERE q.polpermissive AND q.shares_command) rn
              ON rn.polrelid = p.polrelid
             AND (rn.role_name = ANY (p.role_names) OR 'public' = ANY (p.role_names))
           -- Only policies that share a command with another can be counted
           -- twice (shares_command).
           WHERE p.polpermissive AND p.shares_command
           GROUP BY p.polrelid, p.nspname, p.relname, p.qname, rn.role_name, c.cmd
          HAVING count(*) > 1) m
   WHERE m.named AND NOT plan_only
  UNION ALL
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'warning', 'ALWAYS_TRUE_WRITE',
         format('Policy %I on %s lets %s %s any row: its condition is always true.',
                p.polname, p.qname, array_to_string(p.role_names, ' and '),
                CASE p.cmd WHEN 'all' THEN 'write' ELSE p.cmd END),
         NULL,
         NULL
    FROM few_user p
   WHERE p.polpermissive AND p.for_api AND p.cmd <> 'select' AND NOT plan_only
     -- A missing expression denies: only a present, always-true one counts.
     -- An INSERT is decided by WITH CHECK, UPDATE and DELETE by USING (any
     -- row may be changed), ALL by either.
     AND CASE p.cmd
           WHEN 'insert' THEN coalesce(p.check_true, false)
           WHEN 'all' THEN coalesce(p.using_true, false) OR coalesce(p.check_true, false)
           ELSE coalesce(p.using_true, false) END
  UNION ALL
  SELECT t.oid, t.nspname, t.relname, ('oauth_rls_guard_' || e.cmd)::name, e.cmd, NULL, 'error',
         'GUARD_MISSING',
         format('%s is guarded, but its guard policy oauth_rls_guard_%s was dropped: OAuth '
                'clients are no longer limited by the access matrix for %s.', t.qname, e.cmd, e.cmd),
         format('SELECT oauth_rls.guard(%L::regclass);', t.qname),
         NULL
    FROM tstat t CROSS JOIN guard_expect e
   WHERE t.guarded AND ('oauth_rls_guard_' || e.cmd) <> ALL (t.guard_policies) AND NOT plan_only
  UNION ALL
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'error', 'GUARD_EDITED',
         format('Guard policy %I on %s is not as oauth_rls.guard() made it (a restrictive %s '
                'policy for PUBLIC calling oauth_rls.allows(%L::regclass, %L)): it was '
                'edited, so it may not enforce the access matrix.',
                p.polname, p.qname, upper(e.cmd), p.qname, e.cmd),
         format('DROP POLICY %I ON %s; SELECT oauth_rls.guard(%L::regclass);', p.polname, p.qname, p.qname),
         NULL
    FROM few p
    JOIN guard_expect e ON p.polname = 'oauth_rls_guard_' || e.cmd
   WHERE p.guard_named
     AND (p.polpermissive OR p.polcmd <> e.letter::"char" OR p.polroles <> '{0}'::oid[]
          OR p.has_qual <> e.with_qual OR p.has_check <> e.with_check
          OR p.guard_table IS DISTINCT FROM p.polrelid OR p.guard_command IS DISTINCT FROM e.cmd)
     AND NOT plan_only
  UNION ALL
  SELECT d.polrelid, d.nspname, d.relname, d.polname, d.cmd, d.role_names, 'warning', 'MATRIX_DEPENDENCY',
         format('Policy %I on %s reads %s, which %s clients may not select: the matrix lets them '
                '%s on %s, but the policy finds no rows of %s for them, so they get nothing. '
                'Allow select on %s for %s, or read it through a SECURITY DEFINER function.',
                d.polname, d.qname, d.other, d.tier, d.cmd, d.qname, d.other, d.other, d.tier),
         NULL,
         NULL
    FROM dependency d
   WHERE NOT plan_only
  UNION ALL
  SELECT t.oid, t.nspname, t.relname, NULL, NULL, t.reachers, 'error', 'POLICY_RECURSION',
         format('PostgreSQL refuses %s on %s with "infinite recursion detected in policy": the '
                'subqueries of its policies (%s) read %s, and the policies of the last table hold a '
                'subquery too (a (select auth.uid()) counts). Read the other table through a SECURITY '
                'DEFINER function, or remove the subqueries from the last table''s SELECT policies.',
                array_to_string(ARRAY(SELECT c FROM unnest('{select,insert,update,delete}'::text[]) AS c
                                       WHERE c = ANY (r.cmds)), ', '),
                t.qname, coalesce(s.readers, '-'), r.cycle),
         NULL,
         NULL
    FROM recursion r
    JOIN tbl t ON t.oid = r.start
    LEFT JOIN pol_cmd s ON s.relid = r.start AND s.cmd = r.cmds[1]
   WHERE NOT plan_only
  UNION ALL
  SELECT p.polrelid, p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'info', 'HELPER_UNREAD',
         format('Policy %I on %s calls %s, which the audit could read only in part (plpgsql: the '
                'functions it calls and the tables it names, not what it decides; or a body it could '
                'not analyse): what they read from the request may be missing from this audit.',
                p.polname, p.qname,
                array_to_string(ARRAY(SELECT h::regprocedure::text FROM unnest(p.helpers_unread) AS h
                                       ORDER BY 1), ', ')),
         NULL,
         NULL
    FROM few_user p
   WHERE p.has_unread AND NOT plan_only
  UNION ALL
  SELECT NULL, n.nspname, f.proname, NULL, NULL, NULL, 'warning', 'FUNCTION_SEARCH_PATH_MUTABLE',
         format('Function %s, which policies call (%s), has no search_path of its own: the names in it '
                'resolve through the caller''s search_path, which the caller may choose (a table or '
                'function of the same name earlier on the path is used instead).',
                h.oid::regprocedure, h.used_by),
         format('ALTER FUNCTION %s SET search_path = public, extensions, pg_temp;', h.oid::regprocedure),
         NULL
    FROM helper_fn h
    JOIN pg_proc f ON f.oid = h.oid
    JOIN pg_namespace n ON n.oid = f.pronamespace
   WHERE NOT EXISTS (SELECT 1 FROM unnest(f.proconfig) AS c WHERE c LIKE 'search\_path=%')
     -- A BEGIN ATOMIC body is bound to its objects when it is created.
     AND f.prosqlbody IS NULL
     AND NOT plan_only
  UNION ALL
  SELECT NULL, f.nspname, f.proname, NULL, NULL, f.executors, 'warning', 'SECURITY_DEFINER_EXPOSED',
         format('SECURITY DEFINER function %s runs with its owner''s rights, past row level security, and '
                '%s may call it directly (/rest/v1/rpc/%s)%s. Move it to a schema the API does not expose, '
                'or revoke EXECUTE from the API roles if no policy needs it.',
                f.signature, array_to_string(f.executors, ' and '), f.proname,
                CASE WHEN h.oid IS NOT NULL THEN format('; policies call it (%s), so they need it to stay '
                                                        'executable', h.used_by) ELSE '' END),
         CASE WHEN h.oid IS NULL
              THEN format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, anon, authenticated;', f.signature) END,
         NULL
    FROM fn f
    LEFT JOIN helper_fn h ON h.oid = f.oid
   WHERE cardinality(f.executors) > 0
  UNION ALL
  SELECT NULL, 'storage'::name, b.id::name, NULL, 'select', NULL, 'warning', 'STORAGE_BUCKET_PUBLIC_LISTABLE',
         format('Bucket %L is public, and policies on storage.objects (%s) let anyone list its objects. '
                'A public bucket serves each object by its URL without any policy: listing lets '
                'everyone enumerate them.', b.id, b.policies),
         CASE WHEN b.policies NOT LIKE '%,%'
              THEN format('DROP POLICY %I ON storage.objects;', b.policies) END,
         NULL
    FROM bucket b
  UNION ALL
  SELECT NULL, n.nspname, e.extname, NULL, NULL, NULL, 'warning', 'EXTENSION_IN_PUBLIC',
         format('Extension %s is installed in schema public: its functions and tables sit in the schema '
                'the API exposes, and are found through every search_path that has public.', e.extname),
         -- Moving it takes owning its objects (a trusted extension's belong to
         -- the bootstrap superuser): otherwise it is dropped and created again
         -- in schema extensions, a decision about what depends on it.
         CASE WHEN e.extrelocatable AND to_regnamespace('extensions') IS NOT NULL
                   AND (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
              THEN format('ALTER EXTENSION %I SET SCHEMA extensions;', e.extname) END,
         NULL
    FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE n.nspname = 'public' AND (schemas IS NULL OR 'public' = ANY (schemas)) AND NOT plan_only
  UNION ALL
  SELECT t.oid, t.nspname, t.relname, NULL, NULL, NULL, 'warning', 'MATRIX_UNGUARDED',
         format('The access matrix has entries for %s (%s), but the table is not guarded, so '
                'they have no effect.', t.qname,
                string_agg(format('%s: %s', m.tier, CASE WHEN cardinality(m.commands) = 0 THEN 'none'
                                                          ELSE array_to_string(m.commands, ',') END),
                           '; ' ORDER BY m.tier)),
         format('SELECT oauth_rls.guard(%L::regclass);', t.qname),
         NULL
    FROM tbl t JOIN oauth_rls.access_matrix m ON m.tbl = t.oid
   WHERE NOT t.guarded AND NOT plan_only
   GROUP BY t.oid, t.nspname, t.relname, t.qname
)
-- plan_note: why the rewrite runs fix_ddl, for plan_rewrite().
SELECT f.relid, f.nspname, f.relname, f.polname, f.cmd, f.roles, f.severity, f.code, f.message, f.fix_ddl,
       f.plan_note
  FROM findings f;
END
$$;

CREATE OR REPLACE FUNCTION oauth_rls.audit(schemas text[] DEFAULT '{public}')
  RETURNS TABLE (schema_name name, table_name name, policy_name name, command text,
                 roles text[], severity text, code text, message text, fix_ddl text)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '64MB' AS
$$
  SELECT a.schema_name, a.table_name, a.policy_name, a.command, a.roles, a.severity, a.code,
         a.message, a.fix_ddl
    FROM oauth_rls._audit(schemas, false) a
   ORDER BY a.schema_name, a.table_name, a.code, a.policy_name NULLS FIRST, a.command NULLS FIRST, a.roles
$$;
COMMENT ON FUNCTION oauth_rls.audit(text[]) IS
  'One row per problem found in the tables and policies of the given schemas (NULL: every schema except Supabase''s and Postgres''s own), with a stable code, a message and, where one is safe, the DDL that fixes it';

CREATE OR REPLACE FUNCTION oauth_rls._rewrite_plan(schemas text[])
  RETURNS TABLE (step integer, kind text, relid oid, policy_name name, ddl text)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS
$$
  -- _audit(plan_only) gives each policy and each table once; the callers
  -- order the statements.
  SELECT CASE a.code WHEN 'NOT_CLIENT_AWARE' THEN 2 ELSE 1 END AS step,
         CASE a.code WHEN 'NOT_CLIENT_AWARE' THEN 'guard' ELSE 'policy' END AS kind,
         a.relid, a.policy_name, a.fix_ddl || ' -- ' || a.plan_note AS ddl
    FROM oauth_rls._audit(schemas, true) a
   WHERE a.code IN ('PER_ROW_CALL', 'JWT_CLIENT_ID', 'NOT_CLIENT_AWARE')
     AND a.fix_ddl IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION oauth_rls.plan_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS
$$
  SELECT p.ddl FROM oauth_rls._rewrite_plan(schemas) p
   ORDER BY p.step, p.relid::regclass::text, p.policy_name
$$;
COMMENT ON FUNCTION oauth_rls.plan_rewrite(text[]) IS
  'The DDL apply_rewrite() would run, each statement followed by a comment saying what it changes and why: auth.uid() and auth.jwt() replaced by oauth_rls.user_id() and oauth_rls.claims(), auth.jwt() ->> ''client_id'' by oauth_rls.client_id(), guards for tables that are not client-aware';

REVOKE ALL ON FUNCTION
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree),
  oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid),
  oauth_rls._audit_policies(oid[], oid, oid),
  oauth_rls._api_commands(oid, oid, oid),
  oauth_rls._public_buckets(),
  oauth_rls._audit(text[], boolean)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree),
  oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid),
  oauth_rls._audit_policies(oid[], oid, oid),
  oauth_rls._api_commands(oid, oid, oid),
  oauth_rls._public_buckets(),
  oauth_rls._audit(text[], boolean)
  TO @extowner@ WITH GRANT OPTION;

-- Guards made by 0.1.0 are scalar subqueries, (select oauth_rls.allows(...)):
-- on a table whose policies read it back (an admin check on profiles) they
-- make INSERT and DELETE fail with "infinite recursion detected in policy".
-- Each guard that is still exactly what 0.1.0's guard() made is rewritten
-- to the plain call 0.2.0's guard() makes (same answer, same name, roles and
-- command).  An edited guard is left as it is: audit() reports it.
DO $$
DECLARE
  g record;
  expr text;
BEGIN
  FOR g IN
    SELECT p.polname, n.nspname, c.relname, p.polrelid::regclass AS tbl,
           substr(p.polname, length('oauth_rls_guard_') + 1) AS command
      FROM oauth_rls.guarded_tables t
      JOIN pg_policy p ON p.polrelid OPERATOR(pg_catalog.=) t.tbl::oid
      JOIN pg_class c ON c.oid OPERATOR(pg_catalog.=) p.polrelid
      JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE p.polname OPERATOR(pg_catalog.=) ANY ('{oauth_rls_guard_select,oauth_rls_guard_insert,oauth_rls_guard_update,oauth_rls_guard_delete}'::name[])
     ORDER BY 1, 2, 3
  LOOP
    IF NOT oauth_rls.guard_policy_intact(g.tbl, g.command) THEN
      CONTINUE;
    END IF;
    expr := oauth_rls._guard_expression(g.tbl, g.command);
    EXECUTE pg_catalog.format('ALTER POLICY %I ON %I.%I %s', g.polname, g.nspname, g.relname,
                              CASE g.command
                                WHEN 'insert' THEN pg_catalog.format('WITH CHECK (%s)', expr)
                                WHEN 'update' THEN pg_catalog.format('USING (%s) WITH CHECK (%s)', expr, expr)
                                ELSE pg_catalog.format('USING (%s)', expr)
                              END);
  END LOOP;
END
$$;
