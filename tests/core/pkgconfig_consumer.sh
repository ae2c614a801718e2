#!/usr/bin/env bash
# Installs the build into a temporary prefix, compiles a C consumer with
# `pkg-config --cflags --libs polymongo` (and the CMake package with find_package), and runs it
# against the test server.
set -euo pipefail
build=$1 work=$2 src=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib*/ | head -1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs polymongo)
echo "pkg-config: $flags"
cc -std=c11 -Wall -Wextra -Werror -o "$work/consumer" "$src" $flags -Wl,-rpath,"$libdir"
# The CMake package must resolve too.
mkdir -p "$work/cmake-consumer"
cat >"$work/cmake-consumer/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(polymongo 0.2 REQUIRED)
add_executable(consumer $src)
target_link_libraries(consumer polymongo::polymongo)
CM
cmake -S "$work/cmake-consumer" -B "$work/cmake-consumer/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-consumer/build" >/dev/null
uri=${PM_TEST_URI:-$(cat "$PM_TEST_SERVER_DIR/uri")}
"$work/consumer" "$uri"
"$work/cmake-consumer/build/consumer" "$uri"
