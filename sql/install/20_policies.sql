-- oauth_rls install script, part 20: the access matrix, guard policies,
-- revocation enforcement and the act_as() test helper.

-- What each tier may do on a table.  No row for a (table, tier): direct and
-- first_party may do everything, third_party and blocked nothing.  tbl is a
-- regclass: it follows the table through renames and schema moves, pg_dump
-- writes it as the table's name, and the sql_drop event trigger below
-- deletes the rows of a dropped table, so a new table that reuses the oid
-- inherits nothing.
CREATE TABLE oauth_rls.access_matrix (
  tbl        regclass NOT NULL,
  tier       oauth_rls.tier NOT NULL,
  -- Canonical form, written by set_access(): distinct commands in the order
  -- select, insert, update, delete.
  commands   text[] NOT NULL
             CONSTRAINT access_matrix_commands_check
             CHECK (commands OPERATOR(pg_catalog.<@) '{select,insert,update,delete}'::text[]
                    AND pg_catalog.array_position(commands, NULL) IS NULL),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT access_matrix_blocked_check CHECK (tier <> 'blocked' OR pg_catalog.cardinality(commands) = 0),
  CONSTRAINT access_matrix_pkey PRIMARY KEY (tbl, tier)
);
COMMENT ON TABLE oauth_rls.access_matrix IS
  'Commands each tier may run on a guarded table; manage with oauth_rls.set_access() and oauth_rls.clear_access()';

CREATE TRIGGER access_matrix_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.access_matrix
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- ALWAYS: caches must also be dropped for changes made with
-- session_replication_role = replica (data restores, logical replication).
ALTER TABLE oauth_rls.access_matrix ENABLE ALWAYS TRIGGER access_matrix_invalidate_caches;
-- A logical replication apply worker fires no INSERT, UPDATE or DELETE
-- statement triggers, only row triggers: this one invalidates there (once per
-- transaction, however many rows).  REPLICA: it fires only where
-- session_replication_role = replica, so ordinary statements pay nothing.
CREATE TRIGGER access_matrix_invalidate_caches_replica
  AFTER INSERT OR UPDATE OR DELETE ON oauth_rls.access_matrix
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.access_matrix ENABLE REPLICA TRIGGER access_matrix_invalidate_caches_replica;
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.access_matrix', '');

-- Tables guard() has guarded, so that unguard() removes exactly what it added.
CREATE TABLE oauth_rls.guarded_tables (
  tbl         regclass NOT NULL CONSTRAINT guarded_tables_pkey PRIMARY KEY,
  -- guard() turned row level security on (enable_rls => true); unguard()
  -- turns it off again when no other policy is left on the table.
  enabled_rls boolean NOT NULL DEFAULT false,
  guarded_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oauth_rls.guarded_tables IS
  'Tables carrying the oauth_rls_guard_* policies, written by oauth_rls.guard() and oauth_rls.unguard()';
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.guarded_tables', '');

-- Forgets dropped tables in both tables above and in oauth_rls.rewrite_log
-- (part 25), with the extension's access (whoever drops a table needs no
-- right on them): a table that later reuses the oid inherits no matrix
-- entry, no guard record, and no rewrite that revert_rewrite() would undo.
CREATE FUNCTION oauth_rls._forget_dropped_tables() RETURNS event_trigger
  AS 'MODULE_PATHNAME', 'oauth_rls_forget_dropped_tables' LANGUAGE C;
REVOKE ALL ON FUNCTION oauth_rls._forget_dropped_tables() FROM PUBLIC;
CREATE EVENT TRIGGER oauth_rls_forget_dropped_tables ON sql_drop
  EXECUTE FUNCTION oauth_rls._forget_dropped_tables();
-- Also under session_replication_role = replica (a restore, a replication
-- tool): else the rows of a table dropped there would pass to the next table
-- that gets its oid.  Its queries pin their search_path (src/common.c).
ALTER EVENT TRIGGER oauth_rls_forget_dropped_tables ENABLE ALWAYS;

