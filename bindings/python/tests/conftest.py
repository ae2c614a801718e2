"""Shared fixtures: the real test server, unique database names, an independent checker.

The server is the FerretDB instance CTest's `ferretdb` fixture started (its URI is in
$PM_TEST_SERVER_DIR/uri), or PM_TEST_URI. Every test uses databases no other test uses, and
reads back what polymongo wrote with pymongo's MongoClient, a client independent of polymongo.
"""

from __future__ import annotations

import glob
import itertools
import os
import sys
import time
from typing import Callable, Iterator

import pymongo
import pytest

# `python -m pytest` run from bindings/python puts the source tree first on sys.path; its
# package has no compiled module (the build goes elsewhere), so use the built or installed one.
_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not glob.glob(os.path.join(_SRC, "polymongo", "_libpolymongo*.so")):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _SRC]

import polymongo  # noqa: E402

_run = f"{int(time.time() * 1000) % 100_000_000}_{os.getpid() % 100_000}"
_counter = itertools.count()


def server_uri() -> str:
    uri = os.environ.get("PM_TEST_URI", "")
    if uri:
        return uri
    d = os.environ.get("PM_TEST_SERVER_DIR")
    if d and os.path.exists(os.path.join(d, "uri")):
        with open(os.path.join(d, "uri")) as f:
            return f.read().strip()
    pytest.skip("no test server: set PM_TEST_URI or run through ctest (PM_TEST_SERVER_DIR)")


def txn_server_uri() -> str:
    """A server with transactions: PM_TEST_TXN_URI, or the SecantusDB replica set the CTest
    fixture starts next to the main server ($PM_TEST_SERVER_DIR/../server-txn/uri). Skips the
    test visibly when there is none."""
    uri = os.environ.get("PM_TEST_TXN_URI", "")
    if uri:
        return uri
    dirs = [os.environ.get("PM_TEST_TXN_DIR", "")]
    if os.environ.get("PM_TEST_SERVER_DIR"):
        dirs.append(os.path.join(os.path.dirname(os.environ["PM_TEST_SERVER_DIR"].rstrip("/")),
                                 "server-txn"))
    for d in dirs:
        if d and os.path.exists(os.path.join(d, "uri")):
            with open(os.path.join(d, "uri")) as f:
                return f.read().strip()
    pytest.skip("no server with transactions (SecantusDB did not start; set PM_TEST_TXN_URI)")


def second_server_uri() -> str:
    """Another cluster: PM_TEST_URI2, or the second FerretDB of the CTest fixture; else the
    main server (a dedicated pool on it stands in for another cluster)."""
    uri = os.environ.get("PM_TEST_URI2", "")
    if uri:
        return uri
    dirs = [os.environ.get("PM_TEST_SERVER2_DIR", "")]
    if os.environ.get("PM_TEST_SERVER_DIR"):
        dirs.append(os.path.join(os.path.dirname(os.environ["PM_TEST_SERVER_DIR"].rstrip("/")),
                                 "server-second"))
    for d in dirs:
        if d and os.path.exists(os.path.join(d, "uri")):
            with open(os.path.join(d, "uri")) as f:
                return f.read().strip()
    return server_uri()


def uri_with(options: str) -> str:
    uri = server_uri()
    return uri + ("&" if "?" in uri else "?") + options


def unique_db(prefix: str) -> str:
    """A database name no other test (or earlier run) uses; valid for MongoDB and FerretDB."""
    return f"{prefix}_{_run}_{next(_counter)}"


def server_port() -> int:
    hostport = server_uri().split("//", 1)[1].split("/", 1)[0].split(",")[0]
    return int(hostport.rsplit(":", 1)[1]) if ":" in hostport else 27017


def sockets_to_port(port: int) -> int:
    """ESTABLISHED TCP connections of this process to `port` (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "01" and int(parts[2].rsplit(":", 1)[1], 16) == port \
                            and parts[9] in inodes:
                        count += 1
        except FileNotFoundError:
            pass
    return count


@pytest.fixture
def uri() -> str:
    return server_uri()


@pytest.fixture
def pm(uri: str) -> Iterator[polymongo.PolyMongo]:
    with polymongo.PolyMongo(uri, default_db=unique_db("pydefault"), max_pool_size=4) as client:
        yield client


@pytest.fixture(scope="session")
def checker() -> Iterator[pymongo.MongoClient]:
    """An independent client (pymongo) to read back what polymongo wrote."""
    client: pymongo.MongoClient = pymongo.MongoClient(server_uri(), serverSelectionTimeoutMS=5000,
                                                      tz_aware=True, uuidRepresentation="standard",
                                                      datetime_conversion="DATETIME_AUTO")
    yield client
    client.close()


class FeatureRefused(Exception):
    """Raised by a feature test's body (on_server_with_feature) when its server refused the
    feature, after the body checked that the refusal reached the caller correctly (the right
    error, nothing written)."""


@pytest.fixture
def on_server_with_feature(pytestconfig, checker) -> Callable[[str, Callable[..., None]], None]:
    """For features the main server lacks (FerretDB: validators, arrayFilters, findAndModify
    projections, Decimal128). No test is skipped on every server of the suite: `run(feature,
    body)` calls body(pm, checker) with a PolyMongo and an independent client on the main
    server; when the body raises FeatureRefused, it calls the body again on the transaction
    server (SecantusDB, which has these features), where it must pass. It skips, visibly, only
    when the suite has no transaction server."""

    def run(feature: str, body: Callable[..., None]) -> None:
        with polymongo.PolyMongo(server_uri(), default_db=unique_db("pydefault"), max_pool_size=4) as pm:
            try:
                body(pm, checker)
                return  # the main server has it: the body's checks ran there
            except FeatureRefused as e:
                why = str(e)
        uri = txn_server_uri()  # skips visibly without a transaction server
        with polymongo.PolyMongo(uri, default_db=unique_db("pydefault"), max_pool_size=4) as pm, \
                pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as txn_check:
            try:
                body(pm, txn_check)
            except FeatureRefused as e:
                pytest.fail(f"the transaction server refused {feature} too: {e}")
        # Shown in CTest's output (pytest captures a passing test's own output).
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"the main server refused {feature} ({why}); verified on the transaction server")

    return run


@pytest.fixture(scope="session")
def txn_checker() -> Iterator[pymongo.MongoClient]:
    """An independent client (pymongo) on the server with transactions: it sees committed
    writes only."""
    client: pymongo.MongoClient = pymongo.MongoClient(txn_server_uri(), serverSelectionTimeoutMS=5000)
    yield client
    client.close()
