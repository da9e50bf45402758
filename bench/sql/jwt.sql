-- bench/sql/jwt.sql: oauth_rls.authenticate() (issue 13): a repeated token,
-- a first ES256 verification against OpenSSL's own P-256 verify, and HS256
-- against the same check written in SQL with pgcrypto's hmac() (the pgjwt way).
-- psql variables: rounds, reps, openssl_ms (one OpenSSL verify time in ms per
-- round, from `openssl speed ecdsap256` run by bench/run in this same run).
-- bench/jwt_tokens.py has loaded bench.jwt_tokens and the issuer.
\set ON_ERROR_STOP 1

-- The pgjwt way (its verify(): split, HMAC-SHA-256 with pgcrypto, compare the
-- base64url text, read the payload), written here from that description.
CREATE FUNCTION bench.b64url_decode(data text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT decode(translate(data, '-_', '+/') || repeat('=', (4 - length(data) % 4) % 4), 'base64')
$$;
CREATE FUNCTION bench.b64url_encode(data bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT translate(rtrim(encode(data, 'base64'), '='), E'+/\n', '-_')
$$;
CREATE FUNCTION bench.pgjwt_verify(token text, secret text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT convert_from(bench.b64url_decode(p[1]), 'utf8')::json ->> 'alg' = 'HS256'
     AND p[3] = bench.b64url_encode(extensions.hmac(p[1] || '.' || p[2], secret, 'sha256'))
     AND to_timestamp((convert_from(bench.b64url_decode(p[2]), 'utf8')::json ->> 'exp')::numeric) > now()
  FROM regexp_split_to_array(token, '\.') AS p
$$;

-- Every variant must accept every token before anything is timed.
DO $$
DECLARE t record; s text := (SELECT secret FROM bench.jwt_secret);
BEGIN
  FOR t IN SELECT * FROM bench.jwt_tokens WHERE round = 0 AND i < 20 OR kind = 'repeated' LOOP
    ASSERT (oauth_rls.authenticate(t.token) ->> 'sub') IS NOT NULL;
    PERFORM set_config('role', 'none', true);
    IF t.kind = 'hs256' THEN ASSERT bench.pgjwt_verify(t.token, s); END IF;
  END LOOP;
END
$$;
-- Those checks filled the cache: drop it (any key change does), so round 0
-- verifies from scratch too.
UPDATE oauth_rls.jwt_issuers SET leeway_seconds = leeway_seconds;

INSERT INTO bench.comparisons VALUES
  ('JWT first ES256 verification', 6, 'OpenSSL P-256 verify (openssl speed)', 'ms',
   'a distinct Supabase-shaped ES256 token per call: parse, verify, claims, session, deny-list, set; vs OpenSSL''s bare verify'),
  ('JWT HS256 verification', 7, 'pgjwt way: pgcrypto hmac() in SQL', 'ms',
   'a distinct HS256 token per call'),
  ('JWT repeated token', 8, 'oauth_rls.authenticate(), cache hit', 'ms',
   'the same token every call: time claims, session and deny-list checked, claims and role set');

/*
 * Each repetition calls one function on one token from a plpgsql loop and
 * times only that call (CPU time, bench.cpu_ns()); the role authenticate()
 * set is reset untimed.  Variants are interleaved, reversed every other round.
 * The floor variant times a PERFORM of a trivial function: what the loop and
 * the two clock reads add to every other variant.
 */
CREATE PROCEDURE bench.jwt_run(p_rounds int, p_reps int)
LANGUAGE plpgsql AS $$
DECLARE
  variants text[] := ARRAY['es256', 'hs256', 'pgjwt', 'repeated', 'floor'];
  names text[] := ARRAY['oauth_rls.authenticate()', 'oauth_rls.authenticate()',
                        'pgjwt way: pgcrypto hmac() in SQL', 'oauth_rls.authenticate(), cache hit',
                        'measurement floor: PERFORM length(token)'];
  comps text[] := ARRAY['JWT first ES256 verification', 'JWT HS256 verification',
                        'JWT HS256 verification', 'JWT repeated token', 'JWT repeated token'];
  secret text := (SELECT s.secret FROM bench.jwt_secret AS s);
  repeated text := (SELECT token FROM bench.jwt_tokens WHERE kind = 'repeated');
  toks text[];
  v int;
  c0 bigint;
  t0 timestamptz;
  cpu bigint;
  wall interval;
BEGIN
  FOR r IN 0..p_rounds LOOP
    FOR k IN 1..5 LOOP
      v := CASE WHEN r % 2 = 0 THEN k ELSE 6 - k END;
      SELECT array_agg(token ORDER BY i) INTO toks FROM bench.jwt_tokens
        WHERE kind = CASE variants[v] WHEN 'pgjwt' THEN 'hs256' WHEN 'floor' THEN 'hs256' ELSE variants[v] END
          AND round = r;
      cpu := 0;
      wall := interval '0';
      FOR i IN 1..p_reps LOOP
        t0 := clock_timestamp();
        c0 := bench.cpu_ns();
        CASE variants[v]
          WHEN 'pgjwt' THEN PERFORM bench.pgjwt_verify(toks[i], secret);
          WHEN 'repeated' THEN PERFORM oauth_rls.authenticate(repeated);
          WHEN 'floor' THEN PERFORM length(repeated);
          ELSE PERFORM oauth_rls.authenticate(toks[i]);
        END CASE;
        cpu := cpu + (bench.cpu_ns() - c0);
        wall := wall + (clock_timestamp() - t0);
        PERFORM set_config('role', 'none', true);
      END LOOP;
      IF r > 0 THEN
        INSERT INTO bench.results VALUES (comps[v], 'Supabase-shaped token', names[v], r,
          cpu / 1e6 / p_reps, extract(epoch FROM wall) * 1000 / p_reps);
      END IF;
    END LOOP;
  END LOOP;
  PERFORM set_config('request.jwt.claims', '', true);
END
$$;

\echo [bench] authenticate()
CALL bench.jwt_run(:rounds, :reps);
-- OpenSSL's verify, one figure per round (CPU time, as openssl speed reports).
INSERT INTO bench.results
SELECT 'JWT first ES256 verification', 'Supabase-shaped token', 'OpenSSL P-256 verify (openssl speed)',
       o.r, o.ms, o.ms
FROM unnest(:'openssl_ms'::double precision[]) WITH ORDINALITY AS o(ms, r);