-- Called by the guard policies, per row: C, the tier kept for the request
-- and the matrix per backend, so a call costs a few instructions.
CREATE FUNCTION oauth_rls.allows(tbl regclass, command text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_allows' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.allows(regclass, text) IS
  'Whether the current request''s tier may run command (select, insert, update, delete) on tbl, by oauth_rls.access_matrix and its defaults; false for blocked clients and, with oauth_rls.enforce_revocation on, for OAuth requests whose session was revoked';

CREATE FUNCTION oauth_rls.session_active() RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_session_active' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.session_active() IS
  'True for a direct session; for an OAuth request (client_id claim, OAuth session, or scope claim), true only while its auth.sessions row exists, belongs to the token''s user and client, and the client is not soft-deleted';

-- Normalises a commands array: '{all}' is every command, '{}' none.
CREATE FUNCTION oauth_rls._normalize_commands(commands text[]) RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  known constant text[] := '{select,insert,update,delete}';
  wanted text[] := '{}';
  item text;
  cmd text;
BEGIN
  IF commands IS NULL THEN
    RAISE EXCEPTION 'commands must not be NULL'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass ''{}'' to allow nothing, ''{all}'' to allow everything.';
  END IF;
  FOREACH item IN ARRAY commands LOOP
    IF item IS NULL THEN
      RAISE EXCEPTION 'commands must not contain NULL'
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    cmd := lower(btrim(item));
    IF cmd = 'all' THEN
      wanted := known;
    ELSIF cmd = ANY (known) THEN
      wanted := wanted || cmd;
    ELSE
      RAISE EXCEPTION 'unknown command "%"', item
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Commands are select, insert, update, delete, or all.';
    END IF;
  END LOOP;
  RETURN ARRAY(SELECT k FROM unnest(known) WITH ORDINALITY AS u(k, n)
               WHERE k = ANY (wanted) ORDER BY n);
END
$$;

-- Guards and matrix entries are for tables that policies apply to.
CREATE FUNCTION oauth_rls._check_guardable(tbl regclass, func text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  kind "char";
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION '%: tbl must not be NULL', func USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: relation with oid % does not exist', func, tbl::oid
      USING ERRCODE = 'undefined_table';
  END IF;
  IF kind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '%: "%" is not a table', func, tbl
      USING ERRCODE = 'wrong_object_type',
            DETAIL = 'Row level security policies apply to ordinary and partitioned tables only.';
  END IF;
END
$$;

CREATE FUNCTION oauth_rls.set_access(tbl regclass, tier oauth_rls.tier, commands text[])
  RETURNS text[]
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  normalized text[];
BEGIN
  PERFORM oauth_rls._check_guardable(tbl, 'set_access');
  IF tier IS NULL THEN
    RAISE EXCEPTION 'set_access: tier must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  normalized := oauth_rls._normalize_commands(commands);
  IF tier = 'blocked' AND cardinality(normalized) > 0 THEN
    RAISE EXCEPTION 'set_access: the blocked tier cannot be allowed any command'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'Blocked clients are refused on every guarded table.',
            HINT = 'To let a client in, change its tier in oauth_rls.clients.';
  END IF;
  INSERT INTO oauth_rls.access_matrix AS m (tbl, tier, commands)
    VALUES (set_access.tbl, set_access.tier, normalized)
    ON CONFLICT ON CONSTRAINT access_matrix_pkey
    DO UPDATE SET commands = EXCLUDED.commands, updated_at = now();
  IF NOT EXISTS (SELECT 1 FROM oauth_rls.guarded_tables g WHERE g.tbl = set_access.tbl) THEN
    RAISE NOTICE 'set_access: table % is not guarded', tbl
      USING HINT = format('The entry is enforced once you run oauth_rls.guard(%L).', tbl::text);
  END IF;
  RETURN normalized;
END
$$;
COMMENT ON FUNCTION oauth_rls.set_access(regclass, oauth_rls.tier, text[]) IS
  'Declares the commands a tier may run on a table: any of select, insert, update, delete; ''{all}''; ''{}'' for none';

CREATE FUNCTION oauth_rls.clear_access(tbl regclass, tier oauth_rls.tier DEFAULT NULL)
  RETURNS integer
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  removed integer;
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION 'clear_access: tbl must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  DELETE FROM oauth_rls.access_matrix m
    WHERE m.tbl = clear_access.tbl
      AND (clear_access.tier IS NULL OR m.tier = clear_access.tier);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;
COMMENT ON FUNCTION oauth_rls.clear_access(regclass, oauth_rls.tier) IS
  'Removes a table''s matrix entries (one tier, or all when tier is NULL): the defaults apply again; returns how many were removed';

-- The USING / WITH CHECK expression of a guard policy: a plain call, not a
-- scalar subquery.  allows() keeps its answer for the request and costs a
-- few instructions per row; a subquery would make PostgreSQL run its policy
-- recursion check on the table, and a table whose own policies read it back
-- (an admin check on profiles) would then fail with "infinite recursion
-- detected in policy".  The table is a regclass constant: stored as its oid,
-- it survives renames.
CREATE FUNCTION oauth_rls._guard_expression(tbl regclass, command text) RETURNS text
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
  SELECT format('oauth_rls.allows(%L::regclass, %L)', tbl::text, command)
$$;

-- Facts read from a policy's stored USING / WITH CHECK trees (C, see
-- src/audit.c): which calls it makes per row, whether its outcome can depend
-- on the client, and, for a guard, the table and command of its allows()
-- call; the functions of the user's it calls (helpers) are read too
-- (src/audit_helpers.c), and what they read counts as read by the policy.
-- pg_node_tree values only come from the catalogs: no cast turns text into
-- one, so these read nothing a caller could forge.  Used by
-- guard_policy_intact() below and by oauth_rls.audit() (part 25).
CREATE FUNCTION oauth_rls._policy_facts(
    qual pg_node_tree, with_check pg_node_tree,
    OUT per_row_calls text[], OUT client_aware boolean, OUT user_metadata boolean,
    OUT using_true boolean, OUT check_true boolean, OUT jwt_client_tests integer,
    OUT guard_table oid, OUT guard_command text, OUT reads_tables oid[], OUT has_sublink boolean,
    OUT helpers oid[], OUT helpers_unread oid[], OUT helper_tables oid[])
  AS 'MODULE_PATHNAME', 'oauth_rls_policy_facts' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._policy_facts(pg_node_tree, pg_node_tree) IS
  'Internal to oauth_rls.audit() and guard_policy_intact(): what a policy''s expression trees call and read';

-- Whether the guard policy for a command is present and exactly as guard()
-- makes it: restrictive, for that command, TO public, with each expression
-- guard() writes and no other, each exactly oauth_rls.allows(<this table>,
-- <command>) (or that call as a scalar subquery, as 0.1.0 wrote it).  The
-- trees are compared, not their text: the text pg_get_expr() shows quotes a
-- name differently than format('%L') does (a backslash), and a guard spelled
-- by hand is still recognised.  NULL for an
-- unknown command.
CREATE FUNCTION oauth_rls.guard_policy_intact(tbl regclass, command text) RETURNS boolean
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
  SELECT CASE WHEN command NOT IN ('select', 'insert', 'update', 'delete') THEN NULL ELSE
    coalesce((
      SELECT p.polcmd = CASE command WHEN 'select' THEN 'r' WHEN 'insert' THEN 'a'
                                     WHEN 'update' THEN 'w' ELSE 'd' END
         AND NOT p.polpermissive
         AND p.polroles = '{0}'::oid[]
         AND (p.polqual IS NOT NULL) = (command <> 'insert')
         AND (p.polwithcheck IS NOT NULL) = (command IN ('insert', 'update'))
         AND f.guard_table IS NOT DISTINCT FROM tbl::oid
         AND f.guard_command IS NOT DISTINCT FROM command
        FROM pg_policy p
       CROSS JOIN LATERAL oauth_rls._policy_facts(p.polqual, p.polwithcheck) f
       WHERE p.polrelid = tbl AND p.polname = 'oauth_rls_guard_' || command), false)
  END
$$;
COMMENT ON FUNCTION oauth_rls.guard_policy_intact(regclass, text) IS
  'Whether the table''s oauth_rls_guard_<command> policy exists exactly as oauth_rls.guard() creates it';

-- One guard policy: kept when it is intact, else (re)created.
CREATE FUNCTION oauth_rls._guard_policy(tbl regclass, command text) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  pname constant name := 'oauth_rls_guard_' || command;
  expr constant text := oauth_rls._guard_expression(tbl, command);
  nsp name;
  rel name;
BEGIN
  IF command IS NULL OR command NOT IN ('select', 'insert', 'update', 'delete') THEN
    RAISE EXCEPTION '_guard_policy: unknown command "%"', command USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF oauth_rls.guard_policy_intact(tbl, command) THEN
    RETURN;
  END IF;
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  IF EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = tbl AND p.polname = pname) THEN
    EXECUTE format('DROP POLICY %I ON %I.%I', pname, nsp, rel);
  END IF;
  EXECUTE format('CREATE POLICY %I ON %I.%I AS RESTRICTIVE FOR %s TO public %s',
                 pname, nsp, rel, upper(command),
                 CASE command
                   WHEN 'insert' THEN format('WITH CHECK (%s)', expr)
                   WHEN 'update' THEN format('USING (%s) WITH CHECK (%s)', expr, expr)
                   ELSE format('USING (%s)', expr)
                 END);
