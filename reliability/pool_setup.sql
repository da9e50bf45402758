-- Fixture for the connection-pooling test (scripts/test-reliability, "pool"):
-- users 1..200 with two private rows each and one public profile each,
-- clients of every tier, and rel.check(u, kind), which fails the transaction
-- unless everything the extension answers inside it belongs to that user and
-- that client.  Run as the superuser in a database with the extension.
CREATE SCHEMA rel;
-- The requests set oauth_rls.unregistered_client_tier per transaction, as
-- authenticator: a setting only roles granted SET may change.
GRANT SET ON PARAMETER oauth_rls.unregistered_client_tier TO authenticator;
GRANT USAGE ON SCHEMA rel TO PUBLIC;

-- persona kinds: 0 direct, 1 first-party, 2 third-party, 3 blocked,
-- 4 unregistered (third_party by default), 5 unregistered under
-- oauth_rls.unregistered_client_tier = blocked, 6 third-party whose session
-- was revoked (its session_id is no row of auth.sessions).  As in Supabase,
-- each persona has its own session (an OAuth one records its client), and
-- only OAuth tokens carry a scope.
CREATE FUNCTION rel.uid(u int) RETURNS uuid LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_catalog.format('00000000-0000-4000-8000-%s', pg_catalog.lpad(pg_catalog.to_hex(u), 12, '0'))::uuid $$;
CREATE FUNCTION rel.sid(u int, kind int) RETURNS uuid LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_catalog.format('%s-0000-4000-8000-%s', CASE WHEN kind = 6 THEN 'dead0000' ELSE '1111111' || kind END,
                                  pg_catalog.lpad(pg_catalog.to_hex(u), 12, '0'))::uuid $$;
-- Supabase issues client ids as uuid strings: f... first-party, e... third-party,
-- b... blocked (7 of each), d... one unregistered client per user.
CREATE FUNCTION rel.client(u int, kind int) RETURNS text LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT CASE WHEN kind = 0 THEN NULL
                    WHEN kind IN (4, 5) THEN pg_catalog.format('d0000000-0000-4000-8000-%s', pg_catalog.lpad(pg_catalog.to_hex(u), 12, '0'))
                    ELSE pg_catalog.format('%s0000000-0000-4000-8000-00000000000%s',
                                           (ARRAY['f', 'e', 'b', '', '', 'e'])[kind], u % 7) END $$;
CREATE FUNCTION rel.tier(kind int) RETURNS oauth_rls.tier LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT (ARRAY['direct', 'first_party', 'third_party', 'blocked', 'third_party', 'blocked', 'third_party'])[kind + 1]::oauth_rls.tier $$;
-- The claims PostgREST would set for user u coming through persona kind.
CREATE FUNCTION rel.claims(u int, kind int) RETURNS text LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'sub', rel.uid(u), 'role', 'authenticated', 'aud', 'authenticated',
           'session_id', rel.sid(u, kind), 'client_id', rel.client(u, kind),
           'scope', CASE WHEN kind <> 0 THEN 'openid s' || u END))::text $$;

INSERT INTO oauth_rls.clients (client_id, name, tier)
SELECT rel.client(i, k), 'app ' || k || '-' || i, rel.tier(k)
FROM generate_series(1, 3) k, generate_series(0, 6) i;
-- Auth's side: users, their live sessions, the OAuth clients
INSERT INTO auth.users (id, aud, role, email)
  SELECT rel.uid(u), 'authenticated', 'authenticated', 'u' || u || '@example.com' FROM generate_series(1, 200) u;
INSERT INTO auth.oauth_clients (id, token_endpoint_auth_method, registration_type, redirect_uris, grant_types, client_name)
  SELECT DISTINCT rel.client(u, k)::uuid, 'client_secret_basic', 'dynamic'::auth.oauth_registration_type, 'https://x.example/cb', 'authorization_code', 'c'
  FROM generate_series(1, 200) u, generate_series(1, 4) k;
INSERT INTO auth.sessions (id, user_id, oauth_client_id, created_at)
  SELECT rel.sid(u, k), rel.uid(u), rel.client(u, k)::uuid, now() FROM generate_series(1, 200) u, generate_series(0, 5) k;

CREATE TABLE rel.user_data (id serial PRIMARY KEY, owner uuid NOT NULL, note text);
CREATE TABLE rel.profiles (id serial PRIMARY KEY, owner uuid NOT NULL);
INSERT INTO rel.user_data (owner, note) SELECT rel.uid(u), 'note ' || n
  FROM generate_series(1, 200) u, generate_series(1, 2) n;
