"""What a pymongo user expects: pymongo's exception classes and ``.code``, ``session=`` on every
operation, pymongo's write models in ``bulk_write``, one spelling of each option, and
``model.db(name)`` handing back the same db for a name seen before.

Outcomes are read back with an independent client (pymongo), and where pymongo itself can run
the same requests, its outcome is the reference.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any, Dict, List

import pymongo
import pymongo.errors as pe
import pytest
from conftest import txn_server_uri, unique_db, uri_with
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

import polymongo
from polymongo import PolyMongo
from polymongo._ffi import ffi, lib
from polymongo.errors import error_from

# ---- exceptions -------------------------------------------------------------------------------


def test_exceptions_are_pymongos_with_the_servers_code(pm, checker):
    name = unique_db("pyerr")
    users = pm.model("users", indexes=[{"key": {"email": 1}, "unique": True}])
    db = users.db(name)
    db.insert_one({"_id": 1, "email": "a@x"})

    # A duplicate key, caught as pymongo code catches it; .code is the server's.
    try:
        db.insert_one({"_id": 2, "email": "a@x"})
        raise AssertionError("no error")
    except pe.DuplicateKeyError as e:
        assert isinstance(e, polymongo.DuplicateKeyError) and isinstance(e, pe.WriteError)
        assert isinstance(e, pe.OperationFailure) and isinstance(e, pe.PyMongoError)
        assert e.code == 11000 == e.server_code and e.pm_code == lib.PM_EDUPKEY
        assert e.code_name == "PM_EDUPKEY"
        assert e.details is not None and e.details["code"] == 11000 and e.details["index"] == 0
        assert "errmsg" in e.details and not e.timeout

    # Many documents: pymongo's BulkWriteError, with pymongo's details; as before, also a
    # polymongo DuplicateKeyError. pymongo itself on the same requests is the reference.
    docs = [{"_id": 3, "email": "b@x"}, {"_id": 4, "email": "a@x"}, {"_id": 5, "email": "c@x"}]
    with pytest.raises(pe.BulkWriteError) as info:
        db.insert_many(docs)
    got = info.value
    assert isinstance(got, polymongo.BulkDuplicateKeyError) and isinstance(got, polymongo.DuplicateKeyError)
    ref_db = checker[unique_db("pyerr_ref")]["users"]
    ref_db.create_index("email", unique=True)
    ref_db.insert_one({"_id": 1, "email": "a@x"})
    with pytest.raises(pe.BulkWriteError) as ref:
        ref_db.insert_many(docs)
    want = ref.value.details
    for key in ("nInserted", "nUpserted", "nMatched", "nModified", "nRemoved", "upserted"):
        assert got.details[key] == want[key], key
    assert [(w["index"], w["code"]) for w in got.details["writeErrors"]] == \
        [(w["index"], w["code"]) for w in want["writeErrors"]] == [(1, 11000)]
    assert checker[name]["users"].count_documents({}) == 2  # 1 and 3: the ordered batch stopped

    # A write error that is no duplicate, on one document: pymongo's WriteError, not a bulk one.
    with pytest.raises(pe.WriteError) as info:
        db.update_one({"_id": 1}, {"$inc": {"email": 1}})
    assert not isinstance(info.value, pe.BulkWriteError)
    assert isinstance(info.value, polymongo.WriteError) and info.value.code == info.value.details["code"]

    # A command the server refuses: OperationFailure with the server's code and document.
    with pytest.raises(pe.OperationFailure) as info:
        list(db.find({"a": {"$nosuchop": 1}}))
    e = info.value
    assert isinstance(e, polymongo.ServerError) and e.code == e.server_code and e.code > 0
    assert e.details == {"ok": 0.0, "errmsg": e.message, "code": e.code}
    assert e.pm_code == lib.PM_ESERVER

    # Database names: pymongo's InvalidName; after close: pymongo's InvalidOperation.
    with pytest.raises(pe.InvalidName) as info:
        pm.model("users").db("bad.name")
    assert info.value.code is None and info.value.pm_code == lib.PM_EDBNAME
    other = PolyMongo(pm_uri())
    m = other.model("users")
    other.close()
    with pytest.raises(pe.InvalidOperation):
        m.db(name).find_one()

    # Made by hand: pm_code=, or code= (its earlier name); code is then the server's.
    made = polymongo.Closed("closed", code=lib.PM_ECLOSED)
    assert made.pm_code == lib.PM_ECLOSED and made.code is None
    assert polymongo.WriteError("w", pm_code=lib.PM_EWRITE, server_code=2).code == 2

    # Exceptions survive pickling (for multiprocessing) with their class and codes.
    copy = pickle.loads(pickle.dumps(got))
    assert type(copy) is type(got) and copy.pm_code == got.pm_code and copy.code == 11000


def test_connection_and_timeout_errors_are_pymongos(uri, checker):
    # No server: pymongo's ServerSelectionTimeoutError (so AutoReconnect, ConnectionFailure).
    with PolyMongo("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200",
                   default_db="x") as nowhere:
        with pytest.raises(pe.ServerSelectionTimeoutError) as info:
            nowhere.model("m").db().insert_one({"a": 1})
        e = info.value
        assert isinstance(e, pe.AutoReconnect) and isinstance(e, pe.ConnectionFailure)
        assert isinstance(e, polymongo.ConnectionFailure) and isinstance(e, ConnectionError)
        assert e.code is None and e.details is None and e.pm_code == lib.PM_ECONNECT

    # A pool checkout that times out: pymongo's NetworkTimeout and WaitQueueTimeoutError.
    with PolyMongo(uri_with("waitQueueTimeoutMS=300"), max_pool_size=1) as pm:
        name = unique_db("pytimeout")
        db = pm.model("items").db(name)
        db.insert_many([{"i": i} for i in range(3)])
        held = db.find({}, batch_size=1)
        next(held)  # holds the only connection
        with pytest.raises(pe.WaitQueueTimeoutError) as tinfo:
            db.insert_one({"i": 99})
        t = tinfo.value
        assert isinstance(t, pe.NetworkTimeout) and isinstance(t, pe.ConnectionFailure)
        assert isinstance(t, polymongo.Timeout) and isinstance(t, TimeoutError)
        assert t.timeout and t.code is None and t.pm_code == lib.PM_ETIMEOUT
        held.close()
    assert checker[name]["items"].count_documents({}) == 3, "the timed-out insert wrote nothing"

    # A server time limit (maxTimeMS: codes 50 and 262) is pymongo's ExecutionTimeout, an
    # OperationFailure and not a ConnectionFailure (the classifier, on the error as C fills it).
    for server_code in (50, 262):
        err = ffi.new("pm_error *", {"code": lib.PM_ETIMEOUT, "server_code": server_code})
        x = error_from(lib.PM_ETIMEOUT, err)
        assert type(x) is polymongo.ExecutionTimeout and isinstance(x, pe.ExecutionTimeout)
        assert isinstance(x, pe.OperationFailure) and not isinstance(x, pe.ConnectionFailure)
        assert isinstance(x, polymongo.Timeout) and x.timeout and x.code == server_code


def pm_uri() -> str:
    from conftest import server_uri

    return server_uri()


# ---- session= ---------------------------------------------------------------------------------


def test_session_keyword_runs_each_operation_in_the_session(pm, checker):
    # FerretDB has sessions (not transactions): every operation given session= runs, in the
    # right database, on the session's connection (its cursors close with the session).
    a, b = unique_db("sess_a"), unique_db("sess_b")
    items = pm.model("items")
    da, db = items.db(a), items.db(b)
    with pm.start_session(a) as s:
        da.insert_one({"_id": 1, "n": 1}, session=s)
        db.insert_many([{"_id": 1, "n": 10}, {"_id": 2, "n": 20}], session=s)
        da.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=s)
        db.update_many({}, {"$inc": {"n": 1}}, session=s)
        da.replace_one({"_id": 2}, {"n": 5}, upsert=True, session=s)
        db.delete_one({"_id": 2}, session=s)
        da.bulk_write([InsertOne({"_id": 3, "n": 3}), DeleteMany({"n": 5})], session=s)
        assert da.find_one({"_id": 1}, session=s) == {"_id": 1, "n": 2}
        assert [d["_id"] for d in da.find({}, sort=[("_id", 1)], session=s)] == [1, 3]
        assert da.count_documents({}, session=s) == 2 and db.estimated_document_count(session=s) == 1
        assert sorted(da.distinct("n", session=s)) == [2, 3]
        assert list(db.aggregate([{"$match": {"_id": 1}}], session=s)) == [{"_id": 1, "n": 11}]
        assert da.find_one_and_update({"_id": 3}, {"$set": {"n": 4}}, session=s) == {"_id": 3, "n": 3}
        assert da.find_one_and_replace({"_id": 3}, {"n": 5}, session=s) == {"_id": 3, "n": 4}
        assert da.find_one_and_delete({"_id": 3}, session=s) == {"_id": 3, "n": 5}
        assert da.command("ping", session=s)["ok"] == 1
        assert "n_1" == da.create_index("n", session=s)
        assert "n_1" in da.index_information(session=s)
        da.drop_index("n_1", session=s)
        open_cursor = da.find({}, batch_size=1, session=s)
        # The same db and session run on one binding, made once (no handle per call).
        assert s._bound[da] is s._bound[da] and len(s._bound) == 2
        # The earlier form stays: a db bound with with_session, session= equal to its own.
        bound = items.db(a).with_session(s)
        bound.insert_one({"_id": 9}, session=s)
        # Wrong sessions are refused before anything is sent.
        with pytest.raises(TypeError, match="polymongo Session"):
            da.insert_one({"_id": 99}, session=pymongo.MongoClient(pm_uri()).start_session())
        with pm.start_session(a) as other:
            with pytest.raises(polymongo.InvalidArgument, match="another session"):
                bound.insert_one({"_id": 98}, session=other)
    with pytest.raises(polymongo.Closed):
        next(open_cursor)  # closed with its session
    with pytest.raises(polymongo.Closed):
        da.insert_one({"_id": 97}, session=s)
    da.insert_one({"_id": 96})  # the db itself is not bound to anything
    assert {d["_id"]: d.get("n") for d in checker[a]["items"].find()} == {1: 2, 9: None, 96: None}
    assert {d["_id"]: d["n"] for d in checker[b]["items"].find()} == {1: 11}


def test_session_keyword_inside_a_transaction(txn_checker):
    # On the replica set: writes given session= are the transaction's (invisible outside until
    # commit, gone on abort), in with_transaction's callback too.
    with PolyMongo(txn_server_uri(), max_pool_size=4) as pm:
        a, b = unique_db("stx_a"), unique_db("stx_b")
        acc = pm.model("accounts")
        da, db = acc.db(a), acc.db(b)
        for d in (da, db):
            d.insert_one({"_id": "seed"})

        def outside(name: str) -> int:
            return txn_checker[name]["accounts"].count_documents({"_id": {"$ne": "seed"}})

        with pm.start_session(a) as s:
            with s.start_transaction():
                da.insert_one({"amount": -10}, session=s)
                db.bulk_write([InsertOne({"amount": 10})], session=s)
                assert da.count_documents({"amount": -10}, session=s) == 1
                assert da.count_documents({"amount": -10}) == 0  # no session: outside it
                assert outside(a) == 0 and outside(b) == 0
            assert outside(a) == 1 and outside(b) == 1

            s.start_transaction()
            da.update_many({}, {"$set": {"x": 1}}, session=s)
            db.delete_many({"amount": 10}, session=s)
            s.abort_transaction()
            assert txn_checker[a]["accounts"].count_documents({"x": 1}) == 0 and outside(b) == 1

            def transfer(session: polymongo.Session) -> str:
                da.insert_one({"amount": -1}, session=session)
                db.insert_one({"amount": 1}, session=session)
                return "done"

            assert s.with_transaction(transfer) == "done"
        assert outside(a) == 2 and outside(b) == 2


# ---- bulk_write with pymongo's write models ---------------------------------------------------


def _requests() -> List[Any]:
    return [
        InsertOne({"_id": 1, "k": "a", "n": 1}),
        InsertOne({"_id": 2, "k": "b", "n": 2}),
        InsertOne({"_id": 3, "k": "b", "n": 3}),
        # The upsert first among the updates: libmongoc 1.23 numbers a batch's upserts from the
        # first operation of its command, whatever the server says.
        UpdateOne({"_id": 7}, {"$set": {"k": "up"}}, upsert=True),
        UpdateOne({"_id": 1}, {"$set": {"n": 10}}),
        UpdateMany({"k": "b"}, {"$inc": {"n": 100}}, hint=[("_id", 1)]),
        ReplaceOne({"_id": 2}, {"k": "replaced"}),
        DeleteOne({"_id": 3}),
        polymongo.InsertOne({"_id": 4, "k": "own"}),           # polymongo's own classes mix in
        {"insert_one": {"document": {"_id": 5, "k": "dict"}}},  # and plain dicts
        DeleteMany({"k": "dict"}),
    ]


def _rows(coll: Any) -> List[Dict[str, Any]]:
    return list(coll.find({}, sort=[("_id", 1)]))


def test_bulk_write_takes_pymongos_write_models(pm, checker):
    name, ref_name = unique_db("pybulk"), unique_db("pybulk_ref")
    db = pm.model("items").db(name)
    r = db.bulk_write(_requests())
    # pymongo itself (with its own classes in place of polymongo's) is the reference.
    ref_requests = [InsertOne({"_id": 4, "k": "own"}) if isinstance(x, polymongo.InsertOne) else
                    InsertOne({"_id": 5, "k": "dict"}) if isinstance(x, dict) else x for x in _requests()]
    ref = checker[ref_name]["items"].bulk_write(ref_requests)
    assert (r.inserted_count, r.matched_count, r.modified_count, r.deleted_count, r.upserted_count) == \
        (ref.inserted_count, ref.matched_count, ref.modified_count, ref.deleted_count, ref.upserted_count)
    assert r.upserted_ids == ref.upserted_ids == {3: 7}
    assert _rows(checker[name]["items"]) == _rows(checker[ref_name]["items"])

    # A namespace (MongoClient.bulk_write's) is refused, and nothing of the batch is written.
    with pytest.raises(TypeError, match="namespace"):
        db.bulk_write([InsertOne({"_id": 50}), InsertOne({"_id": 51}, namespace="x.y")])
    assert checker[name]["items"].count_documents({"_id": {"$in": [50, 51]}}) == 0


# ---- one spelling of each option --------------------------------------------------------------


def test_ttl_ms_is_the_one_spelling_and_ttl_still_works_with_a_warning(uri):
    names = [unique_db(f"ttl{i}") for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the one spelling warns nowhere
        pm = PolyMongo(uri, default_db=names[0],
                       db_specific=[{"db_name": names[0], "options": {"auto_close": True, "ttl_ms": 60000}}])
    with pm:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pm.set_db(names[1], auto_close=True, ttl_ms=60000)
            pm.connect_db(names[2], auto_close=True, ttl_ms=60000)
        with pytest.warns(DeprecationWarning, match="'ttl' is spelt 'ttl_ms'") as caught:
            pm.set_db(names[3], auto_close=True, ttl=60000)
        assert caught[0].filename == __file__, "the warning points at the caller's line"
        with pytest.raises(TypeError, match="ttl_ms only"):
            pm.set_db(names[3], ttl_ms=1, ttl=1)
        for n in names:
            assert pm.explain_route(n)["reason"] == "exact", n
    with pytest.warns(DeprecationWarning):
        old = PolyMongo(uri, db_specific=[{"db_name": names[0], "options": {"auto_close": True, "ttl": 60000}}])
    with old:
        assert old.explain_route(names[0])["reason"] == "exact"
    # The TTL given either way reaches C: a short one closes the dedicated pool.
    with PolyMongo(uri) as pm:
        pm.set_db(names[1], auto_close=True, ttl_ms=100)
        pm.model("items").db(names[1]).insert_one({"a": 1})
        assert _wait(lambda: pm.open_pools == 1), "the dedicated pool closed after its ttl_ms"


def _wait(cond: Any, seconds: float = 10.0) -> bool:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


# ---- model.db(name) for a name seen before ----------------------------------------------------


def test_model_db_returns_the_same_db_for_a_name_seen_before(pm, checker, monkeypatch):
    users = pm.model("users")
    a = unique_db("cache_a")
    first = users.db(a)
    assert users.db(a) is first and users[a] is first
    assert users.db(unique_db("cache_b")) is not first
    assert users.db() is users.db() and users.db().name == pm.default_db
    # Bad names are never cached: they fail every time, and other types say what they are.
    for _ in range(2):
        with pytest.raises(polymongo.InvalidDatabaseName):
            users.db("bad.name")
        for wrong in (42, b"bytes", ["list"]):
            with pytest.raises(TypeError, match="database name must be a str"):
                users.db(wrong)  # type: ignore[arg-type]
    # Each model has its own dbs; the same name in another model is another collection.
    orders = pm.model("orders")
    assert orders.db(a) is not first and orders.db(a).collection_name == "orders"
    first.insert_one({"_id": 1})
    orders.db(a).insert_one({"_id": 2})
    assert checker[a]["users"].count_documents({}) == 1 and checker[a]["orders"].count_documents({}) == 1

    # Bounded: two generations of DB_CACHE_GENERATION names; a name in the old one moves back.
    monkeypatch.setattr(polymongo.Model, "DB_CACHE_GENERATION", 4)
    m = pm.model("churn")
    kept = m.db("churn_0")
    for i in range(1, 6):
        m.db(f"churn_{i}")
    assert len(m._dbs) + len(m._dbs_old) <= 8
    assert m.db("churn_0") is kept  # in the old generation: found, and young again
    for i in range(6, 30):
        m.db(f"churn_{i}")
    assert len(m._dbs) <= 4 and len(m._dbs_old) <= 4
    assert m.db("churn_0") is not kept and m.db("churn_0").name == "churn_0"

    # After close the cached path raises Closed, as the C call does for a new name.
    pm.close()
    with pytest.raises(polymongo.Closed):
        users.db(a)
    with pytest.raises(polymongo.Closed):
        first.find_one()
