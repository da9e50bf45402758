-- oauth_rls install script, part 25: policy audit, and the rewrite that fixes
-- what the audit finds (plan, apply, revert).

-- Facts read from a policy's stored USING / WITH CHECK trees (C, see
-- src/audit.c).  pg_node_tree values only come from the catalogs: no cast
-- turns text into one, so these read nothing a caller could forge.
CREATE FUNCTION oauth_rls._policy_facts(
    qual pg_node_tree, with_check pg_node_tree,
    OUT per_row_calls text[], OUT client_aware boolean, OUT user_metadata boolean,
    OUT using_true boolean, OUT check_true boolean, OUT jwt_client_tests integer,
    OUT guard_table oid, OUT guard_command text, OUT reads_tables oid[])
  AS 'MODULE_PATHNAME', 'oauth_rls_policy_facts' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._policy_facts(pg_node_tree, pg_node_tree) IS
  'Internal to oauth_rls.audit(): what a policy''s expression trees call and read';

CREATE FUNCTION oauth_rls._rewrite_policy(qual pg_node_tree, with_check pg_node_tree, relid oid,
    OUT new_qual text, OUT new_check text)
  AS 'MODULE_PATHNAME', 'oauth_rls_rewrite_policy' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid) IS
  'Internal to oauth_rls.plan_rewrite(): each expression with per-row request calls wrapped in (select ...) and auth.jwt() ->> ''client_id'' replaced by oauth_rls.client_id(); NULL where nothing changes';

-- Schemas Supabase (or Postgres) owns: skipped when audit() is asked for
-- every schema (schemas => NULL), audited only when named.
CREATE FUNCTION oauth_rls._platform_schemas() RETURNS name[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
$$
  SELECT '{auth,storage,realtime,_realtime,extensions,graphql,graphql_public,vault,pgsodium,
           pgsodium_masks,supabase_functions,supabase_migrations,net,cron,pgbouncer,_analytics,
           pgtle,repack,topology,tiger,tiger_data,information_schema,pg_catalog,pg_toast,
           oauth_rls}'::name[]
$$;

-- The CREATE POLICY statement that makes a policy again, as it is now.
CREATE FUNCTION oauth_rls._policy_ddl(policy oid) RETURNS text
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
  SELECT format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s;',
                p.polname, n.nspname, c.relname,
                CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                              WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END,
                                   ', ' ORDER BY o)
                   FROM unnest(p.polroles) WITH ORDINALITY AS u(r, o)),
                ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')
    FROM pg_policy p
    JOIN pg_class c ON c.oid = p.polrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE p.oid = policy
$$;