INSERT INTO rel.profiles (owner) SELECT rel.uid(u) FROM generate_series(1, 200) u;
ALTER TABLE rel.user_data ENABLE ROW LEVEL SECURITY;
ALTER TABLE rel.profiles ENABLE ROW LEVEL SECURITY;
-- Unwrapped calls on purpose: evaluated per row, through the per-call-site cache.
CREATE POLICY own_first_party ON rel.user_data TO authenticated
  USING (owner = oauth_rls.user_id() AND oauth_rls.is_first_party());
CREATE POLICY signed_in_not_blocked ON rel.profiles FOR SELECT TO authenticated
  USING (oauth_rls.user_id() IS NOT NULL AND oauth_rls.current_tier() <> 'blocked');
GRANT SELECT ON rel.user_data, rel.profiles TO authenticated;

-- A guarded table: own rows by the permissive policy; the matrix lets
-- third-party clients select (no more); revoked sessions get nothing.
CREATE TABLE rel.guarded (id serial PRIMARY KEY, owner uuid NOT NULL);
INSERT INTO rel.guarded (owner) SELECT rel.uid(u) FROM generate_series(1, 200) u;
ALTER TABLE rel.guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON rel.guarded TO authenticated USING (owner = oauth_rls.user_id());
GRANT SELECT, DELETE ON rel.guarded TO authenticated;
SELECT oauth_rls.guard('rel.guarded');
SELECT oauth_rls.set_access('rel.guarded', 'third_party', '{select}');

-- API keys (request.headers x-api-key, no JWT, role anon): kind 7 a key
-- naming no client (the unregistered-client tier: third_party), kind 8 a
-- key for a blocked client.
CREATE TABLE rel.keys (u int NOT NULL, kind int NOT NULL, key text NOT NULL, key_id text NOT NULL, PRIMARY KEY (u, kind));
INSERT INTO rel.keys (u, kind, key, key_id)
SELECT u, kind, k, substr(split_part(k, '.', 1), 4)
FROM generate_series(1, 200) u, generate_series(7, 8) kind,
     LATERAL oauth_rls.create_api_key(rel.uid(u), 'key ' || u || '/' || kind, ARRAY['s' || u],
                                      NULL, CASE WHEN kind = 8 THEN rel.client(u, 3) END) AS k;
GRANT SELECT ON rel.keys TO PUBLIC;
CREATE FUNCTION rel.headers(u int, kind int) RETURNS text LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_catalog.json_build_object('x-api-key', key, 'accept', '*/*')::text FROM rel.keys k
        WHERE k.u = headers.u AND k.kind = headers.kind $$;
CREATE TABLE rel.notes (id serial PRIMARY KEY, owner uuid NOT NULL);
INSERT INTO rel.notes (owner) SELECT rel.uid(u) FROM generate_series(1, 200) u, generate_series(1, 3);
ALTER TABLE rel.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY key_owner ON rel.notes FOR SELECT TO anon
  USING (owner = (SELECT oauth_rls.api_key_owner()) AND oauth_rls.current_tier() <> 'blocked');
GRANT SELECT ON rel.notes TO anon;

-- Which backend served which user: proves the pool interleaved users.
CREATE UNLOGGED TABLE rel.served (pid int NOT NULL, u int NOT NULL, kind int NOT NULL);
GRANT INSERT ON rel.served TO authenticated, anon;

-- Raises unless the request looks like no request at all: what every
-- transaction must find before it sets its own claims (nothing leaked from
-- the previous user of the pooled backend).
CREATE FUNCTION rel.check_clean() RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
  IF oauth_rls.claims() IS NOT NULL OR oauth_rls.user_id() IS NOT NULL
     OR oauth_rls.client_id() IS NOT NULL OR oauth_rls.current_tier() <> 'direct'
     OR NOT oauth_rls.session_active() OR oauth_rls.api_key_owner() IS NOT NULL
     OR oauth_rls.api_key_id() IS NOT NULL OR oauth_rls.api_key_scopes() IS NOT NULL
     OR pg_catalog.current_setting('oauth_rls.unregistered_client_tier') <> 'third_party' THEN
    RAISE EXCEPTION 'pid %: claims leaked from an earlier transaction: user % client % tier %',
      pg_catalog.pg_backend_pid(), oauth_rls.user_id(), oauth_rls.client_id(), oauth_rls.current_tier();
  END IF;
END
$$;

-- Raises unless everything the extension answers is user u's through persona kind.
CREATE FUNCTION rel.check(u int, kind int) RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  want_user uuid := rel.uid(u);
  want_tier oauth_rls.tier := rel.tier(kind);
  got_rows uuid[];
  got_profiles bigint;
  got jsonb;
