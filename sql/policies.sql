-- Access matrix, allows(), guard policies, revocation, act_as().
-- The Supabase stand-in (roles, auth schema) is present in this database.
-- Error context (line numbers inside the functions) is left out of the output.
\set SHOW_CONTEXT never
-- One step below needs a superuser: renaming Auth's auth.sessions away.
-- On Supabase that would be a separate connection; here the file connects as
-- supabase_admin and acts as postgres (SET SESSION AUTHORIZATION), switching
-- identity for those steps only: one session, so temporary helpers survive.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;

CREATE TABLE public.user_data (id int PRIMARY KEY, user_id uuid NOT NULL, note text);
ALTER TABLE public.user_data ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON public.user_data FOR ALL TO authenticated
  USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.user_data TO authenticated;
INSERT INTO public.user_data VALUES
  (1, 'aaaaaaaa-0000-4000-8000-00000000000a', 'a1'),
  (2, 'aaaaaaaa-0000-4000-8000-00000000000a', 'a2'),
  (3, 'bbbbbbbb-0000-4000-8000-00000000000b', 'b1');
CREATE TABLE public.no_rls (id int);
CREATE VIEW public.a_view AS SELECT 1 AS one;

INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('c1000000-0000-4000-8000-000000000001', 'Web app', 'first_party'),
  ('c3000000-0000-4000-8000-000000000003', 'Partner', 'third_party'),
  ('cb000000-0000-4000-8000-00000000000b', 'Scraper', 'blocked');

-- A request of user a through a client (NULL: direct), with a session.
CREATE FUNCTION pg_temp.as_request(client text, session text DEFAULT 'dddddddd-0000-4000-8000-000000000001')
  RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims',
    jsonb_strip_nulls(jsonb_build_object('sub', 'aaaaaaaa-0000-4000-8000-00000000000a',
      'role', 'authenticated', 'session_id', session, 'client_id', client))::text, false)
$$;
CREATE FUNCTION pg_temp.access_row(tbl regclass) RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    CASE WHEN oauth_rls.allows(tbl, 'select') THEN 'select' END,
    CASE WHEN oauth_rls.allows(tbl, 'insert') THEN 'insert' END,
    CASE WHEN oauth_rls.allows(tbl, 'update') THEN 'update' END,
    CASE WHEN oauth_rls.allows(tbl, 'delete') THEN 'delete' END)
$$;

--
-- The matrix: set_access() and clear_access().
--
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{select}');
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{ DELETE , select, Select}');
SELECT oauth_rls.set_access('public.user_data', 'first_party', '{all}');
SELECT oauth_rls.set_access('public.user_data', 'direct', '{update, all}');
SELECT oauth_rls.set_access('public.user_data', 'blocked', '{}');
SELECT tbl, tier, commands FROM oauth_rls.access_matrix ORDER BY tier;
SELECT oauth_rls.clear_access('public.user_data', 'direct') AS removed;
SELECT oauth_rls.clear_access('public.user_data', 'direct') AS removed_again;
SELECT oauth_rls.clear_access('public.user_data', 'blocked') AS removed;
SELECT tbl, tier, commands FROM oauth_rls.access_matrix ORDER BY tier;
-- Errors.
SELECT oauth_rls.set_access('public.user_data', 'blocked', '{select}');
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{selekt}');
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{truncate}');
SELECT oauth_rls.set_access('public.user_data', 'third_party', NULL);
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{select,NULL}');
SELECT oauth_rls.set_access('public.user_data', NULL, '{select}');
SELECT oauth_rls.set_access(NULL, 'third_party', '{select}');
SELECT oauth_rls.set_access('public.a_view', 'third_party', '{select}');
SELECT oauth_rls.set_access(4294967295::oid::regclass, 'third_party', '{select}');
SELECT oauth_rls.set_access('public.user_data', 'first_party', '{all}');
SELECT oauth_rls.clear_access(NULL);
-- The table's constraints hold against direct writes too.
\set VERBOSITY terse
INSERT INTO oauth_rls.access_matrix (tbl, tier, commands) VALUES ('public.no_rls', 'third_party', '{drop}');
INSERT INTO oauth_rls.access_matrix (tbl, tier, commands) VALUES ('public.no_rls', 'blocked', '{select}');
\set VERBOSITY default
-- Nothing changed by the failures.
SELECT tbl, tier, commands FROM oauth_rls.access_matrix ORDER BY tier;

