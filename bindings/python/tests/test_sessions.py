"""Sessions and transactions (session.h).

FerretDB (the main test server) refuses transactions: that refusal, session arguments, binding
rules, threads and compensating transactions are tested on it. Native transactions run on the
SecantusDB replica set of the CTest fixture (or PM_TEST_TXN_URI); without it those tests report
SKIPPED. Every outcome is read back with an independent client (pymongo).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, List

import pymongo
import pytest
from conftest import second_server_uri, txn_server_uri, unique_db

import polymongo
from polymongo import (
    Closed,
    DuplicateKeyError,
    InvalidArgument,
    InvalidDatabaseName,
    NotSupported,
    PolyMongo,
    Session,
)
from polymongo._ffi import lib

NOT_SEED = {"_id": {"$ne": "seed"}}


# ---- on FerretDB ------------------------------------------------------------------------------


def test_ferretdb_refuses_transactions_with_not_supported_before_any_write(pm, checker):
    name = unique_db("notxn")
    accounts = pm.model("accounts")
    with pm.start_session(name) as s:
        assert isinstance(s, Session) and not s.compensating and s.database == name
        bound = accounts.db(name).with_session(s)
        with pytest.raises(NotSupported) as info:
            s.start_transaction()
        e = info.value
        assert e.pm_code == lib.PM_ENOTSUP and e.code_name == "PM_ENOTSUP"
        assert "compensating" in e.message
        assert not s.in_transaction
        calls: List[int] = []

        def transfer(session: Session) -> None:
            calls.append(1)
            bound.insert_one({"amount": 1})

        with pytest.raises(NotSupported):
            s.with_transaction(transfer)
        assert calls == [], "the callback never ran"
        with pytest.raises(NotSupported):
            with s.start_transaction(write_concern={"w": "majority"}):
                bound.insert_one({"never": True})  # not reached
        assert checker[name]["accounts"].count_documents({}) == 0, "nothing was written"
        # Outside a transaction the session itself works here: operations run in it.
        bound.insert_one({"in_session": True})
        assert [d["in_session"] for d in bound.find({})] == [True]
    assert checker[name]["accounts"].count_documents({"in_session": True}) == 1


def test_bound_db_of_another_pool_raises_invalid_argument(uri, checker):
    home, other = unique_db("sess_home"), unique_db("sess_other")
    with PolyMongo(uri, default_db=home) as pm:
        pm.set_db(other)  # `other` gets a dedicated pool: not the session's
        accounts = pm.model("accounts")
        with pm.start_session() as s:  # the default database's pool
            assert s.database == home
            elsewhere = accounts.db(other).with_session(s)  # binding does no I/O
            assert elsewhere.session is s and "in a session" in repr(elsewhere)
            with pytest.raises(InvalidArgument) as info:
                elsewhere.insert_one({"x": 1})
            assert info.value.pm_code == lib.PM_EINVAL and "another pool" in info.value.message
            with pytest.raises(InvalidArgument):
                elsewhere.find_one({})
            # The same model in the session's own database works.
            accounts.db(home).with_session(s).insert_one({"x": 1})
            accounts.db(other).insert_one({"y": 1})  # and `other` outside the session
    assert checker[other]["accounts"].count_documents({"x": 1}) == 0
    assert checker[other]["accounts"].count_documents({"y": 1}) == 1
    assert checker[home]["accounts"].count_documents({"x": 1}) == 1


def test_session_arguments_closing_and_use_after_close(uri, checker):
    name = unique_db("sess_args")
    pm = PolyMongo(uri, max_pool_size=2)
    accounts = pm.model("accounts")
    # No default database: a session needs a name (as model.db() does).
    assert pm.default_db is None
    with pytest.raises(InvalidDatabaseName) as info:
        pm.start_session()
    assert info.value.pm_code == lib.PM_EDBNAME
    with pytest.raises(InvalidDatabaseName):
        pm.start_session("bad/name")
    with pytest.raises(TypeError):
        pm.start_session(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        pm.start_session(name, read_preference="sideways")
    with pytest.raises(InvalidArgument):
        pm.start_session(name, colour=1)
    with pytest.raises(TypeError):
        pm.start_session(name, write_concern=object())

    s = pm.start_session(name, causal_consistency=True, read_concern="majority",
                         write_concern=pymongo.WriteConcern(w=1),
                         read_preference=pymongo.ReadPreference.PRIMARY, max_commit_time_ms=5000)
    plain = accounts.db(name)
    with pytest.raises(TypeError):
        plain.with_session("not a session")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.with_transaction("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        s.with_transaction(lambda _s: None, timeout=0)
    bound = plain.with_session(s)
    bound.insert_many([{"i": i} for i in range(3)])
    cursor = bound.find({}, sort=[("i", 1)], batch_size=1)
    assert next(cursor)["i"] == 0
    # Closing the session closes what was bound to it; the plain db is unaffected.
    s.close()
    s.close()  # idempotent
    assert s.closed and not s.in_transaction and "closed" in repr(s)
    for call in (lambda: bound.insert_one({}), lambda: next(cursor), lambda: s.start_transaction(),
                 lambda: s.commit_transaction(), lambda: plain.with_session(s)):
        with pytest.raises(Closed) as closed:
            call()
        assert closed.value.pm_code == lib.PM_ECLOSED
    assert plain.count_documents() == 3
    # Closing the PolyMongo closes its sessions and their dbs.
    s2 = pm.start_session(name)
    bound2 = plain.with_session(s2)
    pm.close()
    assert s2.closed
    with pytest.raises(Closed):
        bound2.find_one({})
    with pytest.raises(Closed):
        pm.start_session(name)
    assert checker[name]["accounts"].count_documents({}) == 3


def test_session_shared_by_threads_is_serialised(pm, checker):
    name = unique_db("sess_threads")
    with pm.start_session(name) as s:
        bound = pm.model("items").db(name).with_session(s)
        bound.insert_many([{"seed": i} for i in range(20)])
        errors: List[BaseException] = []
        seen: List[int] = []

        def work(t: int) -> None:
            try:
                for i in range(10):
                    bound.insert_one({"t": t, "i": i})
                with bound.find({"seed": {"$exists": True}}, batch_size=3) as c:
                    seen.append(sum(1 for _ in c))
                assert bound.count_documents({"t": t}) == 10
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert seen == [20] * 6
    coll = checker[name]["items"]
    assert coll.count_documents({"t": {"$exists": True}}) == 60
    for t in range(6):
        assert sorted(d["i"] for d in coll.find({"t": t})) == list(range(10))


def test_compensating_transaction_undoes_writes_across_clusters(uri, checker):
    home, away = unique_db("comp_home"), unique_db("comp_away")
    away_uri = second_server_uri()
    with PolyMongo(uri, db_specific=[{"db_name": away, "mongo_uri": away_uri}]) as pm, \
            pymongo.MongoClient(away_uri, serverSelectionTimeoutMS=5000) as away_checker:
        accounts = pm.model("accounts")
        accounts.db(home).insert_one({"_id": "k", "n": 1})
        with pm.start_compensating(journal=True) as s:
            assert s.compensating and s.rollback_report() is None
            h, a = accounts.db(home).with_session(s), accounts.db(away).with_session(s)

            def transfer(session: Session) -> None:
                h.insert_one({"_id": "new"})
                h.update_one({"_id": "k"}, {"$set": {"n": 99}})
                a.insert_one({"amount": 10})
                # No isolation: others see the writes before the end.
                assert checker[home]["accounts"].find_one({"_id": "k"})["n"] == 99
                raise RuntimeError("undo it")

            with pytest.raises(RuntimeError, match="undo it"):
                s.with_transaction(transfer)
            assert list(checker[home]["accounts"].find()) == [{"_id": "k", "n": 1}]
            assert away_checker[away]["accounts"].count_documents({}) == 0
            report = s.rollback_report()
            assert report is not None and report["failedSteps"] == 0
            assert [st["seq"] for st in report["steps"]] == [3, 2, 1], "newest first"
            assert all(st["ok"] for st in report["steps"])
            # Committed: the writes stay. The explicit form, as a context manager.
            with s.start_transaction():
                assert s.in_transaction
                a.insert_one({"amount": 5})
            assert not s.in_transaction
            # The explicit abort undoes too.
            s.start_transaction()
            h.delete_one({"_id": "k"})
            s.abort_transaction()
        assert away_checker[away]["accounts"].count_documents({"amount": 5}) == 1
        assert checker[home]["accounts"].count_documents({"_id": "k", "n": 1}) == 1
        assert pm.recover() == {"recovered": []}, "nothing left open in the journals"
        with pm.start_session(home) as native:
            with pytest.raises(InvalidArgument):
                native.rollback_report()


# ---- on a server with transactions (SecantusDB replica set) ------------------------------------


class TxnEnv:
    def __init__(self, pm: PolyMongo, checker: pymongo.MongoClient) -> None:
        self.pm = pm
        self.checker = checker
        self.a, self.b = unique_db("txn_a"), unique_db("txn_b")
        self.accounts = pm.model("accounts")
        # Collections exist before the transactions (older servers cannot create them in one).
        for db in (self.a, self.b):
            self.accounts.db(db).insert_one({"_id": "seed"})

    def bound(self, s: Session, db: str) -> polymongo.Db:
        return self.accounts.db(db).with_session(s)

    def count(self, db: str) -> int:
        return self.checker[db]["accounts"].count_documents(NOT_SEED)


@pytest.fixture
def txn(txn_checker) -> Iterator[TxnEnv]:
    with PolyMongo(txn_server_uri(), max_pool_size=6) as pm:
        yield TxnEnv(pm, txn_checker)


def test_commit_across_two_databases_is_visible_only_after_commit(txn):
    with txn.pm.start_session(txn.a) as s:
        da, db = txn.bound(s, txn.a), txn.bound(s, txn.b)
        tx = s.start_transaction(write_concern={"w": "majority"}, read_concern="snapshot")
        assert s.in_transaction and isinstance(tx, polymongo.Transaction)
        da.insert_one({"amount": -10})
        db.insert_one({"amount": 10})
        # Inside the transaction its writes are visible; outside, not yet.
        assert da.count_documents(NOT_SEED) == 1 and db.count_documents(NOT_SEED) == 1
        assert txn.count(txn.a) == 0 and txn.count(txn.b) == 0
        assert txn.accounts.db(txn.b).count_documents(NOT_SEED) == 0  # polymongo, no session
        s.commit_transaction()
        assert not s.in_transaction
        assert txn.count(txn.a) == 1 and txn.count(txn.b) == 1
        # The context-manager form commits at the end of the block.
        with s.start_transaction() as same:
            assert same is s
            da.insert_one({"amount": 1})
            assert txn.count(txn.a) == 1
        assert txn.count(txn.a) == 2


def test_abort_leaves_nothing(txn):
    with txn.pm.start_session(txn.a) as s:
        da, db = txn.bound(s, txn.a), txn.bound(s, txn.b)
        s.start_transaction()
        da.insert_one({"x": 1})
        db.insert_many([{"x": 2}, {"x": 3}])
        s.abort_transaction()
        assert txn.count(txn.a) == 0 and txn.count(txn.b) == 0
        # An exception in a `with start_transaction()` block aborts, and propagates.
        with pytest.raises(KeyError):
            with s.start_transaction():
                da.insert_one({"x": 4})
                raise KeyError("stop")
        assert not s.in_transaction and txn.count(txn.a) == 0
        # Closing the session with a transaction open aborts it too.
        s.start_transaction()
        da.insert_one({"x": 5})
        db.insert_one({"x": 5})
    assert s.closed
    assert txn.count(txn.a) == 0 and txn.count(txn.b) == 0


def test_with_transaction_commits_and_returns_the_callbacks_value(txn):
    caller = threading.get_ident()
    with txn.pm.start_session(txn.a, max_commit_time_ms=5000) as s:
        da, db = txn.bound(s, txn.a), txn.bound(s, txn.b)

        def transfer(session: Session) -> Any:
            assert session is s and session.in_transaction
            assert threading.get_ident() == caller, "the callback runs on the calling thread"
            r = da.insert_one({"amount": -5})
            db.insert_one({"amount": 5})
            with da.find(NOT_SEED) as c:  # reads in the transaction see its writes
                assert [d["amount"] for d in c] == [-5]
            assert txn.count(txn.a) == 0
            return r.inserted_id

        inserted = s.with_transaction(transfer, timeout=20, write_concern="majority")
        assert not s.in_transaction
        assert txn.checker[txn.a]["accounts"].find_one({"_id": inserted})["amount"] == -5
        assert txn.count(txn.a) == 1 and txn.count(txn.b) == 1


def test_with_transaction_exception_in_callback_aborts_and_propagates(txn):
    with txn.pm.start_session(txn.a) as s:
        da, db = txn.bound(s, txn.a), txn.bound(s, txn.b)
        raised = ValueError("the callback gives up")
        calls: List[int] = []

        def give_up(session: Session) -> None:
            calls.append(1)
            da.insert_one({"amount": -5})
            db.insert_one({"amount": 5})
            raise raised

        with pytest.raises(ValueError) as info:
            s.with_transaction(give_up)
        assert info.value is raised and calls == [1]
        assert not s.in_transaction
        assert txn.count(txn.a) == 0 and txn.count(txn.b) == 0
        # A failed operation propagates as its own exception, after aborting earlier writes.
        da.insert_one({"_id": "taken"})

        def duplicate(session: Session) -> None:
            db.insert_one({"amount": 1})
            da.insert_one({"_id": "taken"})

        with pytest.raises(DuplicateKeyError) as dup:
            s.with_transaction(duplicate)
        assert dup.value.pm_code == lib.PM_EDUPKEY and dup.value.server_code == 11000
        assert txn.count(txn.b) == 0
        assert txn.checker[txn.a]["accounts"].count_documents({"_id": "taken"}) == 1
        # The session is usable afterwards.
        assert s.with_transaction(lambda _s: db.insert_one({"amount": 2}) and "ok") == "ok"
        assert txn.count(txn.b) == 1


def test_with_transaction_retries_transient_write_conflicts(txn):
    plain = txn.accounts.db(txn.a)
    plain.insert_one({"_id": "hot", "n": 0})
    with txn.pm.start_session(txn.a) as s1, txn.pm.start_session(txn.a) as s2:
        d1, d2 = txn.bound(s1, txn.a), txn.bound(s2, txn.a)
        s1.start_transaction()
        d1.update_one({"_id": "hot"}, {"$inc": {"n": 1}})  # uncommitted: holds the document
        calls: List[int] = []
        failures: List[BaseException] = []

        def committer() -> None:
            try:
                deadline = time.monotonic() + 10
                while not calls and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.3)
                s1.commit_transaction()
            except BaseException as e:  # noqa: BLE001 - reported below
                failures.append(e)

        def bump(session: Session) -> None:
            calls.append(1)
            d2.update_one({"_id": "hot"}, {"$inc": {"n": 10}})

        t = threading.Thread(target=committer)
        t.start()
        try:
            s2.with_transaction(bump, timeout=20)
        finally:
            t.join(30)
        assert failures == []
        if len(calls) == 1:
            pytest.skip("this server serialised the two transactions instead of reporting a "
                        "write conflict")
        assert len(calls) >= 2, "the conflicting transaction ran again"
    assert txn.checker[txn.a]["accounts"].find_one({"_id": "hot"})["n"] == 11, \
        "both increments, each once"


def test_transaction_options_are_checked(txn):
    with txn.pm.start_session(txn.a) as s:
        da = txn.bound(s, txn.a)
        with pytest.raises(InvalidArgument):
            s.start_transaction(read_preference="sideways")
        with pytest.raises(InvalidArgument):
            s.start_transaction(colour=1)
        with pytest.raises(TypeError):
            s.start_transaction(read_concern=5)
        with pytest.raises(TypeError):
            s.start_transaction(max_commit_time_ms="soon")
        assert not s.in_transaction
        # pymongo's option objects are accepted.
        with s.start_transaction(read_concern=pymongo.read_concern.ReadConcern("snapshot"),
                                 write_concern=pymongo.WriteConcern(w="majority"),
                                 read_preference=pymongo.ReadPreference.PRIMARY,
                                 max_commit_time_ms=5000):
            da.insert_one({"opts": True})
        assert txn.count(txn.a) == 1
        # Aborting with no transaction open is an error, not a crash.
        with pytest.raises(polymongo.PolyMongoError) as info:
            s.abort_transaction()
        assert info.value.pm_code < 0
