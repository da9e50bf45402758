-- oauth_rls install script, part 85: what policies call, granted explicitly.
--
-- A policy runs its functions as the querying role, whoever it is (anon,
-- authenticated, service_role, a direct backend connection): every function
-- a policy may call, the guards' allows() and session_active() and the
-- readers users put in their own policies, is executable by PUBLIC through
-- this explicit grant, not through PostgreSQL's default.  Projects that run
-- ALTER DEFAULT PRIVILEGES ... REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC before
-- CREATE EXTENSION (basejump and makerkit do) would otherwise find every
-- guarded table refused.  These functions only read the request's own
-- settings, or the extension's tables with its own access.
GRANT USAGE ON TYPE oauth_rls.tier TO PUBLIC;
GRANT EXECUTE ON FUNCTION
  oauth_rls.claims(), oauth_rls.claim(text), oauth_rls.user_id(), oauth_rls.client_id(),
  oauth_rls.session_id(), oauth_rls.scopes(), oauth_rls.has_scope(text),
  oauth_rls.current_tier(), oauth_rls.tier_of(text), oauth_rls.is_oauth(), oauth_rls.is_first_party(),
  oauth_rls.allows(regclass, text), oauth_rls.session_active(),
  oauth_rls.api_key_owner(), oauth_rls.api_key_scopes(), oauth_rls.api_key_id()
  TO PUBLIC;
