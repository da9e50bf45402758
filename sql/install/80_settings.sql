-- oauth_rls install script, part 80: who may change the settings.
--
-- The settings that weaken a protection when changed are PGC_SUSET (see
-- src/): only superusers and roles granted SET on them may change them, in a
-- session (SET, SET LOCAL, set_config) or as a stored default (ALTER
-- DATABASE / ALTER ROLE ... SET).  The API roles (anon, authenticated,
-- service_role) and every other role get nothing; the extension's owner gets
-- SET, to pass on if it wants.  A parameter's privileges are cluster-wide
-- and outlive DROP EXTENSION; GRANT is idempotent, so a re-install or the
-- update grants them again without error.
--   enforce_revocation           off: revoked sessions keep their access
--   minimize_third_party_claims  off: third-party tokens carry personal claims
--   chained_hook                 names a function that writes every token
--   record_issuance              off: the hook stops counting tokens
--   unregistered_client_tier     third_party instead of blocked: unknown clients get in
-- (oauth_rls.api_key_cache_size trades memory for speed and protects nothing.)
GRANT SET ON PARAMETER
  oauth_rls.enforce_revocation, oauth_rls.minimize_third_party_claims, oauth_rls.chained_hook,
  oauth_rls.record_issuance, oauth_rls.unregistered_client_tier
  TO @extowner@ WITH GRANT OPTION;
