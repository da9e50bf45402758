-- A tier read inside a parallel operation is as fresh as one read by a plain
-- query (specs/parallel_tier_rr.spec), even inside an old REPEATABLE READ
-- snapshot, and is not kept for later statements or transactions.  (dblink
-- plays the second session.)
\set VERBOSITY terse
-- dblink is installed by a superuser (supautils does it on Supabase) and,
-- without a password, only a superuser may connect with it.
-- On Supabase that would be a separate connection; here the file connects as
-- supabase_admin and acts as postgres (SET SESSION AUTHORIZATION), switching
-- identity for those steps only: one session, so temporary helpers survive.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
RESET SESSION AUTHORIZATION;
CREATE EXTENSION IF NOT EXISTS dblink;
SET SESSION AUTHORIZATION postgres;
CREATE TABLE parallel_one (x int);
INSERT INTO parallel_one VALUES (1);
ANALYZE parallel_one;
INSERT INTO oauth_rls.clients VALUES ('par-app', 'Parallel', 'third_party');
SELECT set_config('request.jwt.claims', '{"client_id":"par-app"}', false) IS NOT NULL AS set;
-- force_parallel_mode was renamed debug_parallel_query in PostgreSQL 16.
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) AS parallel;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 1 AS take_snapshot;
RESET SESSION AUTHORIZATION;
SELECT tier FROM dblink('dbname=' || current_database() || ' user=' || current_user ||
                        ' host=' || current_setting('unix_socket_directories') ||
                        ' port=' || current_setting('port'),
  $$UPDATE oauth_rls.clients SET tier = 'blocked' WHERE client_id = 'par-app' RETURNING tier::text$$) AS t(tier text);
SET SESSION AUTHORIZATION postgres;
-- Inside the old snapshot too, the change is seen at the next statement ...
SELECT x, (SELECT oauth_rls.current_tier()) AS tier_old_snapshot FROM parallel_one;
COMMIT;
-- ... and by every later one.
SELECT x, (SELECT oauth_rls.current_tier()) AS tier_next_transaction FROM parallel_one;
SELECT oauth_rls.tier_of('par-app') AS tier_of FROM parallel_one;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'off', false) AS parallel;
SELECT oauth_rls.current_tier() AS tier_serial;
RESET request.jwt.claims;
DELETE FROM oauth_rls.clients;
DROP TABLE parallel_one;
