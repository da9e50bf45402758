-- bench/sql/lib.sql: the measuring machinery shared by every comparison.
-- Loaded by bench/run into the benchmark database; nothing here is installed
-- anywhere else.
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO PUBLIC;

-- One row per measurement: the median and the ratios are computed from these.
CREATE TABLE bench.results (
  comparison text NOT NULL,
  context    text NOT NULL,
  variant    text NOT NULL,
  round      int  NOT NULL,
  ms         double precision NOT NULL,   -- CPU time per operation, milliseconds
  wall_ms    double precision NOT NULL,   -- wall-clock time per operation
  PRIMARY KEY (comparison, context, variant, round)
);

-- CPU time of this backend (bench/cputime, installed by bench/run).  On a
-- shared machine wall-clock time also counts the time spent waiting for a
-- core, which has nothing to do with the statement; CPU time does not.
CREATE FUNCTION bench.cpu_ns() RETURNS bigint
  AS 'bench_cputime', 'bench_cpu_ns' LANGUAGE C VOLATILE;
GRANT EXECUTE ON FUNCTION bench.cpu_ns() TO PUBLIC;

-- Which variant a comparison's ratios are taken against, and how the
-- comparison is shown.
CREATE TABLE bench.comparisons (
  comparison text PRIMARY KEY,
  ord        int  NOT NULL,
  baseline   text NOT NULL,          -- variant that ratios are relative to
  unit       text NOT NULL DEFAULT 'ms',
  note       text
);

-- Realistic Supabase access-token claims (contract §2) as JSON text.
CREATE FUNCTION bench.claims(sub uuid, client_id text DEFAULT NULL,
                             session_id uuid DEFAULT NULL, scope text DEFAULT NULL)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT (jsonb_build_object(
    'iss', 'https://bench.supabase.co/auth/v1',
    'sub', sub::text,
    'aud', 'authenticated',
    'exp', 1893456000, 'iat', 1893452400,
    'email', 'user-' || left(sub::text, 8) || '@example.com',
    'phone', '',
    'app_metadata', jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email')),
    'user_metadata', jsonb_build_object('email_verified', true, 'full_name', 'Bench User'),
    'role', 'authenticated',
    'aal', 'aal1',
    'amr', jsonb_build_array(jsonb_build_object('method', 'password', 'timestamp', 1893452400)),
    'session_id', coalesce(session_id, gen_random_uuid())::text,
    'is_anonymous', false)
   || CASE WHEN client_id IS NULL THEN '{}'::jsonb
           ELSE jsonb_build_object('client_id', client_id,
                                   'scope', coalesce(scope, 'openid email profile')) END)::text
$$;

/*
 * bench.run: the interleaved measurement loop.
 *
 * For each of rounds+1 rounds (round 0 warms caches and is not recorded), every
 * variant is measured once (the best of p_best_of tries, except the slow
 * variants named in p_once), in order on even rounds and in reverse on odd ones, so a
 * burst of load on this shared machine hits every variant alike.  A variant is
 * a role (its policies apply TO that role) and a statement.  The statement is
 * PREPAREd as that role (as PostgREST and pgbench -M prepared do) with one text
 * parameter, and each repetition first sets request.jwt.claims the way
 * PostgREST does (set_config(..., true)), cycling through claims[] with the
 * matching params[] value, then times only the statement, server-side: CPU
 * time (bench.cpu_ns(), what the ratios use) and wall-clock time
 * (clock_timestamp(), shown alongside).
 */
CREATE FUNCTION bench.run(p_comparison text, p_context text, p_variants text[],
                          p_roles text[], p_sqls text[], p_claims text[],
                          p_params text[], p_rounds int, p_reps int,
                          p_best_of int DEFAULT 1, p_once text[] DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n int := array_length(p_variants, 1);
  nc int := array_length(p_claims, 1);
  ms double precision[] := '{}';
  wall double precision[] := '{}';
  v_rounds int[] := '{}';
  v_names text[] := '{}';
  v int;
  t0 timestamptz;
  c0 bigint;
  total interval;
  cpu bigint;
  best_cpu bigint;
  best_wall interval;
BEGIN
  DEALLOCATE ALL;
  FOR r IN 0..p_rounds LOOP
    FOR k IN 1..n LOOP
      v := CASE WHEN r % 2 = 0 THEN k ELSE n + 1 - k END;
      PERFORM set_config('role', p_roles[v], true);
      IF r = 0 THEN
        EXECUTE format('PREPARE bench_%s(text) AS %s', v, p_sqls[v]);
      END IF;
      best_cpu := NULL;
      -- best of p_best_of back-to-back measurements: a burst of load from
      -- elsewhere only ever makes a measurement slower
      FOR b IN 1..CASE WHEN p_variants[v] = ANY (p_once) THEN 1 ELSE p_best_of END LOOP
        total := interval '0';
        cpu := 0;
        FOR rep IN 0..p_reps - 1 LOOP
          PERFORM set_config('request.jwt.claims', p_claims[1 + rep % nc], true);
          t0 := clock_timestamp();
          c0 := bench.cpu_ns();
          EXECUTE format('EXECUTE bench_%s(%L)', v, p_params[1 + rep % nc]);
          cpu := cpu + (bench.cpu_ns() - c0);
          total := total + (clock_timestamp() - t0);
        END LOOP;
        IF best_cpu IS NULL OR cpu < best_cpu THEN
          best_cpu := cpu;
          best_wall := total;
        END IF;
      END LOOP;
      PERFORM set_config('role', 'none', true);
      IF r > 0 THEN
        ms := ms || (best_cpu / 1e6 / p_reps)::double precision;
        wall := wall || (extract(epoch FROM best_wall) * 1000 / p_reps)::double precision;
        v_rounds := v_rounds || r;
        v_names := v_names || p_variants[v];
      END IF;
    END LOOP;
  END LOOP;
  DEALLOCATE ALL;
  PERFORM set_config('request.jwt.claims', '', true);
  INSERT INTO bench.results
  SELECT p_comparison, p_context, u.name, u.round, u.ms, u.wall
  FROM unnest(v_names, v_rounds, ms, wall) AS u(name, round, ms, wall);
END
$$;

-- Medians, and ratios to the comparison's baseline taken round by round
-- (paired: both ran within seconds of each other), then their median.
CREATE VIEW bench.summary AS
WITH paired AS (
  SELECT r.comparison, r.context, r.variant, r.round, r.ms, r.wall_ms, r.ms / b.ms AS ratio
  FROM bench.results r
  JOIN bench.comparisons c USING (comparison)
  LEFT JOIN bench.results b
    ON b.comparison = r.comparison AND b.context = r.context
   AND b.variant = c.baseline AND b.round = r.round
)
SELECT comparison, context, variant,
       count(*) AS rounds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY wall_ms) AS median_wall_ms,
       min(ms) AS min_ms, max(ms) AS max_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ratio) AS ratio
