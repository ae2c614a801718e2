"""Threads: the GIL is released inside C calls; one PolyMongo serves many threads safely."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import unique_db, uri_with

from polymongo import PolyMongo


def test_gil_is_released_while_a_thread_waits_in_c(uri):
    # One pooled connection, held by a cursor of this thread. A worker thread's count has to
    # wait for it inside the C call (pool checkout, up to 20 s). If that call kept the GIL,
    # this thread could not run again until the worker gave up with Timeout; instead it keeps
    # running Python *and* C calls, and the worker completes right after this thread lets go.
    with PolyMongo(uri_with("waitQueueTimeoutMS=20000"), max_pool_size=1) as pm:
        db = pm.model("gil").db(unique_db("gil"))
        db.insert_many([{"i": i} for i in range(5)])
        held = db.find(batch_size=1)
        assert next(held)["i"] == 0  # this thread now holds the only connection

        entering = threading.Event()
        outcome: dict = {}

        def worker() -> None:
            entering.set()
            try:
                outcome["count"] = db.count_documents()  # blocks in C until the cursor is done
            except BaseException as e:  # noqa: BLE001
                outcome["error"] = e
            outcome["finished"] = time.monotonic()

        t = threading.Thread(target=worker)
        t.start()
        assert entering.wait(5)
        spins = 0
        until = time.monotonic() + 0.3
        while time.monotonic() < until:  # pure Python work while the worker is in C
            spins += 1
        assert t.is_alive(), "the worker is waiting for the pooled connection"
        assert "count" not in outcome and "error" not in outcome
        rest = [d["i"] for d in held.to_list(2)]  # C calls from this thread meanwhile
        assert t.is_alive() and held.alive, "still waiting: the cursor keeps the connection"
        released = time.monotonic()
        held.close()  # gives the connection back: now the worker gets it
        t.join(15)
        assert not t.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["count"] == 5
        assert outcome["finished"] >= released, "the worker finished only after the release"
        assert rest == [1, 2]
        assert spins > 1000


def test_many_threads_many_databases_stay_isolated(uri, checker):
    threads, databases, per_thread = 8, 40, 30
    prefix = unique_db("mt")
    with PolyMongo(uri, max_pool_size=4) as pm:
        docs = pm.model("docs")
        failures: list = []

        def work(t: int) -> None:
            for i in range(per_thread):
                dbi = (t * 37 + i * 11) % databases
                db = docs.db(f"{prefix}_{dbi}")
                try:
                    db.insert_one({"db": dbi, "t": t, "i": i})
                    if db.count_documents({"db": {"$ne": dbi}}) != 0:
                        failures.append(("foreign document", dbi))
                    if i % 10 == 0:
                        db.update_many({}, {"$set": {"seen": True}})
                        for _ in db.find(batch_size=3):
                            pass
                except Exception as e:  # noqa: BLE001
                    failures.append(e)

        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(work, range(threads)))
        assert failures == []
    total = 0
    for dbi in range(databases):
        coll = checker[f"{prefix}_{dbi}"]["docs"]
        mine = coll.count_documents({"db": dbi})
        assert coll.count_documents({}) == mine, f"database {dbi} holds foreign documents"
        total += mine
    assert total == threads * per_thread


def test_one_cursor_shared_by_threads_is_serialised(pm):
    db = pm.model("shared_cursor").db(unique_db("sc"))
    n = 200
    db.insert_many([{"_id": i} for i in range(n)])
    cursor = db.find(batch_size=7)
    seen: list = []
    lock = threading.Lock()

    def drain() -> None:
        for doc in cursor:
            with lock:
                seen.append(doc["_id"])

    workers = [threading.Thread(target=drain) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert sorted(seen) == list(range(n)), "every document exactly once"
    assert not cursor.alive