--
-- allows(): the matrix for the request's tier, defaults without an entry.
--
SET oauth_rls.enforce_revocation = off;
CREATE TABLE public.defaults_only (id int);
SELECT 'direct' AS request, pg_temp.access_row('public.user_data') AS user_data,
       pg_temp.access_row('public.defaults_only') AS defaults_only;
SELECT pg_temp.as_request('c1000000-0000-4000-8000-000000000001');
SELECT oauth_rls.current_tier(), pg_temp.access_row('public.user_data') AS user_data,
       pg_temp.access_row('public.defaults_only') AS defaults_only;
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003');
SELECT oauth_rls.current_tier(), pg_temp.access_row('public.user_data') AS user_data,
       pg_temp.access_row('public.defaults_only') AS defaults_only;
SELECT pg_temp.as_request('c9000000-0000-4000-8000-000000000009');
SELECT oauth_rls.current_tier(), pg_temp.access_row('public.user_data') AS user_data,
       pg_temp.access_row('public.defaults_only') AS defaults_only;
SELECT pg_temp.as_request('cb000000-0000-4000-8000-00000000000b');
SELECT oauth_rls.current_tier(), pg_temp.access_row('public.user_data') AS user_data,
       pg_temp.access_row('public.defaults_only') AS defaults_only;
-- A matrix change is seen at the next statement, a rolled back one is forgotten.
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003');
SELECT oauth_rls.set_access('public.defaults_only', 'third_party', '{insert}');
SELECT pg_temp.access_row('public.defaults_only') AS after_set;
BEGIN;
SELECT oauth_rls.clear_access('public.defaults_only');
SELECT pg_temp.access_row('public.defaults_only') AS inside;
ROLLBACK;
SELECT pg_temp.access_row('public.defaults_only') AS after_rollback;
-- A registry change moves the request to another row of the matrix.
UPDATE oauth_rls.clients SET tier = 'first_party' WHERE client_id = 'c3000000-0000-4000-8000-000000000003';
SELECT oauth_rls.current_tier(), pg_temp.access_row('public.user_data') AS user_data;
UPDATE oauth_rls.clients SET tier = 'third_party' WHERE client_id = 'c3000000-0000-4000-8000-000000000003';
SELECT oauth_rls.current_tier(), pg_temp.access_row('public.user_data') AS user_data;
-- Errors, and NULL in, NULL out.
SELECT oauth_rls.allows('public.user_data', 'truncate');
SELECT oauth_rls.allows('public.user_data', '');
SELECT oauth_rls.allows('public.user_data', 'SELECT') AS upper_case_ok;
SELECT oauth_rls.allows(NULL, 'select') IS NULL AS null_table, oauth_rls.allows('public.user_data', NULL) IS NULL AS null_command;
-- Malformed claims are an error, never a tier.
SELECT set_config('request.jwt.claims', '{"client_id": ""}', false);
SELECT oauth_rls.allows('public.user_data', 'select');
RESET request.jwt.claims;

--
-- guard(), unguard(), guard_schema().
--
SELECT oauth_rls.guard('public.user_data');
SELECT policyname, permissive, roles, cmd, qual, with_check
  FROM pg_policies WHERE tablename = 'user_data' ORDER BY policyname;
