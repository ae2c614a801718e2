#!/usr/bin/env bash
# The Go packaging tests (CTest label packaging;go): a module outside the repository depends on
# github.com/polymongo/polymongo/go exactly as README.md's "Install" section says, against a
# `cmake --install` of the build tree into a temporary prefix, built and run in a clean
# environment (no PKG_CONFIG_PATH, LD_LIBRARY_PATH, CGO_* from the caller).
#   scripts/packaging-test.sh shared|static|nocgo BUILD_DIR
# shared  CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib" go build; runs without LD_LIBRARY_PATH, loading
#         libpolymongo.so from the prefix; a round trip against the test server.
# static  go build -tags static; ldd lists no libpolymongo; the prefix is deleted before the
#         program runs the same round trip.
# nocgo   CGO_ENABLED=0 go build (and go vet) fail with exactly one error, the clear one.
# Each README command the test runs must be a line of README.md, character for character (with
# $POLYMONGO for the clone and $PREFIX for the install prefix).
set -euo pipefail
mode=${1:?usage: packaging-test.sh shared|static|nocgo BUILD_DIR}
build=$(cd "${2:?usage: packaging-test.sh shared|static|nocgo BUILD_DIR}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readme=$here/README.md
go=${PM_GO:-$(command -v go || echo /usr/local/go/bin/go)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/polymongo-go-packaging.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
case $tmp in "$(cd "$here/.." && pwd)"/*) echo "FAIL: $tmp is inside the repository" >&2; exit 1 ;; esac

POLYMONGO=$(cd "$here/.." && pwd)   # the clone, as README.md calls it
PREFIX=$tmp/prefix
app=$tmp/app
mkdir -p "$app"

# The user's module cache (shared, so that this works offline once it is filled), a build cache
# of its own (as on a fresh machine: go's build cache keys a cgo package on its flags, not on
# what pkg-config prints, golang/go#24544, so a shared one would link a package compiled for an
# earlier run's prefix; the nocgo test uses the user's), nothing else of the caller's environment.
gomodcache=$("$go" env GOMODCACHE)
gocache=$tmp/gocache
[ "$mode" != nocgo ] || gocache=$("$go" env GOCACHE)   # no cgo, no pkg-config: the user's
goproxy=$("$go" env GOPROXY)
clean_path="$(dirname "$go"):/usr/local/bin:/usr/bin:/bin"
clean() {
  env -i PATH="$clean_path" HOME="$HOME" GOMODCACHE="$gomodcache" GOCACHE="$gocache" \
    GOPROXY="$goproxy" GOFLAGS=-mod=mod POLYMONGO="$POLYMONGO" PREFIX="$PREFIX" "$@"
}
# readme CMD...: runs one command of README.md's install section, in the outside module.
readme() {
  local cmd=$1
  # (grep reads a file, not a pipe: under pipefail, grep -q ending a pipe early fails it)
  if ! grep -qxF -- "$cmd" <(sed 's/^[[:space:]]*//' "$readme"); then
    echo "FAIL: README.md no longer has the line: $cmd" >&2
    exit 1
  fi
  echo "+ $cmd"
  (cd "$app" && clean PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" bash -c "set -e; $cmd")
}

echo "polymongo-go packaging ($mode): $("$go" version), outside module in $app"
if [ "$mode" != nocgo ]; then
  # The README installs the user's build dir; the test installs its own.
  grep -qE '^cmake --install [^ ]+ --prefix "\$PREFIX"$' "$readme" ||
    { echo "FAIL: README.md no longer has the line: cmake --install BUILD --prefix \"\$PREFIX\"" >&2; exit 1; }
  echo "+ cmake --install $build --prefix \"\$PREFIX\""
  cmake --install "$build" --prefix "$PREFIX" >/dev/null
  readme 'export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig'
  readme 'pkg-config --modversion polymongo'
fi

readme 'go mod init example.com/app'
readme 'go mod edit -require=github.com/polymongo/polymongo/go@v0.0.0 -replace=github.com/polymongo/polymongo/go=$POLYMONGO/go'
cp "$here/testdata/outside/main.go" "$app/main.go"
readme 'go mod tidy'
grep -q '^replace github.com/polymongo/polymongo/go => .*/go$' "$app/go.mod" ||
  { echo "FAIL: go.mod has no replace directive:" >&2; cat "$app/go.mod" >&2; exit 1; }

# nonreadme CMD: a command README.md does not show, run the same way.
nonreadme() {
  echo "+ $1"
  (cd "$app" && clean PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" bash -c "set -e; $1")
}

server_uri() {
  local f=${PM_TEST_SERVER_DIR:?run through ctest (the ferretdb fixture sets PM_TEST_SERVER_DIR)}/uri
  [ -s "$f" ] || { echo "FAIL: no test server URI in $f" >&2; exit 1; }
  cat "$f"
}

case $mode in
shared)
  readme 'CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib" go build'
  deps=$(ldd "$app/app")
  echo "$deps" | grep libpolymongo || true
  lib=$(echo "$deps" | awk '/libpolymongo/ {print $3}')
  case $lib in
    "$PREFIX"/lib/libpolymongo.so.*) ;;
    *) echo "FAIL: the program loads libpolymongo from '$lib', not from $PREFIX/lib" >&2; exit 1 ;;
  esac
  uri=$(server_uri)
  env -i PATH=/usr/bin:/bin "$app/app" "$uri"
  ;;
static)
  readme 'go build -tags static'
  deps=$(ldd "$app/app")
  echo "ldd app:"; echo "$deps"
  if [[ $deps == *libpolymongo* ]]; then
    echo "FAIL: the static build still needs libpolymongo.so" >&2; exit 1
  fi
  uri=$(server_uri)
  rm -rf "$PREFIX"   # nothing of the installed library is needed any more
  env -i PATH=/usr/bin:/bin "$app/app" "$uri"
  ;;
nocgo)
  want='requires_cgo.go:[0-9]+:[0-9]+: undefined: polymongo_requires_cgo__set_CGO_ENABLED_1_and_install_a_C_compiler_and_libpolymongo$'
  for cmd in 'CGO_ENABLED=0 go build' 'CGO_ENABLED=0 go vet'; do
    run=readme
    [ "$cmd" = 'CGO_ENABLED=0 go build' ] || run=nonreadme
    if out=$($run "$cmd" 2>&1); then
      echo "$out"; echo "FAIL: '$cmd' succeeded without cgo" >&2; exit 1
    fi
    echo "$out"
    # The lines that are neither the echoed command nor go's "# package" headers.
    errors=$(printf '%s\n' "$out" | grep -v '^+ ' | grep -v '^#' | sed 's/^vet: //' || true)
    if [ "$(printf '%s\n' "$errors" | wc -l)" -ne 1 ] || ! [[ $errors =~ $want ]]; then
      echo "FAIL: '$cmd' should print exactly one error, the one of requires_cgo.go" >&2; exit 1
    fi
  done
  ;;
*) echo "usage: packaging-test.sh shared|static|nocgo BUILD_DIR" >&2; exit 2 ;;
esac
echo "polymongo-go packaging ($mode): ok"
