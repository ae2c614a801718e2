#!/usr/bin/env bash
# CTest fixture steps: two FerretDB instances, the main server and a second "cluster".
# PM_TEST_URI replaces the main one and PM_TEST_URI2 the second; a replaced one is not started.
#   fixture.sh start MAIN_DIR SECOND_DIR | stop MAIN_DIR SECOND_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action=$1 main=$2 second=$3
one() {
  local given=$1 dir=$2
  if [ -n "$given" ]; then
    echo "polymongo: using the given URI; no FerretDB instance started in $dir"
    return 0
  fi
  case "$action" in
    start) rm -rf "$dir"; "$here/ferretdb.sh" start "$dir" ;;
    stop) "$here/ferretdb.sh" stop "$dir"; rm -rf "$dir/data" ;;
  esac
}
one "${PM_TEST_URI:-}" "$main"
one "${PM_TEST_URI2:-}" "$second"
