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
-- Clients are uuid strings as Supabase issues them (c...i, 50 registered,
-- 10 more unregistered), each known to Auth; user u has live session s...u, of client u % 60.
CREATE FUNCTION mem.id(prefix text, i int) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT format('%s-0000-4000-8000-%s', prefix, lpad(to_hex(i), 12, '0')) $$;
INSERT INTO oauth_rls.clients (client_id, name, tier)
  SELECT mem.id('c0000000', i), 'app ' || i, (ARRAY['first_party', 'third_party', 'blocked'])[i % 3 + 1]::oauth_rls.tier
  FROM generate_series(0, 49) i;
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types)
  SELECT mem.id('c0000000', i)::uuid, 'client_secret_basic', 'dynamic', 'https://x.example/cb', 'authorization_code' FROM generate_series(0, 59) i;
INSERT INTO auth.users (id) SELECT mem.id('a0000000', i)::uuid FROM generate_series(0, 999) i;
-- Auth records the client of every OAuth session: user u's is client u % 60's.
INSERT INTO auth.sessions (id, user_id, oauth_client_id)
  SELECT mem.id('5e000000', i)::uuid, mem.id('a0000000', i)::uuid, mem.id('c0000000', i % 60)::uuid FROM generate_series(0, 999) i;
-- 60 API keys of user 1, the request's X-API-Key header in the loop below
CREATE TABLE mem.keys AS
  SELECT i, oauth_rls.create_api_key(mem.id('a0000000', 1)::uuid, 'k' || i, '{read}') AS key FROM generate_series(0, 59) i;
-- a guarded table, for allows()
CREATE TABLE mem.guarded (id int);
ALTER TABLE mem.guarded ENABLE ROW LEVEL SECURITY;
SELECT oauth_rls.set_access('mem.guarded', 'third_party', '{select}');
SELECT oauth_rls.guard('mem.guarded') IS NULL;
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
-- The hot functions and an argument for each: every non-volatile function
-- that authenticated may call (what policies run per row) must be listed; a
-- new one fails the coverage check below until it is added here.
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
  ('oauth_rls.tier_of(text)', 'oauth_rls.tier_of(''c0000000-0000-4000-8000-000000000001'')'),
  ('oauth_rls.allows(regclass,text)', 'oauth_rls.allows(''mem.guarded''::regclass, ''select'')'),
  ('oauth_rls.session_active()', 'oauth_rls.session_active()'),
  ('oauth_rls.api_key_owner()', 'oauth_rls.api_key_owner()'),
  ('oauth_rls.api_key_id()', 'oauth_rls.api_key_id()'),
  ('oauth_rls.api_key_scopes()', 'oauth_rls.api_key_scopes()'),
  ('oauth_rls.is_oauth()', 'oauth_rls.is_oauth()'),
  ('oauth_rls.is_first_party()', 'oauth_rls.is_first_party()');
SELECT count(*) AS nhot FROM mem.hot \gset

SELECT CASE WHEN missing IS NULL THEN 'ok' ELSE 'not ok' END
       || ' - memory: every non-volatile function authenticated may call is measured' || coalesce(' (missing: ' || missing || ')', '')
FROM (SELECT string_agg(p.oid::regprocedure::text, ', ') AS missing
      FROM pg_proc p WHERE p.pronamespace = 'oauth_rls'::regnamespace AND p.provolatile <> 'v'
        AND p.prorettype <> 'trigger'::regtype AND has_function_privilege('authenticated', p.oid, 'EXECUTE')
        AND p.oid::regprocedure::text NOT IN (SELECT fn FROM mem.hot)) m;

-- a third-party client with a live session: every function takes its full path
SELECT set_config('request.jwt.claims', '{"sub":"a0000000-0000-4000-8000-000000000001","client_id":"c0000000-0000-4000-8000-000000000001","session_id":"5e000000-0000-4000-8000-000000000001","scope":"openid email profile"}', false) IS NULL;
SELECT set_config('request.headers', json_build_object('x-api-key', key)::text, false) IS NULL FROM mem.keys WHERE i = 0;
DO $$ BEGIN ASSERT oauth_rls.session_active() AND oauth_rls.allows('mem.guarded', 'select')
                   AND oauth_rls.current_tier() = 'third_party' AND oauth_rls.api_key_owner() IS NOT NULL,
                   'memory fixture: not a live third-party session with a valid API key'; END $$;

