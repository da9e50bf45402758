-- bench/sql/setup.sql: data shared by the comparisons.
-- psql variables: rows (size of public.items).
\set ON_ERROR_STOP 1

-- Deterministic user ids: user 0 is the requesting user "U", users 1.. own 50
-- rows each (user 1 and 2 are the ones the index-scan comparison reads).
CREATE FUNCTION bench.user_uuid(k int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
$$ SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(k), 12, '0'))::uuid $$;
CREATE FUNCTION bench.client_uuid(k int) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT 'c1e47000-0000-4000-9000-' || lpad(to_hex(k), 12, '0') $$;
CREATE FUNCTION bench.session_uuid(user_k int, ctx int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
$$ SELECT ('5e551000-' || lpad(to_hex(ctx), 4, '0') || '-4000-a000-' || lpad(to_hex(user_k), 12, '0'))::uuid $$;

-- The clients: two first-party apps (registered by hand), one third-party
-- (dynamically registered, not in the registry: it gets the default tier).
CREATE TABLE bench.clients (label text PRIMARY KEY, client_id text NOT NULL, tier text);
INSERT INTO bench.clients VALUES
  ('first_party', bench.client_uuid(1), 'first_party'),
  ('first_party_2', bench.client_uuid(2), 'first_party'),
  ('third_party', bench.client_uuid(3), NULL);

INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types, client_name)
SELECT client_id::uuid, 'client_secret_basic', CASE WHEN tier IS NULL THEN 'dynamic' ELSE 'manual' END::auth.oauth_registration_type,
       'https://app.example.com/callback', 'authorization_code,refresh_token', label
FROM bench.clients;
INSERT INTO oauth_rls.clients (client_id, name, tier)
SELECT client_id, label, tier::oauth_rls.tier FROM bench.clients WHERE tier IS NOT NULL;

-- What a careful user keeps today instead of our registry.
CREATE TABLE public.first_party_clients (client_id text PRIMARY KEY);
INSERT INTO public.first_party_clients SELECT client_id FROM bench.clients WHERE tier = 'first_party';

-- The three request contexts: claims of user k as a direct session (ctx 0),
-- through the first-party app (1), through the third-party app (2).  Each has
-- a live auth.sessions row, as a real token would.
CREATE FUNCTION bench.context_claims(ctx text, user_k int DEFAULT 0) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT bench.claims(bench.user_uuid(user_k),
                      (SELECT client_id FROM bench.clients WHERE label = ctx),
                      bench.session_uuid(user_k, CASE ctx WHEN 'direct' THEN 0 WHEN 'first_party' THEN 1 ELSE 2 END))
$$;
CREATE TABLE bench.contexts (ord int, context text PRIMARY KEY);
INSERT INTO bench.contexts VALUES (1, 'direct'), (2, 'first_party'), (3, 'third_party');

INSERT INTO auth.users (id, aud, role, email)
SELECT bench.user_uuid(k), 'authenticated', 'authenticated', 'user' || k || '@example.com'
FROM generate_series(0, 2) k;
INSERT INTO auth.sessions (id, user_id, created_at, aal, oauth_client_id)
SELECT bench.session_uuid(k, ctx), bench.user_uuid(k), now(), 'aal1',
       CASE ctx WHEN 1 THEN bench.client_uuid(1)::uuid WHEN 2 THEN bench.client_uuid(3)::uuid END
FROM generate_series(0, 2) k, generate_series(0, 2) ctx;

-- The user table: half of the rows belong to U, the other half to users
-- owning 50 rows each, interleaved so every page holds both.
CREATE TABLE public.items (
  id         bigint PRIMARY KEY,
  user_id    uuid NOT NULL,
  title      text NOT NULL,
  done       boolean NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO public.items
SELECT i,
       CASE WHEN i % 2 = 0 THEN bench.user_uuid(0)
            ELSE bench.user_uuid(1 + ((i - 1) / 2) % greatest(:rows / 100, 1)::int) END,
       'item ' || i, i % 3 = 0, timestamptz '2026-01-01' + i * interval '1 second'
FROM generate_series(1, :rows) i;
CREATE INDEX items_user_id_idx ON public.items (user_id);
ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
VACUUM (ANALYZE) public.items;
