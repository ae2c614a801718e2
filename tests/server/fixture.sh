#!/usr/bin/env bash
# CTest fixture steps. With PM_TEST_URI set, the suite runs against that server instead and
# these steps do nothing.
#   fixture.sh start DIR | stop DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${PM_TEST_URI:-}" ]; then
  echo "polymongo: using PM_TEST_URI; no FerretDB instance started"
  exit 0
fi
case "$1" in
  start) rm -rf "$2"; "$here/ferretdb.sh" start "$2" ;;
  stop) "$here/ferretdb.sh" stop "$2"; rm -rf "$2/data" ;;
esac
