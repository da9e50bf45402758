-- The counter store (rate limits, API key last use, issuance counts) on a
-- server where it may be missing: PostgreSQL 15/16 without
-- shared_preload_libraries = 'oauth_rls' (this suite's cluster) has no
-- store; 17+ gets one from the DSM registry.  Each check below asserts the
-- behaviour that fits the server, so the output is the same on both; the
-- preloaded store is tested by scripts/test-reliability counters.
SELECT memory IN ('none', 'dsm_registry') AS not_preloaded,
       (memory = 'none') = (current_setting('server_version_num')::int < 170000) AS store_iff_17
  FROM oauth_rls.counter_store();
SELECT memory = 'none' AS no_store FROM oauth_rls.counter_store() \gset

-- Limits: one row per scope and subject, checked.
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES
  ('tier', 'third_party', 10, 20), ('client', 'app-1', 1, 2),
  ('api_key', '*', 5, 5), ('user', '*', 100, 200),
  ('user', 'aaaaaaaa-0000-4000-8000-000000000001', 1, 1);
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES ('team', 'x', 1, 1);
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES ('tier', 'direct', 1, 1);
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES ('user', 'AAAAAAAA-0000-4000-8000-000000000001', 1, 1);
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES ('client', 'app-2', 0, 1);
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES ('client', 'app-2', 1, 0);
INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES ('client', '', 1, 1);

-- Without a store every rate limit function says why it cannot run (and
-- which setting to change); with one, they work.
CREATE FUNCTION pg_temp.outcome(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
  state text;
  msg text;
  hint text;
BEGIN
  EXECUTE sql INTO result;
  RETURN 'ok: ' || coalesce(result, 'null');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN state || ': ' || msg || ' / ' || hint;
END
$$;
SELECT f, CASE WHEN :'no_store'::boolean
                 THEN pg_temp.outcome(q) LIKE '55000: % needs oauth_rls''s shared memory, which this server '
                                              'has not set up / Add oauth_rls to shared_preload_libraries '
                                              'in postgresql.conf and restart the server.'
                 ELSE pg_temp.outcome(q) LIKE 'ok: %' END AS as_expected
  FROM (VALUES ('pre_request', 'SELECT oauth_rls.pre_request()'),
               ('rate_limit', 'SELECT oauth_rls.rate_limit()'),
               ('rate_limit(client)', $$SELECT oauth_rls.rate_limit('client', 'app-1')$$),
               ('flush_counters', 'SELECT oauth_rls.flush_counters()')) AS t(f, q);

-- Bad arguments are refused whether or not there is a store.
SELECT oauth_rls.rate_limit('tier', 'third_party');
SELECT oauth_rls.rate_limit('nope', 'x');
SELECT oauth_rls.rate_limit('client', '');
SELECT oauth_rls.rate_limit('user', 'not a uuid');
SELECT oauth_rls.rate_limit('client', NULL) IS NULL AS strict;

-- API key last use keeps working: written at once without a store, by a
-- flush with one (settled() flushes, and waits up to 10 s for a flush the
-- worker may have under way).
CREATE FUNCTION pg_temp.settled(no_store boolean, cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  ok boolean;
BEGIN
  FOR i IN 1..100 LOOP
    IF NOT no_store THEN
      PERFORM oauth_rls.flush_counters();
    END IF;
    EXECUTE 'SELECT ' || cond INTO ok;
    IF ok OR no_store THEN
      RETURN ok;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END
$$;
SELECT oauth_rls.create_api_key('aaaaaaaa-0000-4000-8000-000000000001', 'counters') AS key \gset
SELECT count(*) AS valid FROM oauth_rls.validate_api_key(:'key');
SELECT pg_temp.settled(:'no_store', format('(SELECT last_used_at IS NOT NULL FROM oauth_rls.api_keys WHERE key_id = %L)',
                                             split_part(substr(:'key', 4), '.', 1))) AS last_use_recorded;

-- Issuance counts too.
SELECT oauth_rls.custom_access_token_hook(
  '{"user_id": "aaaaaaaa-0000-4000-8000-000000000001", "authentication_method": "password",
    "claims": {"iss": "https://x.supabase.co/auth/v1", "sub": "aaaaaaaa-0000-4000-8000-000000000001",
               "aud": "authenticated", "exp": 1900000000, "iat": 1800000000, "email": "a@example.com",
               "phone": "", "role": "authenticated", "aal": "aal1", "client_id": "counters-app",
               "session_id": "aaaaaaaa-0000-4000-8000-0000000000aa", "is_anonymous": false}}') ? 'claims' AS issued;
SELECT pg_temp.settled(:'no_store', $$(SELECT sum(tokens) = 1 FROM oauth_rls.token_issuance WHERE client = 'counters-app')$$)
       AS one_token_counted;

-- Privileges: the API roles may run the request checks, nothing else here.
SELECT r.rolname,
       has_function_privilege(r.rolname, 'oauth_rls.pre_request()', 'EXECUTE') AS pre_request,
       has_function_privilege(r.rolname, 'oauth_rls.rate_limit()', 'EXECUTE') AS rate_limit,
       has_function_privilege(r.rolname, 'oauth_rls.rate_limit(text, text)', 'EXECUTE') AS rate_limit_subject,
       has_function_privilege(r.rolname, 'oauth_rls.flush_counters()', 'EXECUTE') AS flush,
       has_function_privilege(r.rolname, 'oauth_rls.counter_store()', 'EXECUTE') AS store,
       has_table_privilege(r.rolname, 'oauth_rls.rate_limits', 'SELECT') AS read_limits,
       has_table_privilege(r.rolname, 'oauth_rls.rate_limits', 'UPDATE') AS change_limits,
       has_function_privilege(r.rolname, 'oauth_rls.alerts(interval)', 'EXECUTE') AS alerts
  FROM pg_roles AS r
 WHERE r.rolname IN ('anon', 'authenticated', 'service_role', 'supabase_auth_admin')
 ORDER BY 1;

-- Alerts: hours above their client's 7-day baseline, or above a threshold.
DELETE FROM oauth_rls.token_issuance;
INSERT INTO oauth_rls.token_issuance (hour, client, tier, method, shard, tokens)
SELECT date_trunc('hour', now(), 'UTC') - h * interval '1 hour', c.client, 'third_party', 'password', 0,
       CASE WHEN h > 0 THEN c.before ELSE c.now END
  FROM (VALUES ('steady', 2, 3), ('spiky', 1, 50), ('new-app', 0, 12), ('small', 0, 5), ('capped', 25, 25)) AS c(client, before, now),
       generate_series(0, 8 * 24) AS h
 WHERE CASE WHEN h > 0 THEN c.before ELSE c.now END > 0;
INSERT INTO oauth_rls.alert_thresholds (kind, subject, per_hour) VALUES ('issuance', 'capped', 20);
INSERT INTO oauth_rls.alert_thresholds (kind, subject) VALUES ('registrations', 'app-1');  -- refused: per client is for issuance
SELECT kind, client_id, hour = date_trunc('hour', now(), 'UTC') AS this_hour, count, round(baseline::numeric, 2) AS baseline,
       reason
  FROM oauth_rls.alerts(interval '2 hours');
-- Dynamic registrations (Auth's table, read through client_review where it exists).
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types, client_name)
SELECT gen_random_uuid(), 'none', 'dynamic', 'http://evil.example/cb', 'authorization_code', 'bot ' || g
  FROM generate_series(1, 12) AS g;
SELECT kind, client_id, count, reason, flags FROM oauth_rls.alerts() WHERE kind = 'registrations';
-- A spike seen in issuance carries the client's review flags.
INSERT INTO oauth_rls.token_issuance (hour, client, tier, method, shard, tokens)
SELECT date_trunc('hour', now(), 'UTC'), id::text, 'third_party', 'password', 0, 40
  FROM auth.oauth_clients WHERE client_name = 'bot 1';
SELECT kind, count, reason, flags FROM oauth_rls.alerts() WHERE count = 40;
-- client_review shows the client's current rate.
SELECT name, tokens_this_hour, tokens_today FROM oauth_rls.client_review WHERE name = 'bot 1';
DELETE FROM auth.oauth_clients WHERE client_name LIKE 'bot %';
DELETE FROM oauth_rls.alert_thresholds;

DELETE FROM oauth_rls.api_keys;
DELETE FROM oauth_rls.token_issuance;
DELETE FROM oauth_rls.rate_limits;
