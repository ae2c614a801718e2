#!/usr/bin/env bash
# Fails when the shared library exports any defined symbol that lacks the pm_ prefix.
set -euo pipefail
lib=$1
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}')
count=$(echo "$exported" | grep -c '^pm_' || true)
bad=$(echo "$exported" | grep -v '^pm_' | grep -v '^$' || true)
if [ -n "$bad" ]; then
  echo "exported symbols without the pm_ prefix:"; echo "$bad"; exit 1
fi
[ "$count" -ge 40 ] || { echo "only $count pm_ symbols exported"; exit 1; }
echo "$count symbols exported, all pm_*"
