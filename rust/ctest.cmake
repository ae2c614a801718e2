# The Rust binding's tests under CTest (included from tests/CMakeLists.txt).
#
#   rust.build                    cargo test --no-run: builds both crates and every test binary
#                                 against the build tree's libpolymongo (FIXTURES_SETUP rust_build)
#   rust.<file>.<function>        one per #[test] in polymongo/tests/<file>.rs (integration tests,
#                                 on the real server: FIXTURES_REQUIRED ferretdb;rust_build)
#   rust.lib.<module>.<function>  one per #[test] in polymongo/src/<module>.rs (unit tests)
#   rust.sys.<function>           one per #[test] in polymongo-sys/src/lib.rs (ABI checks)
#   rust.bindings_match_header    polymongo-sys/src/bindings.rs (checked in) is what bindgen makes
#                                 of the header now (labels rust;abi)
#   rust.packaging.outside_crate  cargo package both crates, build an outside crate from the
#                                 unpacked packages in a clean environment (the bundled C
#                                 library), run it without LD_LIBRARY_PATH, round trip checked
#                                 with pymongo (labels packaging;rust)
#
# Cargo's output (target dir) lives in the CMake build dir, never in the source tree.
# Variables from tests/CMakeLists.txt: PM_TEST_ENV, PM_UNINSTALLED_PKGCONFIG, and (optional)
# PM_TEST_SERVER2_DIR.

set(PM_RUST_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PM_RUST_TARGET_DIR ${CMAKE_BINARY_DIR}/rust-target)

find_program(PM_CARGO cargo HINTS $ENV{CARGO_HOME}/bin $ENV{HOME}/.cargo/bin)
if(NOT PM_CARGO)
  message(FATAL_ERROR "polymongo: the Rust binding's tests need cargo (the rust-version in "
    "rust/Cargo.toml; scripts/bootstrap checks it), or configure with -DPM_TEST_RUST=OFF to "
    "leave them out")
endif()

# The tests use this build's library through pkg-config (the build tree's polymongo.pc), never a
# bundled build: POLYMONGO_SYS_USE_PKG_CONFIG=1 makes a pkg-config failure an error.
set(PM_RUST_ENV
  "${PM_TEST_ENV}"
  "PKG_CONFIG_PATH=${PM_UNINSTALLED_PKGCONFIG}"
  "POLYMONGO_SYS_USE_PKG_CONFIG=1"
  "CARGO_TARGET_DIR=${PM_RUST_TARGET_DIR}"
  "CARGO_TERM_COLOR=never"
  "RUST_BACKTRACE=1")

# The second server ("another cluster"), when the fixture starts one: tests that need it
# report themselves SKIPPED without it.
if(DEFINED PM_TEST_SERVER2_DIR)
  list(APPEND PM_RUST_ENV "PM_TEST_SERVER2_DIR=${PM_TEST_SERVER2_DIR}")
endif()

# --locked: the committed Cargo.lock is used as is (reproducible builds).
set(PM_CARGO_TEST ${PM_CARGO} test --locked --quiet --manifest-path ${PM_RUST_DIR}/Cargo.toml)

add_test(NAME rust.build COMMAND ${PM_CARGO_TEST} --workspace --no-run)
set_tests_properties(rust.build PROPERTIES
  LABELS rust
  FIXTURES_SETUP rust_build
  ENVIRONMENT "${PM_RUST_ENV}"
  TIMEOUT 900)

# The pre-generated bindings match the header (bindgen, libclang at run time).
add_test(NAME rust.bindings_match_header
  COMMAND ${PM_CARGO} run --locked --quiet --manifest-path ${PM_RUST_DIR}/Cargo.toml
          -p polymongo-gen-bindings -- --check)
set_tests_properties(rust.bindings_match_header PROPERTIES
  LABELS "rust;abi"
  ENVIRONMENT "${PM_RUST_ENV}"
  TIMEOUT 900)

# Packaging: the .crate files alone build the library (bundled) for an outside crate, whose
# binary runs with no environment. A fresh target dir: a full build of the C++ library and the
# crates, hence the long timeout.
add_test(NAME rust.packaging.outside_crate
  COMMAND ${PM_RUST_DIR}/scripts/outside-crate-test ${PM_PYTHON})
