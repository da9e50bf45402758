-- Client ids that are uuids.  Supabase Auth's tokens carry a client's uuid
-- in canonical lower-case form (auth.oauth_clients.id), and the registry
-- compares ids byte for byte: a client registered as 'DD000000-...' with
-- tier blocked left Auth's 'dd000000-...' unregistered (third_party, tokens
-- issued).  The registry now refuses any other spelling of a uuid, and a
-- client_id claim in upper case is read as the lower-case id.  (Failed
-- before the fix: the upper-case row was accepted, tier_of() of Auth's id
-- was third_party and the hook issued its token.)
\set SHOW_CONTEXT never

-- Refused on write, saying what to write instead.
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('DD000000-0000-4000-8000-000000000001', 'Upper', 'blocked');
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('{dd000000-0000-4000-8000-000000000001}', 'Braces', 'blocked');
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('dd000000000040008000000000000001', 'No hyphens', 'blocked');
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('dd00-0000-0000-4000-8000-0000-0000-0001', 'Hyphens elsewhere', 'blocked');
-- Ids that are not uuids stay free text, in any case.
INSERT INTO oauth_rls.clients (client_id, name, tier) VALUES
  ('My-App', 'Mixed case', 'first_party'),
  ('ZZ000000-0000-4000-8000-000000000001', 'Not hex', 'first_party'),
  ('DD000000-0000-4000-8000-00000000001', 'One digit short', 'first_party'),
  ('{dd000000-0000-4000-8000-000000000001', 'Unbalanced brace', 'first_party');
SELECT client_id FROM oauth_rls.clients ORDER BY client_id;
DELETE FROM oauth_rls.clients;

-- The canonical form is accepted; an UPDATE to another spelling is refused.
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('dd000000-0000-4000-8000-000000000001', 'Partner', 'blocked');
UPDATE oauth_rls.clients SET client_id = upper(client_id);

-- Any case of a uuid is that client: tier_of(), the request's claims (also
-- the legacy per-claim setting) and the hook.
SELECT oauth_rls.tier_of('dd000000-0000-4000-8000-000000000001') AS lower_tier,
       oauth_rls.tier_of('DD000000-0000-4000-8000-000000000001') AS upper_tier,
       oauth_rls.tier_of('Dd000000-0000-4000-8000-000000000001') AS mixed_tier;
BEGIN;
SELECT set_config('request.jwt.claims',
  '{"sub": "8d1c8a7e-0000-4000-8000-000000000001", "role": "authenticated", "client_id": "DD000000-0000-4000-8000-000000000001"}',
  true) IS NOT NULL AS set;
SELECT oauth_rls.client_id(), oauth_rls.current_tier(), oauth_rls.is_oauth();
SELECT set_config('request.jwt.claim.client_id', 'dD000000-0000-4000-8000-000000000001', true) IS NOT NULL AS set;
SELECT oauth_rls.client_id(), oauth_rls.current_tier();
ROLLBACK;
SELECT oauth_rls.custom_access_token_hook(
  '{"user_id": "8d1c8a7e-0000-4000-8000-000000000001",
    "authentication_method": "oauth_provider/authorization_code",
    "claims": {"iss": "https://abcd.supabase.co/auth/v1", "sub": "8d1c8a7e-0000-4000-8000-000000000001",
               "aud": "authenticated", "exp": 1767000000, "iat": 1766996400, "email": "ada@example.com",
               "phone": "", "role": "authenticated", "aal": "aal1",
               "session_id": "5e551011-0000-4000-8000-0000000000c1", "is_anonymous": false,
               "client_id": "DD000000-0000-4000-8000-000000000001", "scope": "openid email"}}') AS hook;
SELECT client, tier::text, sum(tokens) AS tokens FROM oauth_rls.token_issuance
 WHERE client ILIKE 'dd000000-%' GROUP BY client, tier;
DELETE FROM oauth_rls.token_issuance WHERE client ILIKE 'dd000000-%';
DELETE FROM oauth_rls.clients;

-- The message comes from a trigger; the CHECK behind it also holds where
-- triggers do not fire (replica mode, as in restores and logical
-- replication; only a superuser may set it).
\c - supabase_admin
\set VERBOSITY terse
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO oauth_rls.clients (client_id, name, tier)
  VALUES ('DD000000-0000-4000-8000-000000000001', 'Restored', 'blocked');
ROLLBACK;
\c - postgres