CREATE FUNCTION oauth_rls.audit(schemas text[] DEFAULT '{public}')
  RETURNS TABLE (schema_name name, table_name name, policy_name name, command text,
                 roles text[], severity text, code text, message text, fix_ddl text)
  -- The catalogs are small to the executor, but the planner's row estimates
  -- for them are large: JIT compilation would cost seconds for nothing.  The
  -- findings of thousands of tables are sorted in memory, not on disk.
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '64MB' AS
$$
WITH api_role AS (
  -- The roles PostgREST switches to for users and their OAuth clients.
  SELECT r.oid, r.rolname FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated')
),
column_acl AS (
  -- Tables with column-level grants (rare): only these need the slow check.
  SELECT DISTINCT a.attrelid FROM pg_attribute a WHERE a.attacl IS NOT NULL
),
tbl AS MATERIALIZED (
  SELECT c.oid, n.nspname, c.relname, c.relrowsecurity,
         format('%I.%I', n.nspname, c.relname) AS qname,
         -- Reachable: the role may use the schema and holds a table or
         -- column privilege (a column grant is enough to read through RLS).
         ARRAY(SELECT a.rolname::text FROM api_role a
                WHERE has_schema_privilege(a.oid, n.oid, 'USAGE')
                  AND (has_table_privilege(a.oid, c.oid, 'SELECT')
                       OR (c.oid IN (SELECT attrelid FROM column_acl)
                           AND has_any_column_privilege(a.oid, c.oid, 'SELECT')))
                ORDER BY a.rolname) AS readers,
         ARRAY(SELECT a.rolname::text FROM api_role a
                WHERE has_schema_privilege(a.oid, n.oid, 'USAGE')
                  AND (has_table_privilege(a.oid, c.oid, 'SELECT,INSERT,UPDATE,DELETE')
                       OR (c.oid IN (SELECT attrelid FROM column_acl)
                           AND has_any_column_privilege(a.oid, c.oid, 'SELECT,INSERT,UPDATE')))
                ORDER BY a.rolname) AS reachers,
         EXISTS (SELECT 1 FROM oauth_rls.guarded_tables g WHERE g.tbl = c.oid) AS guarded
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p')
     AND CASE WHEN schemas IS NULL
              THEN n.nspname <> ALL (oauth_rls._platform_schemas()) AND n.nspname !~ '^pg_'
              ELSE n.nspname = ANY (schemas) END
     -- Tables an extension owns are the extension's business.
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
),
pol AS MATERIALIZED (
  SELECT p.oid, p.polrelid, p.polname, p.polcmd, p.polpermissive, p.polroles,
         p.polqual IS NOT NULL AS has_qual, p.polwithcheck IS NOT NULL AS has_check,
         t.nspname, t.relname, t.qname,
         CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                       WHEN 'd' THEN 'delete' ELSE 'all' END AS cmd,
         CASE p.polcmd WHEN '*' THEN '{select,insert,update,delete}'::text[]
                       ELSE ARRAY[CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'
                                                WHEN 'w' THEN 'update' ELSE 'delete' END] END AS cmds,
         ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
                 FROM unnest(p.polroles) AS r ORDER BY 1) AS role_names,
         -- Whether anon or authenticated (directly or through PUBLIC) is subject to it.
         (0 = ANY (p.polroles) OR p.polroles && ARRAY(SELECT a.oid FROM api_role a)) AS for_api,
         p.polname LIKE 'oauth\_rls\_guard\_%' AS guard_named,
         f.*
    FROM tbl t
    JOIN pg_policy p ON p.polrelid = t.oid
    CROSS JOIN LATERAL oauth_rls._policy_facts(p.polqual, p.polwithcheck) f
),
user_pol AS (
  SELECT * FROM pol WHERE NOT guard_named
),
tstat AS MATERIALIZED (
  -- Per table, what its policies add up to (joined by hash, not re-scanned).
  SELECT t.oid, t.nspname, t.relname, t.qname, t.relrowsecurity, t.readers, t.reachers, t.guarded,
         count(p.oid) AS policies,
         string_agg(p.polname, ', ' ORDER BY p.polname) AS policy_names,
         coalesce(bool_or(p.client_aware), false) AS client_aware,
         coalesce(bool_or(NOT p.guard_named AND p.polpermissive AND p.for_api), false) AS api_permissive,
         coalesce(array_agg(p.polname::text) FILTER (WHERE p.guard_named), '{}') AS guard_policies
    FROM tbl t LEFT JOIN pol p ON p.polrelid = t.oid
   GROUP BY t.oid, t.nspname, t.relname, t.qname, t.relrowsecurity, t.readers, t.reachers, t.guarded
),
rewritten AS MATERIALIZED (
  -- Only the policies with something to rewrite are deparsed, once each.
  SELECT up.oid, up.polname, up.qname, x.new_qual, x.new_check
    FROM user_pol up
    JOIN pg_policy p ON p.oid = up.oid
   CROSS JOIN LATERAL oauth_rls._rewrite_policy(p.polqual, p.polwithcheck, p.polrelid) x
   WHERE cardinality(up.per_row_calls) > 0 OR up.jwt_client_tests > 0
),
rewrite AS (
  -- ALTER POLICY for every policy whose trees the rewrite changes.
  SELECT u.oid, format('ALTER POLICY %I ON %s%s%s;', u.polname, u.qname,
                       ' USING (' || u.new_qual || ')', ' WITH CHECK (' || u.new_check || ')') AS ddl
    FROM rewritten u
   WHERE u.new_qual IS NOT NULL OR u.new_check IS NOT NULL
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
  SELECT p.nspname, p.relname, p.polname, p.qname, p.role_names, c.cmd, a.tier,
         u.oid::regclass AS other
    FROM user_pol p
   CROSS JOIN LATERAL unnest(p.cmds) AS c(cmd)
    JOIN tier_commands a ON a.oid = p.polrelid AND c.cmd = ANY (a.commands)
   CROSS JOIN LATERAL unnest(p.reads_tables) AS r(relid)
    JOIN tier_commands u ON u.oid = r.relid AND u.tier = a.tier AND u.oid <> p.polrelid
   WHERE p.polpermissive AND NOT 'select' = ANY (u.commands)
),
findings AS (
  SELECT t.nspname, t.relname, NULL::name AS polname, NULL::text AS cmd, t.readers AS roles,
         'error' AS severity, 'RLS_DISABLED_EXPOSED' AS code,
         format('Row level security is off on %s, and %s can read it: every row is visible to '
                'every signed-in user, anonymous visitor and OAuth client.',
                t.qname, array_to_string(t.readers, ' and ')) AS message,
         format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.qname) AS fix_ddl
    FROM tbl t
   WHERE NOT t.relrowsecurity AND cardinality(t.readers) > 0
  UNION ALL
  SELECT t.nspname, t.relname, NULL, NULL, NULL, 'error', 'POLICIES_RLS_DISABLED',
         format('%s has %s polic%s (%s), but row level security is off, so none of them applies.',
                t.qname, t.policies, CASE WHEN t.policies = 1 THEN 'y' ELSE 'ies' END, t.policy_names),
         format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.qname)
    FROM tstat t
   WHERE NOT t.relrowsecurity AND t.policies > 0
  UNION ALL
  SELECT t.nspname, t.relname, NULL, NULL, NULL, 'info', 'RLS_NO_POLICY',
         format('Row level security is on for %s but it has no policy: only its owner and roles '
                'with BYPASSRLS see any row. If users should reach it, add a policy.', t.qname),
         NULL
    FROM tstat t
   WHERE t.relrowsecurity AND t.policies = 0
  UNION ALL
  SELECT t.nspname, t.relname, NULL, NULL, t.reachers, 'warning', 'NOT_CLIENT_AWARE',
         format('No policy on %s looks at the OAuth client and it is not guarded: every OAuth '
                'client (third-party apps and AI agents included) can do whatever the user can. '
                'Guard it; the access matrix then lets first-party apps in and others only '
                'where you allow it.', t.qname),
         format('SELECT oauth_rls.guard(%L::regclass);', t.qname)
    FROM tstat t
   WHERE t.relrowsecurity AND NOT t.guarded AND cardinality(t.reachers) > 0
     AND t.api_permissive AND NOT t.client_aware
  UNION ALL
  SELECT p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'warning', 'PER_ROW_CALL',
         format('Policy %I on %s calls %s once per row; wrapped as (select ...), each runs once '
                'per statement with the same result.',
                p.polname, p.qname, array_to_string(p.per_row_calls, ', ')),
         r.ddl
    FROM user_pol p LEFT JOIN rewrite r ON r.oid = p.oid
   WHERE cardinality(p.per_row_calls) > 0
  UNION ALL
  SELECT p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'info', 'JWT_CLIENT_ID',
         format('Policy %I on %s reads client_id from the JWT by hand (auth.jwt() ->> ''client_id''); '
                'oauth_rls.client_id() means the same, is cached, and refuses malformed claims '
                'instead of reading them as a direct session.', p.polname, p.qname),
         r.ddl
    FROM user_pol p LEFT JOIN rewrite r ON r.oid = p.oid
   WHERE p.jwt_client_tests > 0
  UNION ALL
  SELECT p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'error', 'USER_METADATA',
         format('Policy %I on %s decides from user_metadata, which every user can change for '
                'themselves: use app_metadata (only the server writes it) or a table.',
                p.polname, p.qname),
         NULL
    FROM pol p
   WHERE p.user_metadata
  UNION ALL
  SELECT m.nspname, m.relname, NULL, m.cmd, ARRAY[m.role_name], 'warning', 'MULTIPLE_PERMISSIVE',
         format('%s permissive policies on %s apply to role %s for %s (%s): Postgres evaluates '
                'every one of them for each row. Merge them into one policy whose condition '
                'ORs theirs.', m.n, m.qname, m.role_name, m.cmd, m.names),
         NULL
    FROM (SELECT p.nspname, p.relname, p.qname, rn.role_name, c.cmd, count(*) AS n,
                 string_agg(p.polname, ', ' ORDER BY p.polname) AS names,
                 bool_or(rn.role_name = ANY (p.role_names)) AS named
            FROM user_pol p
            CROSS JOIN LATERAL unnest(p.cmds) AS c(cmd)
            JOIN (SELECT DISTINCT q.polrelid, x.role_name
                    FROM user_pol q CROSS JOIN LATERAL unnest(q.role_names) AS x(role_name)
                   WHERE q.polpermissive) rn
              ON rn.polrelid = p.polrelid
             AND (rn.role_name = ANY (p.role_names) OR 'public' = ANY (p.role_names))
           WHERE p.polpermissive
           GROUP BY p.polrelid, p.nspname, p.relname, p.qname, rn.role_name, c.cmd
          HAVING count(*) > 1) m
   WHERE m.named
  UNION ALL
  SELECT p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'warning', 'ALWAYS_TRUE_WRITE',
         format('Policy %I on %s lets %s %s any row: its condition is always true.',
                p.polname, p.qname, array_to_string(p.role_names, ' and '),
                CASE p.cmd WHEN 'all' THEN 'write' ELSE p.cmd END),
         NULL
    FROM user_pol p
   WHERE p.polpermissive AND p.for_api AND p.cmd <> 'select'
     -- A missing expression denies: only a present, always-true one counts.
     -- An INSERT is decided by WITH CHECK, UPDATE and DELETE by USING (any
     -- row may be changed), ALL by either.
     AND CASE p.cmd
           WHEN 'insert' THEN coalesce(p.check_true, false)
           WHEN 'all' THEN coalesce(p.using_true, false) OR coalesce(p.check_true, false)
           ELSE coalesce(p.using_true, false) END
  UNION ALL
  SELECT t.nspname, t.relname, ('oauth_rls_guard_' || e.cmd)::name, e.cmd, NULL, 'error',
         'GUARD_MISSING',
         format('%s is guarded, but its guard policy oauth_rls_guard_%s was dropped: OAuth '
                'clients are no longer limited by the access matrix for %s.', t.qname, e.cmd, e.cmd),
         format('SELECT oauth_rls.guard(%L::regclass);', t.qname)
    FROM tstat t CROSS JOIN guard_expect e
   WHERE t.guarded AND ('oauth_rls_guard_' || e.cmd) <> ALL (t.guard_policies)
  UNION ALL
  SELECT p.nspname, p.relname, p.polname, p.cmd, p.role_names, 'error', 'GUARD_EDITED',
         format('Guard policy %I on %s is not as oauth_rls.guard() made it (a restrictive %s '
                'policy for PUBLIC calling (select oauth_rls.allows(%L::regclass, %L))): it was '
                'edited, so it may not enforce the access matrix.',
                p.polname, p.qname, upper(e.cmd), p.qname, e.cmd),
         format('DROP POLICY %I ON %s; SELECT oauth_rls.guard(%L::regclass);', p.polname, p.qname, p.qname)
    FROM pol p
    JOIN guard_expect e ON p.polname = 'oauth_rls_guard_' || e.cmd
   WHERE p.polpermissive OR p.polcmd <> e.letter::"char" OR p.polroles <> '{0}'::oid[]
      OR p.has_qual <> e.with_qual OR p.has_check <> e.with_check
      OR p.guard_table IS DISTINCT FROM p.polrelid OR p.guard_command IS DISTINCT FROM e.cmd
  UNION ALL
  SELECT d.nspname, d.relname, d.polname, d.cmd, d.role_names, 'warning', 'MATRIX_DEPENDENCY',
         format('Policy %I on %s reads %s, which %s clients may not select: the matrix lets them '
                '%s on %s, but the policy finds no rows of %s for them, so they get nothing. '
                'Allow select on %s for %s, or read it through a SECURITY DEFINER function.',
                d.polname, d.qname, d.other, d.tier, d.cmd, d.qname, d.other, d.other, d.tier),
         NULL
    FROM dependency d
  UNION ALL
  SELECT t.nspname, t.relname, NULL, NULL, NULL, 'warning', 'MATRIX_UNGUARDED',
         format('The access matrix has entries for %s (%s), but the table is not guarded, so '
                'they have no effect.', t.qname,
                string_agg(format('%s: %s', m.tier, CASE WHEN cardinality(m.commands) = 0 THEN 'none'
                                                          ELSE array_to_string(m.commands, ',') END),
                           '; ' ORDER BY m.tier)),
         format('SELECT oauth_rls.guard(%L::regclass);', t.qname)
    FROM tbl t JOIN oauth_rls.access_matrix m ON m.tbl = t.oid
   WHERE NOT t.guarded
   GROUP BY t.oid, t.nspname, t.relname, t.qname
)
SELECT f.nspname, f.relname, f.polname, f.cmd, f.roles, f.severity, f.code, f.message, f.fix_ddl
  FROM findings f
 ORDER BY f.nspname, f.relname, f.code, f.polname NULLS FIRST, f.cmd NULLS FIRST, f.roles