SELECT tbl, enabled_rls FROM oauth_rls.guarded_tables;
-- Idempotent: a second guard() keeps the very same policies.
CREATE TEMP TABLE policy_oids AS SELECT oid, polname FROM pg_policy WHERE polrelid = 'public.user_data'::regclass;
SELECT oauth_rls.guard('public.user_data');
SELECT count(*) AS unchanged FROM pg_policy p JOIN policy_oids o USING (oid, polname);
SELECT count(*) AS guarded_rows FROM oauth_rls.guarded_tables;
-- A dropped or edited guard policy is restored by the next guard().
SELECT cmd, oauth_rls.guard_policy_intact('public.user_data', cmd)
  FROM unnest(ARRAY['select', 'insert', 'update', 'delete', 'truncate']) cmd;
DROP POLICY oauth_rls_guard_delete ON public.user_data;
ALTER POLICY oauth_rls_guard_select ON public.user_data USING (true);
ALTER POLICY oauth_rls_guard_insert ON public.user_data TO authenticated;
SELECT cmd, oauth_rls.guard_policy_intact('public.user_data', cmd)
  FROM unnest(ARRAY['select', 'insert', 'update', 'delete']) cmd;
SELECT oauth_rls.guard('public.user_data');
SELECT cmd, oauth_rls.guard_policy_intact('public.user_data', cmd)
  FROM unnest(ARRAY['select', 'insert', 'update', 'delete']) cmd;
SELECT policyname, permissive, roles, cmd, qual, with_check
  FROM pg_policies WHERE tablename = 'user_data' AND policyname LIKE 'oauth_rls_guard_%' ORDER BY policyname;
SELECT tbl, tier, commands, source FROM oauth_rls.effective_access ORDER BY tbl::text, tier;
-- (The plans the guards give, per PostgreSQL version: policies_plan.)
-- An edit that keeps the allows() call but changes its answer is not intact.
ALTER POLICY oauth_rls_guard_select ON public.user_data
  USING ((select oauth_rls.allows('public.user_data', 'select') OR true));
SELECT oauth_rls.guard_policy_intact('public.user_data', 'select') AS or_true_intact;
SELECT oauth_rls.guard('public.user_data');
SELECT oauth_rls.guard_policy_intact('public.user_data', 'select') AS restored;
-- Intact is decided on the trees: a table name with a backslash and a quote
-- (which format('%L') and pg_get_expr() quote differently) is recognised,
-- and a second guard() keeps its policies.
CREATE TABLE public."odd\name's" (id int);
ALTER TABLE public."odd\name's" ENABLE ROW LEVEL SECURITY;
SELECT oauth_rls.guard('public."odd\name''s"');
SELECT cmd, oauth_rls.guard_policy_intact('public."odd\name''s"', cmd)
  FROM unnest(ARRAY['select', 'insert', 'update', 'delete']) cmd;
