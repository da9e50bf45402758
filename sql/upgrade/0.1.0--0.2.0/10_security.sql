-- oauth_rls upgrade script 0.1.0 -> 0.2.0, part 10: security fixes of issue 10
-- (search_path, settings, grants, the DROP event trigger, the rewrite log).

-- act_as() as the first call of a connection: the library is not loaded, so
-- oauth_rls.enforce_revocation is read with missing_ok (its default is on).
CREATE OR REPLACE FUNCTION oauth_rls.act_as(user_id uuid, client_id text DEFAULT NULL,
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

-- The DROP event trigger fires under session_replication_role = replica too.
ALTER EVENT TRIGGER oauth_rls_forget_dropped_tables ENABLE ALWAYS;

-- The settings that weaken a protection are PGC_SUSET from 0.2.0 on; the
-- extension's owner may change them (install part 80_settings.sql).  Granted
-- to the extension's owner, not to @extowner@: that is whoever runs the
-- update, maybe a superuser updating for the owner.
DO $$
BEGIN
  EXECUTE pg_catalog.format(
    'GRANT SET ON PARAMETER oauth_rls.enforce_revocation, oauth_rls.minimize_third_party_claims, '
    'oauth_rls.chained_hook, oauth_rls.record_issuance, oauth_rls.unregistered_client_tier '
    'TO %I WITH GRANT OPTION',
    (SELECT r.rolname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner
      WHERE e.extname = 'oauth_rls'));
END
$$;

-- What policies call is granted to PUBLIC explicitly, not through the default
-- (install part 85_public_grants.sql).
GRANT USAGE ON TYPE oauth_rls.tier TO PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls.claims(), oauth_rls.claim(text), oauth_rls.user_id(), oauth_rls.client_id(),
  oauth_rls.session_id(), oauth_rls.scopes(), oauth_rls.has_scope(text),
  oauth_rls.current_tier(), oauth_rls.tier_of(text), oauth_rls.is_oauth(), oauth_rls.is_first_party(),
  oauth_rls.allows(regclass, text), oauth_rls.session_active(),
  oauth_rls.api_key_owner(), oauth_rls.api_key_scopes(), oauth_rls.api_key_id()
  TO PUBLIC;

-- The rewrite log is written by the extension only (src/rewrite_log.c), and
-- revert_rewrite() runs nothing but an ALTER POLICY of the logged policy.
-- The log's writers and the check of what revert_rewrite() runs (C, see
-- src/rewrite_log.c): only the extension writes the log, from the catalog.
CREATE FUNCTION oauth_rls._rewrite_log_add(kind text, relid oid, policy_name name, applied_ddl text)
  RETURNS bigint AS 'MODULE_PATHNAME', 'oauth_rls_rewrite_log_add' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls._rewrite_log_add(text, oid, name, text) IS
  'Internal to apply_rewrite(): logs a policy (its definition read from pg_policy now) or a guard of a table the caller owns';
CREATE FUNCTION oauth_rls._rewrite_log_applied(id bigint) RETURNS void
  AS 'MODULE_PATHNAME', 'oauth_rls_rewrite_log_applied' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION oauth_rls._rewrite_log_applied(bigint) IS
  'Internal to apply_rewrite(): records the rewritten expressions of a log entry made by the current transaction';
CREATE FUNCTION oauth_rls._check_revert_ddl(ddl text, relid oid, policy_name name) RETURNS void
  AS 'MODULE_PATHNAME', 'oauth_rls_check_revert_ddl' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION oauth_rls._check_revert_ddl(text, oid, name) IS
  'Internal to revert_rewrite(): raises unless the statement is a single ALTER POLICY of that policy of that table';
REVOKE ALL ON FUNCTION oauth_rls._rewrite_log_add(text, oid, name, text),
  oauth_rls._rewrite_log_applied(bigint), oauth_rls._check_revert_ddl(text, oid, name) FROM PUBLIC;
CREATE OR REPLACE FUNCTION oauth_rls.apply_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  plan jsonb;
  locked oid[] := '{}';
  to_lock oid[];
  rel oid;
  changed text;
  step record;
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
    -- Only the extension writes the log (see _rewrite_log_add()): it reads
    -- the original policy from the catalog itself.
    IF step.kind = 'policy' THEN
      log_id := oauth_rls._rewrite_log_add('policy', step.relid, step.policy_name, step.ddl);
      EXECUTE step.ddl;
      PERFORM oauth_rls._rewrite_log_applied(log_id);
    ELSE
      -- guard() records the table with guarded_at = now(), the same
      -- transaction timestamp as applied_at: revert_rewrite() checks that
      -- the guard record is still this one.
      PERFORM oauth_rls._rewrite_log_add('guard', step.relid, NULL, step.ddl);
      PERFORM oauth_rls.guard(step.relid::regclass);
    END IF;
    RETURN NEXT step.ddl;
  END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION oauth_rls.revert_rewrite(schemas text[] DEFAULT '{public}') RETURNS SETOF text
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
      -- The log is the extension's to write; even so, run nothing but an
      -- ALTER POLICY of this very policy.
      PERFORM oauth_rls._check_revert_ddl(ddl, entry.tbl, entry.policy_name);
      EXECUTE ddl;
    END IF;
    UPDATE oauth_rls.rewrite_log l SET reverted_at = now() WHERE l.id = entry.id;
    RETURN NEXT ddl;
  END LOOP;
END
$$;
-- No role but the log's owner keeps INSERT or UPDATE (CASCADE takes back what
-- the extension's owner passed on); the extension's owner may mark entries
-- reverted.
DO $$
DECLARE
  ext_owner pg_catalog.name := (SELECT r.rolname FROM pg_catalog.pg_extension e
                                  JOIN pg_catalog.pg_roles r ON r.oid = e.extowner
                                 WHERE e.extname = 'oauth_rls');
  g record;
BEGIN
  FOR g IN
    SELECT DISTINCT r.rolname, a.grantee = c.relowner AS is_owner
      FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
      JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
     WHERE c.oid = 'oauth_rls.rewrite_log'::pg_catalog.regclass
       AND a.privilege_type IN ('INSERT', 'UPDATE') AND (a.grantee <> c.relowner OR a.is_grantable)
  LOOP
    EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE ON oauth_rls.rewrite_log FROM %I CASCADE', g.rolname);
    -- The log's owner (where it installed the extension itself) keeps its
    -- own rights, without the grant option 0.1.0 gave it.
    IF g.is_owner THEN
      EXECUTE pg_catalog.format('GRANT INSERT, UPDATE ON oauth_rls.rewrite_log TO %I', g.rolname);
    END IF;
  END LOOP;
  EXECUTE pg_catalog.format('GRANT UPDATE (reverted_at) ON oauth_rls.rewrite_log TO %I WITH GRANT OPTION',
                            ext_owner);
  EXECUTE pg_catalog.format(
    'GRANT EXECUTE ON FUNCTION oauth_rls._rewrite_log_add(text, oid, name, text), '
    'oauth_rls._rewrite_log_applied(bigint), oauth_rls._check_revert_ddl(text, oid, name) '
    'TO %I WITH GRANT OPTION', ext_owner);
END
$$;
