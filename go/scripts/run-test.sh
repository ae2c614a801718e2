#!/usr/bin/env bash
# Runs one test function of the Go binding's test binary (built by build-tests.sh).
#   scripts/run-test.sh BINARY TestName
set -euo pipefail
binary=${1:?usage: run-test.sh BINARY TestName}
name=${2:?usage: run-test.sh BINARY TestName}
if [ ! -x "$binary" ]; then
  echo "polymongo-go: $binary is missing: the go.build test failed or did not run" >&2
  exit 1
fi
exec "$binary" -test.run "^${name}\$" -test.v -test.count=1 -test.timeout=150s
