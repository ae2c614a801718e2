#!/usr/bin/env bash
# Builds the Go binding's test binary, with the race detector, against the libpolymongo that
# pkg-config finds (CTest points PKG_CONFIG_PATH at the build tree's polymongo.pc).
#   scripts/build-tests.sh OUTPUT
# Dependencies come from the Go module proxy, pinned by go.mod/go.sum.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: build-tests.sh OUTPUT}
go=${PM_GO:-go}

# cgo's build cache does not notice changes to #included headers (golang/go#24355), and the C
# API grows: make the headers' hash part of the cgo flags, hence of the cache key.
include_dirs=()
for flag in $(pkg-config --cflags polymongo); do
  case $flag in -I*) include_dirs+=("${flag#-I}") ;; esac
done
headers_hash=$(find "${include_dirs[@]}" -name 'polymongo*.h' -o -path '*/polymongo/*.h' 2>/dev/null |
  LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
export CGO_ENABLED=1
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DPM_GO_HEADERS_HASH=0x$headers_hash"

cd "$here"
mkdir -p "$(dirname "$out")"
echo "polymongo-go: $("$go" version); libpolymongo $(pkg-config --modversion polymongo); headers $headers_hash"
# go vet includes the cgocall check of the cgo pointer-passing rules.
"$go" vet .
"$go" test -race -c -o "$out" .
echo "polymongo-go: built $out"
