#!/usr/bin/env bash
# The real test server: FerretDB v1.24.2 with its SQLite backend, run through its embeddable
# Go package (tests/server/ferretdb/main.go), on a loopback port with a temporary data dir.
#
#   ferretdb.sh build             build (once; cached) and print the binary's path
#   ferretdb.sh start DIR [PORT]  start an instance with data in DIR/data; writes DIR/uri and
#                                 DIR/pid; PORT 0 or absent picks a free port, and a restart
#                                 reuses the port recorded in DIR/port
#   ferretdb.sh stop DIR          stop it (SIGTERM, then SIGKILL after 15 s)
#   ferretdb.sh kill DIR          kill -9 it (fault tests), keeping DIR for a restart
#
# With PM_FERRETDB_POSTGRESQL_URL set, start uses FerretDB's PostgreSQL backend at that URL
# instead of SQLite (tests/server/postgres.sh starts one): for benchmarks with more databases
# than SQLite's three open files per database allow.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/process.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src="$here/ferretdb"
cache="${PM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/polymongo}"

binary_path() {
  local hash
  hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
  echo "$cache/ferretdb-test-server-$hash"
}

build() {
  local bin
  bin=$(binary_path)
  if [ ! -x "$bin" ]; then
    echo "polymongo: building FerretDB v1.24.2 test server into $bin (first run only)" >&2
    mkdir -p "$cache"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" . ) >&2
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}

start() {
  local dir=$1 port=${2:-}
  local bin
  bin=$(build)
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  if [ -z "$port" ] || [ "$port" = 0 ]; then
    port=$( [ -f "$dir/port" ] && cat "$dir/port" || echo 0 )
  fi
  rm -f "$dir/uri"
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  # setsid: the server must outlive the CTest fixture step that starts it.
  local backend=()
  [ -z "${PM_FERRETDB_POSTGRESQL_URL:-}" ] || backend=(-postgresql-url "$PM_FERRETDB_POSTGRESQL_URL")
  setsid "$bin" -listen "127.0.0.1:$port" -data "$dir/data" -uri-file "$dir/uri" "${backend[@]}" \
    >"$dir/server.log" 2>&1 < /dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 300); do
    if [ -s "$dir/uri" ]; then
      sed -E 's|.*:([0-9]+)/.*|\1|' "$dir/uri" >"$dir/port"
      echo "polymongo: FerretDB test server at $(cat "$dir/uri") (pid $(cat "$dir/pid"))"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "polymongo: FerretDB test server did not start; its log:" >&2
  cat "$dir/server.log" >&2
  return 1
}

stop() { stop_pid_dir "$1"; }

case "${1:-}" in
  build) build ;;
  start) start "$2" "${3:-}" ;;
  stop) stop "$2" ;;
  kill) [ -f "$2/pid" ] && kill -9 "$(cat "$2/pid")" 2>/dev/null; rm -f "$2/pid" ;;
  *) echo "usage: $0 build | start DIR [PORT] | stop DIR | kill DIR" >&2; exit 2 ;;
esac