set_tests_properties(rust.packaging.outside_crate PROPERTIES
  LABELS "packaging;rust"
  FIXTURES_REQUIRED ferretdb
  ENVIRONMENT "${PM_TEST_ENV}"
  TIMEOUT 2400)

# Lint: clippy over both crates and every target, warnings as errors.
add_test(NAME lint.rust.clippy
  COMMAND ${PM_CARGO} clippy --locked --quiet --manifest-path ${PM_RUST_DIR}/Cargo.toml --workspace
          --all-targets -- -D warnings)
set_tests_properties(lint.rust.clippy PROPERTIES
  LABELS "rust;lint"
  ENVIRONMENT "${PM_RUST_ENV}"
  TIMEOUT 900)

# Registers one CTest test per `#[test] fn name(` in `file` (an attribute line directly followed
# by the function line). `cargo_args` select the test binary; `prefix` is prepended to the
# function's name for libtest's --exact filter.
function(pm_rust_tests ctest_prefix file prefix fixtures)
  set(cargo_args ${ARGN})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  file(STRINGS ${file} lines REGEX "^[ \t]*(#\\[test\\]|(pub )?fn [A-Za-z0-9_]+)")
  set(after_attr FALSE)
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*#\\[test\\]")
      set(after_attr TRUE)
    elseif(after_attr AND line MATCHES "fn ([A-Za-z0-9_]+)")
      set(fn ${CMAKE_MATCH_1})
      set(after_attr FALSE)
      set(name ${ctest_prefix}.${fn})
      add_test(NAME ${name}
        COMMAND ${PM_CARGO_TEST} ${cargo_args} -- --exact ${prefix}${fn} --nocapture --test-threads 1)
      set_tests_properties(${name} PROPERTIES
        LABELS rust
        FIXTURES_REQUIRED "${fixtures}"
        ENVIRONMENT "${PM_RUST_ENV}"
        TIMEOUT 180
        # A test that finds the server lacking a feature prints "SKIPPED: <why>".
        SKIP_REGULAR_EXPRESSION "SKIPPED:"
        # Exactly one test must have run: a filter that matches nothing is a failure, not a pass.
        PASS_REGULAR_EXPRESSION "test result: ok\\. 1 passed")
      if(ctest_prefix STREQUAL "rust.streams" OR ctest_prefix STREQUAL "rust.async_ops")  # see PM_OPLOG_LOCK in tests/CMakeLists.txt
        set_tests_properties(${name} PROPERTIES RESOURCE_LOCK ${PM_OPLOG_LOCK})
      endif()
      if(ctest_prefix STREQUAL "rust.async_ops")  # the async API: also under the async label
        set_tests_properties(${name} PROPERTIES LABELS "rust;async")
      endif()
    else()
      set(after_attr FALSE)
    endif()
  endforeach()
endfunction()

# Integration tests: polymongo/tests/<file>.rs, against the real server.
file(GLOB PM_RUST_TEST_FILES ${PM_RUST_DIR}/polymongo/tests/*.rs)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PM_RUST_DIR}/polymongo/tests)
foreach(test_file IN LISTS PM_RUST_TEST_FILES)
  get_filename_component(stem ${test_file} NAME_WE)
  pm_rust_tests(rust.${stem} ${test_file} "" "ferretdb;rust_build" -p polymongo --test ${stem})
endforeach()

# Unit tests: polymongo/src/<module>.rs (each in `mod tests`), and the -sys crate's ABI checks.
file(GLOB PM_RUST_SRC_FILES ${PM_RUST_DIR}/polymongo/src/*.rs)
foreach(src_file IN LISTS PM_RUST_SRC_FILES)
  get_filename_component(module ${src_file} NAME_WE)
  pm_rust_tests(rust.lib.${module} ${src_file} "${module}::tests::" "rust_build" -p polymongo --lib)
endforeach()
pm_rust_tests(rust.sys ${PM_RUST_DIR}/polymongo-sys/src/lib.rs "tests::" "rust_build" -p polymongo-sys --lib)
