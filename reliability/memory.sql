-- Memory: a million calls of each hot function, in one statement and across
-- one session (claims changing between calls, transactions committing), must
-- leave the backend's memory flat.  Measured with pg_backend_memory_contexts:
--   in statement: total bytes at the end of a statement making 1,000,000
--                 calls minus the same for 1,000 calls (per-row garbage would
--                 pile up in the statement's contexts);
--   after:        total bytes between statements, after vs before the
--                 million calls (anything kept in long-lived contexts).
-- Prints one "ok - ..." or "not ok - ..." line per check (psql -At).
\set QUIET on
\set slack 16384
CREATE SCHEMA mem;
INSERT INTO oauth_rls.clients (client_id, name, tier)
  SELECT 'mem-' || i, 'app ' || i, (ARRAY['first_party', 'third_party', 'blocked'])[i % 3 + 1]::oauth_rls.tier
  FROM generate_series(0, 49) i;
CREATE FUNCTION mem.total() RETURNS bigint LANGUAGE sql
  AS 'SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts';
-- The count is returned and checked: an aggregate whose result is not used
-- is dropped by the planner, and the calls with it.
CREATE FUNCTION mem.in_statement(expr text, n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  calls bigint;
  result bigint;
BEGIN
  EXECUTE format('SELECT c.calls, (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)::bigint
                  FROM (SELECT count(%s) AS calls FROM (SELECT generate_series(1, %s)) g) c', expr, n)
    INTO calls, result;
  IF calls <> n THEN
    RAISE EXCEPTION '% was evaluated % times, not %', expr, calls, n;
  END IF;
  RETURN result;
END
$$;
-- The hot functions and an argument for each.  Every non-volatile function
-- of the extension must be listed: a new one fails the coverage check below
-- until it is added here.
CREATE TABLE mem.hot (fn text PRIMARY KEY, expr text NOT NULL, growth_stmt bigint, growth_after bigint);
INSERT INTO mem.hot (fn, expr) VALUES
  ('oauth_rls.claims()', 'oauth_rls.claims()'),
  ('oauth_rls.claim(text)', 'oauth_rls.claim(''sub'')'),
  ('oauth_rls.user_id()', 'oauth_rls.user_id()'),
  ('oauth_rls.client_id()', 'oauth_rls.client_id()'),
  ('oauth_rls.session_id()', 'oauth_rls.session_id()'),
  ('oauth_rls.scopes()', 'oauth_rls.scopes()'),
  ('oauth_rls.has_scope(text)', 'oauth_rls.has_scope(''email'')'),
  ('oauth_rls.current_tier()', 'oauth_rls.current_tier()'),
  ('oauth_rls.tier_of(text)', 'oauth_rls.tier_of(''mem-1'')'),
  ('oauth_rls.is_oauth()', 'oauth_rls.is_oauth()'),
  ('oauth_rls.is_first_party()', 'oauth_rls.is_first_party()');

SELECT CASE WHEN missing IS NULL THEN 'ok' ELSE 'not ok' END
       || ' - memory: every non-volatile function is measured' || coalesce(' (missing: ' || missing || ')', '')
FROM (SELECT string_agg(p.oid::regprocedure::text, ', ') AS missing
      FROM pg_proc p WHERE p.pronamespace = 'oauth_rls'::regnamespace AND p.provolatile <> 'v'
        AND p.prorettype <> 'trigger'::regtype
        AND p.oid::regprocedure::text NOT IN (SELECT fn FROM mem.hot)) m;

SELECT set_config('request.jwt.claims', '{"sub":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","client_id":"mem-1","session_id":"11111111-1111-4111-8111-111111111111","scope":"openid email profile"}', false) IS NULL;

-- one statement per function: warm up, then 1k vs 1M calls
SELECT mem.in_statement(expr, 1000) FROM mem.hot;
SELECT mem.in_statement(expr, 1000) FROM mem.hot;
SELECT mem.total() AS before \gset
UPDATE mem.hot SET growth_stmt = mem.in_statement(expr, 1000000) - mem.in_statement(expr, 1000);
SELECT (mem.total() - :before) AS growth \gset
SELECT CASE WHEN growth_stmt <= :slack THEN 'ok' ELSE 'not ok' END
       || ' - memory: 1,000,000 calls of ' || fn || ' in one statement: statement memory grew '
       || growth_stmt || ' bytes (1,000 calls as the baseline)'
FROM mem.hot ORDER BY fn;
SELECT CASE WHEN :growth <= :slack THEN 'ok' ELSE 'not ok' END
       || ' - memory: backend memory after 11 x 1,000,000 calls in single statements grew ' || :growth || ' bytes';

-- one session: claims change on every iteration (each call re-reads them),
-- transaction-local and session-level settings alternate, transactions
-- commit every 100 iterations, 50 registered clients and unregistered ones
CREATE PROCEDURE mem.session_loop(iterations int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..iterations LOOP
    PERFORM set_config('request.jwt.claims',
      format('{"sub":"00000000-0000-4000-8000-%s","client_id":"mem-%s","session_id":"11111111-1111-4111-8111-%s","scope":"openid s%s"}',
             lpad(to_hex(i), 12, '0'), i % 60, lpad(to_hex(i), 12, '0'), i), i % 2 = 0);
    PERFORM oauth_rls.claims(), oauth_rls.claim('sub'), oauth_rls.user_id(), oauth_rls.client_id(),
            oauth_rls.session_id(), oauth_rls.scopes(), oauth_rls.has_scope('openid'),
            oauth_rls.current_tier(), oauth_rls.tier_of('mem-' || (i % 60)), oauth_rls.is_oauth(),
            oauth_rls.is_first_party();
    IF i % 100 = 0 THEN
      COMMIT;
    END IF;
  END LOOP;
END
$$;
CALL mem.session_loop(2000);
SELECT mem.total() AS before \gset
CALL mem.session_loop(100000);
SELECT (mem.total() - :before) AS growth \gset
SELECT CASE WHEN :growth <= :slack THEN 'ok' ELSE 'not ok' END
       || ' - memory: 100,000 claim changes x 11 functions (1,100,000 calls) in one session grew backend memory '
       || :growth || ' bytes';

-- the registry cache is bounded: a million distinct client ids
SELECT count(oauth_rls.tier_of('x-' || i)) FROM generate_series(1, 20000) i \gset
SELECT mem.total() AS before \gset
SELECT count(oauth_rls.tier_of('x-' || i)) FROM generate_series(1, 1000000) i \gset
SELECT (mem.total() - :before) AS growth \gset
SELECT CASE WHEN :growth <= 2097152 THEN 'ok' ELSE 'not ok' END
       || ' - memory: 1,000,000 distinct client ids through tier_of(): backend memory grew ' || :growth
       || ' bytes (the tier cache is capped)';
