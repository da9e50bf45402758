-- No SQL the extension runs resolves a name through the caller's search_path.
-- A schema "evil", first on a superuser's search_path (before pg_catalog),
-- shadows every operator of pg_catalog, operators for implicitly castable
-- type pairs that pg_catalog lacks (such as =(oid, regclass)), functions and
-- aggregates by name, and type names (as domains whose CHECK runs).  Every
-- planted object reports a WARNING and logs a row when it runs; the
-- superuser then drives every entry point, and nothing planted may run.
-- The statements below run with that search_path too, so they qualify every
-- operator, function and type themselves.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- The planting is long: not echoed.
\set ECHO none
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.ran (what text);
GRANT INSERT, SELECT ON evil.ran TO PUBLIC;
CREATE FUNCTION evil.mark(what text) RETURNS boolean
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  RAISE WARNING 'planted % ran', what;
  INSERT INTO evil.ran VALUES (what);
  RETURN true;
END
$$;

-- Every concrete operator of pg_catalog, with the same arguments.
DO $$
DECLARE
  o record;
  n int := 0;
BEGIN
  FOR o IN
    SELECT op.oid, op.oprname, op.oprkind,
           format_type(op.oprleft, NULL) AS l, format_type(op.oprright, NULL) AS r,
           format_type(op.oprresult, NULL) AS res
      FROM pg_operator op
     WHERE op.oprnamespace = 'pg_catalog'::regnamespace AND op.oprkind IN ('b', 'l')
       AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.oid IN (op.oprleft, op.oprright, op.oprresult)
                                                 AND t.typtype = 'p')
  LOOP
    BEGIN
      IF o.oprkind = 'b' THEN
        EXECUTE format('CREATE FUNCTION evil.op_%s(%s, %s) RETURNS %s LANGUAGE plpgsql '
                       'SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.mark(%L); '
                       'RETURN $1 OPERATOR(pg_catalog.%s) $2; END $f$',
                       o.oid, o.l, o.r, o.res, format('operator %s(%s, %s)', o.oprname, o.l, o.r), o.oprname);
        EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.op_%s)',
                       o.oprname, o.l, o.r, o.oid);
      ELSE
        EXECUTE format('CREATE FUNCTION evil.op_%s(%s) RETURNS %s LANGUAGE plpgsql '
                       'SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.mark(%L); '
                       'RETURN OPERATOR(pg_catalog.%s) $1; END $f$',
                       o.oid, o.r, o.res, format('operator %s(%s)', o.oprname, o.r), o.oprname);
        EXECUTE format('CREATE OPERATOR evil.%s (RIGHTARG = %s, FUNCTION = evil.op_%s)',
                       o.oprname, o.r, o.oid);
      END IF;
      n := n + 1;
    EXCEPTION WHEN OTHERS THEN
      NULL;  -- a few cannot be redefined (reserved names); counted below
    END;
  END LOOP;
END
$$;

-- Comparisons between types with an implicit cast that pg_catalog has no
-- operator for: an exact match beats pg_catalog's, wherever it is on the path.
DO $$
DECLARE
  p record;
  op text;
  k int := 0;
BEGIN
  FOR p IN
    SELECT DISTINCT format_type(a, NULL) AS l, format_type(b, NULL) AS r, a, b
      FROM pg_cast c, LATERAL (VALUES (c.castsource, c.casttarget), (c.casttarget, c.castsource)) v(a, b)
     WHERE c.castcontext = 'i'
       AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.oid IN (a, b) AND (t.typtype = 'p' OR t.typelem <> 0))
  LOOP
    FOREACH op IN ARRAY '{=,<>,<,>,<=,>=}'::text[] LOOP
      CONTINUE WHEN EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprname = op AND o.oprleft = p.a
                               AND o.oprright = p.b AND o.oprnamespace = 'pg_catalog'::regnamespace);
      k := k + 1;
      BEGIN
        EXECUTE format('CREATE FUNCTION evil.x_%s(%s, %s) RETURNS boolean LANGUAGE plpgsql '
                       'SET search_path = pg_catalog AS $f$ BEGIN PERFORM evil.mark(%L); RETURN NULL; END $f$',
                       k, p.l, p.r, format('operator %s(%s, %s)', op, p.l, p.r));
        EXECUTE format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.x_%s)',
                       op, p.l, p.r, k);
      EXCEPTION WHEN OTHERS THEN
        NULL;
      END;
    END LOOP;
  END LOOP;
