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
    -- Rate limits (part 60): service_role manages them and may check any subject.
    GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_rls.rate_limits TO service_role;
    GRANT EXECUTE ON FUNCTION oauth_rls.pre_request(), oauth_rls.rate_limit(), oauth_rls.rate_limit(text, text)
      TO service_role;
    done := done || 'service_role'::text;
  END IF;
  -- The API roles never run the hook or the audit (parts 25 and 30); these
  -- revokes undo grants that default privileges may have made.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) FROM anon;
    REVOKE ALL ON FUNCTION oauth_rls.audit(text[]), oauth_rls.plan_rewrite(text[]),
      oauth_rls.apply_rewrite(text[]), oauth_rls.revert_rewrite(text[]) FROM anon;
    -- PostgREST runs the pre-request check as the request's role (part 60).
    GRANT EXECUTE ON FUNCTION oauth_rls.pre_request(), oauth_rls.rate_limit() TO anon;
    done := done || 'anon'::text;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) FROM authenticated;
    REVOKE ALL ON FUNCTION oauth_rls.audit(text[]), oauth_rls.plan_rewrite(text[]),
      oauth_rls.apply_rewrite(text[]), oauth_rls.revert_rewrite(text[]) FROM authenticated;
    -- PostgREST runs the pre-request check as the request's role (part 60).
    GRANT EXECUTE ON FUNCTION oauth_rls.pre_request(), oauth_rls.rate_limit() TO authenticated;
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
