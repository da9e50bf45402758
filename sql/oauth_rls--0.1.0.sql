-- oauth_rls install script, part 00: types and claim functions.
-- The install script sql/oauth_rls--0.1.0.sql is assembled from sql/install/*.sql
-- in file-name order by the Makefile.
\echo Use "CREATE EXTENSION oauth_rls" to load this file. \quit

-- CREATE EXTENSION runs this script (as superuser: the extension is trusted)
-- with search_path "oauth_rls, pg_temp".  A schema oauth_rls that existed
-- before, owned by the installing role, could hold functions or operators
-- that capture unqualified names (in DO blocks, CHECK constraints, views).
-- Resolve unqualified names in pg_catalog only; CREATE EXTENSION restores the
-- search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

-- CREATE EXTENSION reuses a schema oauth_rls that already exists.  Refuse one
-- that holds objects (they could shadow ours) or belongs to another role (its
-- owner could drop or replace what we create in it).
DO $$
DECLARE
  nsp pg_catalog.oid := pg_catalog.to_regnamespace('oauth_rls');
  owner pg_catalog.oid;
BEGIN
  SELECT nspowner INTO owner FROM pg_catalog.pg_namespace WHERE oid = nsp;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator WHERE oprnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_collation WHERE collnamespace = nsp)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_conversion WHERE connamespace = nsp) THEN
    RAISE EXCEPTION 'schema oauth_rls already contains objects'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'oauth_rls creates its own schema: drop or rename the existing schema oauth_rls first.';
  END IF;
  IF owner <> '@extowner@'::pg_catalog.regrole
     AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner) THEN
    RAISE EXCEPTION 'schema oauth_rls belongs to role %, not to the role installing the extension',
        owner::pg_catalog.regrole
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'oauth_rls creates its own schema: drop the existing schema oauth_rls first.';
  END IF;
END
$$;

-- Schema oauth_rls is created by CREATE EXTENSION (control file: schema = oauth_rls).
-- Policies evaluate our functions as the querying role, so every role may use
-- the schema; each object below grants only what it must.
GRANT USAGE ON SCHEMA oauth_rls TO PUBLIC;

CREATE TYPE oauth_rls.tier AS ENUM ('direct', 'first_party', 'third_party', 'blocked');
COMMENT ON TYPE oauth_rls.tier IS
  'How much a request is trusted: direct session (no client_id), first-party app, third-party app, blocked client';

-- Claim readers.  C, STABLE, PARALLEL SAFE: per row they cost an integer
-- comparison while the request settings are unchanged.
CREATE FUNCTION oauth_rls.claims() RETURNS jsonb
  AS 'MODULE_PATHNAME', 'oauth_rls_claims' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.claims() IS
  'The request''s JWT claims: setting request.jwt.claim, else request.jwt.claims; NULL when unset';

CREATE FUNCTION oauth_rls.claim(name text) RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_claim' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.claim(text) IS
  'One top-level claim as text (the meaning of ->>), NULL when absent';

CREATE FUNCTION oauth_rls.user_id() RETURNS uuid
  AS 'MODULE_PATHNAME', 'oauth_rls_user_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.user_id() IS
  'Like auth.uid(): request.jwt.claim.sub, else the claims'' sub; errors on a non-uuid sub';

CREATE FUNCTION oauth_rls.client_id() RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_client_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.client_id() IS
  'The OAuth client of the request (claim client_id); NULL means a direct session';

CREATE FUNCTION oauth_rls.session_id() RETURNS uuid
  AS 'MODULE_PATHNAME', 'oauth_rls_session_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.session_id() IS
  'The auth.sessions id of the token (claim session_id)';

CREATE FUNCTION oauth_rls.scopes() RETURNS text[]
  AS 'MODULE_PATHNAME', 'oauth_rls_scopes' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.scopes() IS
  'The granted scopes (space-separated claim scope) as an array; {} when none';

CREATE FUNCTION oauth_rls.has_scope(scope text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_has_scope' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.has_scope(text) IS
  'Whether the token was granted this scope';

-- Statement trigger that makes DML on a cached table invalidate every
-- backend's cache at commit.
CREATE FUNCTION oauth_rls._invalidate_caches() RETURNS trigger
  AS 'MODULE_PATHNAME', 'oauth_rls_invalidate_caches' LANGUAGE C;
REVOKE ALL ON FUNCTION oauth_rls._invalidate_caches() FROM PUBLIC;
-- oauth_rls install script, part 10: the client registry and tiers.

CREATE TABLE oauth_rls.clients (
  -- Supabase issues lowercase uuid strings (auth.oauth_clients.id); any
  -- non-empty text is accepted.  COLLATE "C": ids compare byte for byte.
  client_id  text COLLATE "C" NOT NULL
             CONSTRAINT clients_client_id_check CHECK (client_id <> '' AND octet_length(client_id) <= 255),
  name       text,
  tier       oauth_rls.tier NOT NULL
             CONSTRAINT clients_tier_check CHECK (tier <> 'direct'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT clients_pkey PRIMARY KEY (client_id)
);
COMMENT ON TABLE oauth_rls.clients IS
  'Registered OAuth clients and their tier; unregistered clients get oauth_rls.unregistered_client_tier';

CREATE FUNCTION oauth_rls._touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION oauth_rls._touch_updated_at() FROM PUBLIC;

CREATE TRIGGER clients_touch_updated_at BEFORE UPDATE ON oauth_rls.clients
  FOR EACH ROW EXECUTE FUNCTION oauth_rls._touch_updated_at();
CREATE TRIGGER clients_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.clients
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- ALWAYS: caches must also be dropped for changes made with
-- session_replication_role = replica (data restores, logical replication).
ALTER TABLE oauth_rls.clients ENABLE ALWAYS TRIGGER clients_invalidate_caches;

-- pg_dump keeps the registry's rows with the extension.
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.clients', '');

CREATE FUNCTION oauth_rls.current_tier() RETURNS oauth_rls.tier
  AS 'MODULE_PATHNAME', 'oauth_rls_current_tier' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.current_tier() IS
  'direct without client_id; else the registered tier; else oauth_rls.unregistered_client_tier';

CREATE FUNCTION oauth_rls.tier_of(client_id text) RETURNS oauth_rls.tier
  AS 'MODULE_PATHNAME', 'oauth_rls_tier_of' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.tier_of(text) IS
  'The tier a request from this client gets';

CREATE FUNCTION oauth_rls.is_oauth() RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_is_oauth' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.is_oauth() IS
  'Whether the request comes through an OAuth client (tier is not direct)';

CREATE FUNCTION oauth_rls.is_first_party() RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_is_first_party' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.is_first_party() IS
  'Whether the request is a direct session or comes from a first-party client';

-- Privileges: the registry is managed by the extension's owner (Supabase's
-- postgres role when it installs the extension) and read by Auth's role for
-- the token hook.  anon and authenticated get nothing: the C lookups read it
-- with the extension's own access.
-- Every right the installing role gets in this script comes WITH GRANT
-- OPTION: in a trusted install the objects belong to the bootstrap
-- superuser, and without it the installer could not pass rights on.  The
-- grants to Supabase's roles are in oauth_rls.grant_supabase_roles() (part 90).
REVOKE ALL ON oauth_rls.clients FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.clients TO @extowner@ WITH GRANT OPTION;
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

-- Called once per statement by the guard policies (C, cached per backend).
CREATE FUNCTION oauth_rls.allows(tbl regclass, command text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_allows' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.allows(regclass, text) IS
  'Whether the current request''s tier may run command (select, insert, update, delete) on tbl, by oauth_rls.access_matrix and its defaults; false for blocked clients and, with oauth_rls.enforce_revocation on, for OAuth requests whose session was revoked';

CREATE FUNCTION oauth_rls.session_active() RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_session_active' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.session_active() IS
  'True for a direct session; for an OAuth request, true only while its auth.sessions row exists and its client is not soft-deleted';

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

-- The USING / WITH CHECK expression of a guard policy.  The scalar subquery
-- makes the planner evaluate allows() once per statement (an initPlan).  The
-- table is a regclass constant: stored as its oid, it survives renames.
CREATE FUNCTION oauth_rls._guard_expression(tbl regclass, command text) RETURNS text
  LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS
$$
  SELECT format('(select oauth_rls.allows(%L::regclass, %L))', tbl::text, command)
$$;

-- Facts read from a policy's stored USING / WITH CHECK trees (C, see
-- src/audit.c): which calls it makes per row, whether it looks at the
-- client, and, for a guard, the table and command of its allows() call.
-- pg_node_tree values only come from the catalogs: no cast turns text into
-- one, so these read nothing a caller could forge.  Used by
-- guard_policy_intact() below and by oauth_rls.audit() (part 25).
CREATE FUNCTION oauth_rls._policy_facts(
    qual pg_node_tree, with_check pg_node_tree,
    OUT per_row_calls text[], OUT client_aware boolean, OUT user_metadata boolean,
    OUT using_true boolean, OUT check_true boolean, OUT jwt_client_tests integer,
    OUT guard_table oid, OUT guard_command text, OUT reads_tables oid[])
  AS 'MODULE_PATHNAME', 'oauth_rls_policy_facts' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls._policy_facts(pg_node_tree, pg_node_tree) IS
  'Internal to oauth_rls.audit() and guard_policy_intact(): what a policy''s expression trees call and read';

-- Whether the guard policy for a command is present and exactly as guard()
-- makes it: restrictive, for that command, TO public, with each expression
-- guard() writes and no other, each exactly (select oauth_rls.allows(<this
-- table>, <command>)).  The trees are compared, not their text: the text
-- pg_get_expr() shows quotes a name differently than format('%L') does (a
-- backslash), and a guard spelled by hand is still recognised.  NULL for an
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
       AND current_setting('oauth_rls.enforce_revocation')::boolean THEN
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
-- oauth_rls install script, part 25: policy audit, and the rewrite that fixes
-- what the audit finds (plan, apply, revert).

-- oauth_rls._policy_facts(), the facts read from a policy's trees, is in
-- part 20 (guard_policy_intact() uses it too).

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
rel AS MATERIALIZED (
  -- Tables, views and materialized views of the audited schemas, with the API
  -- roles that can reach them.
  SELECT c.oid, n.nspname, c.relname, c.relkind, c.relowner, c.relrowsecurity, c.reloptions,
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
                ORDER BY a.rolname) AS reachers
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm')
     AND CASE WHEN schemas IS NULL
              THEN n.nspname <> ALL (oauth_rls._platform_schemas()) AND n.nspname !~ '^pg_'
              ELSE n.nspname = ANY (schemas) END
     -- Relations an extension owns are the extension's business.
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
),
tbl AS MATERIALIZED (
  SELECT r.oid, r.nspname, r.relname, r.relrowsecurity, r.qname, r.readers, r.reachers,
         EXISTS (SELECT 1 FROM oauth_rls.guarded_tables g WHERE g.tbl = r.oid) AS guarded
    FROM rel r
   WHERE r.relkind IN ('r', 'p')
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
         coalesce(array_agg(p.polname::text) FILTER (WHERE p.guard_named), '{}') AS guard_policies
    FROM tbl t LEFT JOIN pol p ON p.polrelid = t.oid
   GROUP BY t.oid, t.nspname, t.relname, t.qname, t.relrowsecurity, t.readers, t.reachers, t.guarded
),
api_cmd AS MATERIALIZED (
  -- For each table that is not guarded, each API role and each command the
  -- role may run on it, the policies that apply to the role (directly,
  -- through PUBLIC, or through a role it belongs to) for that command.
  SELECT t.oid, a.rolname::text AS rolname, c.cmd, p.polname, p.polpermissive, p.client_aware
    FROM tbl t
    JOIN api_role a ON a.rolname = ANY (t.reachers)
   CROSS JOIN (VALUES ('select'), ('insert'), ('update'), ('delete')) AS c(cmd)
    JOIN pol p ON p.polrelid = t.oid AND c.cmd = ANY (p.cmds)
              AND (0 = ANY (p.polroles)
                   OR EXISTS (SELECT 1 FROM unnest(p.polroles) AS r(oid)
                               WHERE pg_has_role(a.oid, r.oid, 'USAGE')))
   WHERE t.relrowsecurity AND NOT t.guarded
     AND (has_table_privilege(a.oid, t.oid, c.cmd)
          OR (c.cmd <> 'delete' AND t.oid IN (SELECT attrelid FROM column_acl)
              AND has_any_column_privilege(a.oid, t.oid, c.cmd)))
),
open_cmd AS (
  -- Where OAuth clients get whatever the user gets: permissive policies are
  -- ORed, so one that ignores the client lets every client in, whatever
  -- the others check; only a restrictive policy that looks at the client
  -- (a guard, say) limits them then.
  SELECT x.oid, x.rolname, x.cmd
    FROM api_cmd x
   GROUP BY x.oid, x.rolname, x.cmd
  HAVING bool_or(x.polpermissive AND NOT x.client_aware)
     AND NOT bool_or(NOT x.polpermissive AND x.client_aware)
),
unaware AS (
  SELECT o.oid,
         array_agg(DISTINCT o.rolname ORDER BY o.rolname) AS roles,
         array_to_string(ARRAY(SELECT c FROM unnest('{select,insert,update,delete}'::text[]) AS c
                                WHERE c = ANY (array_agg(o.cmd))), ', ') AS commands,
         string_agg(DISTINCT x.polname::text, ', ' ORDER BY x.polname::text) AS policies,
         count(DISTINCT x.polname) AS n_policies
    FROM open_cmd o
    JOIN api_cmd x ON x.oid = o.oid AND x.rolname = o.rolname AND x.cmd = o.cmd
                  AND x.polpermissive AND NOT x.client_aware
   GROUP BY o.oid
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
    JOIN pg_rewrite w ON w.ev_class = v.oid
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid
    JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p') AND t.relrowsecurity
   WHERE cardinality(v.reachers) > 0 AND NOT v.invoker
     AND (v.relkind = 'm' OR o.rolsuper OR o.rolbypassrls
          OR (pg_has_role(v.relowner, t.relowner, 'USAGE') AND NOT t.relforcerowsecurity))
   GROUP BY v.oid, v.nspname, v.relname, v.relkind, v.qname, v.reachers
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
  SELECT t.nspname, t.relname, NULL, NULL, u.roles, 'warning', 'NOT_CLIENT_AWARE',
         CASE WHEN NOT t.client_aware
           THEN format('No policy on %s looks at the OAuth client and it is not guarded: every OAuth '
                       'client (third-party apps and AI agents included) can do whatever the user can. '
                       'Guard it; the access matrix then lets first-party apps in and others only '
                       'where you allow it.', t.qname)
           ELSE format('Some policies on %s look at the OAuth client, but for %s the permissive '
                       'polic%s %s do%s not, and permissive policies are ORed: every OAuth client '
                       '(third-party apps and AI agents included) can %s whatever the user can. '
                       'Guard it; the access matrix then lets first-party apps in and others only '
                       'where you allow it.',
                       t.qname, u.commands,
                       CASE WHEN u.n_policies > 1 THEN 'ies' ELSE 'y' END, u.policies,
                       CASE WHEN u.n_policies > 1 THEN '' ELSE 'es' END, u.commands) END,
         format('SELECT oauth_rls.guard(%L::regclass);', t.qname)
    FROM tstat t JOIN unaware u ON u.oid = t.oid
  UNION ALL
  SELECT v.nspname, v.relname, NULL, NULL, v.reachers, 'error', 'VIEW_BYPASSES_RLS',
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
              THEN format('ALTER VIEW %s SET (security_invoker = true);', v.qname) END
    FROM view_bypass v
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
-- and its id sequence, or ids restart at 1 after a restore and collide.
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.rewrite_log_id_seq', '');

-- Whether a table's policies changed after the current statement's snapshot
-- was taken (C, see src/audit.c): what a REPEATABLE READ transaction cannot
-- see by itself.
CREATE FUNCTION oauth_rls._policies_changed(relid oid) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_policies_changed' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION oauth_rls._policies_changed(oid) IS
  'Internal to apply_rewrite() and revert_rewrite(): whether the table''s policies changed after the current snapshot was taken';

-- Locks a table the rewrite is about to change against ALTER POLICY (which
-- needs ACCESS EXCLUSIVE) until the transaction ends.  LOCK TABLE takes a
-- name: if the name no longer leads to the same table once locked (renamed
-- or dropped meanwhile), the rewrite stops rather than act on another table.
CREATE FUNCTION oauth_rls._lock_for_rewrite(relid oid, func text) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  qname text;
BEGIN
  SELECT format('%I.%I', n.nspname, c.relname) INTO qname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relid;
  IF qname IS NOT NULL THEN
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', qname);
  END IF;
  IF qname IS NULL OR to_regclass(qname) IS DISTINCT FROM relid::regclass THEN
    RAISE EXCEPTION '%: table % was renamed or dropped while it ran', func, coalesce(qname, relid::text)
      USING ERRCODE = 'serialization_failure',
            HINT = format('Run %s() again.', func);
  END IF;
END
$$;

CREATE FUNCTION oauth_rls.apply_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  plan jsonb;
  locked oid[] := '{}';
  to_lock oid[];
  rel oid;
  changed text;
  step record;
  pol record;
  log_id bigint;
BEGIN
  -- One rewrite at a time: a second one waits, then plans from the result.
  LOCK TABLE oauth_rls.rewrite_log IN SHARE ROW EXCLUSIVE MODE;
  -- The plan is made from the policies as they are.  An ALTER POLICY that
  -- committed between planning and running would be overwritten, and the
  -- log would keep the wrong original.  So the planned tables are locked
  -- (ALTER POLICY needs ACCESS EXCLUSIVE, which waits for this lock) and
  -- the plan is made again from what is committed then, until every table
  -- it names was locked before it was made.  Each round locks at least one
  -- more table: this ends.
  LOOP
    plan := (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.step, p.relid::regclass::text, p.policy_name),
                             '[]'::jsonb)
               FROM oauth_rls._rewrite_plan(schemas) p);
    to_lock := ARRAY(SELECT DISTINCT (e ->> 'relid')::oid FROM jsonb_array_elements(plan) AS e
                      WHERE (e ->> 'relid')::oid <> ALL (locked) ORDER BY 1);
    EXIT WHEN cardinality(to_lock) = 0;
    FOREACH rel IN ARRAY to_lock LOOP
      PERFORM oauth_rls._lock_for_rewrite(rel, 'apply_rewrite');
    END LOOP;
    locked := locked || to_lock;
  END LOOP;
  -- Under REPEATABLE READ or SERIALIZABLE every round plans from the same
  -- snapshot, which may predate a change committed before the locks.
  SELECT string_agg(DISTINCT (e ->> 'relid')::oid::regclass::text, ', ') INTO changed
    FROM jsonb_array_elements(plan) AS e
   WHERE oauth_rls._policies_changed((e ->> 'relid')::oid);
  IF changed IS NOT NULL THEN
    RAISE EXCEPTION 'apply_rewrite: the policies of % changed after this transaction''s snapshot was taken', changed
      USING ERRCODE = 'serialization_failure',
            DETAIL = 'The rewrite would be planned from the old policies and overwrite the change.',
            HINT = 'Run apply_rewrite() again in a new transaction.';
  END IF;

  FOR step IN SELECT x.*
                FROM ROWS FROM (jsonb_to_recordset(plan)
                                AS (step integer, kind text, relid oid, policy_name name, ddl text))
                     WITH ORDINALITY AS x(step, kind, relid, policy_name, ddl, n)
               ORDER BY x.n LOOP
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
      -- guard() records the table with guarded_at = now(), the same
      -- transaction timestamp as applied_at: revert_rewrite() checks that
      -- the guard record is still this one.
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
  changed text;
BEGIN
  LOCK TABLE oauth_rls.rewrite_log IN SHARE ROW EXCLUSIVE MODE;
  -- Lock the tables first, so that what is checked below is what is
  -- changed: no ALTER POLICY can commit in between.
  PERFORM oauth_rls._lock_for_rewrite(t.relid, 'revert_rewrite')
     FROM (SELECT DISTINCT l.tbl::oid AS relid
             FROM oauth_rls.rewrite_log l
             JOIN pg_class c ON c.oid = l.tbl
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE l.reverted_at IS NULL AND (schemas IS NULL OR n.nspname = ANY (schemas))
            ORDER BY 1) t;
  SELECT string_agg(DISTINCT l.tbl::text, ', ') INTO changed
    FROM oauth_rls.rewrite_log l
    JOIN pg_class c ON c.oid = l.tbl
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE l.reverted_at IS NULL AND l.kind = 'policy' AND (schemas IS NULL OR n.nspname = ANY (schemas))
     AND oauth_rls._policies_changed(l.tbl);
  IF changed IS NOT NULL THEN
    RAISE EXCEPTION 'revert_rewrite: the policies of % changed after this transaction''s snapshot was taken', changed
      USING ERRCODE = 'serialization_failure',
            HINT = 'Run revert_rewrite() again in a new transaction.';
  END IF;

  FOR entry IN
    SELECT l.*, n.nspname, c.relname
      FROM oauth_rls.rewrite_log l
      JOIN pg_class c ON c.oid = l.tbl
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE l.reverted_at IS NULL AND (schemas IS NULL OR n.nspname = ANY (schemas))
     ORDER BY l.id DESC
  LOOP
    IF entry.kind = 'guard' THEN
      -- Only the guard record this rewrite made (see apply_rewrite()): a
      -- table guarded again by hand since keeps its guard.
      IF NOT EXISTS (SELECT 1 FROM oauth_rls.guarded_tables g
                      WHERE g.tbl = entry.tbl AND g.guarded_at = entry.applied_at) THEN
        RAISE NOTICE 'revert_rewrite: table %.% is not guarded by the rewrite any more, left as it is',
                     entry.nspname, entry.relname
          USING DETAIL = 'It was unguarded, or unguarded and guarded again, after the rewrite.';
        UPDATE oauth_rls.rewrite_log l SET reverted_at = now() WHERE l.id = entry.id;
        CONTINUE;
      END IF;
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
-- never for the API roles.  They run with the caller's rights.  The revokes
-- from anon and authenticated are in oauth_rls.grant_supabase_roles() (part 90).
REVOKE ALL ON oauth_rls.rewrite_log FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_rls.rewrite_log TO @extowner@ WITH GRANT OPTION;
REVOKE ALL ON FUNCTION
  oauth_rls._policies_changed(oid),
  oauth_rls._lock_for_rewrite(oid, text),
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
  oauth_rls._policies_changed(oid),
  oauth_rls._lock_for_rewrite(oid, text),
  oauth_rls._rewrite_policy(pg_node_tree, pg_node_tree, oid),
  oauth_rls._platform_schemas(),
  oauth_rls._policy_ddl(oid),
  oauth_rls.audit(text[]),
  oauth_rls._rewrite_plan(text[]),
  oauth_rls.plan_rewrite(text[]),
  oauth_rls.apply_rewrite(text[]),
  oauth_rls.revert_rewrite(text[])
  TO @extowner@ WITH GRANT OPTION;
-- oauth_rls install script, part 30: the Custom Access Token Hook, its
-- per-client settings, issuance metrics and the client review view.

-- Per-client token settings, kept with the client in the registry.  The names
-- in the two lists below are the claims the hook never lets a client setting
-- touch (src/hook.c, protected_claims, holds the same list).
ALTER TABLE oauth_rls.clients
  ADD COLUMN audience text
    CONSTRAINT clients_audience_check CHECK (audience <> '' AND length(audience) <= 1024),
  ADD COLUMN extra_claims jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT clients_extra_claims_check CHECK (
      jsonb_typeof(extra_claims) = 'object'
      AND NOT extra_claims ?| ARRAY['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'role', 'aal', 'amr',
                                   'session_id', 'is_anonymous', 'client_id', 'scope', 'client_tier']
      -- claims in Auth's schema keep their type
      AND coalesce(jsonb_typeof(extra_claims -> 'email'), 'string') = 'string'
      AND coalesce(jsonb_typeof(extra_claims -> 'phone'), 'string') = 'string'
      AND coalesce(jsonb_typeof(extra_claims -> 'app_metadata'), 'object') = 'object'
      AND coalesce(jsonb_typeof(extra_claims -> 'user_metadata'), 'object') = 'object'
      AND octet_length(extra_claims::text) <= 16384),
  ADD COLUMN strip_claims text[] NOT NULL DEFAULT '{}'
    CONSTRAINT clients_strip_claims_check CHECK (
      coalesce(array_ndims(strip_claims), 1) = 1
      AND cardinality(strip_claims) <= 64
      AND array_position(strip_claims, NULL) IS NULL
      AND array_position(strip_claims, '') IS NULL
      AND NOT strip_claims && ARRAY['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'role', 'aal', 'amr',
                                    'session_id', 'is_anonymous', 'client_id', 'scope', 'client_tier']);
COMMENT ON COLUMN oauth_rls.clients.audience IS
  'Replaces the aud claim of this client''s tokens; NULL keeps Auth''s aud';
COMMENT ON COLUMN oauth_rls.clients.extra_claims IS
  'Claims merged into this client''s tokens (top-level keys replace); protected claims are refused';
COMMENT ON COLUMN oauth_rls.clients.strip_claims IS
  'Claims removed from this client''s tokens; email and phone, which Auth requires, become ""';

-- The hook.  Not STRICT (a NULL event gets an error object), VOLATILE (it
-- counts issuances, and a chained hook may write).
CREATE FUNCTION oauth_rls.custom_access_token_hook(event jsonb) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'oauth_rls_custom_access_token_hook' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) IS
  'Supabase Auth Custom Access Token Hook: client_tier, per-client audience/extra/strip, blocked clients refused, '
  'third-party claim minimisation, chaining (oauth_rls.chained_hook), issuance counts';

-- Issuance counts.  A row per (UTC hour, client, tier, authentication method,
-- shard); the hook adds 1 to the row of its backend's shard, so concurrent
-- sign-ins for one client spread over several rows.  client is the client_id,
-- or 'direct' for tokens without one (tier tells the two apart).
CREATE TABLE oauth_rls.token_issuance (
  hour   timestamptz NOT NULL,
  client text COLLATE "C" NOT NULL,
  tier   oauth_rls.tier NOT NULL,
  method text COLLATE "C" NOT NULL,
  shard  smallint NOT NULL,
  tokens bigint NOT NULL CONSTRAINT token_issuance_tokens_check CHECK (tokens > 0),
  CONSTRAINT token_issuance_pkey PRIMARY KEY (hour, client, tier, method, shard)
);
COMMENT ON TABLE oauth_rls.token_issuance IS
  'Tokens issued (and refused to blocked clients) by custom_access_token_hook, per UTC hour; see token_issuance_daily';
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.token_issuance', '');

CREATE VIEW oauth_rls.token_issuance_daily AS
SELECT (i.hour AT TIME ZONE 'UTC')::date AS day,
       i.client,
       coalesce(sum(i.tokens) FILTER (WHERE i.tier <> 'blocked'), 0)::bigint AS tokens,
       coalesce(sum(i.tokens) FILTER (WHERE i.tier = 'blocked'), 0)::bigint AS refused
  FROM oauth_rls.token_issuance AS i
 GROUP BY 1, 2;
COMMENT ON VIEW oauth_rls.token_issuance_daily IS
  'Tokens issued per client (client_id, or ''direct'') per UTC day, and refusals of blocked clients';

CREATE FUNCTION oauth_rls.prune_token_issuance(keep interval DEFAULT '400 days') RETURNS bigint
  LANGUAGE sql SET search_path = pg_catalog, pg_temp AS
$$
  WITH gone AS (
    DELETE FROM oauth_rls.token_issuance WHERE hour < pg_catalog.now() - keep RETURNING 1
  )
  SELECT pg_catalog.count(*) FROM gone
$$;
COMMENT ON FUNCTION oauth_rls.prune_token_issuance(interval) IS
  'Deletes issuance counts older than keep; returns how many rows went';

-- Privileges, as Supabase prescribes for hooks: only Auth's role runs the
-- hook, and it may write what the hook writes; anon and authenticated get
-- nothing.  Those grants (and the registry's SELECT for supabase_auth_admin)
-- are made by oauth_rls.grant_supabase_roles() (part 90).  The installing
-- role holds, WITH GRANT OPTION, every right that function grants, so that
-- it can run it.
REVOKE ALL ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) FROM PUBLIC;
REVOKE ALL ON oauth_rls.token_issuance FROM PUBLIC;
REVOKE ALL ON oauth_rls.token_issuance_daily FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.prune_token_issuance(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.token_issuance TO @extowner@ WITH GRANT OPTION;
GRANT SELECT ON oauth_rls.token_issuance_daily TO @extowner@ WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION oauth_rls.prune_token_issuance(interval) TO @extowner@ WITH GRANT OPTION;

-- Client review: Auth's OAuth clients with their tier, issuance and flags.
-- It reads auth.oauth_clients and auth.sessions, which exist only where
-- Supabase Auth (v2.18x+) has migrated the database, so the install script
-- creates it only when they exist; where Auth creates them later, the
-- extension's owner calls this function.  It is a plain view (its owner's
-- rights) because on hosted Supabase only Auth's role and superusers may read
-- auth tables: created by the install script, it belongs to the bootstrap
-- superuser and is a member of the extension; created by a later call, it
-- belongs to the caller (who must be able to read both tables) and is not a
-- member (ALTER EXTENSION oauth_rls ADD VIEW makes it one).  It shows no
-- secret (client_secret_hash is left out); SELECT goes to the extension's
-- owner only, WITH GRANT OPTION.
CREATE FUNCTION oauth_rls.create_client_review() RETURNS boolean
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$review$
DECLARE
  -- Looked up in the catalog: to_regclass() needs USAGE on schema auth.
  auth_clients pg_catalog.oid := (SELECT c.oid FROM pg_catalog.pg_class AS c
                                    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                                   WHERE n.nspname = 'auth' AND c.relname = 'oauth_clients');
  auth_sessions pg_catalog.oid := (SELECT c.oid FROM pg_catalog.pg_class AS c
                                     JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                                    WHERE n.nspname = 'auth' AND c.relname = 'sessions');
  ext_owner pg_catalog.oid;
BEGIN
  IF pg_catalog.to_regclass('oauth_rls.client_review') IS NOT NULL THEN
    RAISE NOTICE 'oauth_rls.client_review already exists';
    RETURN false;
  END IF;
  IF auth_clients IS NULL OR auth_sessions IS NULL
     OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                     WHERE attrelid = auth_sessions AND attname = 'oauth_client_id' AND NOT attisdropped) THEN
    RAISE NOTICE 'oauth_rls.client_review not created: Supabase Auth''s OAuth tables are absent'
      USING HINT = 'Once Supabase Auth has created auth.oauth_clients, run SELECT oauth_rls.create_client_review();';
    RETURN false;
  END IF;
  -- The view reads Auth's tables with its owner's rights: one its owner
  -- cannot read would fail every query.
  IF NOT (pg_catalog.has_schema_privilege('auth', 'USAGE')
          AND pg_catalog.has_table_privilege(auth_clients, 'SELECT')
          AND pg_catalog.has_table_privilege(auth_sessions, 'SELECT')) THEN
    RAISE EXCEPTION 'oauth_rls.create_client_review: role "%" may not read auth.oauth_clients and auth.sessions',
        current_user
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'The view reads Auth''s tables with the rights of its owner, the role that creates it.',
            HINT = 'Run it as a role that can read both tables, such as a superuser.';
  END IF;

  EXECUTE $view$
CREATE VIEW oauth_rls.client_review AS
WITH issuance AS (
  SELECT i.client,
         sum(i.tokens) FILTER (WHERE i.hour >= pg_catalog.now() - interval '24 hours') AS tokens_24h,
         sum(i.tokens) FILTER (WHERE i.hour >= pg_catalog.now() - interval '7 days') AS tokens_7d,
         sum(i.tokens) FILTER (WHERE i.hour >= pg_catalog.date_trunc('day', pg_catalog.now(), 'UTC'))
           AS tokens_today,
         sum(i.tokens) FILTER (WHERE i.hour < pg_catalog.date_trunc('day', pg_catalog.now(), 'UTC')
                                 AND i.hour >= pg_catalog.date_trunc('day', pg_catalog.now(), 'UTC')
                                              - interval '7 days') AS tokens_previous_7_days
    FROM oauth_rls.token_issuance AS i
   WHERE i.tier <> 'blocked'
     AND i.hour >= pg_catalog.date_trunc('day', pg_catalog.now(), 'UTC') - interval '7 days'
   GROUP BY i.client
),
sessions AS (
  SELECT s.oauth_client_id, count(*) AS live_sessions
    FROM auth.sessions AS s
   WHERE s.oauth_client_id IS NOT NULL
     AND (s.not_after IS NULL OR s.not_after > pg_catalog.now())
   GROUP BY s.oauth_client_id
),
uris AS (
  SELECT c.id,
         pg_catalog.btrim(u.uri) AS uri,
         pg_catalog.lower(pg_catalog.substring(pg_catalog.btrim(u.uri),
           '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]]*\]|[^:/?#]*)')) AS host
    FROM auth.oauth_clients AS c,
         pg_catalog.regexp_split_to_table(c.redirect_uris, ',') AS u(uri)
   WHERE pg_catalog.btrim(u.uri) <> ''
),
uri_flags AS (
  SELECT u.id,
         bool_or(pg_catalog.lower(u.uri) NOT LIKE 'https://%'
                 AND NOT (pg_catalog.lower(u.uri) LIKE 'http://%'
                          AND u.host IN ('localhost', '127.0.0.1', '[::1]'))) AS not_https,
         bool_or(u.host NOT IN ('127.0.0.1', '[::1]')
                 AND (u.host ~ '^[0-9]+(\.[0-9]+){3}$' OR u.host ~ '^\[.*\]$')) AS bare_ip,
         bool_or(u.uri LIKE '%*%') AS wildcard
    FROM uris AS u
   GROUP BY u.id
),
review AS (
  SELECT c.id::text AS client_id,
         c.client_name AS name,
         c.registration_type::text AS registration_type,
         c.client_type::text AS client_type,
         c.created_at AS registered_at,
         c.deleted_at,
         c.redirect_uris,
         r.tier AS registered_tier,
         oauth_rls.tier_of(c.id::text) AS tier,
         coalesce(i.tokens_24h, 0)::bigint AS tokens_24h,
         coalesce(i.tokens_7d, 0)::bigint AS tokens_7d,
         coalesce(i.tokens_today, 0)::bigint AS tokens_today,
         coalesce(s.live_sessions, 0)::bigint AS live_sessions,
         c.registration_type::text = 'dynamic' AS dynamic,
         coalesce(f.not_https, false) AS not_https,
         coalesce(f.bare_ip, false) AS bare_ip,
         coalesce(f.wildcard, false) AS wildcard,
         coalesce(i.tokens_today, 0) >= 10
           AND coalesce(i.tokens_today, 0) > 10 * coalesce(i.tokens_previous_7_days, 0) / 7.0 AS spike,
         r.client_id IS NULL AND (coalesce(s.live_sessions, 0) > 0 OR coalesce(i.tokens_7d, 0) > 0) AS unregistered_in_use
    FROM auth.oauth_clients AS c
    LEFT JOIN oauth_rls.clients AS r ON r.client_id = c.id::text
    LEFT JOIN issuance AS i ON i.client = c.id::text
    LEFT JOIN sessions AS s ON s.oauth_client_id = c.id
    LEFT JOIN uri_flags AS f ON f.id = c.id
)
SELECT v.client_id, v.name, v.registration_type, v.client_type, v.registered_at, v.deleted_at,
       v.redirect_uris, v.registered_tier, v.tier, v.tokens_24h, v.tokens_7d, v.tokens_today,
       v.live_sessions,
       pg_catalog.array_remove(ARRAY[
         CASE WHEN v.dynamic THEN 'dynamically_registered' END,
         CASE WHEN v.not_https THEN 'redirect_uri_not_https' END,
         CASE WHEN v.bare_ip THEN 'redirect_uri_bare_ip' END,
         CASE WHEN v.wildcard THEN 'redirect_uri_wildcard' END,
         CASE WHEN v.spike THEN 'issuance_spike' END,
         CASE WHEN v.deleted_at IS NOT NULL AND v.live_sessions > 0 THEN 'deleted_with_live_sessions' END,
         CASE WHEN v.unregistered_in_use THEN 'unregistered_in_use' END
       ]::text[], NULL) AS flags
  FROM review AS v
$view$;
  EXECUTE 'COMMENT ON VIEW oauth_rls.client_review IS '
    || pg_catalog.quote_literal('Supabase OAuth clients for review: tier, tokens issued, live sessions and flags');
  EXECUTE 'REVOKE ALL ON oauth_rls.client_review FROM PUBLIC';
  SELECT e.extowner INTO ext_owner FROM pg_catalog.pg_extension AS e WHERE e.extname = 'oauth_rls';
  IF ext_owner IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
    EXECUTE pg_catalog.format('GRANT SELECT ON oauth_rls.client_review TO %s WITH GRANT OPTION',
                              ext_owner::pg_catalog.regrole);
  END IF;
  RETURN true;
END
$review$;
COMMENT ON FUNCTION oauth_rls.create_client_review() IS
  'Creates the view oauth_rls.client_review if it is missing and Supabase Auth''s OAuth tables exist; true when it did';
REVOKE ALL ON FUNCTION oauth_rls.create_client_review() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_rls.create_client_review() TO @extowner@ WITH GRANT OPTION;

SELECT oauth_rls.create_client_review();
-- oauth_rls install script, part 40: API keys (pk_<id>.sk_<secret>).
-- Grammar, lifecycle and privileges: docs/api-keys.md.

-- The key id grammar (1 to 64 of A-Z a-z 0-9 _ -), from the same C code
-- that parses keys; cheaper than a regular expression in a CHECK.
CREATE FUNCTION oauth_rls._is_valid_key_id(key_id text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'oauth_rls_is_valid_key_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE oauth_rls.api_keys (
  -- The public half of the key, without "pk_".  COLLATE "C": byte comparison.
  key_id       text COLLATE "C" NOT NULL
               CONSTRAINT api_keys_key_id_check CHECK (oauth_rls._is_valid_key_id(key_id)),
  owner        uuid NOT NULL,             -- an auth.users id
  client_id    text COLLATE "C"           -- the OAuth client the key acts as (its tier)
               CONSTRAINT api_keys_client_id_check CHECK (client_id <> '' AND octet_length(client_id) <= 255),
  name         text,
  scopes       text[] NOT NULL DEFAULT '{}'
               CONSTRAINT api_keys_scopes_check CHECK (array_position(scopes, NULL) IS NULL),
  -- SHA-256 of the hashed part (digest_input) of the key; never the secret.
  digest       bytea NOT NULL
               CONSTRAINT api_keys_digest_check CHECK (length(digest) = 32),
  -- What was hashed: 'secret' (after "sk_", the default and what oauth_rls
  -- does), 'sk_secret' (with the "sk_"), 'key' (the whole pk_....sk_... text).
  digest_input text NOT NULL DEFAULT 'secret'
               CONSTRAINT api_keys_digest_input_check CHECK (digest_input IN ('secret', 'sk_secret', 'key')),
  imported     boolean NOT NULL DEFAULT false,   -- made by another system
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  replaced_by  text COLLATE "C",          -- set by rotate_api_key()
  CONSTRAINT api_keys_pkey PRIMARY KEY (key_id)
) WITH (fillfactor = 80);  -- room for HOT updates of last_used_at
COMMENT ON TABLE oauth_rls.api_keys IS
  'API keys pk_<key_id>.sk_<secret>: only a SHA-256 digest of the secret is stored';

CREATE INDEX api_keys_owner_idx ON oauth_rls.api_keys (owner);
-- Lets the validator skip the table for keys of a foreign shape when no key
-- was imported (see api_keys.c).
CREATE INDEX api_keys_imported_idx ON oauth_rls.api_keys (key_id) WHERE imported;

-- Every column a validation depends on, i.e. all but last_used_at: refreshing
-- last_used_at must not invalidate every backend's cache.  A column added to
-- the table later must be added to this list.
CREATE TRIGGER api_keys_invalidate_caches
  AFTER INSERT OR DELETE OR TRUNCATE
     OR UPDATE OF key_id, owner, client_id, name, scopes, digest, digest_input, imported,
                  created_at, expires_at, revoked_at, replaced_by
  ON oauth_rls.api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
-- ALWAYS: a revocation restored or replicated with session_replication_role =
-- replica must still reach every backend's cache.
ALTER TABLE oauth_rls.api_keys ENABLE ALWAYS TRIGGER api_keys_invalidate_caches;

SELECT pg_catalog.pg_extension_config_dump('oauth_rls.api_keys', '');

-- Key material: a new random id and secret, the whole key, and the digest to
-- store.  Used by create_api_key() and rotate_api_key().
CREATE FUNCTION oauth_rls._generate_api_key(OUT key_id text, OUT api_key text, OUT digest bytea)
  AS 'MODULE_PATHNAME', 'oauth_rls_generate_api_key' LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION oauth_rls.create_api_key(
    owner uuid, name text, scopes text[] DEFAULT '{}', expires_at timestamptz DEFAULT NULL,
    client_id text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  k record;
BEGIN
  IF owner IS NULL THEN
    RAISE EXCEPTION 'owner of an API key must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF scopes IS NULL OR array_position(scopes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'scopes of an API key must be an array without nulls'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass ''{}'' for a key without scopes.';
  END IF;
  SELECT * INTO k FROM oauth_rls._generate_api_key();
  INSERT INTO oauth_rls.api_keys (key_id, owner, client_id, name, scopes, digest, expires_at)
    VALUES (k.key_id, create_api_key.owner, create_api_key.client_id, create_api_key.name,
            create_api_key.scopes, k.digest, create_api_key.expires_at);
  RETURN k.api_key;
END
$$;
COMMENT ON FUNCTION oauth_rls.create_api_key(uuid, text, text[], timestamptz, text) IS
  'Creates an API key and returns it; only its digest is stored, so this is the only time it is shown';

CREATE FUNCTION oauth_rls.revoke_api_key(key_id text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  was_revoked timestamptz;
BEGIN
  SELECT k.revoked_at INTO was_revoked FROM oauth_rls.api_keys k
   WHERE k.key_id = revoke_api_key.key_id FOR UPDATE;
  IF NOT FOUND THEN
    -- The argument is not shown: it may be a whole key passed by mistake.
    RAISE EXCEPTION 'no API key has this key id'
      USING ERRCODE = 'no_data_found', HINT = 'Pass the key id (the part between "pk_" and "."), not the key.';
  END IF;
  IF was_revoked IS NOT NULL THEN
    RETURN false;
  END IF;
  UPDATE oauth_rls.api_keys k SET revoked_at = now() WHERE k.key_id = revoke_api_key.key_id;
  RETURN true;
END
$$;
COMMENT ON FUNCTION oauth_rls.revoke_api_key(text) IS
  'Revokes a key at once: true when this call revoked it, false when it already was';

CREATE FUNCTION oauth_rls.rotate_api_key(key_id text, grace interval DEFAULT '0') RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  old oauth_rls.api_keys;
  k record;
BEGIN
  IF grace IS NULL OR grace < interval '0' THEN
    RAISE EXCEPTION 'grace period must be a non-negative interval'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO old FROM oauth_rls.api_keys a WHERE a.key_id = rotate_api_key.key_id FOR UPDATE;
  IF NOT FOUND THEN
    -- The argument is not shown: it may be a whole key passed by mistake.
    RAISE EXCEPTION 'no API key has this key id'
      USING ERRCODE = 'no_data_found', HINT = 'Pass the key id (the part between "pk_" and "."), not the key.';
  END IF;
  IF old.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'API key "%" is revoked and cannot be rotated', old.key_id
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Create a new key instead.';
  END IF;
  IF old.expires_at IS NOT NULL AND old.expires_at <= now() THEN
    RAISE EXCEPTION 'API key "%" has expired and cannot be rotated', old.key_id
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Create a new key instead.';
  END IF;
  SELECT * INTO k FROM oauth_rls._generate_api_key();
  INSERT INTO oauth_rls.api_keys (key_id, owner, client_id, name, scopes, digest, expires_at)
    VALUES (k.key_id, old.owner, old.client_id, old.name, old.scopes, k.digest, old.expires_at);
  UPDATE oauth_rls.api_keys a
     SET expires_at = least(coalesce(a.expires_at, 'infinity'), now() + grace),
         replaced_by = k.key_id
   WHERE a.key_id = old.key_id;
  RETURN k.api_key;
END
$$;
COMMENT ON FUNCTION oauth_rls.rotate_api_key(text, interval) IS
  'Issues a new key with the same owner, client, name, scopes and expiry; the old key stays valid for the grace period only';

CREATE FUNCTION oauth_rls.import_api_key(
    key_id text, owner uuid, digest_hex text, name text DEFAULT NULL, scopes text[] DEFAULT '{}',
    expires_at timestamptz DEFAULT NULL, client_id text DEFAULT NULL,
    digest_input text DEFAULT 'secret')
  RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF key_id IS NULL OR NOT oauth_rls._is_valid_key_id(key_id) THEN
    RAISE EXCEPTION 'key id must be 1 to 64 characters from A-Z a-z 0-9 _ -'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the part between "pk_" and "." of the existing keys.';
  END IF;
  IF owner IS NULL THEN
    RAISE EXCEPTION 'owner of an API key must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- The digest is not shown in the message: it identifies a live key.
  IF digest_hex IS NULL OR digest_hex !~ '^[0-9A-Fa-f]{64}$' THEN
    RAISE EXCEPTION 'digest_hex must be a SHA-256 digest as 64 hexadecimal digits'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'pgcrypto''s encode(digest(secret, ''sha256''), ''hex'') gives that form.';
  END IF;
  IF digest_input IS NULL OR digest_input NOT IN ('secret', 'sk_secret', 'key') THEN
    RAISE EXCEPTION 'digest_input must be ''secret'', ''sk_secret'' or ''key'''
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'It says what the stored digest was computed over: the secret after "sk_", the secret with "sk_", or the whole key.';
  END IF;
  IF scopes IS NULL OR array_position(scopes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'scopes of an API key must be an array without nulls'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass ''{}'' for a key without scopes.';
  END IF;
  INSERT INTO oauth_rls.api_keys (key_id, owner, client_id, name, scopes, digest, digest_input,
                                  imported, expires_at)
    VALUES (import_api_key.key_id, import_api_key.owner, import_api_key.client_id,
            import_api_key.name, import_api_key.scopes, decode(lower(digest_hex), 'hex'),
            import_api_key.digest_input, true, import_api_key.expires_at);
END
$$;
COMMENT ON FUNCTION oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text) IS
  'Imports a key made by another system from its hex SHA-256 digest; the key keeps working unchanged';

CREATE FUNCTION oauth_rls.validate_api_key(key text)
  RETURNS TABLE (key_id text, owner uuid, scopes text[], client_id text)
  AS 'MODULE_PATHNAME', 'oauth_rls_validate_api_key' LANGUAGE C VOLATILE STRICT ROWS 1;
COMMENT ON FUNCTION oauth_rls.validate_api_key(text) IS
  'One row for a valid key, no row for any invalid one (malformed, bad checksum, unknown, wrong secret, expired, revoked)';

CREATE FUNCTION oauth_rls.diagnose_api_key(key text) RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_diagnose_api_key' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION oauth_rls.diagnose_api_key(text) IS
  'For administrators: why a key is invalid (or ''valid''); never shows the key';

-- Keys inside RLS: the request's x-api-key header, validated once per request.
CREATE FUNCTION oauth_rls.api_key_owner() RETURNS uuid
  AS 'MODULE_PATHNAME', 'oauth_rls_api_key_owner' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.api_key_owner() IS
  'Owner of the valid API key in request header x-api-key; NULL when absent or invalid';

CREATE FUNCTION oauth_rls.api_key_scopes() RETURNS text[]
  AS 'MODULE_PATHNAME', 'oauth_rls_api_key_scopes' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.api_key_scopes() IS
  'Scopes of the valid API key in request header x-api-key; NULL when absent or invalid';

CREATE FUNCTION oauth_rls.api_key_id() RETURNS text
  AS 'MODULE_PATHNAME', 'oauth_rls_api_key_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION oauth_rls.api_key_id() IS
  'Id of the valid API key in request header x-api-key (to record which key made a call); NULL when absent or invalid';

-- Privileges.  The table is managed by the extension's owner and by
-- service_role; anon and authenticated get nothing (the C readers behind
-- api_key_owner() and friends read it with the extension's own access).
-- service_role's grants are in oauth_rls.grant_supabase_roles() (part 90).
REVOKE ALL ON oauth_rls.api_keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.api_keys TO @extowner@ WITH GRANT OPTION;

-- _is_valid_key_id() runs in the table's CHECK constraint, so whoever may
-- insert or update keys needs it.
REVOKE ALL ON FUNCTION oauth_rls._is_valid_key_id(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls._generate_api_key() FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.create_api_key(uuid, text, text[], timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.revoke_api_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.rotate_api_key(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.validate_api_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.diagnose_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls._is_valid_key_id(text),
  oauth_rls._generate_api_key(),
  oauth_rls.create_api_key(uuid, text, text[], timestamptz, text),
  oauth_rls.revoke_api_key(text),
  oauth_rls.rotate_api_key(text, interval),
  oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text),
  oauth_rls.validate_api_key(text),
  oauth_rls.diagnose_api_key(text)
  TO @extowner@ WITH GRANT OPTION;
-- oauth_rls install script, part 90: privileges of Supabase's roles.
--
-- anon, authenticated, service_role and supabase_auth_admin exist on every
-- Supabase project but not on a plain PostgreSQL, and a project's roles may
-- appear after the extension was installed.  Every grant and revoke that
-- names one of them is made here, by one function: the install script calls
-- it, and the extension's owner calls it again to repair a database whose
-- roles came later.  It runs with the caller's rights; the install script
-- gives the installing role every right below WITH GRANT OPTION, so no
-- superuser is needed.  A new part that grants to these roles adds its
-- grants here.
CREATE FUNCTION oauth_rls.grant_supabase_roles() RETURNS text[]
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  done text[] := '{}';
  ext_owner pg_catalog.oid := (SELECT e.extowner FROM pg_catalog.pg_extension AS e WHERE e.extname = 'oauth_rls');
BEGIN
  -- GRANT by a role lacking the grant option only warns: refuse up front.
  IF NOT (pg_catalog.pg_has_role(ext_owner, 'USAGE')
          OR (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)) THEN
    RAISE EXCEPTION 'oauth_rls.grant_supabase_roles: role "%" is not the owner of extension oauth_rls', current_user
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Run it as the role that installed the extension, or as a superuser.';
  END IF;
  -- Auth's role runs the token hook (part 30), which reads the registry and
  -- counts issuances.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'supabase_auth_admin') THEN
    GRANT EXECUTE ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) TO supabase_auth_admin;
    GRANT SELECT ON oauth_rls.clients TO supabase_auth_admin;
    GRANT SELECT, INSERT, UPDATE ON oauth_rls.token_issuance TO supabase_auth_admin;
    done := done || 'supabase_auth_admin'::text;
  END IF;
  -- service_role manages API keys (part 40); _is_valid_key_id runs in the
  -- table's CHECK constraint, _generate_api_key in create and rotate.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_rls.api_keys TO service_role;
    GRANT EXECUTE ON FUNCTION
      oauth_rls._is_valid_key_id(text),
      oauth_rls._generate_api_key(),
      oauth_rls.create_api_key(uuid, text, text[], timestamptz, text),
      oauth_rls.revoke_api_key(text),
      oauth_rls.rotate_api_key(text, interval),
      oauth_rls.import_api_key(text, uuid, text, text, text[], timestamptz, text, text),
      oauth_rls.validate_api_key(text),
      oauth_rls.diagnose_api_key(text)
      TO service_role;
    done := done || 'service_role'::text;
  END IF;
  -- The API roles never run the hook or the audit (parts 25 and 30); these
  -- revokes undo grants that default privileges may have made.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) FROM anon;
    REVOKE ALL ON FUNCTION oauth_rls.audit(text[]), oauth_rls.plan_rewrite(text[]),
      oauth_rls.apply_rewrite(text[]), oauth_rls.revert_rewrite(text[]) FROM anon;
    done := done || 'anon'::text;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) FROM authenticated;
    REVOKE ALL ON FUNCTION oauth_rls.audit(text[]), oauth_rls.plan_rewrite(text[]),
      oauth_rls.apply_rewrite(text[]), oauth_rls.revert_rewrite(text[]) FROM authenticated;
    done := done || 'authenticated'::text;
  END IF;
  RETURN done;
END
$$;
COMMENT ON FUNCTION oauth_rls.grant_supabase_roles() IS
  'Grants (and revokes) what oauth_rls gives Supabase''s roles supabase_auth_admin, service_role, anon and authenticated, for those that exist; returns their names';
REVOKE ALL ON FUNCTION oauth_rls.grant_supabase_roles() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_rls.grant_supabase_roles() TO @extowner@ WITH GRANT OPTION;

SELECT oauth_rls.grant_supabase_roles();