CREATE TEMP TABLE odd_oids AS SELECT oid, polname FROM pg_policy WHERE polrelid = 'public."odd\name''s"'::regclass;
SELECT oauth_rls.guard('public."odd\name''s"');
SELECT count(*) AS unchanged FROM pg_policy p JOIN odd_oids o USING (oid, polname);
SELECT oauth_rls.unguard('public."odd\name''s"');
DROP TABLE public."odd\name's";
-- RLS off: refused with a hint, unless asked for.
SELECT oauth_rls.guard('public.no_rls');
SELECT count(*) AS no_policy_added FROM pg_policy WHERE polrelid = 'public.no_rls'::regclass;
SELECT oauth_rls.guard('public.no_rls', enable_rls => true);
SELECT relrowsecurity FROM pg_class WHERE oid = 'public.no_rls'::regclass;
SELECT tbl, enabled_rls FROM oauth_rls.guarded_tables ORDER BY tbl::text;
-- unguard() removes exactly what guard() added, RLS included.
SELECT oauth_rls.unguard('public.no_rls');
SELECT relrowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE oid = 'public.no_rls'::regclass;
SELECT oauth_rls.unguard('public.no_rls');
-- ... but leaves RLS on when a policy was added since.
SELECT oauth_rls.guard('public.no_rls', enable_rls => true);
CREATE POLICY mine ON public.no_rls FOR SELECT TO authenticated USING (true);
SELECT oauth_rls.unguard('public.no_rls');
SELECT relrowsecurity, (SELECT array_agg(polname) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE oid = 'public.no_rls'::regclass;
DROP POLICY mine ON public.no_rls;
ALTER TABLE public.no_rls DISABLE ROW LEVEL SECURITY;
SELECT tbl FROM oauth_rls.guarded_tables ORDER BY tbl::text;
-- Errors.
SELECT oauth_rls.guard('public.a_view');
SELECT oauth_rls.guard(NULL);
SELECT oauth_rls.unguard('public.a_view');
CREATE ROLE policies_stranger;
-- postgres, not a superuser, acts as a role it made only as its member.
GRANT policies_stranger TO postgres;
GRANT USAGE ON SCHEMA oauth_rls TO policies_stranger;
GRANT EXECUTE ON FUNCTION oauth_rls.guard(regclass, boolean), oauth_rls.unguard(regclass),
  oauth_rls._check_guardable(regclass, text), oauth_rls._check_owner(regclass, text)
  TO policies_stranger;
SET ROLE policies_stranger;
SELECT oauth_rls.guard('public.user_data');
SELECT oauth_rls.unguard('public.user_data');
RESET ROLE;
DROP OWNED BY policies_stranger;
DROP ROLE policies_stranger;

-- guard_schema(): every table of the schema, none when one has RLS off.
CREATE SCHEMA app;
CREATE TABLE app.profiles (id int);
CREATE TABLE app.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE VIEW app.v AS SELECT 1 AS one;
ALTER TABLE app.profiles ENABLE ROW LEVEL SECURITY;
SELECT oauth_rls.guard_schema('app');
SELECT count(*) AS no_policy_added FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
  WHERE c.relnamespace = 'app'::regnamespace;
SELECT oauth_rls.guard_schema('app', enable_rls => true);
SELECT c.relname, c.relrowsecurity, count(p.oid) AS guard_policies
  FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
  WHERE c.relnamespace = 'app'::regnamespace AND c.relkind IN ('r', 'p', 'v')
  GROUP BY 1, 2 ORDER BY 1;
SELECT tbl, enabled_rls FROM oauth_rls.guarded_tables ORDER BY tbl::text;
-- A role that may guard (the grants docs/guards.md lists) but does not own
-- every table of the schema: refused before anything changes.
CREATE ROLE policies_admin;
CREATE ROLE policies_other_owner;
GRANT policies_admin, policies_other_owner TO postgres;
CREATE SCHEMA app2 AUTHORIZATION policies_admin;
CREATE TABLE app2.mine (id int);
ALTER TABLE app2.mine OWNER TO policies_admin;
ALTER TABLE app2.mine ENABLE ROW LEVEL SECURITY;
CREATE TABLE app2.theirs (id int);
GRANT CREATE ON SCHEMA app2 TO policies_other_owner;
ALTER TABLE app2.theirs OWNER TO policies_other_owner;
GRANT EXECUTE ON FUNCTION oauth_rls.guard(regclass, boolean), oauth_rls.unguard(regclass),
  oauth_rls.guard_schema(name, boolean), oauth_rls.guard_policy_intact(regclass, text),
  oauth_rls._check_guardable(regclass, text), oauth_rls._check_owner(regclass, text),
  oauth_rls._guard_policy(regclass, text), oauth_rls._guard_expression(regclass, text),
  oauth_rls._policy_facts(pg_node_tree, pg_node_tree) TO policies_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_rls.guarded_tables TO policies_admin;
SET ROLE policies_admin;
SELECT oauth_rls.guard_schema('app2');
SELECT count(*) AS no_policy_added FROM pg_policy WHERE polrelid = 'app2.mine'::regclass;
SELECT oauth_rls.guard('app2.mine');
SELECT oauth_rls.guard_policy_intact('app2.mine', 'select');
RESET ROLE;
SELECT count(*) AS guarded FROM oauth_rls.guarded_tables WHERE tbl = 'app2.mine'::regclass;
DROP SCHEMA app2 CASCADE;
SELECT count(*) AS orphans FROM oauth_rls.guarded_tables g
  WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = g.tbl);