END
$$;

-- The caller must own the table (its rights are used: no SECURITY DEFINER).
CREATE FUNCTION oauth_rls._check_owner(tbl regclass, func text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = tbl
                   AND pg_has_role(current_user, c.relowner, 'USAGE')) THEN
    RAISE EXCEPTION '%: must be owner of table %', func, tbl
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Guard policies are created with the caller''s rights; run this as the table''s owner.';
  END IF;
END
$$;

CREATE FUNCTION oauth_rls.guard(tbl regclass, enable_rls boolean DEFAULT false) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  nsp name;
  rel name;
  rls_on boolean;
  turned_on boolean := false;
  command text;
BEGIN
  PERFORM oauth_rls._check_guardable(tbl, 'guard');
  PERFORM oauth_rls._check_owner(tbl, 'guard');
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  -- Concurrent guard()/unguard() calls on one table wait for each other here.
  EXECUTE format('LOCK TABLE %I.%I IN SHARE ROW EXCLUSIVE MODE', nsp, rel);
  SELECT c.relrowsecurity INTO rls_on FROM pg_class c WHERE c.oid = tbl;
  IF NOT rls_on THEN
    IF NOT coalesce(enable_rls, false) THEN
      RAISE EXCEPTION 'guard: row level security is disabled on table %', tbl
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'Guard policies only act with row level security on, and turning it on '
                       'denies every role all rows that no permissive policy grants.',
              HINT = format('Add the permissive policies your users need and run ALTER TABLE %s '
                            'ENABLE ROW LEVEL SECURITY, or call oauth_rls.guard(%L, enable_rls => true).',
                            tbl, tbl::text);
    END IF;
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', nsp, rel);
    turned_on := true;
  END IF;
  FOREACH command IN ARRAY ARRAY['select', 'insert', 'update', 'delete'] LOOP
    PERFORM oauth_rls._guard_policy(tbl, command);
  END LOOP;
  INSERT INTO oauth_rls.guarded_tables AS g (tbl, enabled_rls) VALUES (guard.tbl, turned_on)
    ON CONFLICT ON CONSTRAINT guarded_tables_pkey
    DO UPDATE SET enabled_rls = g.enabled_rls OR EXCLUDED.enabled_rls;
