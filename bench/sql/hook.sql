-- bench/sql/hook.sql: the Custom Access Token Hook, oauth_rls's C hook against
-- a plpgsql hook doing the same work (contract §3, user-needs §3).
-- psql variables: events (how many distinct events), rounds.
\set ON_ERROR_STOP 1

-- A blocked client, and the careful user's own client table for their hook.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES (bench.client_uuid(4), 'blocked', 'blocked');
CREATE TABLE public.hook_clients (client_id text PRIMARY KEY, tier text NOT NULL);
INSERT INTO public.hook_clients SELECT client_id, tier::text FROM oauth_rls.clients;
CREATE TABLE public.token_metrics (
  day date NOT NULL, client text NOT NULL, tier text NOT NULL, method text NOT NULL,
  n bigint NOT NULL, PRIMARY KEY (day, client, tier, method));

-- What a team writes today: tier from their table, client_tier claim,
-- blocked clients refused with an error object, third-party claims minimised
-- by scope, and a token count per day and client whose failure never fails
-- the sign-in.  The comparison without counting uses the same body without
-- the count block: both are made from one text, so they cannot drift apart.
DO $do$
DECLARE
  body text := $body$
DECLARE
  claims jsonb := event -> 'claims';
  cid text;
  client_tier text;
  granted text[];
BEGIN
  IF jsonb_typeof(event) IS DISTINCT FROM 'object' OR jsonb_typeof(claims) IS DISTINCT FROM 'object' THEN
    RETURN jsonb_build_object('error', jsonb_build_object('http_code', 400, 'message', 'malformed hook event'));
  END IF;
  cid := claims ->> 'client_id';
  IF cid IS NULL THEN
    client_tier := 'direct';
  ELSE
    SELECT c.tier INTO client_tier FROM public.hook_clients c WHERE c.client_id = cid;
    client_tier := coalesce(client_tier, 'third_party');
  END IF;
  IF client_tier = 'blocked' THEN
    RETURN jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'this OAuth client is blocked'));
  END IF;
  claims := claims || jsonb_build_object('client_tier', client_tier);
  IF client_tier = 'third_party' THEN
    granted := string_to_array(coalesce(claims ->> 'scope', ''), ' ');
    IF NOT 'email' = ANY (granted) THEN claims := jsonb_set(claims, '{email}', '""'); END IF;
    IF NOT 'phone' = ANY (granted) THEN claims := jsonb_set(claims, '{phone}', '""'); END IF;
    IF NOT 'profile' = ANY (granted) THEN claims := jsonb_set(claims, '{user_metadata}', '{}'); END IF;
  END IF;
  %s
  RETURN jsonb_build_object('claims', claims);
END
$body$;
  count_block text := $count$
  BEGIN
    INSERT INTO public.token_metrics AS m VALUES
      (current_date, coalesce(cid, 'direct'), client_tier, coalesce(event ->> 'authentication_method', ''), 1)
    ON CONFLICT (day, client, tier, method) DO UPDATE SET n = m.n + 1;
  EXCEPTION WHEN OTHERS THEN
    NULL;   -- counting must never fail a sign-in
  END;
$count$;
BEGIN
  EXECUTE format('CREATE FUNCTION public.plpgsql_access_token_hook(event jsonb) RETURNS jsonb '
                 'LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS %L',
                 format(body, count_block));
  EXECUTE format('CREATE FUNCTION public.plpgsql_access_token_hook_nocount(event jsonb) RETURNS jsonb '
                 'LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS %L',
                 format(body, ''));
END
$do$;

-- Realistic events: password sign-ins and refreshes of direct sessions, OAuth
-- code exchanges and refreshes by first- and third-party apps (some scopes
-- without email or profile), a few blocked clients; most with metadata.
CREATE TABLE bench.hook_events (i int PRIMARY KEY, event text NOT NULL);
INSERT INTO bench.hook_events
SELECT k, (jsonb_build_object(
    'user_id', bench.user_uuid(100 + k % 5000)::text,
    'claims', (bench.claims(bench.user_uuid(100 + k % 5000),
                            CASE WHEN k % 100 < 55 THEN NULL
                                 WHEN k % 100 < 75 THEN bench.client_uuid(1)
                                 WHEN k % 100 < 98 THEN bench.client_uuid(3 + (k % 7 = 0)::int * 1000)
                                 ELSE bench.client_uuid(4) END,
                            NULL,
                            CASE k % 3 WHEN 0 THEN 'openid email profile' WHEN 1 THEN 'openid' ELSE 'openid email' END)::jsonb),
    'authentication_method',
      CASE WHEN k % 100 < 35 THEN 'password' WHEN k % 100 < 55 THEN 'token_refresh'
           WHEN k % 4 = 0 THEN 'token_refresh' ELSE 'oauth_provider/authorization_code' END)
  || CASE WHEN k % 10 = 0 THEN '{}'::jsonb ELSE jsonb_build_object('metadata', jsonb_build_object(
        'uuid', gen_random_uuid(), 'time', '2026-11-22T12:00:00Z',
        'name', 'custom_access_token', 'ip_address', '203.0.113.' || (k % 250))) END)::text
FROM generate_series(1, :events) k;

-- Both hooks must agree on every event's outcome before they are timed.
DO $$
DECLARE disagree int;
BEGIN
  SELECT count(*) INTO disagree FROM (SELECT * FROM bench.hook_events ORDER BY i LIMIT 500) e,
    LATERAL (SELECT public.plpgsql_access_token_hook(e.event::jsonb) AS a,
                    oauth_rls.custom_access_token_hook(e.event::jsonb) AS b) h
  WHERE (h.a ? 'error') <> (h.b ? 'error')
     OR h.a #>> '{claims,client_tier}' IS DISTINCT FROM h.b #>> '{claims,client_tier}'
     OR h.a #>> '{claims,email}' IS DISTINCT FROM h.b #>> '{claims,email}'
     OR h.a #> '{claims,user_metadata}' IS DISTINCT FROM h.b #> '{claims,user_metadata}';
  ASSERT disagree = 0, format('the two hooks disagree on %s of 500 events', disagree);
END
$$;

INSERT INTO bench.comparisons VALUES
  ('token hook', 5, 'plpgsql hook', 'ms', 'one call per event, each in its own transaction, every event once per round');

\echo [bench] token hook
SET oauth_rls.record_issuance = on;
CALL bench.run_tx('token hook', 'realistic events',
                 ARRAY['plpgsql hook', 'oauth_rls hook'], ARRAY['none', 'none'],
                 ARRAY['SELECT public.plpgsql_access_token_hook($1::jsonb)',
                       'SELECT oauth_rls.custom_access_token_hook($1::jsonb)'],
                 'SELECT ''''::text AS claims, event AS param FROM bench.hook_events ORDER BY i',
                 :rounds, :events);

-- Both without counting: what the claim work itself costs.
SET oauth_rls.record_issuance = off;
CALL bench.run_tx('token hook', 'realistic events, no counting',
                 ARRAY['plpgsql hook', 'oauth_rls hook'], ARRAY['none', 'none'],
                 ARRAY['SELECT public.plpgsql_access_token_hook_nocount($1::jsonb)',
                       'SELECT oauth_rls.custom_access_token_hook($1::jsonb)'],
                 'SELECT ''''::text AS claims, event AS param FROM bench.hook_events ORDER BY i',
                 :rounds, :events);
RESET oauth_rls.record_issuance;
