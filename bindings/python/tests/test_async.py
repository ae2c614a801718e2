"""AsyncPolyMongo on the real servers: CRUD, cursors, change streams, sessions and
transactions, export/import, cancellation, many concurrent tasks over many databases (read back
by an independent client), and a ticker task that shows the event loop is never blocked.
Each test runs under asyncio's default loop and, when installed, uvloop."""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import statistics
import threading
import time
import uuid
from typing import Any, Awaitable, Callable, List

import pymongo
import pytest
from bson import Int64
from bson.binary import Binary
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

import polymongo
from polymongo import AsyncPolyMongo
from conftest import server_uri, txn_server_uri, unique_db, uri_with

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in requirements-dev
    uvloop = None

WHEN = datetime.datetime(2024, 5, 17, 8, 30, 1, 123000, tzinfo=datetime.timezone.utc)

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def run(loop_kind: str, main: Callable[[], Awaitable[Any]]) -> Any:
    if loop_kind == "uvloop":
        assert uvloop is not None
        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()
    return asyncio.run(main())


class Ticker:
    """Measures how late a 1 ms periodic task wakes: a blocked event loop shows as lag."""

    def __init__(self) -> None:
        self.lags: List[float] = []
        self._stop = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop:
            start = loop.time()
            await asyncio.sleep(0.001)
            self.lags.append((loop.time() - start - 0.001) * 1000)

    def stop(self) -> None:
        self._stop = True

    def p99(self) -> float:
        return statistics.quantiles(self.lags, n=100)[98] if len(self.lags) >= 100 else max(self.lags)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_crud_round_trip(loop_kind: str, checker: Any) -> None:
    name = unique_db("pyasync")

    async def main() -> None:
        async with AsyncPolyMongo(server_uri(), max_pool_size=4) as pm:
            db = pm.model("items").db(name)
            r = await db.insert_one({"_id": 1, "k": "a"})
            assert r.inserted_id == 1
            r2 = await db.insert_many([{"_id": i, "k": "b"} for i in range(2, 6)])
            assert r2.inserted_ids == [2, 3, 4, 5]
            assert (await db.update_one({"_id": 1}, {"$set": {"u": 1}})).modified_count == 1
            assert (await db.update_many({"k": "b"}, {"$set": {"u": 2}})).modified_count == 4
            assert (await db.replace_one({"_id": 5}, {"k": "r"})).modified_count == 1
            assert (await db.delete_one({"_id": 1})).deleted_count == 1
            res = await db.bulk_write([polymongo.InsertOne({"_id": 9}), polymongo.DeleteOne({"_id": 9})])
            assert res.inserted_count == 1 and res.deleted_count == 1
            assert await db.find_one({"_id": 2}) == {"_id": 2, "k": "b", "u": 2}
            assert await db.find_one({"_id": 99}) is None
            assert await db.count_documents({"k": "b"}) == 3
            assert await db.estimated_document_count() == 4
            assert sorted(await db.distinct("k")) == ["b", "r"]
            assert await db.command("ping") == {"ok": 1.0}
            with pytest.raises(polymongo.DuplicateKeyError):
                await db.insert_one({"_id": 2})
            with pytest.raises(TypeError):  # the blocking API's checks, before anything is sent
                await db.insert_one("not a document")
            assert await db.create_index([("k", 1)]) == "k_1"
            assert "k_1" in await db.index_information()
            await db.drop_index("k_1")
            assert (await db.delete_many({"k": "b"})).deleted_count == 3
            assert checker[name]["items"].count_documents({}) == 1
            await db.drop()
            assert checker[name]["items"].count_documents({}) == 0
            assert await pm.ping(name) > 0

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_cursors_iterate_in_order_with_async_for(loop_kind: str) -> None:
    name = unique_db("pyasync_cur")

    async def main() -> None:
        async with AsyncPolyMongo(server_uri(), max_pool_size=4) as pm:
            db = pm.model("items").db(name)
            await db.insert_many([{"_id": i} for i in range(250)])
            seen = [d["_id"] async for d in db.find({}, sort=[("_id", 1)], batch_size=50)]
            assert seen == list(range(250))
            cur = await db.find({"_id": {"$lt": 10}}, sort=[("_id", -1)])
            assert [d["_id"] for d in await cur.to_list(3)] == [9, 8, 7]
            await cur.close()
            agg = await db.aggregate([{"$match": {"_id": {"$gte": 240}}}, {"$count": "n"}]).to_list()
            assert agg == [{"n": 10}]
            async with db.find({"_id": 0}) as c:
                assert [d async for d in c] == [{"_id": 0}]

    run(loop_kind, main)


