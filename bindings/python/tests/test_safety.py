"""Calls that must not do more than they say: a destructive call never falls back to the default
database, and find options of the wrong type fail before anything reaches the server. Checked
with pymongo, a client independent of polymongo."""

from __future__ import annotations

import pymongo
import pytest
from conftest import server_port, server_uri, sockets_to_port, unique_db

from polymongo import InvalidArgument, InvalidDatabaseName, PolyMongo


def test_drop_and_copy_of_an_empty_name_leave_the_default_database(checker: pymongo.MongoClient) -> None:
    main, other = unique_db("pysafe_main"), unique_db("pysafe_other")
    uri = server_uri()
    # The default from the option, and from the URI's path.
    head, sep, tail = uri.partition("://")
    host, slash, rest = tail.partition("/")
    for kwargs in ({"default_db": main}, {}):
        target = uri if kwargs else f"{head}{sep}{host}/{main}{rest}"
        with PolyMongo(target, **kwargs) as pm:
            assert pm.default_db == main
            kept = pm.model("kept", indexes=[{"key": {"k": 1}, "unique": True}])
            if kwargs:  # the first round writes; the second finds it all still there
                kept.db(main).insert_one({"k": 1})
                pm.model("kept").db(other).insert_one({"k": 2})
            with pytest.raises(InvalidDatabaseName, match="never falls back") as e:
                pm.drop_database("")
            assert e.value.code_name == "PM_EDBNAME"
            with pytest.raises(InvalidDatabaseName):
                pm.copy_database(other, "")
            default = kept.db()  # bound to the default database
            with pytest.raises(InvalidDatabaseName):
                default.drop()
            with pytest.raises(InvalidDatabaseName):
                default.drop_index("k_1")
            assert default.count_documents({}) == 1  # reads still go there
        assert main in checker.list_database_names()
        assert list(checker[main]["kept"].find({}, {"_id": 0})) == [{"k": 1}]
        assert "k_1" in checker[main]["kept"].index_information()
    with PolyMongo(uri) as pm:
        pm.drop_database(main)
        pm.drop_database(other)
    assert main not in checker.list_database_names()


@pytest.mark.parametrize("options, name", [
    ({"limit": "5"}, "limit"), ({"skip": "2"}, "skip"), ({"batch_size": "10"}, "batchSize"),
    ({"skip": -1}, "skip"), ({"max_time_ms": "100"}, "maxTimeMS"),
])
def test_find_options_of_the_wrong_type_raise_invalid_argument(options: dict, name: str) -> None:
    port = server_port()
    before = sockets_to_port(port)
    with PolyMongo(server_uri(), default_db=unique_db("pyfindopts")) as pm:  # cold: no socket yet
        db = pm.model("rows").db()
        with pytest.raises(InvalidArgument, match=f"'{name}'") as e:
            db.find({}, **options)
        assert e.value.code_name == "PM_EINVAL"
        assert not isinstance(e.value, InvalidDatabaseName)
        with pytest.raises(InvalidArgument, match=f"'{name}'"):
            db.find_one({}, **options)
        assert sockets_to_port(port) == before, "nothing was sent to the server"