END
$$;

-- Functions by name, with the same arguments, for every function such code
-- tends to call.
DO $$
DECLARE
  f record;
  k int := 0;
BEGIN
  FOR f IN
    SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
           format_type(p.prorettype, NULL) AS ret, p.pronargs
      FROM pg_proc p
     WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f' AND NOT p.proretset
       AND p.provariadic = 0
       AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE (t.oid = p.prorettype OR t.oid = ANY (p.proargtypes))
                                                 AND t.typtype = 'p')
       AND p.proname IN ('now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp',
                         'lower', 'upper', 'length', 'btrim', 'substr', 'substring', 'split_part',
                         'replace', 'starts_with', 'strpos', 'left', 'right', 'concat', 'format',
                         'quote_ident', 'quote_literal', 'quote_nullable', 'format_type', 'pg_get_expr',
                         'pg_get_userbyid', 'to_regclass', 'to_regrole', 'to_regnamespace', 'to_regproc',
                         'to_regprocedure', 'to_regtype', 'has_table_privilege', 'has_schema_privilege',
                         'has_function_privilege', 'has_any_column_privilege', 'pg_has_role',
                         'current_setting', 'set_config', 'jsonb_build_object', 'jsonb_typeof',
                         'jsonb_extract_path_text', 'jsonb_object_field_text', 'jsonb_exists',
                         'array_length', 'array_position', 'array_remove', 'array_append', 'array_cat',
                         'array_to_string', 'string_to_array', 'cardinality', 'regexp_replace',
                         'regexp_match', 'textregexeq', 'texteq', 'encode', 'decode', 'sha256', 'md5',
                         'gen_random_uuid', 'date_trunc', 'timezone', 'make_interval', 'hashtext',
                         'pg_advisory_xact_lock', 'pg_try_advisory_xact_lock', 'random', 'extract',
                         'date_part', 'to_char', 'to_json', 'to_jsonb', 'row_to_json', 'oideq', 'int4eq',
                         'pg_event_trigger_dropped_objects', 'pg_get_function_identity_arguments',
                         'pg_relation_is_publishable', 'pg_table_is_visible', 'translate', 'greatest',
                         'least', 'nullif', 'abs', 'round', 'floor', 'ceil', 'numeric', 'int4', 'int8',
                         'text', 'bool', 'uuid', 'jsonb', 'timestamptz')
  LOOP
    k := k + 1;
    BEGIN
      EXECUTE format('CREATE FUNCTION evil.%I(%s) RETURNS %s LANGUAGE plpgsql SET search_path = pg_catalog '
                     'AS $f$ BEGIN PERFORM evil.mark(%L); RETURN pg_catalog.%I(%s); END $f$',
                     f.proname, f.args, f.ret, format('function %s(%s)', f.proname, f.args), f.proname,
                     (SELECT string_agg('$' || i, ', ') FROM generate_series(1, f.pronargs) i));
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
END
$$;
CREATE FUNCTION evil.count_step(pg_catalog.int8) RETURNS pg_catalog.int8
  LANGUAGE plpgsql SET search_path = pg_catalog AS
  $$ BEGIN PERFORM evil.mark('aggregate count(*)'); RETURN $1 OPERATOR(pg_catalog.+) 1; END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_step, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION evil.agg_step(pg_catalog.text, pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text
  LANGUAGE plpgsql SET search_path = pg_catalog AS
  $$ BEGIN PERFORM evil.mark('aggregate string_agg(text, text)'); RETURN $1; END $$;
CREATE AGGREGATE evil.string_agg(pg_catalog.text, pg_catalog.text) (SFUNC = evil.agg_step, STYPE = pg_catalog.text);

-- Type names, as domains whose CHECK runs on every cast to them.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY '{text,name,uuid,jsonb,json,oid,regclass,regrole,regnamespace,regproc,regprocedure,regtype,
                       bytea,timestamptz,timestamp,int2,int4,int8,bool,float8,tid,tier,varchar,bpchar}'::text[] LOOP
    EXECUTE format('CREATE DOMAIN evil.%I AS %s CHECK (evil.mark(%L))', t,
                   CASE t WHEN 'tier' THEN 'oauth_rls.tier' ELSE 'pg_catalog.' || quote_ident(t) END,
                   'type ' || t);
  END LOOP;