$$;
COMMENT ON FUNCTION oauth_rls.audit(text[]) IS
  'One row per problem found in the tables and policies of the given schemas (NULL: every schema except Supabase''s and Postgres''s own), with a stable code, a message and, where one is safe, the DDL that fixes it';

-- The rewrite: ALTER POLICY for policies with per-row calls or hand-written
-- client_id reads, then guard() for tables that are not client-aware.
CREATE FUNCTION oauth_rls._rewrite_plan(schemas text[])
  RETURNS TABLE (step integer, kind text, relid oid, policy_name name, ddl text)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS
$$
  SELECT DISTINCT ON (x.step, x.relid, x.policy_name) x.step, x.kind, x.relid, x.policy_name, x.ddl
    FROM (SELECT CASE a.code WHEN 'NOT_CLIENT_AWARE' THEN 2 ELSE 1 END AS step,
                 CASE a.code WHEN 'NOT_CLIENT_AWARE' THEN 'guard' ELSE 'policy' END AS kind,
                 c.oid AS relid, a.policy_name, a.fix_ddl AS ddl
            FROM oauth_rls.audit(schemas) a
            JOIN pg_namespace n ON n.nspname = a.schema_name
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = a.table_name
           WHERE a.code IN ('PER_ROW_CALL', 'JWT_CLIENT_ID', 'NOT_CLIENT_AWARE')
             AND a.fix_ddl IS NOT NULL) x
   ORDER BY x.step, x.relid, x.policy_name
