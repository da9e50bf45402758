-- The audit reads the functions policies call (issue 11, item 2), counts a
-- policy as client-aware only when it reads the request's client and its
-- outcome can depend on the tier (issue 10, item 9), and reports exposed
-- SECURITY DEFINER functions, helpers with a mutable search_path, public
-- buckets anyone can list and extensions in public.
SET client_min_messages = warning;
CREATE SCHEMA ah;
GRANT USAGE ON SCHEMA ah TO anon, authenticated;
CREATE FUNCTION pg_temp.codes(tbl name) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(code || coalesce(':' || policy_name, ''), ', ' ORDER BY code, policy_name), '-')
    FROM oauth_rls.audit('{ah}') WHERE table_name = tbl
$$;
-- One table per case: owner_read lets users read their rows; the policy
-- under test is restrictive, so the table is client-aware exactly when it is.
CREATE FUNCTION pg_temp.table_with(tbl name, restrictive text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE ah.%I (id int, user_id uuid, data jsonb)', tbl);
  EXECUTE format('ALTER TABLE ah.%I ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('GRANT SELECT ON ah.%I TO authenticated', tbl);
  EXECUTE format('CREATE POLICY owner_read ON ah.%I FOR SELECT TO authenticated USING (user_id = oauth_rls.user_id())', tbl);
  EXECUTE format('CREATE POLICY under_test ON ah.%I AS RESTRICTIVE FOR SELECT TO authenticated USING (%s)', tbl, restrictive);
END
$$;

---------------------------------------------------------------------------
-- Look-alikes are not client-aware (issue 10, item 9): a table column's
-- client_id, another key's client_id, a test that cannot depend on the tier.
SELECT pg_temp.table_with('column_client_id', $$data ->> 'client_id' IS NULL$$);
SELECT pg_temp.table_with('nested_client_id', $$(auth.jwt() #>> '{app_metadata,client_id}') IS NULL$$);
SELECT pg_temp.table_with('tautology', $$oauth_rls.is_oauth() OR NOT oauth_rls.is_oauth()$$);
SELECT pg_temp.table_with('always_first', $$oauth_rls.is_first_party() OR true$$);
SELECT pg_temp.table_with('tier_or_tier', $$oauth_rls.current_tier() IN ('direct', 'first_party', 'third_party', 'blocked')$$);
-- ... and real tests are.
SELECT pg_temp.table_with('claim_client_id', $$(auth.jwt() ->> 'client_id') IS NULL$$);
SELECT pg_temp.table_with('setting_client_id', $$(current_setting('request.jwt.claims', true)::jsonb -> 'client_id') IS NULL$$);
SELECT pg_temp.table_with('tier_in', $$oauth_rls.current_tier() IN ('direct', 'first_party')$$);
SELECT pg_temp.table_with('not_oauth', $$NOT oauth_rls.is_oauth()$$);
SELECT pg_temp.table_with('scoped', $$oauth_rls.has_scope('notes')$$);
SELECT t AS table_name, pg_temp.codes(t) AS findings
  FROM unnest('{column_client_id,nested_client_id,tautology,always_first,tier_or_tier,
                claim_client_id,setting_client_id,tier_in,not_oauth,scoped}'::name[]) AS t;
-- The rewrite guards the look-alikes, and only them.
SELECT split_part(p, ' -- ', 1) AS planned FROM oauth_rls.plan_rewrite('{ah}') p WHERE p LIKE 'SELECT oauth_rls.guard%' ORDER BY 1;

---------------------------------------------------------------------------
-- Helpers: what a function called by a policy reads counts as read by the
-- policy.  SQL bodies are read fully (text and BEGIN ATOMIC), plpgsql as far
-- as its text tells.
CREATE FUNCTION ah.first_party_only() RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS 'SELECT oauth_rls.is_first_party()';
CREATE FUNCTION ah.says_nothing() RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS 'SELECT oauth_rls.is_oauth() OR NOT oauth_rls.is_oauth()';
CREATE FUNCTION ah.atomic_direct() RETURNS boolean LANGUAGE sql STABLE
  BEGIN ATOMIC SELECT oauth_rls.current_tier() = 'direct'; END;
CREATE FUNCTION ah.plpgsql_first_party() RETURNS boolean LANGUAGE plpgsql STABLE
  SET search_path = '' AS $$ BEGIN RETURN oauth_rls.is_first_party(); END $$;
CREATE FUNCTION ah.wraps_plpgsql() RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS 'SELECT ah.plpgsql_first_party()';
CREATE FUNCTION ah.is_admin_by_metadata() RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS $$ SELECT (auth.jwt() -> 'user_metadata' ->> 'role') = 'admin' $$;
CREATE FUNCTION ah.plpgsql_metadata() RETURNS boolean LANGUAGE plpgsql STABLE
  SET search_path = '' AS $$ BEGIN RETURN (auth.jwt() -> 'user_metadata' ->> 'team') IS NOT NULL; END $$;
-- A call cycle: ping calls pong, pong calls ping.
CREATE FUNCTION ah.ping(n int) RETURNS boolean LANGUAGE sql STABLE SET search_path = '' AS 'SELECT true';
CREATE FUNCTION ah.pong(n int) RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS 'SELECT n <= 0 OR ah.ping(n - 1)';
CREATE OR REPLACE FUNCTION ah.ping(n int) RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS 'SELECT n <= 0 OR ah.pong(n - 1) OR oauth_rls.is_first_party()';
SELECT pg_temp.table_with('via_sql_helper', 'ah.first_party_only()');
SELECT pg_temp.table_with('via_tautology_helper', 'ah.says_nothing()');
SELECT pg_temp.table_with('via_atomic_helper', 'ah.atomic_direct()');
SELECT pg_temp.table_with('via_plpgsql_helper', 'ah.plpgsql_first_party()');
SELECT pg_temp.table_with('via_two_levels', 'ah.wraps_plpgsql()');
SELECT pg_temp.table_with('via_metadata_helper', 'ah.is_admin_by_metadata()');
SELECT pg_temp.table_with('via_plpgsql_metadata', 'ah.plpgsql_metadata()');
SELECT pg_temp.table_with('via_cycle', 'ah.pong(3)');
SELECT t AS table_name, pg_temp.codes(t) AS findings
  FROM unnest('{via_sql_helper,via_tautology_helper,via_atomic_helper,via_plpgsql_helper,via_two_levels,
                via_metadata_helper,via_plpgsql_metadata,via_cycle}'::name[]) AS t;
SELECT table_name, message FROM oauth_rls.audit('{ah}')
 WHERE code IN ('USER_METADATA', 'HELPER_UNREAD') AND table_name IN ('via_plpgsql_metadata', 'via_two_levels')
 ORDER BY 1, code;

---------------------------------------------------------------------------
-- A helper without a search_path of its own (FUNCTION_SEARCH_PATH_MUTABLE),
-- and SECURITY DEFINER functions the API roles may call
-- (SECURITY_DEFINER_EXPOSED): a fix only where no policy needs EXECUTE.
CREATE TABLE ah.members (team int, user_id uuid);
ALTER TABLE ah.members ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION ah.is_member(t int) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
  AS 'SELECT EXISTS (SELECT 1 FROM ah.members m WHERE m.team = t AND m.user_id = auth.uid())';
CREATE FUNCTION ah.delete_everything() RETURNS void LANGUAGE sql SECURITY DEFINER
  SET search_path = '' AS 'DELETE FROM ah.members';
SELECT pg_temp.table_with('via_definer', 'ah.is_member(id)');
SELECT schema_name, table_name, code, roles, fix_ddl FROM oauth_rls.audit('{ah}')
 WHERE code IN ('FUNCTION_SEARCH_PATH_MUTABLE', 'SECURITY_DEFINER_EXPOSED') ORDER BY 2, 3;
SELECT DISTINCT fix_ddl FROM oauth_rls.audit('{ah}')
 WHERE code IN ('FUNCTION_SEARCH_PATH_MUTABLE', 'SECURITY_DEFINER_EXPOSED') AND fix_ddl IS NOT NULL \gexec
SELECT table_name, code FROM oauth_rls.audit('{ah}')
 WHERE code IN ('FUNCTION_SEARCH_PATH_MUTABLE', 'SECURITY_DEFINER_EXPOSED') ORDER BY 1, 2;
SELECT has_function_privilege('authenticated', 'ah.delete_everything()', 'EXECUTE') AS anyone_may_delete;

---------------------------------------------------------------------------
-- MATRIX_DEPENDENCY through an invoker helper (it reads the other table as
-- the caller, past that table's guards), not through a SECURITY DEFINER one.
CREATE TABLE ah.teams (id int);
ALTER TABLE ah.teams ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_teams ON ah.teams FOR SELECT TO authenticated USING (true);
CREATE FUNCTION ah.team_visible(t int) RETURNS boolean LANGUAGE sql STABLE
  SET search_path = '' AS 'SELECT EXISTS (SELECT 1 FROM ah.teams x WHERE x.id = t)';
CREATE TABLE ah.projects (id int, team int);
ALTER TABLE ah.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_team ON ah.projects FOR SELECT TO authenticated USING (ah.team_visible(team));
CREATE POLICY by_member ON ah.projects FOR UPDATE TO authenticated USING (ah.is_member(team));
SELECT oauth_rls.guard('ah.teams');
SELECT oauth_rls.guard('ah.projects');
SELECT oauth_rls.set_access('ah.projects', 'third_party', '{select,update}');
SELECT table_name, policy_name, command, code FROM oauth_rls.audit('{ah}')
 WHERE code = 'MATRIX_DEPENDENCY' ORDER BY 1, 2, 3;
SELECT oauth_rls.unguard('ah.teams');
SELECT oauth_rls.unguard('ah.projects');
SELECT oauth_rls.clear_access('ah.projects');

---------------------------------------------------------------------------
-- STORAGE_BUCKET_PUBLIC_LISTABLE, on a minimal stand-in of Supabase
-- Storage's tables (kept when the Supabase stand-in has them).
SELECT to_regnamespace('storage') IS NULL AS made_storage \gset
CREATE SCHEMA IF NOT EXISTS storage;
CREATE TABLE IF NOT EXISTS storage.buckets (id text PRIMARY KEY, name text NOT NULL,
                                            public boolean DEFAULT false);
CREATE TABLE IF NOT EXISTS storage.objects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), bucket_id text,
                                            name text, owner uuid);
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
DO $$ BEGIN
  IF to_regprocedure('storage.foldername(text)') IS NULL THEN
    CREATE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE sql IMMUTABLE
      AS 'SELECT (string_to_array(name, ''/''))[1:array_length(string_to_array(name, ''/''), 1) - 1]';
  END IF;
END $$;
INSERT INTO storage.buckets (id, name, public) VALUES ('ah-avatars', 'ah-avatars', true),
  ('ah-private', 'ah-private', false), ('ah-shared', 'ah-shared', true);
CREATE POLICY ah_list_avatars ON storage.objects FOR SELECT TO anon USING (bucket_id = 'ah-avatars');
CREATE POLICY ah_own_private ON storage.objects FOR SELECT TO authenticated
  USING (bucket_id = 'ah-private' AND owner = auth.uid());
CREATE POLICY ah_shared_folder ON storage.objects FOR SELECT TO authenticated
  USING (bucket_id = 'ah-shared' AND (storage.foldername(name))[1] = auth.uid()::text);
SELECT table_name, code, message, fix_ddl FROM oauth_rls.audit('{storage}')
 WHERE code = 'STORAGE_BUCKET_PUBLIC_LISTABLE' AND table_name LIKE 'ah-%';
SELECT count(*) AS bucket_findings_without_storage FROM oauth_rls.audit('{ah}')
 WHERE code = 'STORAGE_BUCKET_PUBLIC_LISTABLE';
DROP POLICY ah_list_avatars ON storage.objects;
DROP POLICY ah_own_private ON storage.objects;
DROP POLICY ah_shared_folder ON storage.objects;
DELETE FROM storage.buckets WHERE id LIKE 'ah-%';
\if :made_storage
DROP SCHEMA storage CASCADE;
\endif

---------------------------------------------------------------------------
-- EXTENSION_IN_PUBLIC.  postgres does not own a trusted extension's objects
-- (the bootstrap superuser does): no fix_ddl for it; a superuser's audit
-- offers ALTER EXTENSION ... SET SCHEMA extensions.
CREATE EXTENSION citext WITH SCHEMA public;
SELECT schema_name, table_name, code, fix_ddl FROM oauth_rls.audit('{public}') WHERE code = 'EXTENSION_IN_PUBLIC';
SELECT fix_ddl FROM oauth_rls.audit('{public}') WHERE code = 'EXTENSION_IN_PUBLIC' \gexec
SELECT count(*) AS still_in_public FROM oauth_rls.audit('{public}') WHERE code = 'EXTENSION_IN_PUBLIC';
DROP EXTENSION citext;

RESET client_min_messages;
DROP SCHEMA ah CASCADE;