END
$$;
COMMENT ON FUNCTION oauth_rls.guard(regclass, boolean) IS
  'Adds the RESTRICTIVE policies oauth_rls_guard_{select,insert,update,delete} that enforce oauth_rls.access_matrix; idempotent; refuses a table with RLS off unless enable_rls';

CREATE FUNCTION oauth_rls.unguard(tbl regclass) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  nsp name;
  rel name;
  was_guarded boolean;
  rls_was_off boolean := false;
  command text;
  dropped integer := 0;
BEGIN
  PERFORM oauth_rls._check_guardable(tbl, 'unguard');
  PERFORM oauth_rls._check_owner(tbl, 'unguard');
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  EXECUTE format('LOCK TABLE %I.%I IN SHARE ROW EXCLUSIVE MODE', nsp, rel);
  FOREACH command IN ARRAY ARRAY['select', 'insert', 'update', 'delete'] LOOP
    IF EXISTS (SELECT 1 FROM pg_policy p
                 WHERE p.polrelid = tbl AND p.polname = 'oauth_rls_guard_' || command) THEN
      EXECUTE format('DROP POLICY %I ON %I.%I', 'oauth_rls_guard_' || command, nsp, rel);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  DELETE FROM oauth_rls.guarded_tables g WHERE g.tbl = unguard.tbl
    RETURNING g.enabled_rls INTO rls_was_off;
  was_guarded := FOUND;
  IF NOT was_guarded AND dropped = 0 THEN
    RAISE NOTICE 'unguard: table % is not guarded', tbl;
    RETURN;
  END IF;
  -- Undo guard(enable_rls => true), unless policies added since rely on RLS.
  IF rls_was_off THEN
    IF EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = tbl) THEN
      RAISE NOTICE 'unguard: row level security stays on for table %', tbl
        USING DETAIL = 'guard() turned it on, but the table has other policies now.';
    ELSE
      EXECUTE format('ALTER TABLE %I.%I DISABLE ROW LEVEL SECURITY', nsp, rel);
    END IF;
  END IF;
