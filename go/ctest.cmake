# The Go binding's tests, included by tests/CMakeLists.txt (which defines PM_TEST_ENV,
# PM_UNINSTALLED_PKGCONFIG and the `ferretdb` fixture).
#
# go.build compiles the package's test binary with -race into the build tree (fixture
# go_build); then every `func TestXxx(t *testing.T)` of go/*_test.go is one CTest test named
# go.<file>.<TestXxx>, running that binary with -test.run '^TestXxx$' (scripts/run-test.sh).
# A test that calls t.Skip prints "--- SKIP:" and is reported as skipped.

find_program(PM_GO_EXECUTABLE go HINTS /usr/local/go/bin)
if(NOT PM_GO_EXECUTABLE)
  message(FATAL_ERROR "polymongo: the Go binding's tests need `go` (the version in go/go.mod; "
    "scripts/bootstrap checks it), or configure with -DPM_TEST_GO=OFF to leave them out")
endif()

set(PM_GO_SOURCE_DIR ${PROJECT_SOURCE_DIR}/go)
set(PM_GO_TEST_BINARY ${CMAKE_BINARY_DIR}/go/polymongo-go.test)

add_test(NAME go.build
  COMMAND ${PM_GO_SOURCE_DIR}/scripts/build-tests.sh ${PM_GO_TEST_BINARY})
set_tests_properties(go.build PROPERTIES
  LABELS go
  FIXTURES_SETUP go_build
  TIMEOUT 420
  ENVIRONMENT "PKG_CONFIG_PATH=${PM_UNINSTALLED_PKGCONFIG};PM_GO=${PM_GO_EXECUTABLE}")

# Lint: go vet ./... (labels go;lint), with the cgo pointer-passing check.
add_test(NAME lint.go.vet COMMAND ${PM_GO_SOURCE_DIR}/scripts/vet.sh)
set_tests_properties(lint.go.vet PROPERTIES
  LABELS "go;lint"
  TIMEOUT 420
  ENVIRONMENT "PKG_CONFIG_PATH=${PM_UNINSTALLED_PKGCONFIG};PM_GO=${PM_GO_EXECUTABLE}")

file(GLOB PM_GO_TEST_FILES ${PM_GO_SOURCE_DIR}/*_test.go)
# Re-run the configuration when a test file changes, so new test functions get registered.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PM_GO_TEST_FILES})

foreach(test_file ${PM_GO_TEST_FILES})
  get_filename_component(stem ${test_file} NAME_WE)
  string(REGEX REPLACE "_test$" "" stem "${stem}")
  file(STRINGS ${test_file} test_lines REGEX "^func Test[A-Za-z0-9_]*\\(t \\*testing\\.T\\)")
  foreach(line ${test_lines})
    string(REGEX REPLACE "^func (Test[A-Za-z0-9_]*)\\(.*$" "\\1" test_name "${line}")
    add_test(NAME go.${stem}.${test_name}
      COMMAND ${PM_GO_SOURCE_DIR}/scripts/run-test.sh ${PM_GO_TEST_BINARY} ${test_name}
      WORKING_DIRECTORY ${PM_GO_SOURCE_DIR})
    set_tests_properties(go.${stem}.${test_name} PROPERTIES
      LABELS go
      FIXTURES_REQUIRED "ferretdb;go_build"
      # GORACE: the race runtime otherwise sleeps a second at exit.
      ENVIRONMENT "${PM_TEST_ENV};PM_INCLUDE_DIR=${PROJECT_SOURCE_DIR}/include;GORACE=atexit_sleep_ms=50"
      TIMEOUT 180
      SKIP_REGULAR_EXPRESSION "--- SKIP: ${test_name} ")
    if(stem STREQUAL "stream")  # see PM_OPLOG_LOCK in tests/CMakeLists.txt
      set_tests_properties(go.${stem}.${test_name} PROPERTIES RESOURCE_LOCK ${PM_OPLOG_LOCK})
    endif()
  endforeach()
endforeach()

# Packaging (labels packaging;go): a module outside the repository that depends on this one as
# README.md's Install section says, against `cmake --install` of this build into a temporary
# prefix, in a clean environment (scripts/packaging-test.sh): the shared library with a run
# path, -tags static (ldd lists no libpolymongo), and the one error of CGO_ENABLED=0.
foreach(mode shared static nocgo)
  add_test(NAME go.packaging.${mode}
    COMMAND ${PM_GO_SOURCE_DIR}/scripts/packaging-test.sh ${mode} ${CMAKE_BINARY_DIR})
  set_tests_properties(go.packaging.${mode} PROPERTIES
    LABELS "packaging;go"
    TIMEOUT 600
    ENVIRONMENT "${PM_TEST_ENV};PM_GO=${PM_GO_EXECUTABLE}")
  if(NOT mode STREQUAL "nocgo")
    set_tests_properties(go.packaging.${mode} PROPERTIES FIXTURES_REQUIRED ferretdb)
  endif()
endforeach()
