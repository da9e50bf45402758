-- oauth_rls upgrade 0.1.0 -> 0.2.0, part 60: the counter store (install part 60).

-- Limits.  A row per (scope, subject): scope tier (subject a tier label: the
-- limit of each client of that tier), client (a client_id), api_key (a key
-- id) or user (an auth.users id); subject '*' is the limit of every subject
-- of the scope that has no row of its own.  Token bucket: rate tokens per
-- second, at most burst at once.
CREATE TABLE oauth_rls.rate_limits (
  scope   text COLLATE "C" NOT NULL
          CONSTRAINT rate_limits_scope_check CHECK (scope IN ('tier', 'client', 'api_key', 'user')),
  subject text COLLATE "C" NOT NULL
          CONSTRAINT rate_limits_subject_check CHECK (
            subject <> '' AND octet_length(subject) <= 255
            AND (scope <> 'tier' OR subject IN ('first_party', 'third_party', 'blocked'))
            AND (scope <> 'user' OR subject = '*'
                 OR subject ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')),
  rate    double precision NOT NULL
          CONSTRAINT rate_limits_rate_check CHECK (rate > 0 AND rate <= 1000000),
  burst   integer NOT NULL CONSTRAINT rate_limits_burst_check CHECK (burst >= 1),
  note    text,
  CONSTRAINT rate_limits_pkey PRIMARY KEY (scope, subject)
);
COMMENT ON TABLE oauth_rls.rate_limits IS
  'Token-bucket rate limits (rate per second, burst) per tier, client, API key or user; subject * for each one not listed';
CREATE TRIGGER rate_limits_invalidate_caches
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oauth_rls.rate_limits
  FOR EACH STATEMENT EXECUTE FUNCTION oauth_rls._invalidate_caches();
ALTER TABLE oauth_rls.rate_limits ENABLE ALWAYS TRIGGER rate_limits_invalidate_caches;
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.rate_limits', '');

-- Checks.  VOLATILE and PARALLEL UNSAFE: each call takes a token.
CREATE FUNCTION oauth_rls.pre_request() RETURNS void
  AS 'MODULE_PATHNAME', 'oauth_rls_pre_request' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls.pre_request() IS
  'PostgREST db-pre-request: refuses a request over its client, API key or user rate limit with HTTP 429 and Retry-After';
CREATE FUNCTION oauth_rls.rate_limit() RETURNS void
  AS 'MODULE_PATHNAME', 'oauth_rls_rate_limit' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls.rate_limit() IS
  'The check of pre_request(), for RPC functions: raises HTTP 429 with Retry-After when over a limit';
CREATE FUNCTION oauth_rls.rate_limit(scope text, subject text) RETURNS integer
  AS 'MODULE_PATHNAME', 'oauth_rls_rate_limit_subject' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION oauth_rls.rate_limit(text, text) IS
  'Takes a token from a client, api_key or user bucket: 0 when admitted, else the seconds to wait';

-- The store itself.
CREATE FUNCTION oauth_rls.flush_counters() RETURNS integer
  AS 'MODULE_PATHNAME', 'oauth_rls_flush_counters' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls.flush_counters() IS
  'Writes this database''s pending API key last use and issuance counts now; returns how many entries';
CREATE FUNCTION oauth_rls.counter_store(OUT memory text, OUT capacity bigint, OUT used bigint,
                                        OUT bytes bigint, OUT evictions bigint,
                                        OUT lost_issuances bigint, OUT lost_key_uses bigint,
                                        OUT flushes bigint)
  AS 'MODULE_PATHNAME', 'oauth_rls_counter_store' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION oauth_rls.counter_store() IS
  'The shared-memory counter store: where its memory comes from (none, preloaded, dsm_registry), size, use and losses';

REVOKE ALL ON oauth_rls.rate_limits FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.pre_request(), oauth_rls.rate_limit(), oauth_rls.rate_limit(text, text),
  oauth_rls.flush_counters(), oauth_rls.counter_store() FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.rate_limits TO @extowner@ WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION oauth_rls.pre_request(), oauth_rls.rate_limit(), oauth_rls.rate_limit(text, text),
  oauth_rls.flush_counters(), oauth_rls.counter_store() TO @extowner@ WITH GRANT OPTION;

-- Alerts on spikes: dynamic client registrations per hour (from
-- oauth_rls.client_review, which reads auth.oauth_clients with its owner's
-- rights) and tokens issued per client per hour (oauth_rls.token_issuance)
-- above their own baseline (the mean per hour of the 7 days before) or above
-- a threshold.  Thresholds: a row per kind and subject (a client_id, or '*'
-- for all); without a row, an hour alerts when it has at least 10 and more
-- than 10 times its baseline.
CREATE TABLE oauth_rls.alert_thresholds (
  kind         text COLLATE "C" NOT NULL
               CONSTRAINT alert_thresholds_kind_check CHECK (kind IN ('registrations', 'issuance')),
  subject      text COLLATE "C" NOT NULL DEFAULT '*'
               CONSTRAINT alert_thresholds_subject_check CHECK (
                 subject <> '' AND octet_length(subject) <= 255 AND (kind = 'issuance' OR subject = '*')),
  per_hour     bigint CONSTRAINT alert_thresholds_per_hour_check CHECK (per_hour > 0),
  spike_factor double precision NOT NULL DEFAULT 10
               CONSTRAINT alert_thresholds_spike_factor_check CHECK (spike_factor > 1),
  min_count    bigint NOT NULL DEFAULT 10 CONSTRAINT alert_thresholds_min_count_check CHECK (min_count >= 1),
  CONSTRAINT alert_thresholds_pkey PRIMARY KEY (kind, subject)
);
COMMENT ON TABLE oauth_rls.alert_thresholds IS
  'When oauth_rls.alerts() reports an hour: above per_hour, or at least min_count and above spike_factor x its baseline';
SELECT pg_catalog.pg_extension_config_dump('oauth_rls.alert_thresholds', '');

CREATE FUNCTION oauth_rls.alerts(since interval DEFAULT '24 hours')
  RETURNS TABLE (kind text, client_id text, hour timestamptz, count bigint, baseline double precision,
                 reason text, flags text[])
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS
$alerts$
#variable_conflict use_column
DECLARE
  review boolean := pg_catalog.to_regclass('oauth_rls.client_review') IS NOT NULL;
  q text;
BEGIN
  -- $1: since.  Hours are UTC hours; the baseline of an hour is the mean
  -- count per hour over the 168 hours before it.  Operators resolve in
  -- pg_catalog: the function's search_path is pinned, and EXECUTE keeps it.
  q := $q$
WITH counts AS (
  SELECT 'issuance'::text AS kind, i.client AS subject, i.hour, pg_catalog.sum(i.tokens)::bigint AS n,
         NULL::text[] AS flags
    FROM oauth_rls.token_issuance AS i
   WHERE i.tier <> 'blocked'
     AND i.hour >= pg_catalog.date_trunc('hour', pg_catalog.now() - $1, 'UTC')
                                        - interval '7 days'
   GROUP BY i.client, i.hour
  %s
),
scored AS (
  SELECT c.kind, c.subject, c.hour, c.n, c.flags,
         coalesce((SELECT pg_catalog.sum(p.n) FROM counts AS p
                    WHERE p.kind = c.kind AND p.subject = c.subject
                      AND p.hour >= c.hour - interval '7 days'
                      AND p.hour < c.hour), 0)::double precision
           / 168 AS baseline
    FROM counts AS c
   WHERE c.hour >= pg_catalog.date_trunc('hour', pg_catalog.now() - $1, 'UTC')
)
SELECT s.kind, CASE WHEN s.kind = 'issuance' THEN s.subject END, s.hour, s.n, s.baseline,
       CASE WHEN t.per_hour IS NOT NULL AND s.n > t.per_hour
            THEN 'above ' || t.per_hour || ' per hour'
            ELSE 'over ' || coalesce(t.spike_factor, 10) || 'x the baseline' END,
       coalesce(s.flags, %s)
  FROM scored AS s
  LEFT JOIN LATERAL (
    SELECT a.per_hour, a.spike_factor, a.min_count FROM oauth_rls.alert_thresholds AS a
     WHERE a.kind = s.kind AND a.subject IN (s.subject, '*')
     ORDER BY a.subject = '*' LIMIT 1) AS t ON true
 WHERE (t.per_hour IS NOT NULL AND s.n > t.per_hour)
    OR (s.n >= coalesce(t.min_count, 10)
        AND s.n > coalesce(t.spike_factor, 10) * s.baseline)
 ORDER BY s.hour, s.kind, s.subject
$q$;
  RETURN QUERY EXECUTE pg_catalog.format(q,
    CASE WHEN review THEN $r$
  UNION ALL
  SELECT 'registrations', '*', pg_catalog.date_trunc('hour', r.registered_at, 'UTC'), pg_catalog.count(*),
         pg_catalog.array_agg(DISTINCT f.flag) FILTER (WHERE f.flag IS NOT NULL)
    FROM oauth_rls.client_review AS r
    LEFT JOIN LATERAL pg_catalog.unnest(r.flags) AS f(flag) ON f.flag <> 'dynamically_registered'
   WHERE r.registration_type = 'dynamic'
     AND r.registered_at >= pg_catalog.date_trunc('hour', pg_catalog.now() - $1, 'UTC')
                                                 - interval '7 days'
   GROUP BY 3$r$ ELSE '' END,
    CASE WHEN review THEN '(SELECT r.flags FROM oauth_rls.client_review AS r WHERE r.client_id = s.subject)'
         ELSE 'NULL::text[]' END)
  USING since;
END
$alerts$;
COMMENT ON FUNCTION oauth_rls.alerts(interval) IS
  'Hours since `since` with dynamic client registrations or tokens issued per client above their 7-day baseline or a threshold, with the client''s review flags';

REVOKE ALL ON oauth_rls.alert_thresholds FROM PUBLIC;
REVOKE ALL ON FUNCTION oauth_rls.alerts(interval) FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON oauth_rls.alert_thresholds TO @extowner@ WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION oauth_rls.alerts(interval) TO @extowner@ WITH GRANT OPTION;
