# The Python binding's tests, included from tests/CMakeLists.txt (label "python").
#
#   python.build                 builds the binding against this build tree (pkg-config on the
#                                uninstalled polymongo.pc) into ${CMAKE_BINARY_DIR}/bindings/python
#   python.<file>.<function>     one test per pytest function in bindings/python/tests/test_*.py,
#                                run with PYTHONPATH at the build output, on the real server
#   python.packaging.wheel       (labels packaging;python) the README's install: `pip wheel` from
#                                a copy of the sources (no build tree, no environment variables),
#                                `auditwheel repair`, a fresh venv, a round trip on the server
#
# The python.* tests test the library of this CMake build (sanitizer builds included): the
# binding is compiled against it through pkg-config (build_inplace.py), not through the wheel's
# own build of libpolymongo.
#
# Runs with PM_PYTHON, the project's Python environment (tests/CMakeLists.txt), which holds the
# packages of bindings/python/requirements-dev.txt.

set(PM_PY_SRC ${PROJECT_SOURCE_DIR}/bindings/python)
set(PM_PY_OUT ${CMAKE_BINARY_DIR}/bindings/python)

# Files are written by the binding's own build (build dir) and never into the source tree:
# no bytecode caches, no pytest cache.
set(PM_PY_ENV
  ${PM_TEST_ENV}
  PKG_CONFIG_PATH=${PM_UNINSTALLED_PKGCONFIG}
  PYTHONPATH=${PM_PY_OUT}
  PYTHONDONTWRITEBYTECODE=1
  PM_PY_BUILD_DIR=${PM_PY_OUT})
# The fixture's other servers, when tests/CMakeLists.txt names their directories (the tests
# otherwise find them next to PM_TEST_SERVER_DIR): the second cluster and the replica set with
# transactions (SecantusDB; its tests report SKIPPED when it did not start).
if(DEFINED PM_TEST_SERVER2_DIR)
  list(APPEND PM_PY_ENV PM_TEST_SERVER2_DIR=${PM_TEST_SERVER2_DIR})
endif()
if(DEFINED PM_TEST_TXN_DIR)
  list(APPEND PM_PY_ENV PM_TEST_TXN_DIR=${PM_TEST_TXN_DIR})
endif()

add_test(NAME python.build
  COMMAND ${PM_PYTHON} ${PM_PY_SRC}/build_inplace.py ${PM_PY_OUT})
set_tests_properties(python.build PROPERTIES
  LABELS python
  FIXTURES_SETUP pm_python_build
  ENVIRONMENT "${PM_PY_ENV}"
  TIMEOUT 300)

# The wheel a user builds and installs (tests/packaging_wheel.py). It compiles libpolymongo
# again (library only, Release): about 1-3 minutes on 2 cores.
add_test(NAME python.packaging.wheel
  COMMAND ${PM_PYTHON} ${PM_PY_SRC}/tests/packaging_wheel.py ${PROJECT_SOURCE_DIR})
set_tests_properties(python.packaging.wheel PROPERTIES
  LABELS "packaging;python"
  FIXTURES_REQUIRED ferretdb
  ENVIRONMENT "${PM_TEST_ENV};PYTHONDONTWRITEBYTECODE=1"
  TIMEOUT 1500)

# Lint: the package type-checks under mypy --strict (also set in pyproject.toml, so that a
# plain `mypy polymongo` in bindings/python checks the same).
add_test(NAME lint.python.mypy
  COMMAND ${PM_PYTHON} -m mypy --strict --cache-dir ${PM_PY_OUT}/mypy-cache ${PM_PY_SRC}/polymongo
  WORKING_DIRECTORY ${PM_PY_SRC})
set_tests_properties(lint.python.mypy PROPERTIES LABELS "python;lint" TIMEOUT 300)

file(GLOB PM_PY_TEST_FILES CONFIGURE_DEPENDS ${PM_PY_SRC}/tests/test_*.py)
foreach(file ${PM_PY_TEST_FILES})
  # Re-run the configure step when a test file changes, so that new functions are registered.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  get_filename_component(stem ${file} NAME_WE)
  string(REGEX REPLACE "^test_" "" short ${stem})
  file(STRINGS ${file} defs REGEX "^def test_[A-Za-z0-9_]+\\(")
  foreach(def ${defs})
    string(REGEX REPLACE "^def (test_[A-Za-z0-9_]+)\\(.*" "\\1" fn "${def}")
    add_test(NAME python.${short}.${fn}
      COMMAND ${PM_PYTHON} -m pytest -q -rs -p no:cacheprovider
              --rootdir ${PM_PY_SRC}/tests ${file}::${fn}
      WORKING_DIRECTORY ${PM_PY_SRC}/tests)
    set_tests_properties(python.${short}.${fn} PROPERTIES
      LABELS python
      FIXTURES_REQUIRED "ferretdb;pm_python_build"
      ENVIRONMENT "${PM_PY_ENV}"
      SKIP_REGULAR_EXPRESSION "SKIPPED \\["
      TIMEOUT 180)
    if(short STREQUAL "packaging")  # the POLYMONGO_USE_PKG_CONFIG switch, the import error
      set_tests_properties(python.${short}.${fn} PROPERTIES LABELS "packaging;python")
    endif()
    if(short STREQUAL "streams" OR short STREQUAL "async")  # see PM_OPLOG_LOCK in tests/CMakeLists.txt
      set_tests_properties(python.${short}.${fn} PROPERTIES RESOURCE_LOCK ${PM_OPLOG_LOCK})
    endif()
    if(short STREQUAL "async")  # AsyncPolyMongo: also under the async label
      set_tests_properties(python.${short}.${fn} PROPERTIES LABELS "python;async")
    endif()
  endforeach()
endforeach()