$$;

CREATE FUNCTION oauth_rls.plan_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS
$$
  SELECT p.ddl FROM oauth_rls._rewrite_plan(schemas) p
   ORDER BY p.step, p.relid::regclass::text, p.policy_name
$$;
COMMENT ON FUNCTION oauth_rls.plan_rewrite(text[]) IS
  'The DDL apply_rewrite() would run: per-row calls wrapped in (select ...), auth.jwt() ->> ''client_id'' replaced by oauth_rls.client_id(), guards for tables that are not client-aware';

-- What apply_rewrite() changed, so that revert_rewrite() can undo exactly that.
CREATE TABLE oauth_rls.rewrite_log (
  id              bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT rewrite_log_pkey PRIMARY KEY,
  applied_at      timestamptz NOT NULL DEFAULT now(),
  kind            text NOT NULL CONSTRAINT rewrite_log_kind_check CHECK (kind IN ('policy', 'guard')),
  tbl             regclass NOT NULL,
  policy_name     name,
  -- The policy as it was: a complete CREATE POLICY, and its two expressions.
  original_ddl    text,
  original_using  text,
  original_check  text,
  -- What the rewrite ran and the expressions it left, to notice later edits.
  applied_ddl     text NOT NULL,
  applied_using   text,
  applied_check   text,
  reverted_at     timestamptz,
  CONSTRAINT rewrite_log_policy_check CHECK ((kind = 'policy') = (policy_name IS NOT NULL))
);
COMMENT ON TABLE oauth_rls.rewrite_log IS
  'Policies oauth_rls.apply_rewrite() changed (with their original DDL) and tables it guarded; read by oauth_rls.revert_rewrite()';
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.rewrite_log', '');

