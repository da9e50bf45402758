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
-- extension's owner may change them (install part 80_settings.sql).
GRANT SET ON PARAMETER
  oauth_rls.enforce_revocation, oauth_rls.minimize_third_party_claims, oauth_rls.chained_hook,
  oauth_rls.record_issuance, oauth_rls.unregistered_client_tier
  TO @extowner@ WITH GRANT OPTION;

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