DROP OWNED BY policies_admin;
DROP ROLE policies_admin, policies_other_owner;
SELECT oauth_rls.guard_schema('no_such_schema');
SELECT oauth_rls.guard_schema('oauth_rls') AS extension_tables_skipped;

--
-- Renamed and dropped tables.
--
SELECT oauth_rls.set_access('app.profiles', 'third_party', '{select}');
ALTER TABLE app.profiles RENAME TO public_profiles;
ALTER TABLE app.public_profiles SET SCHEMA public;
SELECT tbl, tier, commands FROM oauth_rls.access_matrix WHERE tbl = 'public.public_profiles'::regclass;
SELECT policyname, qual FROM pg_policies WHERE tablename = 'public_profiles' AND cmd = 'SELECT';
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003');
SELECT pg_temp.access_row('public.public_profiles') AS renamed_table_keeps_its_entry;
RESET request.jwt.claims;
DROP TABLE public.public_profiles;
DROP SCHEMA app CASCADE;
SELECT tbl::text, tier, commands FROM oauth_rls.access_matrix ORDER BY 1, 2;
SELECT tbl::text FROM oauth_rls.guarded_tables ORDER BY 1;
-- Dropping other objects, and a rolled back drop, forget nothing.
CREATE TABLE public.scratch (id int);
DROP TABLE public.scratch;
BEGIN;
DROP TABLE public.user_data;
ROLLBACK;
SELECT tbl::text, tier, commands FROM oauth_rls.access_matrix ORDER BY 1, 2;
SELECT tbl::text FROM oauth_rls.guarded_tables ORDER BY 1;

--
-- Revocation: session_active() and oauth_rls.enforce_revocation.
--
INSERT INTO auth.users (id, email) VALUES
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'a@example.com'),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'b@example.com');
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types) VALUES
  ('c1000000-0000-4000-8000-000000000001', 'client_secret_basic', 'manual', 'https://app.example.com/cb', 'authorization_code'),
  ('c3000000-0000-4000-8000-000000000003', 'client_secret_basic', 'dynamic', 'https://partner.example.com/cb', 'authorization_code');
INSERT INTO auth.sessions (id, user_id, oauth_client_id) VALUES
  ('dddddddd-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-00000000000a', 'c3000000-0000-4000-8000-000000000003'),
  ('dddddddd-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-00000000000b', 'c3000000-0000-4000-8000-000000000003'),
  ('dddddddd-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-00000000000a', 'c1000000-0000-4000-8000-000000000001'),
  ('dddddddd-0000-4000-8000-000000000004', 'aaaaaaaa-0000-4000-8000-00000000000a', NULL);
SHOW oauth_rls.enforce_revocation;
RESET oauth_rls.enforce_revocation;
SHOW oauth_rls.enforce_revocation;
SELECT oauth_rls.session_active() AS no_claims;
SELECT pg_temp.as_request(NULL, 'dddddddd-0000-4000-8000-00000000dead');
SELECT oauth_rls.session_active() AS direct_without_live_session;
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003');
SELECT oauth_rls.session_active() AS live, oauth_rls.allows('public.user_data', 'select') AS allowed;
-- One lookup per statement, however many rows ask: index scans of
-- auth.sessions' primary key counted inside one transaction (statistics are
-- not flushed within a transaction block).
BEGIN;
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) AS lookups_before \gset
SELECT count(*) FILTER (WHERE oauth_rls.session_active()) AS active_rows FROM generate_series(1, 1000);
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) - :lookups_before AS session_lookups;
SELECT count(*) FILTER (WHERE oauth_rls.allows('public.user_data', 'select')) AS allowed_rows,
       count(*) FILTER (WHERE oauth_rls.session_active()) AS active_rows
  FROM generate_series(1, 1000);
