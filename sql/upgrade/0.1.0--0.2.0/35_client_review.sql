-- oauth_rls upgrade 0.1.0 -> 0.2.0, part 35: client_review gains tokens_this_hour
-- (install part 30).  create_client_review() as in part 30 (SECURITY DEFINER:
-- schema oauth_rls is the bootstrap superuser's, see part 05), then an
-- existing view is made again by it, as the extension's; a view other objects
-- depend on is kept as it was.
CREATE OR REPLACE FUNCTION oauth_rls.create_client_review() RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
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
  EXECUTE $view$
CREATE VIEW oauth_rls.client_review AS
WITH issuance AS (
  SELECT i.client,
         sum(i.tokens) FILTER (WHERE i.hour >= pg_catalog.now() - interval '24 hours') AS tokens_24h,
         sum(i.tokens) FILTER (WHERE i.hour >= pg_catalog.date_trunc('hour', pg_catalog.now(), 'UTC'))
           AS tokens_this_hour,
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
         coalesce(i.tokens_this_hour, 0)::bigint AS tokens_this_hour,
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
       ]::text[], NULL) AS flags,
       v.tokens_this_hour
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
  -- Made by the install script, the view is a member already; made later,
  -- it becomes one, so that DROP EXTENSION drops it.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) 'oauth_rls.client_review'::pg_catalog.regclass
                    AND d.deptype OPERATOR(pg_catalog.=) 'e') THEN
    EXECUTE 'ALTER EXTENSION oauth_rls ADD VIEW oauth_rls.client_review';
  END IF;
  RETURN true;
END
$review$;
COMMENT ON FUNCTION oauth_rls.create_client_review() IS
  'Creates the view oauth_rls.client_review if it is missing and Supabase Auth''s OAuth tables exist; true when it did';
REVOKE ALL ON FUNCTION oauth_rls.create_client_review() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_rls.create_client_review() TO @extowner@ WITH GRANT OPTION;

DO $upgrade$
BEGIN
  IF pg_catalog.to_regclass('oauth_rls.client_review') IS NOT NULL THEN
    BEGIN
      DROP VIEW oauth_rls.client_review;
      PERFORM oauth_rls.create_client_review();
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'oauth_rls.client_review kept without tokens_this_hour: other objects depend on it'
        USING HINT = 'Drop them, then DROP VIEW oauth_rls.client_review and SELECT oauth_rls.create_client_review().';
    END;
  END IF;
END
$upgrade$;
