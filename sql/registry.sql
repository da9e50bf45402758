-- Client registry and tiers.
-- Two steps below act as another role: a superuser sets session_replication_role
-- (on Supabase, supautils lets postgres set it), and Auth's role reads the registry.
-- On Supabase that would be a separate connection; here the file connects as
-- supabase_admin and acts as postgres (SET SESSION AUTHORIZATION), switching
-- identity for those steps only: one session, so temporary helpers survive.
\c - supabase_admin
SET SESSION AUTHORIZATION postgres;
SET search_path = "$user", public, extensions;
SELECT enum_range(NULL::oauth_rls.tier);

INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('11111111-aaaa-4aaa-8aaa-000000000001', 'Company web app', 'first_party'),
  ('11111111-aaaa-4aaa-8aaa-000000000002', 'Partner integration', 'third_party'),
  ('11111111-aaaa-4aaa-8aaa-000000000003', 'Scraper', 'blocked');

SELECT oauth_rls.tier_of('11111111-aaaa-4aaa-8aaa-000000000001') AS first,
       oauth_rls.tier_of('11111111-aaaa-4aaa-8aaa-000000000002') AS third,
       oauth_rls.tier_of('11111111-aaaa-4aaa-8aaa-000000000003') AS blocked,
       oauth_rls.tier_of('unknown') AS unknown,
       oauth_rls.tier_of('') AS empty,
       oauth_rls.tier_of(repeat('x', 300)) AS too_long,
       oauth_rls.tier_of(NULL) AS null_id;

-- Ids compare byte for byte, except a uuid, which is looked up in lower case
-- (the registry holds uuids only so: sql/client_id_case.sql).
SELECT oauth_rls.tier_of('11111111-AAAA-4AAA-8AAA-000000000001') AS uppercase_uuid_is_the_same_id;

-- No JWT: direct.
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party();

-- Each kind of request.
CREATE FUNCTION pg_temp.as_client(client text) RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims',
    json_build_object('sub', '11111111-1111-4111-8111-111111111111', 'role', 'authenticated',
                      'client_id', client)::text, false)
$$;
SELECT pg_temp.as_client('11111111-aaaa-4aaa-8aaa-000000000001');
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party();
SELECT pg_temp.as_client('11111111-aaaa-4aaa-8aaa-000000000002');
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party();
SELECT pg_temp.as_client('11111111-aaaa-4aaa-8aaa-000000000003');
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party();
SELECT pg_temp.as_client('not-registered');
SELECT oauth_rls.current_tier(), oauth_rls.is_oauth(), oauth_rls.is_first_party();

-- Unregistered clients: third_party by default, blocked on request, nothing wider.
SET oauth_rls.unregistered_client_tier = 'blocked';
SELECT oauth_rls.current_tier(), oauth_rls.tier_of('not-registered');
SET oauth_rls.unregistered_client_tier = 'first_party';
SET oauth_rls.unregistered_client_tier = 'direct';
SET oauth_rls.unregistered_client_tier = '';
SHOW oauth_rls.unregistered_client_tier;
RESET oauth_rls.unregistered_client_tier;
SELECT oauth_rls.current_tier();
SET oauth_rls.no_such_setting = 'x';

-- A registry change is seen at the next statement.
UPDATE oauth_rls.clients SET tier = 'first_party' WHERE client_id = 'not-registered';
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES ('not-registered', 'Now known', 'first_party');
SELECT oauth_rls.current_tier();
DELETE FROM oauth_rls.clients WHERE client_id = 'not-registered';
SELECT oauth_rls.current_tier();
-- ... and a rolled back change is forgotten.
BEGIN;
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES ('not-registered', 'Briefly', 'first_party');
SELECT oauth_rls.current_tier() AS inside;
ROLLBACK;
SELECT oauth_rls.current_tier() AS after_rollback;
TRUNCATE oauth_rls.clients;
SELECT oauth_rls.tier_of('11111111-aaaa-4aaa-8aaa-000000000001') AS after_truncate;
-- ... also when written with triggers in replica mode (restores, logical replication).
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES ('not-registered', 'Known', 'first_party');
SELECT oauth_rls.current_tier() AS before_replica_write;
RESET SESSION AUTHORIZATION;
SET session_replication_role = replica;
SET SESSION AUTHORIZATION postgres;
UPDATE oauth_rls.clients SET tier = 'blocked' WHERE client_id = 'not-registered';
RESET SESSION AUTHORIZATION;
RESET session_replication_role;
SET SESSION AUTHORIZATION postgres;
SELECT oauth_rls.current_tier() AS after_replica_write;
RESET request.jwt.claims;

-- Registry constraints.
\set VERBOSITY terse
INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('', 'first_party');
INSERT INTO oauth_rls.clients (client_id, tier) VALUES (repeat('x', 256), 'first_party');
-- The limit is in bytes, as the C lookups count: 200 two-byte characters are too long.
INSERT INTO oauth_rls.clients (client_id, tier) VALUES (repeat('é', 200), 'blocked');
INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('x', 'direct');
INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('x', NULL);
INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('x', 'third_party');
SELECT updated_at = created_at AS fresh FROM oauth_rls.clients WHERE client_id = 'x';
UPDATE oauth_rls.clients SET name = 'renamed' WHERE client_id = 'x';
SELECT updated_at >= created_at AS touched FROM oauth_rls.clients WHERE client_id = 'x';
DELETE FROM oauth_rls.clients;
\set VERBOSITY default

-- Privileges: anon/authenticated cannot read or write the registry, yet
-- current_tier() works for them; Auth's role can read it.
INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('app-1', 'first_party');
SET ROLE authenticated;
SELECT * FROM oauth_rls.clients;
INSERT INTO oauth_rls.clients (client_id, tier) VALUES ('evil', 'first_party');
SELECT set_config('request.jwt.claims', '{"client_id":"app-1"}', false) IS NOT NULL AS set;
SELECT oauth_rls.current_tier();
RESET ROLE;
SET ROLE anon;
UPDATE oauth_rls.clients SET tier = 'first_party';
RESET ROLE;
SET SESSION AUTHORIZATION supabase_auth_admin;
SELECT client_id, tier FROM oauth_rls.clients;
DELETE FROM oauth_rls.clients;
SET SESSION AUTHORIZATION postgres;
RESET request.jwt.claims;
DELETE FROM oauth_rls.clients;