END
$$;

\set ECHO all
-- What was planted (a few names cannot be redefined, such as the reserved
-- "=>" or the operators of types that have no input function).
SELECT (SELECT count(*) > 700 FROM pg_operator WHERE oprnamespace = 'evil'::regnamespace) AS operators,
       (SELECT count(*) > 100 FROM pg_proc WHERE pronamespace = 'evil'::regnamespace AND proname !~ '^(op|x)_')
         AS functions,
       to_regoperator('evil.=(oid,regclass)') IS NOT NULL AS oid_eq_regclass,
       to_regoperator('evil.=(oid,oid)') IS NOT NULL AS oid_eq_oid,
       to_regoperator('evil.=(integer,integer)') IS NOT NULL AS int4_eq,
       to_regoperator('evil.=(text,text)') IS NOT NULL AS text_eq,
       to_regoperator('evil.=(uuid,uuid)') IS NOT NULL AS uuid_eq,
       to_regoperator('evil.<(timestamp with time zone,timestamp with time zone)') IS NOT NULL AS tstz_lt,
       to_regoperator('evil.->>(jsonb,text)') IS NOT NULL AS jsonb_text,
       to_regprocedure('evil.now()') IS NOT NULL AS now,
       to_regtype('evil.text') IS NOT NULL AS text_domain;

-- Objects for the entry points, made before the search_path changes.
CREATE SCHEMA shadow;
GRANT USAGE ON SCHEMA shadow TO anon, authenticated;
CREATE TABLE shadow.notes (id int, user_id uuid);
ALTER TABLE shadow.notes ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON shadow.notes TO anon, authenticated;
-- oauth_rls.user_id(), not auth.uid(): Supabase's auth.uid() is a SQL function
-- without a pinned search_path, which the planted objects would capture.
CREATE POLICY owner ON shadow.notes TO authenticated USING (oauth_rls.user_id() = user_id);
INSERT INTO shadow.notes VALUES (1, '8d1c8a7e-0000-4000-8000-000000000001');
CREATE TABLE shadow.dropped (id int);
CREATE TABLE shadow.other (id int);
-- A table that guard_schema() does not reach, left for the rewrite to guard.
CREATE SCHEMA shadow_rw;
CREATE TABLE shadow_rw.notes (id int, user_id uuid);
ALTER TABLE shadow_rw.notes ENABLE ROW LEVEL SECURITY;
GRANT USAGE ON SCHEMA shadow_rw TO authenticated;
GRANT SELECT ON shadow_rw.notes TO authenticated;
CREATE POLICY owner ON shadow_rw.notes TO authenticated USING (oauth_rls.user_id() = user_id);

-- Everything above is what postgres, not a superuser but the owner of its
-- database (and so of public), may do on Supabase.  What follows is driven by
-- the bootstrap superuser, whose rights a planted object would run with.
\c - supabase_admin
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- From here on, evil comes first, even before pg_catalog.
SET search_path = evil, pg_catalog, public;
SELECT pg_catalog.current_setting('search_path') AS search_path;