FROM paired
GROUP BY comparison, context, variant;

-- The plan of a statement as a role would run it (for the record: it shows
-- which calls became InitPlans and which run per row).
CREATE FUNCTION bench.explain_as(p_role text, p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  line text;
  result text := '';
BEGIN
  PERFORM set_config('role', p_role, true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || p_sql LOOP
    result := result || line || E'\n';
  END LOOP;
  PERFORM set_config('role', 'none', true);
  RETURN result;
END
$$;

-- Median over rounds of a/b, both measured in the same round (paired).
CREATE FUNCTION bench.paired_ratio(p_comparison text, p_context text, a text, b text)
RETURNS double precision LANGUAGE sql STABLE AS $$
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ra.ms / rb.ms)
  FROM bench.results ra
  JOIN bench.results rb USING (comparison, context, round)
  WHERE ra.comparison = p_comparison AND ra.context = p_context
    AND ra.variant = a AND rb.variant = b
$$;

-- A duration for people: µs below a millisecond, ms below 10 s.
CREATE FUNCTION bench.fmt_ms(ms double precision) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN ms IS NULL THEN '-'
              WHEN ms < 1 THEN to_char(ms * 1000, 'FM9990.0') || ' µs'
              WHEN ms < 10000 THEN to_char(ms, 'FM99990.0') || ' ms'
              ELSE to_char(ms / 1000, 'FM99990.0') || ' s' END
$$;

-- Extra figures that are not times per operation (pgbench throughput).
CREATE TABLE bench.figures (
  comparison text NOT NULL,
  context    text NOT NULL,
  variant    text NOT NULL,
  round      int  NOT NULL,
  value      double precision NOT NULL,
  unit       text NOT NULL,
  PRIMARY KEY (comparison, context, variant, round)
);

/*
 * bench.run_tx: bench.run for statements that write (the token hook counts
 * issuances): every repetition is its own transaction, as every sign-in is,
 * so row versions do not pile up inside one long transaction.  CALL it
 * outside a transaction block.  p_inputs is a query returning (claims text,
 * param text) rows, since CALL takes no subqueries.
 */
CREATE PROCEDURE bench.run_tx(p_comparison text, p_context text, p_variants text[],
                              p_roles text[], p_sqls text[], p_inputs text,
                              p_rounds int, p_reps int)
LANGUAGE plpgsql AS $$
DECLARE
  n int := array_length(p_variants, 1);
  p_claims text[];
  p_params text[];
  nc int;
  ms double precision[] := '{}';
  wall double precision[] := '{}';
  v_rounds int[] := '{}';
  v_names text[] := '{}';
  v int;
  t0 timestamptz;
  c0 bigint;
  total interval;
  cpu bigint;
BEGIN
  EXECUTE format('SELECT array_agg(claims), array_agg(param) FROM (%s) i', p_inputs)
    INTO p_claims, p_params;
  nc := array_length(p_claims, 1);
  DEALLOCATE ALL;
  FOR r IN 0..p_rounds LOOP
    FOR k IN 1..n LOOP
      v := CASE WHEN r % 2 = 0 THEN k ELSE n + 1 - k END;
      IF r = 0 THEN
        PERFORM set_config('role', p_roles[v], true);
        EXECUTE format('PREPARE bench_%s(text) AS %s', v, p_sqls[v]);
      END IF;
      total := interval '0';
      cpu := 0;
      FOR rep IN 0..p_reps - 1 LOOP
        PERFORM set_config('role', p_roles[v], true);
        PERFORM set_config('request.jwt.claims', p_claims[1 + rep % nc], true);
        t0 := clock_timestamp();
        c0 := bench.cpu_ns();
        EXECUTE format('EXECUTE bench_%s(%L)', v, p_params[1 + rep % nc]);
        cpu := cpu + (bench.cpu_ns() - c0);
        total := total + (clock_timestamp() - t0);
        COMMIT;
      END LOOP;
      IF r > 0 THEN
        ms := ms || (cpu / 1e6 / p_reps)::double precision;
        wall := wall || (extract(epoch FROM total) * 1000 / p_reps)::double precision;
        v_rounds := v_rounds || r;
        v_names := v_names || p_variants[v];
      END IF;
    END LOOP;
  END LOOP;
  DEALLOCATE ALL;
  INSERT INTO bench.results
  SELECT p_comparison, p_context, u.name, u.round, u.ms, u.wall
  FROM unnest(v_names, v_rounds, ms, wall) AS u(name, round, ms, wall);
END
$$;