SELECT pg_stat_get_xact_numscans('auth.sessions_pkey'::regclass) - :lookups_before AS session_lookups;
COMMIT;
-- Tokens that cannot be vouched for.
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003', NULL);
SELECT oauth_rls.session_active() AS no_session_id, oauth_rls.allows('public.user_data', 'select') AS allowed;
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003', 'dddddddd-0000-4000-8000-000000000002');
SELECT oauth_rls.session_active() AS another_users_session;
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003', 'dddddddd-0000-4000-8000-000000000003');
SELECT oauth_rls.session_active() AS another_clients_session;
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003', 'dddddddd-0000-4000-8000-000000000004');
SELECT oauth_rls.session_active() AS a_direct_session_row;
SELECT pg_temp.as_request('not-a-uuid', 'dddddddd-0000-4000-8000-000000000001');
SELECT oauth_rls.session_active() AS non_uuid_client;
-- Supabase revokes a grant by deleting the sessions: the next statement sees it.
SELECT pg_temp.as_request('c3000000-0000-4000-8000-000000000003');
SELECT oauth_rls.session_active() AS before_revocation;
DELETE FROM auth.sessions WHERE user_id = 'aaaaaaaa-0000-4000-8000-00000000000a'
  AND oauth_client_id = 'c3000000-0000-4000-8000-000000000003';
SELECT oauth_rls.session_active() AS after_revocation,
       oauth_rls.allows('public.user_data', 'select') AS allowed;
-- With enforcement off, guards apply the matrix alone; session_active() still answers.
SET oauth_rls.enforce_revocation = off;
SELECT oauth_rls.session_active() AS after_revocation,
       oauth_rls.allows('public.user_data', 'select') AS allowed;
RESET oauth_rls.enforce_revocation;
-- Without auth.sessions (plain PostgreSQL) there is nothing to revoke from:
-- guards apply the matrix alone, session_active() cannot vouch for OAuth.
BEGIN;
RESET SESSION AUTHORIZATION;
ALTER TABLE auth.sessions RENAME TO sessions_elsewhere;
SET SESSION AUTHORIZATION postgres;
SELECT oauth_rls.session_active() AS no_sessions_table,
       oauth_rls.allows('public.user_data', 'select') AS allowed;
ROLLBACK;
SELECT oauth_rls.session_active() AS sessions_table_back,
       oauth_rls.allows('public.user_data', 'select') AS allowed;
-- Within one function, a command after the delete sees it too.
INSERT INTO auth.sessions (id, user_id, oauth_client_id) VALUES
  ('dddddddd-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-00000000000a', 'c3000000-0000-4000-8000-000000000003');
CREATE FUNCTION pg_temp.revoke_midway() RETURNS text LANGUAGE plpgsql AS $$
DECLARE before boolean := oauth_rls.session_active();
BEGIN
  DELETE FROM auth.sessions WHERE id = 'dddddddd-0000-4000-8000-000000000001';
  RETURN format('before %s, after %s', before, oauth_rls.session_active());
END $$;
SELECT pg_temp.revoke_midway();
-- A soft-deleted client loses access although its session lives.
INSERT INTO auth.sessions (id, user_id, oauth_client_id) VALUES
  ('dddddddd-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-00000000000a', 'c3000000-0000-4000-8000-000000000003');
SELECT oauth_rls.session_active() AS restored;
UPDATE auth.oauth_clients SET deleted_at = now() WHERE id = 'c3000000-0000-4000-8000-000000000003';
SELECT oauth_rls.session_active() AS client_soft_deleted;
UPDATE auth.oauth_clients SET deleted_at = NULL WHERE id = 'c3000000-0000-4000-8000-000000000003';
-- First-party clients are OAuth clients too: revocation applies to them.
SELECT pg_temp.as_request('c1000000-0000-4000-8000-000000000001', 'dddddddd-0000-4000-8000-000000000003');
SELECT oauth_rls.session_active() AS first_party_live, oauth_rls.allows('public.user_data', 'delete') AS allowed;
DELETE FROM auth.sessions WHERE id = 'dddddddd-0000-4000-8000-000000000003';
SELECT oauth_rls.session_active() AS first_party_revoked, oauth_rls.allows('public.user_data', 'delete') AS allowed;
RESET request.jwt.claims;