-- Registry, matrix and guards; their triggers.
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('shadow-first-party', 'First-party app', 'first_party');
INSERT INTO oauth_rls.clients (client_id, name, tier, audience, extra_claims, strip_claims)
  VALUES ('shadow-partner', 'Partner', 'third_party', 'https://api.partner.example',
          '{"plan": "partner"}', '{app_metadata}');
UPDATE oauth_rls.clients SET name = 'Partner CRM'
 WHERE client_id OPERATOR(pg_catalog.=) 'shadow-partner';
SELECT oauth_rls.guard('shadow.notes');
SELECT oauth_rls.guard('shadow.dropped', enable_rls => true);
SELECT oauth_rls.guard_schema('shadow', enable_rls => true);
SELECT oauth_rls.set_access('shadow.notes', 'third_party', '{select}');
SELECT oauth_rls.set_access('shadow.dropped', 'third_party', '{select,update}');
SELECT oauth_rls.clear_access('shadow.notes', 'third_party');
SELECT oauth_rls.set_access('shadow.notes', 'third_party', '{select}');
SELECT oauth_rls.guard_policy_intact('shadow.notes', 'select') AS intact;
SELECT tier, commands, source FROM oauth_rls.effective_access
 WHERE tbl OPERATOR(pg_catalog.=) 'shadow.notes'::pg_catalog.regclass ORDER BY tier;

-- The sql_drop event trigger, for a guarded table: its rows go.
SELECT 'shadow.dropped'::pg_catalog.regclass::pg_catalog.oid AS dropped_oid \gset
DROP TABLE shadow.dropped;
SELECT (SELECT pg_catalog.count(*) FROM oauth_rls.access_matrix
         WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) :dropped_oid::pg_catalog.oid) AS matrix_rows,
       (SELECT pg_catalog.count(*) FROM oauth_rls.guarded_tables
         WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) :dropped_oid::pg_catalog.oid) AS guard_rows;

-- Claim functions, tiers and guards, as the superuser and as a request.
SELECT oauth_rls.current_tier(), oauth_rls.tier_of('shadow-partner'),
       oauth_rls.is_oauth(), oauth_rls.claims() IS NULL AS no_claims;
BEGIN;
SELECT oauth_rls.act_as('8d1c8a7e-0000-4000-8000-000000000001',
                        'shadow-partner', 'email') IS NOT NULL AS acting;
SELECT oauth_rls.current_tier(), oauth_rls.client_id(), oauth_rls.user_id(), oauth_rls.scopes(),
       oauth_rls.has_scope('email'), oauth_rls.is_first_party(), oauth_rls.session_id() IS NOT NULL AS sid,
       oauth_rls.allows('shadow.notes', 'select'), oauth_rls.claim('role');
SELECT pg_catalog.count(*) AS third_party_reads FROM shadow.notes;
ROLLBACK;
BEGIN;
SELECT oauth_rls.act_as('8d1c8a7e-0000-4000-8000-000000000001') IS NOT NULL AS acting;
SELECT pg_catalog.count(*) AS direct_reads FROM shadow.notes;
ROLLBACK;

-- The hook, for an OAuth client (registry, settings, minimisation, issuance).
SELECT oauth_rls.custom_access_token_hook(
  '{"user_id": "8d1c8a7e-0000-4000-8000-000000000001",
    "authentication_method": "oauth_provider/authorization_code",
    "claims": {"iss": "https://abcd.supabase.co/auth/v1", "sub": "8d1c8a7e-0000-4000-8000-000000000001",
               "aud": "authenticated", "exp": 1767000000, "iat": 1766996400, "email": "ada@example.com",
               "phone": "", "role": "authenticated", "aal": "aal1",
               "session_id": "5e551011-0000-4000-8000-000000000001", "is_anonymous": false,
               "client_id": "shadow-partner", "scope": "openid email",
               "app_metadata": {"provider": "email"}}}'::pg_catalog.jsonb) OPERATOR(pg_catalog.#>>) '{claims,client_tier}' AS hook_tier;