BEGIN
  got := pg_catalog.jsonb_build_object('user_id', oauth_rls.user_id(), 'client_id', oauth_rls.client_id(),
    'tier', oauth_rls.current_tier(), 'session_id', oauth_rls.session_id(),
    'has_own_scope', oauth_rls.has_scope('s' || u), 'has_other_scope', oauth_rls.has_scope('s' || (u + 1)),
    'claim_sub', oauth_rls.claim('sub'), 'session_active', oauth_rls.session_active(),
    'allows_select', oauth_rls.allows('rel.guarded', 'select'), 'allows_delete', oauth_rls.allows('rel.guarded', 'delete'),
    'guarded_rows', (SELECT pg_catalog.array_agg(owner) FROM rel.guarded));
  IF got IS DISTINCT FROM pg_catalog.jsonb_build_object('user_id', want_user, 'client_id', rel.client(u, kind),
       'tier', want_tier, 'session_id', rel.sid(u, kind), 'has_own_scope', kind <> 0, 'has_other_scope', false,
       'claim_sub', want_user::text, 'session_active', kind <> 6,
       'allows_select', kind IN (0, 1, 2, 4), 'allows_delete', kind IN (0, 1),
       'guarded_rows', CASE WHEN kind IN (0, 1, 2, 4) THEN ARRAY[want_user] END) THEN
    RAISE EXCEPTION 'pid %: user % kind % got %', pg_catalog.pg_backend_pid(), u, kind, got;
  END IF;
  -- the rows visible under RLS: exactly the user's own two, or none
  SELECT pg_catalog.array_agg(owner) INTO got_rows FROM rel.user_data;
  IF want_tier IN ('direct', 'first_party') THEN
    IF got_rows IS DISTINCT FROM ARRAY[want_user, want_user] THEN
      RAISE EXCEPTION 'pid %: user % kind % sees user_data of %', pg_catalog.pg_backend_pid(), u, kind, got_rows;
    END IF;
  ELSIF got_rows IS NOT NULL THEN
    RAISE EXCEPTION 'pid %: user % kind % (tier %) sees user_data of %', pg_catalog.pg_backend_pid(), u, kind, want_tier, got_rows;
  END IF;
  SELECT pg_catalog.count(*) INTO got_profiles FROM rel.profiles;
  IF got_profiles <> (CASE WHEN want_tier = 'blocked' THEN 0 ELSE 200 END) THEN
    RAISE EXCEPTION 'pid %: user % kind % sees % profiles', pg_catalog.pg_backend_pid(), u, kind, got_profiles;
  END IF;
  INSERT INTO rel.served VALUES (pg_catalog.pg_backend_pid(), u, kind);
END
$$;
-- Raises unless the API-key request of user u (kind 7 or 8) gets exactly its
-- own key's answers and the owner's notes (kind 7 only: a blocked client's key may not).
CREATE FUNCTION rel.check_key(u int, kind int) RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
  got jsonb;
  want jsonb;
BEGIN
  got := pg_catalog.jsonb_build_object('owner', oauth_rls.api_key_owner(), 'key_id', oauth_rls.api_key_id(),
    'scopes', oauth_rls.api_key_scopes(), 'user_id', oauth_rls.user_id(), 'client_id', oauth_rls.client_id(),
    'tier', oauth_rls.current_tier(), 'notes', (SELECT pg_catalog.array_agg(DISTINCT owner) FROM rel.notes),
    'notes_count', (SELECT pg_catalog.count(*) FROM rel.notes));
  want := pg_catalog.jsonb_build_object('owner', rel.uid(u),
    'key_id', (SELECT k.key_id FROM rel.keys k WHERE k.u = check_key.u AND k.kind = check_key.kind),
    'scopes', ARRAY['s' || u], 'user_id', NULL, 'client_id', NULL,
    'tier', CASE WHEN kind = 7 THEN 'third_party' ELSE 'blocked' END,
    'notes', CASE WHEN kind = 7 THEN ARRAY[rel.uid(u)] END, 'notes_count', CASE WHEN kind = 7 THEN 3 ELSE 0 END);
  IF got IS DISTINCT FROM want THEN
    RAISE EXCEPTION 'pid %: key of user % kind % got %', pg_catalog.pg_backend_pid(), u, kind, got;
  END IF;
  INSERT INTO rel.served VALUES (pg_catalog.pg_backend_pid(), u, kind);
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA rel TO PUBLIC;
