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
