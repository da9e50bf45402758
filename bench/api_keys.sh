# shellcheck shell=bash
# Sourced by bench/run: API key validation, server-side and through pgbench.
# Uses bench/run's settings (key_count, key_reps, rounds, pgbench_*) and helpers.
# shellcheck disable=SC2154
bench_api_keys() {
  psql_q -v keys="$key_count" -v rounds="$rounds" -v reps="$key_reps" -f bench/sql/api_keys.sql || return 1

  # End to end: pgbench -M prepared, the two sides alternating run by run, in
  # two workloads: every transaction a random one of all stored keys (nearly
  # every key is then used for the first time that minute, so oauth_rls also
  # refreshes its last_used_at), and 1,000 active keys used over and over (as
  # MCP servers and CLIs use theirs: last_used_at is refreshed once a minute).
  log "API keys: pgbench -M prepared, 2 workloads x $pgbench_runs x ${pgbench_secs}s per side"
  local dir side fn variant tps run workload context pick
  dir=$(mktemp -d "${TMPDIR:-/tmp}/oauth_rls_pgbench.XXXXXX")
  for workload in all active; do
    if [ "$workload" = all ]; then
      pick="random(1, $key_count)"
      context="pgbench, any of $key_count keys"
    else
      pick="$((key_count / 1000)) * random(1, 1000)"
      context="pgbench, 1000 active keys"
    fi
    for side in sql ours; do
      fn=public.validate_api_key_sql
      [ "$side" = ours ] && fn=oauth_rls.validate_api_key
      printf '\\set k %s\nSELECT * FROM %s((SELECT key FROM bench.keys WHERE i = :k));\n' \
        "$pick" "$fn" >"$dir/$side.pgbench"
    done
    for run in $(seq 1 "$pgbench_runs"); do
      for side in $( [ $((run % 2)) -eq 1 ] && echo sql ours || echo ours sql ); do
        variant='pgcrypto SQL function'
        [ "$side" = ours ] && variant='oauth_rls.validate_api_key'
        tps=$(pgbench -n -M prepared -c 2 -j 2 -T "$pgbench_secs" -f "$dir/$side.pgbench" 2>&1 \
              | sed -n 's/^tps = \([0-9.]*\) .*without initial connection time.*/\1/p')
        if [ -z "$tps" ]; then log "pgbench gave no tps for $variant"; rm -rf "$dir"; return 1; fi
        psql_q -c "INSERT INTO bench.figures VALUES ('API key pgbench', '$context',
                   '$variant', $run, $tps, 'tps')" || return 1
      done
    done
  done
  rm -rf "$dir"
}
