-- bench/sql/ratelimit.sql: the rate limit check of PostgREST's db-pre-request
-- (oauth_rls.pre_request()), against the statement floor.  Requests of a
-- third-party client (the tier's limit, per client) by 200 users (the
-- per-user limit), limits high enough that nothing is refused: the figure
-- is what the check costs every request.  current_tier() is the reference
-- for what reading the request costs (its JWT claims, parsed once per request
-- by whichever oauth_rls function comes first): the check's own cost is
-- pre_request() less current_tier().  Needs the counter store
-- (bench/run preloads oauth_rls).
-- psql variables: rounds, reps.
\set ON_ERROR_STOP 1

INSERT INTO oauth_rls.rate_limits (scope, subject, rate, burst) VALUES
  ('tier', 'third_party', 1000000, 1000000000),
  ('tier', 'first_party', 1000000, 1000000000),
  ('user', '*', 1000000, 1000000000);
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES (bench.client_uuid(77), 'rate-limited app', 'third_party') ON CONFLICT DO NOTHING;

INSERT INTO bench.comparisons VALUES
  ('rate limit check', 7, 'SELECT NULL (statement floor)', 'ms',
   'pre_request() per request: client (tier limit) and user buckets; a different user every request');

\echo [bench] rate limit check
SELECT bench.run('rate limit check', 'third-party client, 200 users',
  ARRAY['SELECT NULL (statement floor)', 'oauth_rls.current_tier() (reads the request)', 'oauth_rls.pre_request()'],
  ARRAY['authenticated', 'authenticated', 'authenticated'],
  ARRAY['SELECT NULL::text', 'SELECT oauth_rls.current_tier()::text', 'SELECT oauth_rls.pre_request()'],
  (SELECT array_agg(bench.claims(bench.user_uuid(k), bench.client_uuid(77)) ORDER BY k)
     FROM generate_series(1, 200) k),
  (SELECT array_agg(''::text) FROM generate_series(1, 200) k),
  :rounds, :reps, 3) \g /dev/null
DELETE FROM oauth_rls.rate_limits;
