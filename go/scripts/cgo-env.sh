# Sourced by the scripts that compile the binding (build-tests.sh, vet.sh): the cgo environment
# for the libpolymongo that pkg-config finds.
#
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

