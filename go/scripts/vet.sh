#!/usr/bin/env bash
# go vet over every package of the Go binding (CTest lint.go.vet), against the libpolymongo that
# pkg-config finds. go vet includes the cgocall check of the cgo pointer-passing rules.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go=${PM_GO:-go}
source "$here/scripts/cgo-env.sh"
cd "$here"
"$go" vet ./...
