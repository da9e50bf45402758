# shellcheck shell=bash
# Throwaway PostgreSQL cluster for tests, the demo and the benchmark.
# Source it, then call cluster_start; cluster_stop runs on exit.
#
# Nothing is installed into the system: the server binaries and share files
# are copied into a private tree in a temp dir (PostgreSQL finds its share
# and lib dirs relative to its binary), the extension is installed there
# with DESTDIR, and the cluster listens on a free port and a private socket.
# As root, the server runs as an unprivileged user (PostgreSQL refuses root).
#
# The cluster is shaped as on Supabase: its bootstrap superuser is
# supabase_admin.  Until cluster_load_supabase, psql connects as supabase_admin
# (and no Supabase role exists: the plain-database checks run then); after it,
# as postgres, Supabase's non-superuser customer role.  psql_su runs a step as
# supabase_admin where a test genuinely needs a superuser.

OAUTH_RLS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir)
PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
PG_SHAREDIR=$("$PG_CONFIG" --sharedir)

cluster_log() { echo "[cluster] $*" >&2; }

cluster_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a server-side command as the unprivileged owner of the cluster.
cluster_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$CLUSTER_OWNER" -- "$@"
  else
    "$@"
  fi
}

cluster_make_tree() {
  CLUSTER_TREE="$CLUSTER_DIR/tree"
  mkdir -p "$CLUSTER_TREE$(dirname "$PG_BINDIR")" "$CLUSTER_TREE$(dirname "$PG_PKGLIBDIR")" \
           "$CLUSTER_TREE$(dirname "$PG_SHAREDIR")"
  cp -a "$PG_BINDIR" "$CLUSTER_TREE$PG_BINDIR"
  [ -d "$CLUSTER_TREE$PG_PKGLIBDIR" ] || cp -a "$PG_PKGLIBDIR" "$CLUSTER_TREE$PG_PKGLIBDIR"
  cp -a "$PG_SHAREDIR" "$CLUSTER_TREE$PG_SHAREDIR"
  # A build that fails stops here: tests against no extension prove nothing.
  make -s -C "$OAUTH_RLS_ROOT" PG_CONFIG="$PG_CONFIG" >/dev/null || { cluster_log "build failed"; return 1; }
  make -s -C "$OAUTH_RLS_ROOT" PG_CONFIG="$PG_CONFIG" install DESTDIR="$CLUSTER_TREE" >/dev/null \
    || { cluster_log "install into the private tree failed"; return 1; }
  chmod -R a+rX "$CLUSTER_DIR"
}

# cluster_start [extra postgres -c settings...]
cluster_start() {
  CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oauth_rls.XXXXXX")
  chmod 755 "$CLUSTER_DIR"
  CLUSTER_OWNER=${CLUSTER_OWNER:-nobody}
  CLUSTER_SUPERUSER=supabase_admin
  trap cluster_stop EXIT
  cluster_make_tree || return 1
  CLUSTER_BIN="$CLUSTER_TREE$PG_BINDIR"
  CLUSTER_DATA="$CLUSTER_DIR/data"
  CLUSTER_SOCK="$CLUSTER_DIR/sock"
  mkdir -p "$CLUSTER_DATA" "$CLUSTER_SOCK"
  [ "$(id -u)" -ne 0 ] || chown "$CLUSTER_OWNER" "$CLUSTER_DATA" "$CLUSTER_SOCK" "$CLUSTER_DIR"
  chmod 700 "$CLUSTER_DATA"
  CLUSTER_PORT=$(cluster_free_port)
  (cd "$CLUSTER_DIR" && cluster_as_owner "$CLUSTER_BIN/initdb" -D "$CLUSTER_DATA" -U "$CLUSTER_SUPERUSER" \
      --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1) \
    || { cat "$CLUSTER_DIR/initdb.log" >&2; return 1; }
  local opts="-c port=$CLUSTER_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$CLUSTER_SOCK"
  opts+=" -c fsync=off -c max_prepared_transactions=10 -c wal_level=replica -c max_wal_senders=4"
  for o in "$@"; do opts+=" -c $o"; done
  (cd "$CLUSTER_DIR" && cluster_as_owner "$CLUSTER_BIN/pg_ctl" -D "$CLUSTER_DATA" -o "$opts" \
      -l "$CLUSTER_DIR/server.log" -w start >/dev/null) \
    || { cat "$CLUSTER_DIR/server.log" >&2; return 1; }
  export PGHOST="$CLUSTER_SOCK" PGPORT="$CLUSTER_PORT" PGUSER="$CLUSTER_SUPERUSER" PGDATABASE=postgres
  cluster_log "PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') on port $CLUSTER_PORT, socket $CLUSTER_SOCK"
}

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] || return 0
  if [ -f "$CLUSTER_DATA/postmaster.pid" ]; then
    (cd "$CLUSTER_DIR" && cluster_as_owner "$CLUSTER_BIN/pg_ctl" -D "$CLUSTER_DATA" -m fast -w stop >/dev/null 2>&1) || true
  fi
  if [ -n "${KEEP_CLUSTER:-}" ]; then
    cluster_log "kept $CLUSTER_DIR"
  else
    rm -rf "$CLUSTER_DIR"
  fi
  CLUSTER_DIR=""
}

# Roles are cluster-wide; the auth schema goes into template1 so that every
# database created afterwards (pg_regress's, pgTAP's) carries it.  From here
# on psql connects as postgres (NOSUPERUSER, as on Supabase).
cluster_load_supabase() {
  psql_su -d template1 -f "$OAUTH_RLS_ROOT/scripts/supabase-standin.sql" >/dev/null || return 1
  export PGUSER=postgres
}

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# psql_su ARGS...: psql as the bootstrap superuser (supabase_admin).
psql_su() { psql -X -q -v ON_ERROR_STOP=1 -U "$CLUSTER_SUPERUSER" "$@"; }

# cluster_create_db NAME: a database as on Supabase: owned by postgres (so
# postgres owns its public schema), from template1 (the stand-in), with
# Supabase's database search path.
cluster_create_db() {
  psql_su -d postgres -c "CREATE DATABASE \"$1\" OWNER postgres" \
    -c "ALTER DATABASE \"$1\" SET search_path = \"\$user\", public, extensions"
}
