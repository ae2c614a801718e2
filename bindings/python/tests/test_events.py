"""Hooks: Python callbacks on the C library's event thread."""

from __future__ import annotations

import sys
import threading

import pytest
from conftest import unique_db

import polymongo
from polymongo import Event, EventType, PolyMongo


def test_hooks_receive_connect_and_pool_events(uri):
    with PolyMongo(uri) as pm:
        seen: list = []
        threads: set = set()

        def on_event(e: Event) -> None:
            seen.append(e)
            threads.add(threading.get_ident())

        everything = pm.subscribe(on_event)
        a, b = unique_db("hook_a"), unique_db("hook_b")
        only_b: list = []
        these = pm.on_db_connect(only_b.append, dbs=[b])
        m = pm.model("hooked")
        m.db(a).insert_one({"x": 1})
        m.db(b).insert_one({"x": 1})
        pm.flush_events(timeout=5)
        connects = [e.db for e in seen if e.type == EventType.CONNECT]
        assert a in connects and b in connects
        assert any(e.type == EventType.POOL_OPENED and e.pool == "shared" for e in seen)
        assert [e.db for e in only_b] == [b], "onTheseDBConnect gets its databases only"
        assert threading.get_ident() not in threads, "callbacks run on polymongo's event thread"
        assert all(e.timestamp_ms > 0 and e.timestamp.year >= 2024 for e in seen)

        # close_all: pool closed and disconnect events; unsubscribe stops deliveries.
        disconnects: list = []
        pm.on_db_disconnect(disconnects.append)
        pm.close_all(timeout=5)
        pm.flush_events(timeout=5)
        assert any(e.type == EventType.POOL_CLOSED for e in seen)
        assert {a, b} <= {e.db for e in disconnects}
        everything.unsubscribe()
        these.unsubscribe()
        everything.unsubscribe()  # idempotent
        count = len(seen)
        m.db(a).insert_one({"x": 2})
        pm.flush_events(timeout=5)
        assert len(seen) == count
    # close() removed the remaining subscription; the C library released every handle.
    assert not any(s.client is pm for s, _ in polymongo.events._live.values())


def test_failing_hook_is_reported_and_does_not_break_operations(uri, monkeypatch):
    reported: list = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    with PolyMongo(uri) as pm:
        calls: list = []

        def bad(e: Event) -> None:
            calls.append(e)
            raise RuntimeError("hook failed")

        sub = pm.subscribe(bad, EventType.CONNECT)
        with pytest.raises(TypeError):
            pm.subscribe("not callable")  # type: ignore[arg-type]
        # A failed subscription: C calls free_user_data (on every failure path), so the
        # binding keeps no reference to it.
        live, freed = len(polymongo.events._live), polymongo.events._free_calls
        with pytest.raises(polymongo.InvalidDatabaseName):
            pm.subscribe(bad, EventType.CONNECT, dbs=["bad name"])
        assert polymongo.events._free_calls == freed + 1
        assert len(polymongo.events._live) == live
        db = pm.model("hooked").db(unique_db("badhook"))
        db.insert_one({"x": 1})  # the operation is not affected by the failing hook
        assert db.count_documents() == 1
        # The stored exception is raised again in the caller's thread by flush_events...
        with pytest.raises(RuntimeError, match="hook failed"):
            pm.flush_events(timeout=5)
        pm.flush_events(timeout=5)  # ... once
        assert len(calls) >= 1 and isinstance(sub.errors[0], RuntimeError)
        # ... and reported through sys.unraisablehook when it happened.
        assert any(isinstance(e, RuntimeError) for e in reported)
        # Later events are still delivered.
        before = len(calls)
        pm.model("hooked").db(unique_db("badhook")).insert_one({"x": 1})
        with pytest.raises(RuntimeError):
            pm.flush_events(timeout=5)
        assert len(calls) == before + 1


def test_cmap_events_carry_connection_ids_and_durations(uri):
    with PolyMongo(uri) as pm:
        seen: list = []
        pm.subscribe(seen.append, EventType.CHECKOUTS | EventType.CONNECTION_CREATED | EventType.CONNECTION_READY)
        lifecycle: list = []
        pm.subscribe(lifecycle.append)  # ALL: no per-operation events
        db = pm.model("cmap").db(unique_db("cmap"))
        db.insert_one({"x": 1})
        assert db.count_documents({}) == 1
        pm.flush_events(timeout=5)
        created = [e.connection_id for e in seen if e.type == EventType.CONNECTION_CREATED]
        assert len(created) == 1 and created[0] > 0
        ready = [e for e in seen if e.type == EventType.CONNECTION_READY]
        assert [e.connection_id for e in ready] == created and ready[0].duration_us > 0
        out = [e for e in seen if e.type == EventType.CHECKED_OUT]
        back = [e for e in seen if e.type == EventType.CHECKED_IN]
        assert len(out) == len(back) == 2, "two operations"
        assert {e.connection_id for e in out + back} == set(created)
        assert sum(e.type == EventType.CHECKOUT_STARTED for e in seen) == 2
        assert not [e for e in lifecycle if e.type & EventType.CHECKOUTS]
        assert any(e.type == EventType.POOL_READY for e in lifecycle)