END
$$;
COMMENT ON FUNCTION oauth_rls.unguard(regclass) IS
  'Removes what oauth_rls.guard() added: its policies, and row level security if guard turned it on; the matrix entries stay';

CREATE FUNCTION oauth_rls.guard_schema(schema name, enable_rls boolean DEFAULT false)
  RETURNS SETOF regclass
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  nsp oid;
  tables regclass[];
  in_the_way text;
  t regclass;
BEGIN
  SELECT n.oid INTO nsp FROM pg_namespace n WHERE n.nspname = schema;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'guard_schema: schema "%" does not exist', schema
      USING ERRCODE = 'invalid_schema_name';
  END IF;
  -- Ordinary and partitioned tables, except those of extensions.
  tables := ARRAY(
    SELECT c.oid::regclass FROM pg_class c
     WHERE c.relnamespace = nsp AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY c.relname);

  -- Refuse before changing anything, naming every table in the way.
  SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO in_the_way
    FROM pg_class c
   WHERE c.oid = ANY (tables) AND NOT pg_has_role(current_user, c.relowner, 'USAGE');
  IF in_the_way IS NOT NULL THEN
    RAISE EXCEPTION 'guard_schema: must be owner of every table of schema "%"', schema
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('Tables owned by other roles: %s.', in_the_way),
            HINT = 'Guard the tables you own one by one with oauth_rls.guard(), or run this as their owner.';
  END IF;
  IF NOT coalesce(enable_rls, false) THEN
    SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO in_the_way
      FROM pg_class c
     WHERE c.oid = ANY (tables) AND NOT c.relrowsecurity;
    IF in_the_way IS NOT NULL THEN
      RAISE EXCEPTION 'guard_schema: row level security is disabled on tables of schema "%"', schema
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Tables with RLS off: %s.', in_the_way),
              HINT = format('Enable row level security on them first, or call '
                            'oauth_rls.guard_schema(%L, enable_rls => true).', schema);
    END IF;
  END IF;

  FOREACH t IN ARRAY tables LOOP
    PERFORM oauth_rls.guard(t, enable_rls);
    RETURN NEXT t;
  END LOOP;
