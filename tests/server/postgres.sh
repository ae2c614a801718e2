#!/usr/bin/env bash
# A PostgreSQL cluster for FerretDB's PostgreSQL backend, from Debian's postgresql package, on
# a loopback port with its data in a temporary directory. Only the large benchmarks use it
# (bench/run --backend postgresql): FerretDB's SQLite backend keeps three files open per
# database, so a machine with a 20,000-file limit cannot hold 10,000 tenant databases.
#
#   postgres.sh start DIR   initialise (once) and start a cluster in DIR/data; prints and
#                           writes to DIR/url the URL for PM_FERRETDB_POSTGRESQL_URL
#   postgres.sh stop DIR    stop it
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/process.sh"

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "polymongo: PostgreSQL is not installed (apt install postgresql)" >&2; exit 1; }
  echo "$d"
}

# initdb and postgres refuse to run as root: run them as the package's postgres user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local dir=$1 bin port
  bin=$(bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" != 0 ] || chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  port=$(free_port)
  # Many FerretDB schemas and tables: more locks per transaction than the default allows.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c max_locks_per_transaction=1024 -c fsync=off" \
    start >/dev/null
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE ferretdb" postgres 2>/dev/null || true
  echo "postgres://postgres@127.0.0.1:$port/ferretdb" | tee "$dir/url"
}

stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 start DIR | stop DIR" >&2; exit 2 ;;
esac