--
-- act_as(): role and claims for the rest of the transaction.
--
BEGIN;
SELECT c ->> 'sub' AS sub, c ->> 'role' AS role, c ->> 'aud' AS aud, c ->> 'email' AS email,
       c ->> 'client_id' AS client_id, c ->> 'scope' AS scope, c ->> 'session_id' AS session_id,
       (c ->> 'exp')::bigint - (c ->> 'iat')::bigint AS lifetime,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c) AS k) AS claim_names
  FROM oauth_rls.act_as('aaaaaaaa-0000-4000-8000-00000000000a', 'c1000000-0000-4000-8000-000000000001',
                        'openid email profile', 'dddddddd-0000-4000-8000-000000000009') AS c;
SELECT current_user, oauth_rls.user_id(), oauth_rls.current_tier(), oauth_rls.scopes();
ROLLBACK;
SELECT current_user AS after_rollback, current_setting('request.jwt.claims') = '' AS claims_cleared;
BEGIN;
-- A direct session picks the user's live session from auth.sessions.
SELECT c ->> 'session_id' AS session_id, c ? 'client_id' AS has_client_id
  FROM oauth_rls.act_as('aaaaaaaa-0000-4000-8000-00000000000a') AS c;
SELECT current_user, oauth_rls.current_tier(), oauth_rls.session_active();
SELECT count(*) AS own_rows FROM public.user_data;
ROLLBACK;
BEGIN;
-- A client without a session in auth.sessions: told why guards will refuse.
SELECT (oauth_rls.act_as('aaaaaaaa-0000-4000-8000-00000000000a', 'c1000000-0000-4000-8000-000000000001')) ->> 'client_id' AS client_id;
SELECT oauth_rls.session_active(), count(*) AS rows_seen FROM public.user_data;
ROLLBACK;
SELECT oauth_rls.act_as(NULL);
SELECT oauth_rls.act_as('aaaaaaaa-0000-4000-8000-00000000000a', '');

--
-- Privileges: API roles use allows() and session_active() but cannot touch
-- the matrix or the guard functions.
--
SET ROLE authenticated;
SELECT oauth_rls.allows('public.user_data', 'select'), oauth_rls.session_active();
SELECT * FROM oauth_rls.access_matrix;
SELECT * FROM oauth_rls.guarded_tables;
SELECT * FROM oauth_rls.effective_access;
SELECT oauth_rls.set_access('public.user_data', 'third_party', '{all}');
SELECT oauth_rls.guard('public.user_data');
SELECT oauth_rls.act_as('aaaaaaaa-0000-4000-8000-00000000000a');
SELECT p.oid::regprocedure AS executable_by_authenticated FROM pg_proc p
  WHERE p.pronamespace = 'oauth_rls'::regnamespace AND has_function_privilege(p.oid, 'EXECUTE')
    AND p.proname IN ('allows', 'session_active', 'set_access', 'clear_access', 'guard', 'unguard',
                      'guard_schema', 'guard_policy_intact', 'act_as')
     OR p.proname LIKE '\_%' AND p.pronamespace = 'oauth_rls'::regnamespace
    AND has_function_privilege(p.oid, 'EXECUTE')
  ORDER BY 1;
RESET ROLE;

-- Clean up.
SELECT oauth_rls.unguard('public.user_data');
SELECT policyname FROM pg_policies WHERE tablename = 'user_data';
DROP TABLE public.user_data, public.no_rls, public.defaults_only;
DROP VIEW public.a_view;
SELECT count(*) AS matrix_rows_left FROM oauth_rls.access_matrix;
DELETE FROM auth.sessions;
DELETE FROM auth.oauth_clients;
DELETE FROM auth.users;
DELETE FROM oauth_rls.clients;