END
$$;
COMMENT ON FUNCTION oauth_rls.guard_schema(name, boolean) IS
  'Guards every ordinary and partitioned table of a schema (tables of extensions excepted); returns the tables guarded';

-- What each tier may do on each guarded table, defaults filled in.
CREATE VIEW oauth_rls.effective_access AS
  SELECT g.tbl, t.tier,
         CASE WHEN t.tier = 'blocked' THEN '{}'::text[]
              ELSE coalesce(m.commands,
                            CASE WHEN t.tier IN ('direct', 'first_party')
                                 THEN '{select,insert,update,delete}'::text[]
                                 ELSE '{}'::text[] END)
         END AS commands,
         CASE WHEN m.tbl IS NULL THEN 'default' ELSE 'matrix' END AS source
    FROM oauth_rls.guarded_tables g
   CROSS JOIN pg_catalog.unnest(pg_catalog.enum_range(NULL::oauth_rls.tier)) AS t(tier)
    LEFT JOIN oauth_rls.access_matrix m ON m.tbl OPERATOR(pg_catalog.=) g.tbl AND m.tier OPERATOR(pg_catalog.=) t.tier;
COMMENT ON VIEW oauth_rls.effective_access IS
  'For every guarded table and tier, the commands the guards allow (before revocation) and whether a matrix entry or the default decides';
REVOKE ALL ON oauth_rls.effective_access FROM PUBLIC;
GRANT SELECT ON oauth_rls.effective_access TO @extowner@ WITH GRANT OPTION;