def test_many_tasks_over_many_databases_land_each_in_its_own(checker: Any) -> None:
    names = [unique_db("pyasync_many") for _ in range(20)]
    tasks_n = 200

    async def main() -> None:
        async with AsyncPolyMongo(server_uri(), max_pool_size=8) as pm:
            model = pm.model("items")
            async def task(i: int) -> None:
                db = model.db(names[i % len(names)])
                await db.insert_one({"_id": i, "db": db.name})
                assert (await db.find_one({"_id": i}))["db"] == db.name

            await asyncio.gather(*(task(i) for i in range(tasks_n)))
            assert pm.executor_stats() == {"max_threads": 16, "new_work_threads": 8, "queued": 0}

    run("asyncio", main)
    for n in names:
        docs = list(checker[n]["items"].find({}))
        assert len(docs) == tasks_n // len(names)
        assert all(d["db"] == n for d in docs)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_the_loop_is_never_blocked_while_operations_wait(loop_kind: str) -> None:
    """A pool of one connection held by an open cursor: a query waits a full second for a
    connection (then fails with Timeout, as the blocking call would). Meanwhile a ticker keeps
    ticking on time (a blocking call would have frozen the loop for that second) and no Python
    thread is started."""
    name = unique_db("pyasync_tick")

    async def main() -> None:
        async with AsyncPolyMongo(uri_with("waitQueueTimeoutMS=1000"), max_pool_size=1) as pm:
            db = pm.model("items").db(name)
            await db.insert_many([{"_id": i} for i in range(300)])
            holder = await db.find({}, batch_size=2)  # open: holds the only connection
            assert len(await holder.to_list(5)) == 5
            threads_before = threading.active_count()
            ticker = Ticker()
            tick = asyncio.ensure_future(ticker.run())
            start = time.monotonic()
            with pytest.raises(polymongo.Timeout):
                await db.find_one({"_id": 1})
            waited = time.monotonic() - start
            ticker.stop()
            await tick
            assert waited >= 0.9
            assert threading.active_count() == threads_before  # no thread per await
            assert len(ticker.lags) >= 200, len(ticker.lags)  # ticking all along
            # A loop blocked by the wait would show one lag of about the whole second. The p99
            # target (5 ms) is measured by bench/run's async section: on a loaded machine the
            # scheduler alone delays a 1 ms ticker by several ms, which says nothing about polymongo.
            assert max(ticker.lags) < 250.0, f"event loop blocked for {max(ticker.lags):.1f} ms"
            await holder.close()
            assert await db.find_one({"_id": 1}) == {"_id": 1}  # the connection came back

    run(loop_kind, main)

def test_cancelling_a_task_cancels_its_queued_operation(checker: Any) -> None:
    name = unique_db("pyasync_cancel")

    async def main() -> None:
        async with AsyncPolyMongo(server_uri(), max_pool_size=2) as pm:
            db = pm.model("items").db(name)
            await db.insert_one({"_id": "seed"})
            # Many queued inserts, cancelled at once: those not started never run.
            tasks = [asyncio.ensure_future(db.insert_one({"_id": i})) for i in range(300)]
            await asyncio.sleep(0)
            for t in tasks:
                t.cancel()
            done = await asyncio.gather(*tasks, return_exceptions=True)
            cancelled = sum(isinstance(d, asyncio.CancelledError) for d in done)
            assert cancelled >= 250, cancelled
            await asyncio.sleep(0.2)
            # The client still works, and what ran is exactly what is there.
            stored = await db.count_documents({"_id": {"$ne": "seed"}})
            assert stored < 300, "every queued insert ran despite the cancellation"
            assert checker[name]["items"].count_documents({}) == stored + 1

    run("asyncio", main)


