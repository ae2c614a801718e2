"""Handles and their lifetimes, options, dedicated pools, scaling, health."""

from __future__ import annotations

import gc
import time
import weakref

import pytest
from conftest import server_port, server_uri, sockets_to_port, unique_db, uri_with

import polymongo
from polymongo import ConnectionState, PolyMongo
from polymongo._ffi import lib


def test_handles_freed_in_any_order_and_by_gc(uri, checker):
    name = unique_db("order")
    pm = PolyMongo(uri)
    db = pm.model("order").db(name)
    cursor_db = pm.model("order").db(name)
    db.insert_many([{"i": i} for i in range(3)])
    cursor = cursor_db.find(batch_size=1)
    # Drop every Python reference to the parents: the children keep working.
    pm_ref = weakref.ref(pm)
    del pm
    gc.collect()
    db.insert_one({"still": "works"})
    assert db.count_documents() == 4
    del db, cursor_db
    gc.collect()
    assert [d["i"] for d in cursor if "i" in d] == [0, 1, 2]  # outlives its db and model
    del cursor
    gc.collect()
    assert pm_ref() is None, "nothing keeps the PolyMongo alive once its children are gone"
    assert checker[name]["order"].count_documents({}) == 4

    # Reference cycles through the handles are collected (in whatever order the GC picks).
    for _ in range(20):
        p = PolyMongo(uri)
        d = p.model("cyc").db(name)
        c = d.find()
        p.cycle = (p, d, c)  # type: ignore[attr-defined]
    del p, d, c
    gc.collect()

    # Explicit frees in "wrong" orders: children keep parents alive in C.
    p = PolyMongo(uri)
    m = p.model("order")
    d = m.db(name)
    c = d.find(batch_size=1)
    m._h.close()   # the model's handle first: the db still works
    assert d.count_documents() == 4
    d._h.close()   # then the db: the cursor still works
    assert len(list(c)) == 4
    p.close()


def test_close_releases_pools_and_sockets(uri):
    port = server_port()
    before = sockets_to_port(port)
    pm = PolyMongo(uri, max_pool_size=3, cold_start=True)
    db = pm.model("sock").db(unique_db("sock"))
    time.sleep(0.1)
    assert sockets_to_port(port) == before, "cold start opens no socket"
    db.insert_one({"a": 1})
    cursor = db.find()  # a child still open when the client closes
    assert sockets_to_port(port) > before
    pm.close()
    deadline = time.monotonic() + 5
    while sockets_to_port(port) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sockets_to_port(port) == before, "close() closed every pool, children included"
    with pytest.raises(polymongo.Closed):
        next(cursor)


def test_close_is_the_c_contract(uri, checker):
    """close() is pm_wrapper_close (include/polymongo/lifecycle.h), as in every binding: every
    operation of everything made from the client fails with Closed (PM_ECLOSED, from C), a
    result obtained before stays readable, closing twice is harmless, and the OS shows none of
    its sockets."""
    port = server_port()
    before = sockets_to_port(port)
    pm = PolyMongo(uri, max_pool_size=2)
    model = pm.model("contract")
    name = unique_db("contract")
    db = model.db(name)
    db.insert_many([{"i": i} for i in range(3)])
    result = db.insert_one({"i": 3})
    cursor = db.find({}, sort=[("i", 1)], batch_size=1)
    assert next(cursor)["i"] == 0  # in progress
    assert sockets_to_port(port) > before

    pm.close()
    pm.close()  # harmless
    assert sockets_to_port(port) == before, "close() shut every pool now, cursor included"
    for call in (lambda: db.insert_one({"i": 9}), lambda: db.count_documents(),
                 lambda: next(cursor), lambda: model.db(unique_db("later")),
                 lambda: pm.model("later")):
        with pytest.raises(polymongo.Closed) as info:
            call()
        assert info.value.pm_code == lib.PM_ECLOSED
    assert result.inserted_id is not None and result.acknowledged, "results stay readable"
    assert sockets_to_port(port) == before, "nothing reconnected"
    assert checker[name]["contract"].count_documents({}) == 4, "nothing refused reached the server"


