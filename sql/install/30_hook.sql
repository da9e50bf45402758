-- oauth_rls install script, part 30: the Custom Access Token Hook, its
-- per-client settings, issuance metrics and the client review view.

-- Per-client token settings, kept with the client in the registry.  The names
-- in the two lists below are the claims the hook never lets a client setting
-- touch (src/hook.c, protected_claims, holds the same list).
ALTER TABLE oauth_rls.clients
  ADD COLUMN audience text
    CONSTRAINT clients_audience_check CHECK (audience <> '' AND length(audience) <= 1024),
  ADD COLUMN extra_claims jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT clients_extra_claims_check CHECK (
      jsonb_typeof(extra_claims) = 'object'
      AND NOT extra_claims ?| ARRAY['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'role', 'aal', 'amr',
                                   'session_id', 'is_anonymous', 'client_id', 'scope', 'client_tier']
      -- claims in Auth's schema keep their type
      AND coalesce(jsonb_typeof(extra_claims -> 'email'), 'string') = 'string'
      AND coalesce(jsonb_typeof(extra_claims -> 'phone'), 'string') = 'string'
      AND coalesce(jsonb_typeof(extra_claims -> 'app_metadata'), 'object') = 'object'
      AND coalesce(jsonb_typeof(extra_claims -> 'user_metadata'), 'object') = 'object'
      AND octet_length(extra_claims::text) <= 16384),
  ADD COLUMN strip_claims text[] NOT NULL DEFAULT '{}'
    CONSTRAINT clients_strip_claims_check CHECK (
      coalesce(array_ndims(strip_claims), 1) = 1
      AND cardinality(strip_claims) <= 64
      AND array_position(strip_claims, NULL) IS NULL
      AND array_position(strip_claims, '') IS NULL
      AND NOT strip_claims && ARRAY['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'role', 'aal', 'amr',
                                    'session_id', 'is_anonymous', 'client_id', 'scope', 'client_tier']);
COMMENT ON COLUMN oauth_rls.clients.audience IS
  'Replaces the aud claim of this client''s tokens; NULL keeps Auth''s aud';
COMMENT ON COLUMN oauth_rls.clients.extra_claims IS
  'Claims merged into this client''s tokens (top-level keys replace); protected claims are refused';
COMMENT ON COLUMN oauth_rls.clients.strip_claims IS
  'Claims removed from this client''s tokens; email and phone, which Auth requires, become ""';

-- The hook.  Not STRICT (a NULL event gets an error object), VOLATILE (it
-- counts issuances, and a chained hook may write).
CREATE FUNCTION oauth_rls.custom_access_token_hook(event jsonb) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'oauth_rls_custom_access_token_hook' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) IS
  'Supabase Auth Custom Access Token Hook: client_tier, per-client audience/extra/strip, blocked clients refused, '
  'third-party claim minimisation, chaining (oauth_rls.chained_hook), issuance counts';

-- Issuance counts.  A row per (UTC hour, client, tier, authentication method,
-- shard); the hook adds 1 to the row of its backend's shard, so concurrent
-- sign-ins for one client spread over several rows.  client is the client_id,
-- or 'direct' for tokens without one (tier tells the two apart).
CREATE TABLE oauth_rls.token_issuance (
  hour   timestamptz NOT NULL,
  client text COLLATE "C" NOT NULL,
  tier   oauth_rls.tier NOT NULL,
  method text COLLATE "C" NOT NULL,
  shard  smallint NOT NULL,
  tokens bigint NOT NULL CONSTRAINT token_issuance_tokens_check CHECK (tokens > 0),
  CONSTRAINT token_issuance_pkey PRIMARY KEY (hour, client, tier, method, shard)
);
COMMENT ON TABLE oauth_rls.token_issuance IS
  'Tokens issued (and refused to blocked clients) by custom_access_token_hook, per UTC hour; see token_issuance_daily';
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.token_issuance', '');

CREATE VIEW oauth_rls.token_issuance_daily AS
SELECT (i.hour AT TIME ZONE 'UTC')::date AS day,
       i.client,
       coalesce(sum(i.tokens) FILTER (WHERE i.tier <> 'blocked'), 0)::bigint AS tokens,
       coalesce(sum(i.tokens) FILTER (WHERE i.tier = 'blocked'), 0)::bigint AS refused
  FROM oauth_rls.token_issuance AS i
 GROUP BY 1, 2;
COMMENT ON VIEW oauth_rls.token_issuance_daily IS
  'Tokens issued per client (client_id, or ''direct'') per UTC day, and refusals of blocked clients';

CREATE FUNCTION oauth_rls.prune_token_issuance(keep interval DEFAULT '400 days') RETURNS bigint
  LANGUAGE sql SET search_path = pg_catalog, pg_temp AS
$$
  WITH gone AS (
    DELETE FROM oauth_rls.token_issuance WHERE hour < pg_catalog.now() - keep RETURNING 1
  )
  SELECT pg_catalog.count(*) FROM gone
$$;
COMMENT ON FUNCTION oauth_rls.prune_token_issuance(interval) IS
  'Deletes issuance counts older than keep; returns how many rows went';

-- Privileges, as Supabase prescribes for hooks: only Auth's role runs the
-- hook, and it may write what the hook writes; anon and authenticated get
-- nothing.  Those grants (and the registry's SELECT for supabase_auth_admin)
-- are made by oauth_rls.grant_supabase_roles() (part 90).  The installing
-- role holds, WITH GRANT OPTION, every right that function grants, so that
-- it can run it.
REVOKE ALL ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) FROM PUBLIC;
REVOKE ALL ON oauth_rls.token_issuance FROM PUBLIC;
REVOKE ALL ON oauth_rls.token_issuance_daily FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.prune_token_issuance(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_rls.custom_access_token_hook(jsonb) TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.token_issuance TO @extowner@ WITH GRANT OPTION;
GRANT SELECT ON oauth_rls.token_issuance_daily TO @extowner@ WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION oauth_rls.prune_token_issuance(interval) TO @extowner@ WITH GRANT OPTION;

-- Client review: Auth's OAuth clients with their tier, issuance and flags.
-- It reads auth.oauth_clients and auth.sessions, which exist only where
-- Supabase Auth (v2.18x+) has migrated the database, so the install script
-- creates it only when they exist; where Auth creates them later, the
-- extension's owner calls this function.  It is a plain view (its owner's
-- rights) because on hosted Supabase only Auth's role and superusers may read
-- auth tables.  Either way it belongs to the role that owns the extension's
-- objects (the bootstrap superuser, for a trusted install) and is a member of
-- the extension: the function is SECURITY DEFINER because schema oauth_rls
-- is that role's, and the installer may not create objects in it (a grant of
-- CREATE would also let it add overloads and operators among ours).  It runs
-- one fixed statement and takes no argument; what its caller gets is the
-- view CREATE EXTENSION makes where Auth's tables exist.  It shows no secret
-- (client_secret_hash is left out); SELECT goes to the extension's owner
-- only, WITH GRANT OPTION.
CREATE FUNCTION oauth_rls.create_client_review() RETURNS boolean
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

SELECT oauth_rls.create_client_review();
