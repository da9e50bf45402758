-- bench/sql/tiers.sql: the tier of the request's client, looked up once per
-- statement, with 10 and with 10,000 registered clients.
-- psql variables: rounds, reps.
\set ON_ERROR_STOP 1

-- A careful user's own registry: client id -> tier, primary key lookup.
CREATE TABLE public.app_clients (client_id text PRIMARY KEY, tier text NOT NULL);
CREATE ROLE b_tier NOLOGIN;
GRANT USAGE ON SCHEMA auth TO b_tier;
GRANT EXECUTE ON FUNCTION auth.jwt() TO b_tier;
GRANT SELECT ON public.app_clients TO b_tier;

INSERT INTO bench.comparisons VALUES
  ('tier lookup', 3, 'user registry table', 'ms',
   'tier of the request''s client, once per statement; claims of a different client every statement');

CREATE FUNCTION bench.register_clients(n int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO public.app_clients
  SELECT bench.client_uuid(1000 + k), CASE WHEN k % 5 = 0 THEN 'first_party' ELSE 'third_party' END
  FROM generate_series(1, n) k ON CONFLICT DO NOTHING;
  INSERT INTO oauth_rls.clients (client_id, name, tier)
  SELECT bench.client_uuid(1000 + k), 'client ' || k,
         CASE WHEN k % 5 = 0 THEN 'first_party' ELSE 'third_party' END::oauth_rls.tier
  FROM generate_series(1, n) k ON CONFLICT DO NOTHING;
  ANALYZE public.app_clients, oauth_rls.clients;
$$;

CREATE FUNCTION bench.tier_run(context text, n int, rounds int, reps int) RETURNS void
LANGUAGE sql AS $$
  SELECT bench.run('tier lookup', context,
    ARRAY['user registry table', 'oauth_rls.current_tier()', 'SELECT NULL (statement floor)'],
    ARRAY['b_tier', 'b_tier', 'b_tier'],
    ARRAY[$q$SELECT CASE WHEN j.cid IS NULL THEN 'direct'
                  ELSE coalesce((SELECT c.tier FROM public.app_clients c WHERE c.client_id = j.cid), 'third_party') END
             FROM (SELECT (SELECT auth.jwt() ->> 'client_id') AS cid) j$q$,
          'SELECT oauth_rls.current_tier()',
          'SELECT NULL::text'],
    -- every statement comes from the next client: the claims differ each time
    (SELECT array_agg(bench.claims(bench.user_uuid(0), bench.client_uuid(1000 + 1 + (k * 7919) % n)) ORDER BY k)
     FROM generate_series(0, least(n, reps) - 1) k),
    (SELECT array_agg(''::text ORDER BY k) FROM generate_series(0, least(n, reps) - 1) k),
    rounds, reps, 3)
$$;

\echo [bench] tier lookup
SELECT bench.register_clients(10) \g /dev/null
SELECT bench.tier_run('10 clients', 10, :rounds, :reps) \g /dev/null
SELECT bench.register_clients(10000) \g /dev/null
SELECT bench.tier_run('10,000 clients', 10000, :rounds, :reps) \g /dev/null
