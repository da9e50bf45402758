# shellcheck shell=bash
# Sourced by bench/run: API key validation, server-side and through pgbench.
bench_api_keys() {
  psql_q -v keys="$key_count" -v rounds="$rounds" -v reps="$key_reps" -f bench/sql/api_keys.sql || return 1

  # End to end: pgbench -M prepared, the two sides alternating run by run.
  log "API keys: pgbench -M prepared, $pgbench_runs x ${pgbench_secs}s per side"
  local dir side fn variant tps run
  dir=$(mktemp -d "${TMPDIR:-/tmp}/oauth_rls_pgbench.XXXXXX")
  for side in sql ours; do
    fn=public.validate_api_key_sql
    [ "$side" = ours ] && fn=oauth_rls.validate_api_key
    printf '\\set k random(1, %s)\nSELECT * FROM %s((SELECT key FROM bench.keys WHERE i = :k));\n' \
      "$key_count" "$fn" >"$dir/$side.pgbench"
  done
  for run in $(seq 1 "$pgbench_runs"); do
    for side in $( [ $((run % 2)) -eq 1 ] && echo sql ours || echo ours sql ); do
      variant='pgcrypto SQL function'
      [ "$side" = ours ] && variant='oauth_rls.validate_api_key'
      tps=$(pgbench -n -M prepared -c 2 -j 2 -T "$pgbench_secs" -f "$dir/$side.pgbench" 2>&1 \
            | sed -n 's/^tps = \([0-9.]*\) .*without initial connection time.*/\1/p')
      if [ -z "$tps" ]; then log "pgbench gave no tps for $variant"; rm -rf "$dir"; return 1; fi
      psql_q -c "INSERT INTO bench.figures VALUES ('API key pgbench', 'pgbench -M prepared, 2 clients',
                 '$variant', $run, $tps, 'tps')" || return 1
    done
  done
  rm -rf "$dir"
}