def test_options_are_mapped_from_snake_case(uri, checker):
    default = unique_db("dflt")
    with PolyMongo(uri, default_db=default, max_pool_size=3, min_free_connections=1,
                   idle_timeout_ms=60000, cold_start=False, retry=0, debug=False,
                   allow_system_databases=False) as pm:
        assert pm.default_db == default
        assert pm.state in (ConnectionState.CONNECTING, ConnectionState.CONNECTED)
        users = pm.model("users")
        users.db().insert_one({"where": "default"})
        assert checker[default]["users"].count_documents({"where": "default"}) == 1
        assert pm.ping() >= 0.0
        assert pm.is_connected
        assert pm.state == ConnectionState.CONNECTED
    # the default database from the URI's path
    path_db = unique_db("pathdb")
    base = server_uri().split("?", 1)[0].rstrip("/")
    with PolyMongo(f"{base}/{path_db}") as pm:
        assert pm.default_db == path_db


def test_dedicated_pool_via_db_specific(uri, checker):
    dedicated, shared = unique_db("dedicated"), unique_db("shared")
    with PolyMongo(uri_with("waitQueueTimeoutMS=300"), max_pool_size=1,
                   db_specific=[{"db_name": dedicated, "options": {"max_connections": 2}}]) as pm:
        m = pm.model("routed")
        s, d = m.db(shared), m.db(dedicated)
        s.insert_many([{"i": i} for i in range(3)])
        held = s.find(batch_size=1)  # holds the shared pool's only connection
        next(held)
        with pytest.raises(polymongo.Timeout):
            s.insert_one({"i": 99})
        # The dedicated database is unaffected: its traffic goes through its own pool.
        d.insert_one({"mine": True})
        d.insert_one({"mine": True})
        assert d.count_documents() == 2
        held.close()
        s.insert_one({"i": 3})
    assert checker[dedicated]["routed"].count_documents({"mine": True}) == 2
    assert checker[shared]["routed"].count_documents({}) == 4
    assert checker[shared]["routed"].count_documents({"mine": True}) == 0


def test_set_db_close_all_and_reopen(uri, checker):
    name = unique_db("scaled")
    with PolyMongo(uri_with("waitQueueTimeoutMS=300"), max_pool_size=1) as pm:
        pm.set_db(name, max_connections=2)
        m = pm.model("scaled")
        held = m.db(unique_db("other")).find()  # shared pool busy
        m.db(name).insert_one({"x": 1})          # ... the dedicated pool serves this one
        held.close()
        assert pm.open_pools >= 2
        pm.close_all(timeout=5)
        assert pm.open_pools == 0
        assert pm.state == ConnectionState.DISCONNECTED
        assert m.db(name).count_documents() == 1  # reversible: reopens on use
        assert pm.open_pools >= 1
        with pytest.raises(polymongo.InvalidDatabaseName):
            pm.set_db("bad name")
        pm.connect_db([unique_db("eager")], max_connections=1)
        # force_close_all: open cursors fail with Closed; the next operation reopens.
        m.db(name).insert_many([{"x": i} for i in range(2, 6)])
        cursor = m.db(name).find(batch_size=1)
        next(cursor)
        pm.force_close_all()
        with pytest.raises(polymongo.Closed):
            list(cursor)
        assert m.db(name).count_documents() == 5
    assert checker[name]["scaled"].count_documents({}) == 5


EXIT_SCRIPT = r"""
import sys, threading, polymongo
pm = polymongo.PolyMongo(sys.argv[1], default_db=sys.argv[2])
pm.subscribe(lambda e: None)                 # a live hook at exit
db = pm.model("exit").db()
db.insert_many([{"first": i} for i in range(3)])
def work():
    for i in range(200):
        db.insert_one({"i": i})
for _ in range(4):
    threading.Thread(target=work, daemon=True).start()   # still in C calls at exit
cursor = db.find(batch_size=1)
next(cursor)
print("exiting")
"""