CREATE FUNCTION oauth_rls.apply_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  step record;
  pol record;
  log_id bigint;
BEGIN
  -- One rewrite at a time: a second one waits, then plans from the result.
  LOCK TABLE oauth_rls.rewrite_log IN SHARE ROW EXCLUSIVE MODE;
  FOR step IN SELECT * FROM oauth_rls._rewrite_plan(schemas) p
               ORDER BY p.step, p.relid::regclass::text, p.policy_name LOOP
    IF step.kind = 'policy' THEN
      SELECT p.oid, pg_get_expr(p.polqual, p.polrelid) AS qual,
             pg_get_expr(p.polwithcheck, p.polrelid) AS wcheck
        INTO pol FROM pg_policy p WHERE p.polrelid = step.relid AND p.polname = step.policy_name;
      INSERT INTO oauth_rls.rewrite_log (kind, tbl, policy_name, original_ddl, original_using,
                                         original_check, applied_ddl)
        VALUES ('policy', step.relid, step.policy_name, oauth_rls._policy_ddl(pol.oid),
                pol.qual, pol.wcheck, step.ddl)
        RETURNING id INTO log_id;
      EXECUTE step.ddl;
      UPDATE oauth_rls.rewrite_log l
         SET applied_using = pg_get_expr(p.polqual, p.polrelid),
             applied_check = pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy p
       WHERE l.id = log_id AND p.oid = pol.oid;
    ELSE
      INSERT INTO oauth_rls.rewrite_log (kind, tbl, applied_ddl)
        VALUES ('guard', step.relid, step.ddl);
      PERFORM oauth_rls.guard(step.relid::regclass);
    END IF;
    RETURN NEXT step.ddl;
  END LOOP;
