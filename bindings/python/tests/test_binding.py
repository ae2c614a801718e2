"""The generated cdef covers the whole header, and the package binds it."""

from __future__ import annotations

import glob
import os
import re
import subprocess

import pytest

import polymongo
from polymongo._ffi import ffi, lib

# C functions the Python API deliberately does not call, with the reason.
NOT_NEEDED = {
    "pm_last_error": "every call passes its own pm_error",
    "pm_is_duplicate_key": "errors arrive classified (PM_EDUPKEY -> DuplicateKeyError); "
                           "write_errors keep the server's codes as pymongo's do",
    "pm_cursor_next_json": "documents travel as BSON",
    "pm_stream_next_json": "change events travel as BSON (pm_stream_next)",
    "pm_result_json": "results are read as BSON (pm_result_bson)",
    "pm_result_inserted_count": "read from pm_result_bson",
    "pm_result_matched_count": "read from pm_result_bson",
    "pm_result_modified_count": "read from pm_result_bson",
    "pm_result_deleted_count": "read from pm_result_bson",
    "pm_result_upserted_count": "read from pm_result_bson",
    "pm_result_write_error_count": "read from pm_result_bson",
    "pm_result_write_error": "read from pm_result_bson",
    "pm_state_name": "ConnectionState member names come from the PM_STATE_* constants",
    "pm_db_wrapper": "an AsyncDb keeps its AsyncPolyMongo, whose wrapper it submits to",
}


def header_dirs() -> list:
    """Where polymongo's headers may be: pkg-config's include directories (the headers the
    binding was built against), then the source tree's, then the system's."""
    dirs = []
    flags = subprocess.run(["pkg-config", "--cflags-only-I", "polymongo"], capture_output=True,
                           text=True)
    if flags.returncode == 0:
        dirs += [f[2:] for f in flags.stdout.split()]
    source_tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                               "include")
    return dirs + [os.path.normpath(source_tree), "/usr/include", "/usr/local/include"]


def header_functions() -> set:
    names: set = set()
    for inc in header_dirs():
        headers = glob.glob(os.path.join(inc, "polymongo", "*.h"))
        for h in headers:
            with open(h) as f:
                text = re.sub(r"\s+", " ", f.read())
            names.update(re.findall(r"PM_EXTERN [^;(]*?\**\s*(pm_\w+)\s*\(", text))
        if headers:
            break
    if not names:
        pytest.fail(f"no polymongo headers found in {header_dirs()} (set PKG_CONFIG_PATH)")
    return names


def test_generated_cdef_has_every_header_function_and_constant():
    names = header_functions()
    assert len(names) > 40
    missing = sorted(n for n in names if not hasattr(lib, n))
    assert missing == [], f"not in the generated cdef: {missing}"
    # constants and layouts come from the real header
    assert lib.PM_JSON == 2**64 - 1 and ffi.sizeof("pm_error") == 512
    assert lib.PM_VERSION_NUM == lib.pm_version_num()
    assert ffi.string(lib.PM_VERSION_STRING).decode() == polymongo.version()
    assert {e.name for e in polymongo.EventType} >= {"CONNECT", "DISCONNECT", "LOG"}


def test_every_header_function_is_bound():
    src = ""
    for path in glob.glob(os.path.join(os.path.dirname(polymongo.__file__), "*.py")):
        with open(path) as f:
            src += f.read()
    names = header_functions()
    # Every header function is either called by the package or listed in NOT_NEEDED with its
    # reason: a function the C API gained fails here until the binding decides which.
    unbound = sorted(n for n in names
                     if n not in NOT_NEEDED and not re.search(rf"\blib\.{n}\b", src))
    assert unbound == [], (f"header functions neither called by the Python package nor listed "
                           f"in NOT_NEEDED with a reason: {', '.join(unbound)}")
    # NOT_NEEDED names only functions that exist, each with a reason.
    stale = sorted(n for n in NOT_NEEDED if n not in names)
    assert stale == [], f"NOT_NEEDED lists functions the headers no longer declare: {stale}"
    assert all(reason.strip() for reason in NOT_NEEDED.values())
