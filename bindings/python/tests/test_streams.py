"""Change streams (stream.h).

FerretDB (the main server) has no change streams: its refusal and the argument checks run on it.
Everything else runs on the SecantusDB replica set of the CTest fixture (or PM_TEST_TXN_URI);
without it those tests report SKIPPED.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Iterator, List

import pytest
from conftest import txn_server_uri, unique_db

from polymongo import (
    ChangeStream,
    Closed,
    InvalidDatabaseName,
    NotSupported,
    PolyMongo,
    ServerError,
)
from polymongo._ffi import lib


@pytest.fixture
def rs() -> Iterator[PolyMongo]:
    """A PolyMongo on the server with change streams (skips without one)."""
    uri = txn_server_uri()
    with PolyMongo(uri, default_db=unique_db("pyst_default"), max_pool_size=4) as client:
        yield client


def seeded(pm: PolyMongo, collection: str, *names: str) -> None:
    """Creates the collection in each database (a stream is opened on existing collections)."""
    model = pm.model(collection)
    for name in names:
        model.db(name).insert_one({"_id": "seed"})


# ---- on FerretDB ------------------------------------------------------------------------------


def test_ferretdb_refuses_change_streams(pm):
    db = pm.model("events").db(unique_db("pyst_ferret"))
    db.insert_one({"x": 1})
    try:
        stream = db.watch()
    except (NotSupported, ServerError) as e:
        assert e.pm_code in (lib.PM_ENOTSUP, lib.PM_ESERVER)
        assert e.message
    else:
        stream.close()
        pytest.skip("this server has change streams")
    with pytest.raises((NotSupported, ServerError)):
        pm.watch_database(db.name)
    assert pm.stream_count() == 0, "a refused stream is not tracked"


def test_watch_arguments_are_checked_before_any_io(pm):
    db = pm.model("events").db(unique_db("pyst_args"))
    with pytest.raises(TypeError):
        db.watch("not a pipeline")
    with pytest.raises(TypeError):
        db.watch(42)
    with pytest.raises(TypeError):
        pm.subscribe_stream(db.name, collection=3)
    with pytest.raises(TypeError):
        pm.watch_database(12)
    with pytest.raises(InvalidDatabaseName):
        pm.watch_database("bad/name")
    with pytest.raises(InvalidDatabaseName):
        pm.subscribe_stream("bad name")
    assert pm.close_streams() == 0 and pm.stream_count() == 0


# ---- on a replica set ---------------------------------------------------------------------------


def test_insert_events_arrive_in_order_and_resume_after_a_token(rs):
    name = unique_db("pyst_order")
    seeded(rs, "events", name)
    db = rs.model("events").db(name)
    with db.watch([{"$match": {"operationType": "insert"}}], full_document="updateLookup") as s:
        assert isinstance(s, ChangeStream) and s.alive
        for i in range(1, 4):
            db.insert_one({"_id": i, "n": i * 10})
        first = s.next(timeout=5)
        assert first is not None and first["operationType"] == "insert"
        assert first["fullDocument"] == {"_id": 1, "n": 10}
        assert first["ns"] == {"db": name, "coll": "events"}
        token = s.resume_token
        assert token and "_data" in token
        assert first["_id"] == token
    # Reopened after the first event: the second and third arrive, nothing twice.
    with db.watch(resume_after=token) as s:
        keys = [s.next(timeout=5)["documentKey"] for _ in range(2)]
        assert keys == [{"_id": 2}, {"_id": 3}]
        assert s.next(timeout=0.3) is None, "then nothing: the timeout returns None"
    with db.watch(start_after=token) as s:
        assert s.next(timeout=5)["documentKey"] == {"_id": 2}


def test_iteration_and_update_events(rs):
    name = unique_db("pyst_iter")
    seeded(rs, "events", name)
    db = rs.model("events").db(name)
    s = db.watch(full_document="updateLookup")
    db.insert_one({"_id": "a", "v": 1})
    db.update_one({"_id": "a"}, {"$set": {"v": 2}})
    db.delete_one({"_id": "a"})
    seen = []
    for event in s:
        seen.append(event["operationType"])
        if event["operationType"] == "update":
            assert event["fullDocument"] in ({"_id": "a", "v": 2}, None)
            assert event["updateDescription"]["updatedFields"] == {"v": 2}
        if len(seen) == 3:
            break
    assert seen == ["insert", "update", "delete"]
    s.close()
    assert not s.alive
    with pytest.raises(Closed):
        s.next(0.1)
    assert list(s) == [], "iterating a closed stream just stops"


def test_database_and_cluster_scopes(rs):
    a, b = unique_db("pyst_a"), unique_db("pyst_b")
    seeded(rs, "events", a, b)
    seeded(rs, "others", a)
    events, others = rs.model("events"), rs.model("others")
    with rs.watch_database(a) as dbs, \
            rs.watch_cluster([{"$match": {"ns.db": {"$in": [a, b]}}}]) as cluster:
        events.db(a).insert_one({"_id": "in_a_events"})
        others.db(a).insert_one({"_id": "in_a_others"})
        events.db(b).insert_one({"_id": "in_b"})
        got = [dbs.next(5) for _ in range(2)]
        assert [e["documentKey"]["_id"] for e in got] == ["in_a_events", "in_a_others"]
        assert [e["ns"]["coll"] for e in got] == ["events", "others"], "every collection"
        assert dbs.next(0.3) is None, "not the other database"
        seen = [cluster.next(5)["documentKey"]["_id"] for _ in range(3)]
        assert seen == ["in_a_events", "in_a_others", "in_b"], "the cluster sees both databases"


def test_default_database_watch(rs):
    seeded(rs, "events", rs.default_db)
    with rs.watch_database() as s:
        rs.model("events").db().insert_one({"_id": "dflt"})
        event = s.next(5)
        assert event["ns"]["db"] == rs.default_db and event["documentKey"] == {"_id": "dflt"}


def test_fifty_shared_subscribers_each_get_every_event(rs):
    name = unique_db("pyst_shared")
    seeded(rs, "events", name)
    subs = [rs.subscribe_stream(name, "events") for _ in range(50)]
    assert rs.stream_count(name) == 50
    pinned = [p["pinned"]["streams"] for p in rs.stats()["pools"]]
    assert sum(pinned) == 1, f"one server-side stream for all of them: {pinned}"
    db = rs.model("events").db(name)
    for i in range(5):
        db.insert_one({"_id": f"e{i}"})
    for k, s in enumerate(subs):
        wanted = 1 if k == 7 else 5
        got = [s.next(5)["documentKey"]["_id"] for _ in range(wanted)]
        assert got == [f"e{i}" for i in range(wanted)], f"subscriber {k}"
        if k == 7:
            s.close()  # leaves without disturbing the others
    for k in range(0, 50, 9):
        if subs[k].alive:
            assert subs[k].next(0.1) is None, "exactly once"
    assert rs.stream_count(name) == 49
    # Subscribers on their own threads, each reading every event.
    results: List[List[str]] = [[] for _ in range(8)]
    errors: List[BaseException] = []

    def reader(i: int) -> None:
        try:
            for _ in range(3):
                results[i].append(subs[10 + i].next(10)["documentKey"]["_id"])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for i in range(3):
        db.insert_one({"_id": f"t{i}"})
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert all(r == ["t0", "t1", "t2"] for r in results), results
    for s in subs:
        s.close()
    assert rs.stream_count() == 0


def test_close_streams_closes_them_and_next_raises_closed(rs):
    a, b = unique_db("pyst_close_a"), unique_db("pyst_close_b")
    seeded(rs, "events", a, b)
    events = rs.model("events")
    a1 = events.db(a).watch()
    a2 = rs.watch_database(a)
    a3 = rs.subscribe_stream(a)
    b1 = events.db(b).watch()
    assert rs.stream_count(a) == 3 and rs.stream_count() == 4
    # One thread waits on a2 (no deadline) while another closes the database's streams.
    outcome: List[BaseException] = []

    def waiter() -> None:
        try:
            a2.next()
        except BaseException as e:  # noqa: BLE001
            outcome.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    # Observed, not assumed: the waiter is inside next() (it holds the stream's lock for the
    # whole call) with a pm_stream_next call in flight on the stream's handle, and has not
    # returned. Nothing else uses a2, so that call is the waiter's; with no event coming and no
    # deadline, next() can then only end once the stream is closed.
    deadline = time.monotonic() + 5
    while not (a2._lock.locked() and a2._h._users > 0):
        assert time.monotonic() < deadline, "the waiter never started waiting in pm_stream_next"
        time.sleep(0.001)
    assert t.is_alive() and outcome == [], f"next() returned before close_streams: {outcome}"
    assert rs.close_streams(a) == 3
    t.join(10)
    assert not t.is_alive() and len(outcome) == 1 and isinstance(outcome[0], Closed)
    for s in (a1, a3):
        with pytest.raises(Closed) as info:
            s.next(0.05)
        assert info.value.pm_code == lib.PM_ECLOSED
    assert list(a1) == []
    assert b1.next(0.05) is None, "the other database's stream is untouched"
    rs.drop_database(b)
    with pytest.raises(Closed):
        b1.next(0.05)
    assert rs.stream_count() == 0
    for s in (a1, a2, a3, b1):
        s.close()


def test_streams_freed_in_any_order_and_by_the_gc_and_closed_with_the_client(rs):
    name = unique_db("pyst_gc")
    seeded(rs, "events", name)
    db = rs.model("events").db(name)
    s = db.watch()
    sub = rs.subscribe_stream(name, "events")
    assert rs.stream_count(name) == 2
    del db
    gc.collect()
    rs.model("events").db(name).insert_one({"_id": 1})
    assert s.next(5)["documentKey"] == {"_id": 1}, "the stream keeps its db alive"
    del s, sub
    gc.collect()
    assert rs.stream_count(name) == 0, "the garbage collector freed both"
    other = PolyMongo(txn_server_uri(), max_pool_size=2)
    stream = other.watch_database(name)
    other.close()
    with pytest.raises(Closed):
        stream.next(0.1)
    with pytest.raises(Closed):
        other.watch_database(name)
    stream.close()