END
$$;
COMMENT ON FUNCTION oauth_rls.apply_rewrite(text[]) IS
  'Runs plan_rewrite() in the current transaction, logging each original policy in oauth_rls.rewrite_log; returns the statements run';

CREATE FUNCTION oauth_rls.revert_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  entry record;
  cur record;
  ddl text;
BEGIN
  LOCK TABLE oauth_rls.rewrite_log IN SHARE ROW EXCLUSIVE MODE;
  FOR entry IN
    SELECT l.*, n.nspname, c.relname
      FROM oauth_rls.rewrite_log l
      JOIN pg_class c ON c.oid = l.tbl
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE l.reverted_at IS NULL AND (schemas IS NULL OR n.nspname = ANY (schemas))
     ORDER BY l.id DESC
  LOOP
    IF entry.kind = 'guard' THEN
      ddl := format('SELECT oauth_rls.unguard(%L::regclass);', format('%I.%I', entry.nspname, entry.relname));
      PERFORM oauth_rls.unguard(entry.tbl);
    ELSE
      SELECT pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS wcheck
        INTO cur FROM pg_policy p WHERE p.polrelid = entry.tbl AND p.polname = entry.policy_name;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'revert_rewrite: policy "%" on %.% no longer exists',
                        entry.policy_name, entry.nspname, entry.relname
          USING ERRCODE = 'undefined_object',
                DETAIL = format('Its original definition was: %s', entry.original_ddl),
                HINT = 'Recreate it from that definition, or mark the log entry reverted (oauth_rls.rewrite_log.reverted_at).';
      END IF;
      IF cur.qual IS DISTINCT FROM entry.applied_using OR cur.wcheck IS DISTINCT FROM entry.applied_check THEN
        RAISE EXCEPTION 'revert_rewrite: policy "%" on %.% was changed after the rewrite',
                        entry.policy_name, entry.nspname, entry.relname
          USING ERRCODE = 'object_not_in_prerequisite_state',
                DETAIL = format('Reverting would undo that change too. Its original definition was: %s',
                                entry.original_ddl),
                HINT = 'Apply the original by hand, or mark the log entry reverted (oauth_rls.rewrite_log.reverted_at).';
      END IF;
      ddl := format('ALTER POLICY %I ON %I.%I%s%s;', entry.policy_name, entry.nspname, entry.relname,
                    CASE WHEN entry.applied_using IS DISTINCT FROM entry.original_using
                         THEN ' USING (' || entry.original_using || ')' END,
                    CASE WHEN entry.applied_check IS DISTINCT FROM entry.original_check
                         THEN ' WITH CHECK (' || entry.original_check || ')' END);
      EXECUTE ddl;
    END IF;
    UPDATE oauth_rls.rewrite_log l SET reverted_at = now() WHERE l.id = entry.id;
    RETURN NEXT ddl;
  END LOOP;