-- one statement per function: warm up, then 1k vs 1M calls
SELECT mem.in_statement(expr, 1000) FROM mem.hot;
SELECT mem.in_statement(expr, 1000) FROM mem.hot;
CREATE TEMP TABLE mem_before AS
  SELECT name, sum(total_bytes) AS bytes FROM pg_backend_memory_contexts GROUP BY name;
SELECT count(*) >= 0 FROM mem_before;
SELECT mem.total() AS before \gset
UPDATE mem.hot SET growth_stmt = mem.in_statement(expr, 1000000) - mem.in_statement(expr, 1000);
SELECT (mem.total() - :before) AS growth \gset
-- Where it grew, should it (printed as comments, for the reader of a failure).
SELECT '# grew: ' || a.name || ' +' || (a.bytes - coalesce(b.bytes, 0))
  FROM (SELECT name, sum(total_bytes) AS bytes FROM pg_backend_memory_contexts GROUP BY name) a
  LEFT JOIN mem_before b USING (name)
 WHERE a.bytes - coalesce(b.bytes, 0) > 0 AND :growth > :slack
 ORDER BY a.bytes - coalesce(b.bytes, 0) DESC LIMIT 5;
SELECT CASE WHEN growth_stmt <= :slack THEN 'ok' ELSE 'not ok' END
       || ' - memory: 1,000,000 calls of ' || fn || ' in one statement: statement memory grew '
       || growth_stmt || ' bytes (1,000 calls as the baseline)'
FROM mem.hot ORDER BY fn;
SELECT CASE WHEN :growth <= :slack THEN 'ok' ELSE 'not ok' END
       || ' - memory: backend memory after ' || :nhot || ' x 1,000,000 calls in single statements grew ' || :growth || ' bytes';

-- one session: claims change on every iteration (each call re-reads them,
-- session_active() looks the session up again), transaction-local and
-- session-level settings alternate, transactions commit every 100
-- iterations, 50 registered clients and 10 unregistered ones
CREATE PROCEDURE mem.session_loop(iterations int) LANGUAGE plpgsql AS $$
DECLARE
  keys text[] := ARRAY(SELECT key FROM mem.keys ORDER BY i);
BEGIN
  FOR i IN 1..iterations LOOP
    PERFORM set_config('request.headers', json_build_object('x-api-key', keys[i % 60 + 1])::text, i % 2 = 0);
    PERFORM set_config('request.jwt.claims',
      format('{"sub":"%s","client_id":"%s","session_id":"%s","scope":"openid s%s"}',
             mem.id('a0000000', i % 1000), mem.id('c0000000', i % 60), mem.id('5e000000', i % 1000), i), i % 2 = 0);
    PERFORM oauth_rls.claims(), oauth_rls.claim('sub'), oauth_rls.user_id(), oauth_rls.client_id(),
            oauth_rls.session_id(), oauth_rls.scopes(), oauth_rls.has_scope('openid'),
            oauth_rls.current_tier(), oauth_rls.tier_of(mem.id('c0000000', i % 60)), oauth_rls.is_oauth(),
            oauth_rls.is_first_party(), oauth_rls.allows('mem.guarded', 'select'), oauth_rls.session_active(),
            oauth_rls.api_key_owner(), oauth_rls.api_key_id(), oauth_rls.api_key_scopes();
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
       || ' - memory: 100,000 claim and key changes x 16 functions (1,600,000 calls) in one session grew backend memory '
       || :growth || ' bytes';

-- the registry cache is bounded: a million distinct client ids.  The bound
-- is loose on purpose: how full the capped cache happens to be when measured
-- depends on when an invalidation last emptied it (up to ~3 MB), while an
-- uncapped cache would hold a million entries (~300 MB).
SELECT count(oauth_rls.tier_of('x-' || i)) FROM generate_series(1, 20000) i \gset
SELECT mem.total() AS before \gset
SELECT count(oauth_rls.tier_of('x-' || i)) FROM generate_series(1, 1000000) i \gset
SELECT (mem.total() - :before) AS growth,
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name = 'oauth_rls client tiers') AS cache \gset
SELECT CASE WHEN :growth <= 8388608 AND :cache <= 8388608 THEN 'ok' ELSE 'not ok' END
       || ' - memory: 1,000,000 distinct client ids through tier_of(): the tier cache holds ' || :cache
       || ' bytes (capped), backend memory grew ' || :growth || ' bytes';
