#!/usr/bin/env bash
# A real server with transactions and change streams for the txn and stream suites:
# SecantusDB 0.7.0b3 from PyPI (a single-node replica set "secantus" on WiredTiger), used only as
# a test tool. Installed once into a virtualenv under the cache, started on a loopback port.
#
#   secantus.sh install          install (cached) and print the server command's path
#   secantus.sh start DIR        start with data in DIR/data; writes DIR/uri and DIR/pid
#   secantus.sh stop DIR         stop it and wait until it is gone (WiredTiger holds a lock)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/process.sh"
version=0.7.0b3
cache="${PM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/polymongo}"
venv="$cache/secantusdb-$version"

install() {
  if [ ! -x "$venv/bin/secantusd-py" ]; then
    echo "polymongo: installing SecantusDB $version into $venv (first run only)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q "secantusdb==$version" >&2
  fi
  echo "$venv/bin/secantusd-py"
}

start() {
  local dir=$1 bin port
  bin=$(install)
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  port=$( [ -f "$dir/port" ] && cat "$dir/port" || free_port )
  echo "$port" >"$dir/port"
  : >"$dir/empty.toml"  # an explicit, empty configuration: no config file is read from elsewhere
  setsid "$bin" --host 127.0.0.1 --port "$port" --storage-path "$dir/data" --config "$dir/empty.toml" \
    --log-level INFO >"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 300); do
    if grep -q "listening on" "$dir/server.log" 2>/dev/null; then
      echo "mongodb://127.0.0.1:$port/?replicaSet=secantus" >"$dir/uri"
      echo "polymongo: SecantusDB test server at $(cat "$dir/uri") (pid $(cat "$dir/pid"))"
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "polymongo: SecantusDB did not start; its log:" >&2
  cat "$dir/server.log" >&2
  return 1
}

stop() { stop_pid_dir "$1"; }

case "${1:-}" in
  install) install ;;
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
