#!/usr/bin/env bash
# CTest fixture steps: two FerretDB instances, the main server and a second "cluster", and a
# SecantusDB replica set for transactions and change streams. PM_TEST_URI replaces the main one,
# PM_TEST_URI2 the second and PM_TEST_TXN_URI the third; a replaced one is not started. A server
# that cannot be installed or started fails the fixture, and so every test that needs it: a
# missing server is never a silent skip. A user without SecantusDB may set PM_TEST_NO_TXN_SERVER=1
# (CI never does): then the transaction and stream tests report themselves skipped, and
# scripts/test's summary lists them as opted out.
#   fixture.sh start MAIN_DIR SECOND_DIR TXN_DIR | stop MAIN_DIR SECOND_DIR TXN_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action=$1 main=$2 second=$3 txn=${4:-}
one() {
  local given=$1 dir=$2
  if [ -n "$given" ]; then
    echo "polymongo: using the given URI; no FerretDB instance started in $dir"
    return 0
  fi
  case "$action" in
    # A server still recorded in DIR (a run that never reached its stop step, or ctest
    # --repeat, which repeats fixture set-ups) is stopped first, not orphaned on the same data.
    start) "$here/ferretdb.sh" stop "$dir"; rm -rf "$dir"; "$here/ferretdb.sh" start "$dir" ;;
    stop) "$here/ferretdb.sh" stop "$dir"; rm -rf "$dir/data" ;;
  esac
}
one "${PM_TEST_URI:-}" "$main"
one "${PM_TEST_URI2:-}" "$second"
if [ -n "$txn" ] && [ -z "${PM_TEST_TXN_URI:-}" ] && [ "${PM_TEST_NO_TXN_SERVER:-0}" != 1 ]; then
  case "$action" in
    start) "$here/secantus.sh" stop "$txn"; rm -rf "$txn"; "$here/secantus.sh" start "$txn" ;;
    stop) "$here/secantus.sh" stop "$txn"; rm -rf "$txn/data" ;;
  esac
fi