def test_interpreter_exit_with_live_hooks_threads_and_handles(uri, tmp_path):
    import subprocess
    import sys

    for _ in range(8):
        run = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, uri, unique_db("exit")],
                             capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == "exiting"


SIGNAL_SCRIPT = r"""
import os, signal, sys, time, polymongo
got = []
signal.signal(signal.SIGTERM, lambda s, f: got.append(s))  # the application's own handler
pm = polymongo.PolyMongo(sys.argv[1], default_db=sys.argv[2])
db = pm.model("sig").db()
db.insert_one({"a": 1})
assert pm.open_pools == 1
pm.handle_signals(timeout=2)
os.kill(os.getpid(), signal.SIGTERM)
deadline = time.monotonic() + 10
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
print(got, pm.open_pools, pm.state.name, db.count_documents())
"""


def test_handle_signals_closes_pools_then_chains_to_python_handler(uri, tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT, uri, unique_db("sig")],
                         capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr[-2000:]
    # The Python handler ran after polymongo closed the pools; the next operation reconnected.
    assert run.stdout.split() == ["[15]", "0", "DISCONNECTED", "1"]


def test_routing_rules_route_matching_databases(uri, checker):
    tag = unique_db("rt")
    with PolyMongo(uri) as pm:
        pm.add_route(f"{tag}_own_*", options={"max_connections": 2})
        pm.add_route(f"{tag}_grp_*", shared_pool=True, options={"max_connections": 3})
        with pytest.raises(polymongo.InvalidArgument):
            pm.add_route("")
        m = pm.model("routed")
        names = [f"{tag}_own_a", f"{tag}_own_b", f"{tag}_grp_a", f"{tag}_grp_b", f"{tag}_plain"]
        for n in names:
            m.db(n).insert_one({"n": n})
        pools = {p["name"]: p for p in pm.stats()["pools"]}
        assert pools[f"{tag}_own_a"]["databases"] == [f"{tag}_own_a"]
        assert pools[f"{tag}_own_a"]["maxSize"] == 2 and pools[f"{tag}_own_b"]["dedicated"]
        assert sorted(pools[f"{tag}_grp_*"]["databases"]) == [f"{tag}_grp_a", f"{tag}_grp_b"]
        assert pools[f"{tag}_grp_*"]["maxSize"] == 3
        assert pools["shared"]["databases"] == [f"{tag}_plain"]
    for n in names:
        assert checker[n]["routed"].count_documents({"n": n}) == 1


def test_tenant_limits_throttle_with_a_retryable_error(uri, checker):
    name, other = unique_db("limits"), unique_db("limits_other")
    with PolyMongo(uri, tenant_limits={"rate_per_second": 0.01, "burst": 1, "on_limit": "fail"}) as pm:
        db = pm.model("items").db(name)
        db.insert_one({"n": 1})
        with pytest.raises(polymongo.Throttled) as info:
            db.insert_one({"n": 2})
        assert info.value.pm_code == lib.PM_ETHROTTLED and info.value.retryable
        assert info.value.code_name == "PM_ETHROTTLED"
        assert checker[name]["items"].count_documents({}) == 1
        # Run time: this database gets no limits; then the default goes.
        pm.set_tenant_limits(name, {})
        db.insert_one({"n": 3})
        pm.set_tenant_limits(name, None)
        with pytest.raises(polymongo.Throttled):
            db.insert_one({"n": 4})
        pm.set_tenant_limits(None, None)
        db.insert_one({"n": 5})
        pm.model("items").db(other).insert_one({"n": 1})
        usage = {u["db"]: u for u in pm.usage()}
        assert usage[name]["throttled"] == 2
        with pytest.raises(polymongo.InvalidArgument):
            pm.set_tenant_limits(None, {"on_limit": "later"})
