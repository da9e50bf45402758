-- oauth_rls upgrade 0.1.0 -> 0.2.0, part 05: schema oauth_rls belongs to the
-- role running the script (for a trusted extension, the bootstrap superuser),
-- no longer to the installer, which could rename it and plant a look-alike
-- (see sql/install/00_core.sql).  Before the other parts, which go by the
-- name oauth_rls: a 0.1.0 whose schema was renamed is refused, not updated
-- into the look-alike.
DO $$
DECLARE
  nsp pg_catalog.oid := (SELECT e.extnamespace FROM pg_catalog.pg_extension AS e
                          WHERE e.extname OPERATOR(pg_catalog.=) 'oauth_rls');
BEGIN
  IF nsp IS DISTINCT FROM pg_catalog.to_regnamespace('oauth_rls')::pg_catalog.oid THEN
    RAISE EXCEPTION 'the schema of extension oauth_rls is %, not oauth_rls', nsp::pg_catalog.regnamespace
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Drop or rename the other schema called oauth_rls, rename the extension''s schema back to oauth_rls, then update.';
  END IF;
END
$$;
ALTER SCHEMA oauth_rls OWNER TO CURRENT_USER;
GRANT USAGE ON SCHEMA oauth_rls TO @extowner@ WITH GRANT OPTION;