def test_close_with_work_queued_ends_every_operation(checker: Any) -> None:
    name = unique_db("pyasync_close")

    async def main() -> None:
        pm = AsyncPolyMongo(server_uri(), max_pool_size=2)
        db = pm.model("items").db(name)
        await db.insert_one({"_id": "seed"})
        tasks = [asyncio.ensure_future(db.insert_one({"_id": i})) for i in range(200)]
        await asyncio.sleep(0)
        await pm.close()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [d for d in done if isinstance(d, BaseException)]
        assert all(isinstance(e, polymongo.PolyMongoError) for e in errors), errors[:3]
        ok = len(done) - len(errors)
        assert errors, "every insert ran before close"
        assert all("closed" in str(e) for e in errors), [str(e) for e in errors[:3]]
        assert checker[name]["items"].count_documents({}) == ok + 1
        with pytest.raises(polymongo.Closed):
            await db.insert_one({"_id": "late"})

    run("asyncio", main)


def test_export_import_copy_and_drop(tmp_path: Any, checker: Any) -> None:
    src, dst, cp, mem = (unique_db("pyasync_x") for _ in range(4))

    async def main() -> None:
        async with AsyncPolyMongo(server_uri()) as pm:
            await pm.model("items").db(src).insert_many([{"_id": i} for i in range(5)])
            path = tmp_path / "dump.ndjson"
            await pm.export_database(src, path)
            report = await pm.import_database(dst, path)
            assert report["documents"] == 5
            assert (await pm.copy_database(src, cp))["documents"] == 5
            doc = await pm.export_document(src)
            assert len(doc["collections"]["items"]["documents"]) == 5
            await pm.import_document(mem, doc)
            assert any(d["name"] == src for d in await pm.list_databases())
            for n in (dst, cp, mem):
                assert checker[n]["items"].count_documents({}) == 5
                await pm.drop_database(n)
                assert checker[n]["items"].count_documents({}) == 0
            with pytest.raises(TypeError):
                await pm.export_database(src, object())  # type: ignore[arg-type]

    run("asyncio", main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_change_stream_and_transactions(loop_kind: str) -> None:
    uri = txn_server_uri()
    name = unique_db("pyasync_tx")

    async def main() -> None:
        async with AsyncPolyMongo(uri, max_pool_size=4) as pm:
            db = pm.model("events").db(name)
            await db.insert_one({"_id": "seed"})
            stream = await db.watch([{"$match": {"operationType": "insert"}}])
            assert await stream.next(timeout=0.1) is None
            for i in range(3):
                await db.insert_one({"_id": i})
            got = []
            async with stream:
                async for event in stream:
                    got.append(event["fullDocument"]["_id"])
                    if len(got) == 3:
                        break
            assert got == [0, 1, 2]

            async with await pm.start_session(name) as s:
                in_s = db.with_session(s)
                async with s.start_transaction():
                    await in_s.insert_one({"_id": "committed"})
                with pytest.raises(RuntimeError):
                    async with s.start_transaction():
                        await in_s.insert_one({"_id": "aborted"})
                        raise RuntimeError("roll it back")

                async def body(sess: Any) -> str:
                    await in_s.insert_one({"_id": "callback"})
                    return "done"
                assert await s.with_transaction(body) == "done"
                # session= per operation, as in the blocking API, with the AsyncSession
                async with s.start_transaction():
                    await db.insert_one({"_id": "per_op"}, session=s)
                    assert await db.count_documents({"_id": "per_op"}, session=s) == 1
            assert await db.count_documents({"_id": {"$in": ["committed", "callback", "per_op"]}}) == 3
            assert await db.count_documents({"_id": "aborted"}) == 0

    run(loop_kind, main)


def test_one_client_belongs_to_one_loop() -> None:
    pm = AsyncPolyMongo(server_uri(), default_db=unique_db("pyasync_loop"))

    async def ping() -> float:
        return await pm.ping()

    assert asyncio.run(ping()) >= 0
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(ping())
    pm.sync.close()


def test_hooks_run_on_the_loop_as_coroutines_or_callables() -> None:
    a, b = unique_db("pyasync_hook_a"), unique_db("pyasync_hook_b")

    async def main() -> None:
        async with AsyncPolyMongo(server_uri()) as pm:
            loop_thread = threading.get_ident()
            seen: List[Any] = []
            plain: List[Any] = []
            got_b = asyncio.Event()

            async def on_connect(e: polymongo.Event) -> None:
                assert threading.get_ident() == loop_thread  # on the loop, not the event thread
                await asyncio.sleep(0)  # a real coroutine
                seen.append(e.db)
                if e.db == b:
                    got_b.set()

            sub = pm.on_db_connect(on_connect)
            only_a = pm.on_db_connect(lambda e: plain.append((e.db, threading.get_ident())), dbs=[a])
            m = pm.model("hooked")
            await m.db(a).insert_one({"x": 1})
            await m.db(b).insert_one({"x": 1})
            await asyncio.wait_for(got_b.wait(), 10)
            assert a in seen and b in seen
            await asyncio.sleep(0.05)
            assert plain == [(a, loop_thread)]
            sub.unsubscribe()
            only_a.unsubscribe()

    run("asyncio", main)


def _seed_typed(pm: polymongo.PolyMongo, name: str, n: int) -> None:
    """Documents of every common BSON type (several pipe-fulls of NDJSON), and an index."""
    people = pm.model("people", indexes=[{"key": {"email": 1}, "unique": True}]).db(name)
    people.insert_many([{"_id": i, "email": f"p{i}@example.com", "big": Int64(2**40 + i),
                         "ratio": i / 8, "when": WHEN, "id": uuid.UUID(int=i),
                         "bin": Binary(bytes([i % 256]) * 3, 128), "tags": ["a", {"n": i}],
                         "none": None, "ok": i % 2 == 0, "text": "héllo " * 10} for i in range(n)])


def _raw(checker: Any, name: str) -> List[bytes]:
    raw = CodecOptions(document_class=RawBSONDocument)
    coll = checker[name].get_collection("people", codec_options=raw)
    return [d.raw for d in coll.find(sort=[("_id", 1)])]


def _open_fds() -> int:
    """Pipe ends this process holds."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
        except OSError:
            pass
    return n


class AsyncWriter:
    """A file-like object whose write is a coroutine (as aiofiles' are)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.mode = "wb"

    async def write(self, b: bytes) -> int:
        await asyncio.sleep(0)
        self.data.extend(b)
        return len(b)


class AsyncReader:
    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self.data.read(n)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_export_to_and_import_from_file_objects_type_exact(loop_kind: str, checker: Any) -> None:
    src = unique_db("pyasync_fsrc")
    dsts = [unique_db("pyasync_fdst") for _ in range(5)]
    sync = polymongo.PolyMongo(server_uri())
    _seed_typed(sync, src, 1500)
    expected = _raw(checker, src)

    async def main() -> None:
        fds = _open_fds()  # (with the loop's own)
        async with AsyncPolyMongo(server_uri()) as pm:
            binary, text, lines, coro = io.BytesIO(), io.StringIO(), [], AsyncWriter()
            ticker = Ticker()
            tick = asyncio.ensure_future(ticker.run())
            await pm.export_database(src, binary)
            ticker.stop()
            await tick
            await pm.export_database(src, text)
            await pm.export_database(src, lines.append)
            await pm.export_database(src, coro)
            exported = binary.getvalue()
            assert len(exported) > 4 * 65536, "several pipe-fulls"
            # (the first line, "meta", has the time of the export)
            assert text.getvalue().splitlines()[1:] == exported.decode().splitlines()[1:]
            assert lines[1:] == exported.decode().splitlines()[1:]
            assert bytes(coro.data).splitlines()[1:] == exported.splitlines()[1:]

            reports = [await pm.import_database(dsts[0], io.BytesIO(exported), batch_size=200),
                       await pm.import_database(dsts[1], io.StringIO(text.getvalue())),
                       await pm.import_database(dsts[2], exported),
                       await pm.import_database(dsts[3], AsyncReader(bytes(coro.data))),
                       await pm.import_database(dsts[4], io.TextIOWrapper(io.BytesIO(exported),
                                                                          encoding="utf-8"))]
            for r in reports:
                assert r["ok"] is True and r["documents"] == 1500 and r["failures"] == 0, r
        assert _open_fds() == fds, "every pipe end was closed"

    run(loop_kind, main)
    for d in dsts:
        assert _raw(checker, d) == expected, f"{d}: every BSON type, byte for byte"
        names = {ix["name"]: ix.get("unique", False) for ix in checker[d]["people"].list_indexes()}
        assert names.get("email_1") is True, names
        checker.drop_database(d)
    checker.drop_database(src)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_failing_or_closed_file_objects_raise_and_lose_nothing(loop_kind: str, checker: Any) -> None:
    src, dst, again = unique_db("pyasync_bsrc"), unique_db("pyasync_bdst"), unique_db("pyasync_bag")
    sync = polymongo.PolyMongo(server_uri())
    _seed_typed(sync, src, 3000)
    expected = _raw(checker, src)
    export = io.BytesIO()
    sync.export_database(src, export)

    class FullDisk(io.RawIOBase):
        def __init__(self) -> None:
            self.n = 0

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            self.n += 1
            if self.n > 2:
                raise OSError(28, "No space left on device")
            return len(b)

    class Reset(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            if self.data.tell() > 200_000:
                raise ConnectionResetError("connection reset by peer")
            return self.data.read(min(n, 4096))

    async def main() -> None:
        fds = _open_fds()  # (with the loop's own)
        async with AsyncPolyMongo(server_uri()) as pm:
            closed = io.BytesIO()
            closed.close()
            with pytest.raises(ValueError, match="closed file"):
                await pm.export_database(src, closed)
            with pytest.raises(OSError, match="No space left") as full:
                await pm.export_database(src, FullDisk())
            assert full.value.errno == 28
            with pytest.raises(ValueError, match="closed file"):
                await pm.import_database(dst, closed)
            assert checker[dst]["people"].count_documents({}) == 0, "nothing imported"
            with pytest.raises(ConnectionResetError) as reset:
                await pm.import_database(dst, Reset(export.getvalue()), batch_size=100)
            # The import stopped at the failure (what came before was written, as with the
            # blocking form), and says so.
            report = reset.value.report  # type: ignore[attr-defined]
            assert report is not None and report["ok"] is False, report
            assert 0 < checker[dst]["people"].count_documents({}) < 3000
            with pytest.raises(TypeError):
                await pm.import_database(dst, 42)
            with pytest.raises(TypeError):
                await pm.export_database(src, 42)
            # The client goes on working: a whole import after the failures.
            r = await pm.import_database(again, io.BytesIO(export.getvalue()))
            assert r["documents"] == 3000
        assert _open_fds() == fds, "every pipe end was closed"

    run(loop_kind, main)
    assert _raw(checker, src) == expected, "the source lost nothing"
    assert _raw(checker, again) == expected
    for d in (src, dst, again):
        checker.drop_database(d)



@pytest.mark.parametrize("loop_kind", LOOPS)
def test_async_with_transaction_retries_transient_write_conflicts(loop_kind: str) -> None:
    uri = txn_server_uri()
    name = unique_db("pyasync_conflict")
    sync = polymongo.PolyMongo(uri)
    plain = sync.model("accounts").db(name)
    plain.insert_one({"_id": "hot", "n": 0})
    calls: List[int] = []
    failures: List[BaseException] = []
    s1 = sync.start_session(name)
    # Session 1 (blocking, committed by another thread) holds an uncommitted update of "hot";
    # the async transaction updates it too, meets a write conflict and runs again.
    s1.start_transaction()
    plain.with_session(s1).update_one({"_id": "hot"}, {"$inc": {"n": 1}})

    def committer() -> None:
        try:
            deadline = time.monotonic() + 10
            while not calls and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.3)
            s1.commit_transaction()
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    async def main() -> None:
        async with AsyncPolyMongo(uri, max_pool_size=4) as pm:
            db = pm.model("accounts").db(name)
            async with await pm.start_session(name) as s2:
                bound = db.with_session(s2)

                async def bump(session: Any) -> str:
                    calls.append(1)
                    await bound.update_one({"_id": "hot"}, {"$inc": {"n": 10}})
                    return "bumped"

                assert await s2.with_transaction(bump, timeout=20) == "bumped"

    t = threading.Thread(target=committer)
    t.start()
    try:
        run(loop_kind, main)
    finally:
        t.join(30)
        s1.close()
    assert failures == []
    if len(calls) == 1:
        pytest.skip("this server serialised the two transactions instead of reporting a write conflict")
    assert len(calls) >= 2, "the conflicting transaction ran again"
    with pymongo.MongoClient(uri) as other:  # independent of polymongo (the checker is on the main server)
        assert other[name]["accounts"].find_one({"_id": "hot"})["n"] == 11, "both increments, each once"
        other.drop_database(name)
