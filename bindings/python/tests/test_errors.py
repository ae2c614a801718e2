"""Errors: database names, argument types, the code -> exception mapping, use after close."""

from __future__ import annotations

import time

import pytest
from conftest import unique_db, uri_with

import polymongo
from polymongo import (
    Closed,
    ConnectionFailure,
    InvalidArgument,
    InvalidDatabaseName,
    NotSupported,
    PolyMongo,
    PolyMongoError,
    ServerError,
    Timeout,
)
from polymongo._ffi import lib


def test_invalid_database_names_raise_value_error(pm, checker):
    users = pm.model("users")
    bad = ["has space", "dot.ted", "sl/ash", 'quo"te', "dollar$", "x" * 64, "back\\slash",
           "admin", "config", "local", "nul\0byte"]
    for name in bad:
        with pytest.raises(InvalidDatabaseName) as info:
            users.db(name)
        e = info.value
        assert isinstance(e, ValueError) and isinstance(e, InvalidArgument)
        assert e.pm_code == lib.PM_EDBNAME and e.code_name == "PM_EDBNAME"
        assert e.message, name
        with pytest.raises(ValueError):
            pm.check_db_name(name)
    with pytest.raises(TypeError):
        users.db(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        users.db(b"bytes")  # type: ignore[arg-type]
    # Good names work, the empty name and None mean the default database.
    good = unique_db("Good-name_1")
    pm.check_db_name(good)
    users.db(good).insert_one({"ok": True})
    assert checker[good]["users"].count_documents({}) == 1
    assert users.db().name == pm.default_db == users.db("").name
    # System databases only when allowed.
    with PolyMongo(pm_uri(), allow_system_databases=True) as sysok:
        assert sysok.model("x").db("admin").name == "admin"


def test_no_default_database_means_none_and_db_name_errors(uri, checker):
    # Without default_db and without a database in the URI there is no default database:
    # every call that would use it raises InvalidDatabaseName (PM_EDBNAME), nothing is written.
    with PolyMongo(uri) as pm:
        assert pm.default_db is None
        users = pm.model("users")
        for call in (lambda: users.db(), lambda: users.db(""), lambda: users[""],
                     lambda: pm.ping(), lambda: pm.db_stats(), lambda: pm.start_session(),
                     lambda: pm.start_session("")):
            with pytest.raises(InvalidDatabaseName) as info:
                call()
            assert info.value.pm_code == lib.PM_EDBNAME and "default" in info.value.message
        named = unique_db("named")
        users.db(named).insert_one({"ok": 1})  # a named database works as always
    assert checker[named]["users"].count_documents({"ok": 1}) == 1
    with PolyMongo(uri, default_db=named) as pm:
        assert pm.default_db == named and pm.model("users").db().name == named
        assert pm.model("users").db().count_documents({"ok": 1}) == 1


def pm_uri() -> str:
    from conftest import server_uri

    return server_uri()


def test_wrong_argument_types_raise_type_error_and_write_nothing(pm, checker):
    db = pm.model("items").db(unique_db("types"))
    with pytest.raises(TypeError):
        db.insert_one(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.insert_one(["not", "a", "document"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.insert_many({"a": 1})  # type: ignore[arg-type]  # one document, not a list
    with pytest.raises(TypeError):
        db.insert_many([{"a": 1}, "b"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        db.find("a string filter")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.find({}, sort=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.update_one({}, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.aggregate("$match")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.bulk_write([42])
    with pytest.raises(TypeError):
        db.distinct(1)  # type: ignore[arg-type]
    with pytest.raises((TypeError, InvalidArgument)):
        db.insert_one({"unencodable": object()})
    with pytest.raises(InvalidArgument):
        db.insert_one({1: "non-str key"})
    with pytest.raises(InvalidArgument):
        db.insert_one(b"\x10\x00\x00\x00garbage!")  # BSON bytes that are not BSON
    with pytest.raises(TypeError):
        pm.model(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pm.model("x", validator="not a document")  # type: ignore[arg-type]
    # Wrapper options: Python type errors, and the C library's checks naming the option.
    with pytest.raises(TypeError):
        PolyMongo(12345)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument) as info:
        PolyMongo(pm_uri(), max_pool_size="ten")  # type: ignore[arg-type]
    assert "maxPoolSize" in str(info.value)
    with pytest.raises(InvalidArgument) as info:
        PolyMongo(pm_uri(), max_pool_size=0)
    assert "maxPoolSize" in str(info.value)
    with pytest.raises(InvalidArgument) as info:
        PolyMongo(pm_uri(), no_such_option=1)
    assert "noSuchOption" in str(info.value)
    with pytest.raises(InvalidArgument):
        PolyMongo()  # mongoURI is required
    with pytest.raises(InvalidArgument):
        PolyMongo("http://not-mongodb")
    assert db.name not in checker.list_database_names() or \
        checker[db.name]["items"].count_documents({}) == 0


def test_error_codes_map_to_exception_classes(pm):
    classes = {
        lib.PM_EINVAL: InvalidArgument, lib.PM_EDBNAME: InvalidDatabaseName,
        lib.PM_ECONNECT: ConnectionFailure, lib.PM_ETIMEOUT: polymongo.NetworkTimeout,
        lib.PM_EAUTH: polymongo.AuthenticationError, lib.PM_EDUPKEY: polymongo.DuplicateKeyError,
        lib.PM_ESERVER: ServerError, lib.PM_ECLOSED: Closed, lib.PM_ENOTSUP: NotSupported,
        lib.PM_EINTERNAL: polymongo.InternalError, lib.PM_EWRITE: polymongo.WriteError,
        lib.PM_ETHROTTLED: polymongo.Throttled,
    }
    for code, cls in classes.items():
        err = polymongo._ffi.ffi.new("pm_error *", {"code": code, "server_code": 7})
        exc = polymongo.errors.error_from(code, err)
        assert type(exc) is cls and exc.pm_code == code and exc.server_code == 7 == exc.code
        assert isinstance(exc, PolyMongoError)
    assert issubclass(Timeout, TimeoutError) and issubclass(ConnectionFailure, ConnectionError)

    db = pm.model("items").db(unique_db("errs"))
    db.insert_one({"a": 1})
    # The server refuses an unknown operator: ServerError with the server's code.
    with pytest.raises(ServerError) as info:
        list(db.find({"a": {"$nosuchop": 1}}))
    assert info.value.server_code != 0 and info.value.pm_code == lib.PM_ESERVER

    # No server at all: ConnectionFailure in bounded time.
    with PolyMongo("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
                   default_db="x") as nowhere:
        start = time.monotonic()
        with pytest.raises(ConnectionFailure) as info:
            nowhere.model("m").db().insert_one({"a": 1})
        assert info.value.pm_code == lib.PM_ECONNECT
        assert time.monotonic() - start < 5
        with pytest.raises(ConnectionFailure):
            nowhere.ping()


def test_use_after_close_raises_closed(uri):
    pm = PolyMongo(uri, max_pool_size=2)
    model = pm.model("items")
    db = model.db(unique_db("closed"))
    db.insert_many([{"i": i} for i in range(5)])
    cursor = db.find({}, batch_size=1)
    assert next(cursor)["i"] == 0
    pm.close()
    assert pm.closed
    pm.close()  # idempotent
    for call in (lambda: pm.model("x"), lambda: model.db("y"), lambda: db.insert_one({}),
                 lambda: db.find_one(), lambda: next(cursor), lambda: db.count_documents(),
                 lambda: pm.default_db, lambda: pm.ping()):
        with pytest.raises(Closed) as info:
            call()
        assert info.value.pm_code == lib.PM_ECLOSED
    assert db.name.startswith("closed"), "names are fixed at bind time and stay readable"
    cursor.close()  # closing a closed handle is fine
    assert "closed" in repr(pm) and "closed" in repr(db) and "closed" in repr(cursor)

    # The context manager closes too; a cursor closed on its own raises Closed as well.
    with PolyMongo(uri) as pm2:
        d2 = pm2.model("items").db(unique_db("closed"))
        d2.insert_one({"x": 1})
        c2 = d2.find()
        c2.close()
        with pytest.raises(Closed):
            next(c2)
        assert d2.count_documents() == 1  # the db is unaffected by its cursor's close
    with pytest.raises(Closed):
        d2.count_documents()