SELECT pg_catalog.sum(tokens) AS issued FROM oauth_rls.token_issuance
 WHERE client OPERATOR(pg_catalog.=) 'shadow-partner';
SELECT pg_catalog.count(*) AS daily_rows FROM oauth_rls.token_issuance_daily
 WHERE client OPERATOR(pg_catalog.=) 'shadow-partner';
SELECT oauth_rls.prune_token_issuance() AS pruned;
ALTER EXTENSION oauth_rls DROP VIEW oauth_rls.client_review;
DROP VIEW oauth_rls.client_review;
SELECT oauth_rls.create_client_review() AS review_created;
SELECT pg_catalog.count(*) AS reviewed FROM oauth_rls.client_review;
SELECT oauth_rls.grant_supabase_roles();

-- API keys: create, validate (and the last_used_at refresh), the request
-- header path, diagnose, rotate, revoke, import.
SELECT oauth_rls.create_api_key('8d1c8a7e-0000-4000-8000-000000000001', 'shadow cli', '{notes:read}') AS key \gset
SELECT pg_catalog.split_part(pg_catalog.substr(:'key', 4), '.', 1) AS key_id \gset
BEGIN;
SELECT pg_catalog.set_config('request.headers',
         pg_catalog.json_build_object('x-api-key', :'key')::pg_catalog.text, true) IS NOT NULL AS header;
SELECT oauth_rls.api_key_owner(), oauth_rls.api_key_scopes(), oauth_rls.api_key_id() OPERATOR(pg_catalog.=) :'key_id' AS same_id;
COMMIT;
SELECT last_used_at IS NOT NULL AS used FROM oauth_rls.api_keys WHERE key_id OPERATOR(pg_catalog.=) :'key_id';
SELECT owner, scopes FROM oauth_rls.validate_api_key(:'key');
SELECT oauth_rls.diagnose_api_key(:'key');
SELECT oauth_rls.rotate_api_key(:'key_id', '1 hour') IS NOT NULL AS rotated;
SELECT oauth_rls.revoke_api_key(:'key_id') AS revoked;
SELECT oauth_rls.import_api_key('imported-1', '8d1c8a7e-0000-4000-8000-000000000001',
         '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', 'old system');
DELETE FROM oauth_rls.api_keys WHERE key_id OPERATOR(pg_catalog.=) 'imported-1';

-- Audit and the rewrite: plan, apply, revert.
SELECT code FROM oauth_rls.audit('{shadow,shadow_rw}') ORDER BY 1;
SELECT pg_catalog.count(*) AS planned FROM oauth_rls.plan_rewrite('{shadow,shadow_rw}');
SELECT pg_catalog.count(*) AS applied FROM oauth_rls.apply_rewrite('{shadow,shadow_rw}');
SELECT pg_catalog.count(*) AS reverted FROM oauth_rls.revert_rewrite('{shadow,shadow_rw}');

-- Unguard, and the remaining DML on our tables.
SELECT oauth_rls.unguard('shadow.notes');
DELETE FROM oauth_rls.access_matrix WHERE tbl OPERATOR(pg_catalog.=) 'shadow.notes'::pg_catalog.regclass;
DELETE FROM oauth_rls.clients WHERE client_id OPERATOR(pg_catalog.~~) 'shadow-%';

-- Nothing planted ran.
SELECT what FROM evil.ran;

RESET search_path;
-- And every SQL or plpgsql function of the extension pins its search_path
-- (the C functions' SPI pins it in C).
SELECT p.oid::regprocedure AS unpinned FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'oauth_rls'::regnamespace AND l.lanname <> 'c'
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);
DROP SCHEMA shadow CASCADE;
DROP SCHEMA shadow_rw CASCADE;
DROP SCHEMA evil CASCADE;
DELETE FROM oauth_rls.api_keys WHERE name = 'shadow cli';
DELETE FROM oauth_rls.token_issuance WHERE client LIKE 'shadow-%';
