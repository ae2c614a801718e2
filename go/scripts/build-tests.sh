#!/usr/bin/env bash
# Builds the Go binding's test binary, with the race detector, against the libpolymongo that
# pkg-config finds (CTest points PKG_CONFIG_PATH at the build tree's polymongo.pc).
#   scripts/build-tests.sh OUTPUT
# Dependencies come from the Go module proxy, pinned by go.mod/go.sum.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: build-tests.sh OUTPUT}
go=${PM_GO:-go}

source "$here/scripts/cgo-env.sh"

cd "$here"
mkdir -p "$(dirname "$out")"
echo "polymongo-go: $("$go" version); libpolymongo $(pkg-config --modversion polymongo); headers $headers_hash"
"$go" test -race -c -o "$out" .
echo "polymongo-go: built $out"