END
$$;
COMMENT ON FUNCTION oauth_rls.revert_rewrite(text[]) IS
  'Undoes apply_rewrite() for the given schemas: restores each rewritten policy''s original expressions and unguards the tables it guarded; returns the statements run';

-- Privileges: the audit reads every table's policies, the rewrite changes
-- them: both are for the extension's owner (the database administrator),
-- never for the API roles.  They run with the caller's rights.
REVOKE ALL ON oauth_rls.rewrite_log FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_rls.rewrite_log TO @extowner@;
REVOKE ALL ON FUNCTION
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree),
  oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid),
  oauth_rls._platform_schemas(),
  oauth_rls._policy_ddl(oid),
  oauth_rls.audit(text[]),
  oauth_rls._rewrite_plan(text[]),
  oauth_rls.plan_rewrite(text[]),
  oauth_rls.apply_rewrite(text[]),
  oauth_rls.revert_rewrite(text[])
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree),
  oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid),
  oauth_rls._platform_schemas(),
  oauth_rls._policy_ddl(oid),
  oauth_rls.audit(text[]),
  oauth_rls._rewrite_plan(text[]),
  oauth_rls.plan_rewrite(text[]),
  oauth_rls.apply_rewrite(text[]),
  oauth_rls.revert_rewrite(text[])
  TO @extowner@;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON FUNCTION oauth_rls.audit(text[]), oauth_rls.plan_rewrite(text[]),
      oauth_rls.apply_rewrite(text[]), oauth_rls.revert_rewrite(text[]) FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON FUNCTION oauth_rls.audit(text[]), oauth_rls.plan_rewrite(text[]),
      oauth_rls.apply_rewrite(text[]), oauth_rls.revert_rewrite(text[]) FROM authenticated;
  END IF;
END
$$;
