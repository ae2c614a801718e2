#!/usr/bin/env bash
# packaging.c_install: what README.md's "Install > C" section tells a user, checked.
#   1. a library-only configuration needs only libmongoc, libbson, cJSON and spdlog (CLI11,
#      GoogleTest and Google Benchmark are made unfindable);
#   2. `cmake --install` into a prefix; the installed CLI and example have RUNPATH
#      $ORIGIN/../lib and run, from a clean environment, after the prefix is moved;
#   3. README's C example, built with the README's pkg-config command and with find_package,
#      runs from a clean environment against the test server; an independent client (pymongo)
#      reads back what it wrote.
# Usage: c_install.sh SOURCE_DIR BUILD_DIR WORK_DIR PYTHON
set -euo pipefail
src=$1 build=$2 work=$3 python=$4
uri=${PM_TEST_URI:-$(cat "$PM_TEST_SERVER_DIR/uri")}
rm -rf "$work" && mkdir -p "$work"
clean_env=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work")
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== 1. a library-only configuration"
"${clean_env[@]}" cmake -S "$src" -B "$work/library-only" -DPM_BUILD_CLI=OFF -DPM_BUILD_TESTS=OFF \
  -DPM_BUILD_BENCH=OFF -DPM_BUILD_EXAMPLES=OFF -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON >"$work/library-only.log" 2>&1 \
  || { cat "$work/library-only.log"; fail "the library-only configuration needs more than the library's dependencies"; }
# ... and the same switch does stop a configuration that asks for the CLI (the check can fail).
if "${clean_env[@]}" cmake -S "$src" -B "$work/with-cli" -DPM_BUILD_TESTS=OFF -DPM_BUILD_BENCH=OFF \
  -DPM_BUILD_EXAMPLES=OFF -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON >/dev/null 2>&1; then
  fail "a configuration with the CLI succeeded without CLI11"
fi

echo "== 2. cmake --install, RUNPATH, a moved prefix"
cmake --install "$build" --prefix "$work/installed" >/dev/null
mv "$work/installed" "$work/prefix"   # installed programs must not remember where they were put
prefix=$work/prefix
for prog in polymongo tenants_demo; do
  runpath=$(readelf -d "$prefix/bin/$prog" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
  [ "$runpath" = '$ORIGIN/../lib' ] || fail "bin/$prog has RUNPATH '$runpath', want \$ORIGIN/../lib"
done
[ -e "$prefix/include/polymongo/version.h" ] || fail "polymongo/version.h is not installed"
"${clean_env[@]}" "$prefix/bin/polymongo" --uri "$uri" list-dbs >"$work/list-dbs.out" \
  || fail "the installed bin/polymongo does not run from a moved prefix"
"${clean_env[@]}" "$prefix/bin/tenants_demo" "$uri" 3 >"$work/demo.out" \
  || fail "the installed bin/tenants_demo does not run"
grep -q "3 of 3" "$work/demo.out" || { cat "$work/demo.out"; fail "the demo did not write and read 3 tenants"; }

echo "== 3. README's C example, built the README's two ways"
db="pkg_c_$$"
# The code block after "A complete C example", with the test server and a database of its own.
awk '/A complete C example/ {f=1} f && /^```c$/ {p=1; next} p && /^```$/ {exit} p' "$src/README.md" \
  | sed -e "s|mongodb://127.0.0.1:27017/|$uri|" -e "s|tenant_1|$db|g" >"$work/app.c"
grep -q pm_wrapper_new "$work/app.c" || fail "no C example found in README.md"
# The README's command for a prefix that is not a system one (its <prefix> is this prefix).
cmd=$(sed -n 's/^\$ \(cc app.c .*\)$/\1/p' "$src/README.md" | head -1)
[ -n "$cmd" ] || fail "README.md has no '\$ cc app.c ...' line"
(cd "$work" && "${clean_env[@]}" bash -c "${cmd//<prefix>/$prefix}") || fail "the README's cc command failed: $cmd"
mkdir -p "$work/cmake-app"
cp "$work/app.c" "$work/cmake-app/app.c"
sed -n '/^```cmake$/,/^```$/p' "$src/README.md" | sed '1d;$d' >"$work/cmake-app/CMakeLists.txt"
grep -q find_package "$work/cmake-app/CMakeLists.txt" || fail "README.md has no CMake example"
"${clean_env[@]}" cmake -S "$work/cmake-app" -B "$work/cmake-app/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
"${clean_env[@]}" cmake --build "$work/cmake-app/build" >/dev/null
for app in "$work/app" "$work/cmake-app/build/app"; do
  "${clean_env[@]}" "$app" >"$work/app.out" || { cat "$work/app.out"; fail "$app failed"; }
  grep -q '"email" : "ada@example.com"' "$work/app.out" || { cat "$work/app.out"; fail "$app printed no document"; }
  ! ldd "$app" | grep -q "not found" || fail "$app has unresolved libraries"
done
# The document is on the server, read by an independent client.
"$python" - "$uri" "$db" <<'PY'
import sys
from pymongo import MongoClient
uri, db = sys.argv[1], sys.argv[2]
with MongoClient(uri) as c:
    docs = list(c[db]["users"].find({}, {"_id": 0}))
    assert docs == [{"email": "ada@example.com"}], docs
    keys = [ix["key"] for ix in c[db]["users"].list_indexes()]
    assert {"email": 1} in [dict(k) for k in keys], keys
    c.drop_database(db)
print("pymongo read back:", docs)
PY
echo "ok"