-- act_as(): impersonation for users' own pgTAP suites, as PostgREST would do
-- it: role authenticated and complete claims, all transaction-local.  A
-- function's SET clause restores only the settings it names at exit, so the
-- role and claims set here outlive the call.
CREATE FUNCTION oauth_rls.act_as(user_id uuid, client_id text DEFAULT NULL,
                                 scopes text DEFAULT NULL, session_id uuid DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  issued_at bigint := extract(epoch FROM now())::bigint;
  usr jsonb;
  sid uuid := act_as.session_id;
  claims jsonb;
BEGIN
  IF act_as.user_id IS NULL THEN
    RAISE EXCEPTION 'act_as: user_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF act_as.client_id = '' THEN
    RAISE EXCEPTION 'act_as: client_id must be NULL (a direct session) or a client id, not empty'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    RAISE EXCEPTION 'act_as: role "authenticated" does not exist'
      USING ERRCODE = 'undefined_object',
            HINT = 'act_as() imitates Supabase''s API requests; create the role or run on a Supabase database.';
  END IF;

  -- The user's profile, where the caller can read auth.users.
  IF to_regclass('auth.users') IS NOT NULL AND has_table_privilege('auth.users', 'SELECT') THEN
    SELECT to_jsonb(u) INTO usr FROM auth.users u WHERE u.id = act_as.user_id;
  END IF;
  -- The user's newest session for this client, where there is one.
  IF sid IS NULL AND to_regclass('auth.sessions') IS NOT NULL
     AND has_table_privilege('auth.sessions', 'SELECT') THEN
    SELECT s.id INTO sid FROM auth.sessions s
     WHERE s.user_id = act_as.user_id
       AND (to_jsonb(s) ->> 'oauth_client_id') IS NOT DISTINCT FROM act_as.client_id
     ORDER BY s.created_at DESC NULLS LAST LIMIT 1;
    IF NOT FOUND AND act_as.client_id IS NOT NULL
       -- The library may not be loaded yet (act_as() first in a connection):
       -- then the setting is unknown, and its default is on.
       AND coalesce(current_setting('oauth_rls.enforce_revocation', true), 'on')::boolean THEN
      RAISE NOTICE 'act_as: user % has no session for client % in auth.sessions', act_as.user_id, act_as.client_id
        USING DETAIL = 'With oauth_rls.enforce_revocation on, guarded tables refuse this request.',
              HINT = 'Insert an auth.sessions row (oauth_client_id = the client) or pass session_id.';
    END IF;
  END IF;

  claims := jsonb_build_object(
    'iss', 'http://127.0.0.1:54321/auth/v1',
    'sub', act_as.user_id::text,
    'aud', 'authenticated',
    'exp', issued_at + 3600,
    'iat', issued_at,
    'email', coalesce(usr ->> 'email', ''),
    'phone', coalesce(usr ->> 'phone', ''),
    'app_metadata', coalesce(usr -> 'raw_app_meta_data',
                             '{"provider": "email", "providers": ["email"]}'::jsonb),
    'user_metadata', coalesce(usr -> 'raw_user_meta_data', '{}'::jsonb),
    'role', 'authenticated',
    'aal', 'aal1',
    'amr', jsonb_build_array(jsonb_build_object('method', 'password', 'timestamp', issued_at)),
    'session_id', coalesce(sid, gen_random_uuid())::text,
    'is_anonymous', coalesce((usr ->> 'is_anonymous')::boolean, false));
  IF act_as.client_id IS NOT NULL THEN
    claims := claims || jsonb_build_object('client_id', act_as.client_id);
  END IF;
  IF act_as.scopes IS NOT NULL THEN
    claims := claims || jsonb_build_object('scope', act_as.scopes);
  END IF;

  -- Legacy settings would be read before request.jwt.claims: clear them.
  PERFORM set_config('request.jwt.claim', '', true);
  PERFORM set_config('request.jwt.claim.sub', '', true);
  PERFORM set_config('request.jwt.claim.client_id', '', true);
  PERFORM set_config('request.jwt.claims', claims::text, true);
  PERFORM set_config('role', 'authenticated', true);
  RETURN claims;
END
$$;
COMMENT ON FUNCTION oauth_rls.act_as(uuid, text, text, uuid) IS
  'For tests: SET LOCAL ROLE authenticated and complete, realistic claims for a user (and an OAuth client), until the transaction ends';

-- Privileges: the matrix and the guard record are managed by the extension's
-- owner; anon and authenticated get nothing on them, and only allows() and
-- session_active() (which policies run as the querying role) among these
-- functions.  The management functions and their helpers run with the
-- caller's rights and need rights on the tables above: they are the owner's.
-- To let another role guard the tables it owns, grant it EXECUTE on
-- guard/unguard/guard_schema and the oauth_rls._* helpers, and SELECT,
-- INSERT, UPDATE, DELETE on oauth_rls.guarded_tables.
REVOKE ALL ON oauth_rls.access_matrix, oauth_rls.guarded_tables FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.access_matrix TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.guarded_tables TO @extowner@ WITH GRANT OPTION;
REVOKE ALL ON FUNCTION
  oauth_rls._normalize_commands(text[]),
  oauth_rls._check_guardable(regclass, text),
  oauth_rls._check_owner(regclass, text),
  oauth_rls._guard_expression(regclass, text),
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree),
  oauth_rls._guard_policy(regclass, text),
  oauth_rls.guard_policy_intact(regclass, text),
  oauth_rls.set_access(regclass, oauth_rls.tier, text[]),
  oauth_rls.clear_access(regclass, oauth_rls.tier),
  oauth_rls.guard(regclass, boolean),
  oauth_rls.unguard(regclass),
  oauth_rls.guard_schema(name, boolean),
  oauth_rls.act_as(uuid, text, text, uuid)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls._normalize_commands(text[]),
  oauth_rls._check_guardable(regclass, text),
  oauth_rls._check_owner(regclass, text),
  oauth_rls._guard_expression(regclass, text),
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree),
  oauth_rls._guard_policy(regclass, text),
  oauth_rls.guard_policy_intact(regclass, text),
  oauth_rls.set_access(regclass, oauth_rls.tier, text[]),
  oauth_rls.clear_access(regclass, oauth_rls.tier),
  oauth_rls.guard(regclass, boolean),
  oauth_rls.unguard(regclass),
  oauth_rls.guard_schema(name, boolean),
  oauth_rls.act_as(uuid, text, text, uuid)
  TO @extowner@ WITH GRANT OPTION;
