-- bench/sql/rls.sql: the RLS scan and index-scan comparisons.
-- psql variables: rounds, idx_reps, plans (file the plans are written to).
\set ON_ERROR_STOP 1

INSERT INTO bench.comparisons VALUES
  ('RLS scan', 1, 'floor: no policy', 'ms', 'SELECT count(*) over every row (sequential scan); floor = a role with BYPASSRLS'),
  ('index scan', 2, 'floor: no policy', 'ms', 'one user''s 50 rows through items_user_id_idx, prepared, claims set per statement');

-- The RLS scan reads every row, so the policy is evaluated on all of them
-- (what the targets are about): no index paths.  The index-scan comparison
-- below turns them back on.
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;

-- Plans, for the record (first-party context).
SELECT set_config('request.jwt.claims', bench.context_claims('first_party'), false) \g /dev/null
\pset format unaligned
\pset tuples_only on
\o :plans
SELECT '== RLS scan: ' || v.variant || E'\n' || bench.explain_as(v.role, 'SELECT count(*) FROM ' || v.tbl)
FROM bench.rls_variants v ORDER BY ord;
RESET enable_indexscan; RESET enable_indexonlyscan; RESET enable_bitmapscan;
SELECT '== index scan: ' || v.variant || E'\n' || bench.explain_as(v.role, 'SELECT id, title, done FROM ' || v.tbl
                        || ' WHERE user_id = ' || quote_literal(bench.user_uuid(1)))
FROM bench.rls_variants v ORDER BY ord;
\o
\pset format aligned
\pset tuples_only off
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;

-- The slow per-row variant runs last (first in reversed rounds), so the fast
-- ones are measured close together.
\echo [bench] RLS scan
SELECT bench.run('RLS scan', c.context,
                 array_agg(v.variant ORDER BY v.variant = 'auth.jwt() per row', v.ord), array_agg(v.role ORDER BY v.variant = 'auth.jwt() per row', v.ord),
                 array_agg('SELECT count(*) FROM ' || v.tbl ORDER BY v.variant = 'auth.jwt() per row', v.ord),
                 ARRAY[bench.context_claims(c.context)], ARRAY[''], :rounds, 1,
                 3, ARRAY['auth.jwt() per row'])
FROM bench.contexts c, bench.rls_variants v
GROUP BY c.context, c.ord ORDER BY c.ord \g /dev/null

RESET enable_indexscan; RESET enable_indexonlyscan; RESET enable_bitmapscan;
\echo [bench] index scan
SELECT bench.run('index scan', c.context,
                 array_agg(v.variant ORDER BY v.variant = 'auth.jwt() per row', v.ord), array_agg(v.role ORDER BY v.variant = 'auth.jwt() per row', v.ord),
                 array_agg('SELECT id, title, done FROM ' || v.tbl || ' WHERE user_id = $1::uuid' ORDER BY v.variant = 'auth.jwt() per row', v.ord),
                 ARRAY[bench.context_claims(c.context, 1), bench.context_claims(c.context, 2)],
                 ARRAY[bench.user_uuid(1)::text, bench.user_uuid(2)::text], :rounds, :idx_reps, 3)
FROM bench.contexts c, bench.rls_variants v
WHERE v.variant NOT LIKE 'hard-coded%'
GROUP BY c.context, c.ord ORDER BY c.ord \g /dev/null
