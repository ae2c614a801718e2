"""CRUD through bound databases; every outcome is read back with an independent client."""

from __future__ import annotations

import datetime
import uuid

import pytest
from bson import Int64, ObjectId
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.regex import Regex
from bson.timestamp import Timestamp
from conftest import FeatureRefused, unique_db

import polymongo
from polymongo import (
    DeleteMany,
    DuplicateKeyError,
    InsertOne,
    NotSupported,
    ReplaceOne,
    ReturnDocument,
    ServerError,
    UpdateOne,
    WriteError,
)
from polymongo._ffi import lib


def test_crud_across_many_databases_lands_in_own_database(pm, checker):
    items = pm.model("items")
    names = [unique_db("many") for _ in range(12)]
    for i, name in enumerate(names):
        db = items.db(name)
        assert db.name == name and db.collection_name == "items"
        r = db.insert_one({"owner": i, "n": 0})
        assert isinstance(r.inserted_id, ObjectId)
        many = db.insert_many([{"owner": i, "n": k} for k in range(1, 4)])
        assert len(many.inserted_ids) == 3
        assert db.update_many({"n": {"$gte": 2}}, {"$set": {"big": True}}).modified_count == 2
        assert db.delete_one({"n": 1}).deleted_count == 1
    for i, name in enumerate(names):
        coll = checker[name]["items"]
        assert coll.count_documents({}) == 3
        assert coll.count_documents({"owner": {"$ne": i}}) == 0, "another database's documents"
        assert coll.count_documents({"big": True}) == 2
        # ... and polymongo sees the same through its own handle on that database
        assert items.db(name).count_documents({"owner": i}) == 3
    inserted = checker[names[0]]["items"].find_one({"n": 0})
    assert inserted["_id"] is not None


def test_insert_and_find_keep_bson_types(pm, checker):
    db = pm.model("types").db(unique_db("types"))
    doc = {
        "_id": "all",
        "i32": 7,
        "i64": Int64(7),
        "dbl": 2.5,
        "str": "héllo",
        "bool": True,
        "none": None,
        "oid": ObjectId(),
        "dt": datetime.datetime(2021, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc),
        "dt_far": DatetimeMS(2**50),
        "uuid": uuid.uuid4(),
        "bytes": b"\x00\x01\x02",
        "bin_user": Binary(b"zz", 0x80),
        "regex": Regex("^ab", "i"),
        "ts": Timestamp(1700000000, 3),
        "arr": [1, Int64(2), "three", {"four": 4.0}],
        "sub": {"a": {"b": [True, None]}},
    }
    assert db.insert_one(doc).inserted_id == "all"
    got = db.find_one({"_id": "all"})
    assert got == doc
    for key, value in doc.items():
        assert type(got[key]) is type(value), key
    # The independent client sees the same types (int64 as Int64, int32 as int).
    raw = checker[db.name]["types"].find_one({"_id": "all"})
    assert raw["i64"] == 7 and raw["uuid"] == doc["uuid"] and raw["dt"] == doc["dt"]
    from bson.codec_options import CodecOptions, DatetimeConversion

    coll = checker[db.name].get_collection("types", codec_options=CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO))
    assert type(coll.find_one({"_id": "all"})["i64"]) is Int64


def test_find_with_options_and_cursor_iteration(pm, checker):
    db = pm.model("items").db(unique_db("find"))
    db.insert_many([{"_id": i, "g": i % 2, "x": f"v{i}"} for i in range(25)])
    cur = db.find({"g": 0}, {"x": 1, "_id": 0}, sort=[("_id", -1)], skip=1, limit=5, batch_size=2)
    assert isinstance(cur, polymongo.Cursor)
    assert cur.alive
    docs = list(cur)
    assert docs == [{"x": "v22"}, {"x": "v20"}, {"x": "v18"}, {"x": "v16"}, {"x": "v14"}]
    assert not cur.alive
    assert list(cur) == []  # exhausted stays exhausted
    # sort as a dict, projection as a list, iteration by next() and to_list()
    cur = db.find({"_id": {"$lt": 6}}, ["x"], sort={"_id": 1}, batch_size=2)
    assert next(cur) == {"_id": 0, "x": "v0"}
    assert cur.to_list(2) == [{"_id": 1, "x": "v1"}, {"_id": 2, "x": "v2"}]
    assert [d["_id"] for d in cur] == [3, 4, 5]
    # find_one: first by sort, or None
    assert db.find_one(sort=[("x", -1)])["x"] == "v9"
    assert db.find_one({"_id": 999}) is None
    # an early close through the context manager gives the connection back
    with db.find({}, batch_size=1) as c:
        assert next(c)["_id"] == 0
        assert c.cursor_id != 0, "more batches remained on the server"
    assert not c.alive
    with pytest.raises(polymongo.Closed):
        next(c)
    assert checker[db.name]["items"].count_documents({}) == 25


def test_cursor_close_releases_its_pooled_connection(uri):
    from conftest import uri_with

    with polymongo.PolyMongo(uri_with("waitQueueTimeoutMS=300"), max_pool_size=1) as pm:
        db = pm.model("items").db(unique_db("release"))
        db.insert_many([{"i": i} for i in range(5)])
        held = db.find({}, batch_size=1)
        next(held)  # holds the only connection
        with pytest.raises(polymongo.Timeout) as info:
            db.count_documents()
        assert info.value.pm_code == polymongo._ffi.lib.PM_ETIMEOUT
        assert isinstance(info.value, TimeoutError)
        held.close()
        assert db.count_documents() == 5


def test_update_replace_delete_and_upsert(pm, checker):
    db = pm.model("items").db(unique_db("update"))
    db.insert_many([{"_id": i, "s": "new"} for i in range(4)])
    one = db.update_one({"s": "new"}, {"$set": {"s": "one"}})
    assert (one.matched_count, one.modified_count, one.upserted_id) == (1, 1, None)
    many = db.update_many({"s": "new"}, {"$set": {"s": "many"}})
    assert many.modified_count == 3
    up = db.update_one({"_id": 99}, {"$set": {"s": "up"}}, upsert=True)
    assert up.upserted_id == 99 and up.matched_count == 0
    rep = db.replace_one({"_id": 0}, {"whole": "new"})
    assert rep.modified_count == 1
    coll = checker[db.name]["items"]
    assert coll.find_one({"_id": 0}) == {"_id": 0, "whole": "new"}
    assert coll.count_documents({"s": "many"}) == 3
    assert coll.count_documents({"_id": 99, "s": "up"}) == 1
    with pytest.raises(polymongo.InvalidArgument):
        db.replace_one({"_id": 0}, {"$set": {"x": 1}})  # a replacement holds no operators
    with pytest.raises(ValueError):
        db.update_one({}, {"plain": 1})  # an update needs operators
    assert db.delete_one({"s": "many"}).deleted_count == 1
    assert db.delete_many({"s": "many"}).deleted_count == 2
    assert sorted(d["_id"] for d in coll.find()) == [0, 99]
    assert coll.find_one({"_id": 0}) == {"_id": 0, "whole": "new"}


def test_update_with_array_filters(on_server_with_feature):
    def body(pm, checker):
        db = pm.model("items").db(unique_db("arrayfilters"))
        db.insert_one({"_id": 1, "grades": [95, 80, 101, 102]})
        try:
            db.update_one({"_id": 1}, {"$set": {"grades.$[g]": 100}}, array_filters=[{"g": {"$gte": 100}}])
        except (NotSupported, ServerError) as e:
            # The option reached the server, which said it cannot do this: the caller gets that
            # error and the document is unchanged.
            assert e.server_code != 0
            assert checker[db.name]["items"].find_one({"_id": 1})["grades"] == [95, 80, 101, 102]
            raise FeatureRefused(str(e)) from e
        assert checker[db.name]["items"].find_one({"_id": 1})["grades"] == [95, 80, 100, 100]

    on_server_with_feature("arrayFilters", body)


def test_find_one_and_modify(pm, checker):
    db = pm.model("items").db(unique_db("fam"))
    db.insert_many([{"_id": 1, "v": 1}, {"_id": 2, "v": 5}])
    before = db.find_one_and_update({"_id": 1}, {"$inc": {"v": 10}})
    assert before == {"_id": 1, "v": 1}
    after = db.find_one_and_update({}, {"$inc": {"v": 1}}, sort=[("v", -1)],
                                   return_document=ReturnDocument.AFTER)
    assert after == {"_id": 1, "v": 12}
    replaced = db.find_one_and_replace({"_id": 2}, {"r": True}, return_document="after")
    assert replaced == {"_id": 2, "r": True}
    assert db.find_one_and_delete({"_id": 2}) == {"_id": 2, "r": True}
    assert db.find_one_and_delete({"_id": 77}) is None
    upserted = db.find_one_and_update({"_id": 3}, {"$set": {"v": 3}}, upsert=True,
                                      return_document=True)  # pymongo's ReturnDocument.AFTER
    assert upserted == {"_id": 3, "v": 3}
    with pytest.raises(ValueError):
        db.find_one_and_update({}, {"$set": {"v": 0}}, return_document="sideways")
    coll = checker[db.name]["items"]
    assert sorted(d["_id"] for d in coll.find()) == [1, 3]
    assert coll.find_one({"_id": 1})["v"] == 12


def test_find_one_and_update_with_projection(on_server_with_feature):
    def body(pm, checker):
        db = pm.model("items").db(unique_db("famproj"))
        db.insert_one({"_id": 1, "v": 1, "hidden": True})
        try:
            out = db.find_one_and_update({"_id": 1}, {"$inc": {"v": 1}}, projection={"v": 1},
                                         return_document=ReturnDocument.AFTER)
        except NotSupported as e:
            # The server said it cannot: the update was not applied.
            assert checker[db.name]["items"].find_one({"_id": 1}) == {"_id": 1, "v": 1, "hidden": True}
            raise FeatureRefused(str(e)) from e
        assert out == {"_id": 1, "v": 2}
        assert checker[db.name]["items"].find_one({"_id": 1}) == {"_id": 1, "v": 2, "hidden": True}

    on_server_with_feature("findAndModify projections", body)


def test_count_distinct_and_aggregate(pm):
    db = pm.model("items").db(unique_db("agg"))
    db.insert_many([{"c": "abc"[i % 3], "k": i % 3, "v": i} for i in range(9)])
    assert db.count_documents({"c": "a"}) == 3
    assert db.count_documents(limit=4) == 4
    assert db.count_documents() == 9
    assert db.estimated_document_count() == 9
    assert sorted(db.distinct("c")) == ["a", "b", "c"]
    assert sorted(db.distinct("v", {"c": "b"})) == [1, 4, 7]
    with db.aggregate([{"$match": {"v": {"$gte": 1}}},
                       {"$group": {"_id": "$k", "total": {"$sum": "$v"}}},
                       {"$sort": {"_id": 1}}], batch_size=1) as cur:
        out = list(cur)
    assert out == [{"_id": 0, "total": 9}, {"_id": 1, "total": 12}, {"_id": 2, "total": 15}]
    # {"pipeline": [...]} is a pipeline too; any other document is refused before it is sent.
    with db.aggregate({"pipeline": [{"$match": {"c": "a"}}, {"$count": "n"}]}) as cur:
        assert list(cur) == [{"n": 3}]
    for malformed in ({"$match": {"c": "a"}}, {"pipeline": {"$match": {}}}, {"pipeline": "x"}):
        with pytest.raises(polymongo.InvalidArgument) as info:
            db.aggregate(malformed)
        assert info.value.pm_code == lib.PM_EINVAL and "pipeline" in info.value.message


def test_bulk_write_reports_per_index_errors(pm, checker):
    db = pm.model("items").db(unique_db("bulk"))
    res = db.bulk_write([
        {"insertOne": {"document": {"_id": 1, "v": 1}}},
        InsertOne({"_id": 2, "v": 2}),
        {"update_one": {"filter": {"_id": 1}, "update": {"$set": {"v": 10}}}},
        UpdateOne({}, {"$inc": {"v": 1}}),
        ReplaceOne({"_id": 3}, {"v": 30}, upsert=True),
        {"deleteOne": {"filter": {"_id": 2}}},
    ])
    assert (res.inserted_count, res.matched_count, res.upserted_count, res.deleted_count) == (2, 2, 1, 1)
    # (the index of an upsert inside a mixed bulk is the server's to report; FerretDB's differs)
    assert list(res.upserted_ids.values()) == [3]
    assert res.inserted_ids == {0: 1, 1: 2}
    coll = checker[db.name]["items"]
    assert sorted((d["_id"], d["v"]) for d in coll.find()) == [(1, 11), (3, 30)]

    # Unordered: the failures are listed by index, the rest is applied.
    with pytest.raises(WriteError) as info:
        db.bulk_write([InsertOne({"_id": 1}), InsertOne({"_id": 5}), InsertOne({"_id": 3}),
                       DeleteMany({"_id": 1})], ordered=False)
    err = info.value
    assert isinstance(err, DuplicateKeyError) and err.pm_code == polymongo._ffi.lib.PM_EDUPKEY
    assert [e["index"] for e in err.write_errors] == [0, 2]
    assert all(e["code"] == 11000 for e in err.write_errors)
    assert isinstance(err.result, polymongo.BulkWriteResult)
    assert err.result.inserted_count == 1 and err.result.deleted_count == 1
    assert sorted(d["_id"] for d in coll.find()) == [3, 5]

    # Ordered: stops at the first failure; a failure that is no duplicate key is a WriteError.
    with pytest.raises(WriteError) as info:
        db.bulk_write([InsertOne({"_id": 6}), InsertOne({"$bad": 1}), InsertOne({"_id": 7})])
    err = info.value
    assert not isinstance(err, DuplicateKeyError)
    assert err.pm_code == polymongo._ffi.lib.PM_EWRITE
    assert [e["index"] for e in err.write_errors] == [1]
    assert err.result.inserted_count == 1
    assert sorted(d["_id"] for d in coll.find()) == [3, 5, 6]

    # Malformed models are refused before anything is written, naming the request.
    with pytest.raises(polymongo.InvalidArgument) as info:
        db.bulk_write([InsertOne({"_id": 8}), {"upsertEverything": {"filter": {}}}])
    assert "1" in str(info.value)
    assert coll.count_documents({"_id": 8}) == 0


def test_duplicate_key_maps_to_duplicate_key_error(pm, checker):
    db = pm.model("users", indexes=[{"key": {"email": 1}, "unique": True}]).db(unique_db("dup"))
    first = db.insert_one({"email": "a@x"})
    with pytest.raises(DuplicateKeyError) as info:
        db.insert_one({"email": "a@x"})
    e = info.value
    assert e.pm_code == polymongo._ffi.lib.PM_EDUPKEY and e.code_name == "PM_EDUPKEY"
    assert e.server_code == 11000
    assert isinstance(e, WriteError) and isinstance(e, polymongo.PolyMongoError)
    assert e.result is not None and e.result.inserted_id is None
    assert e.write_errors[0]["index"] == 0 and e.write_errors[0]["code"] == 11000
    # insert_many, ordered: stops at the duplicate and says what went in
    with pytest.raises(DuplicateKeyError) as info:
        db.insert_many([{"_id": "b", "email": "b@x"}, {"email": "a@x"}, {"email": "c@x"}])
    assert info.value.result.inserted_ids == ["b"]
    assert [w["index"] for w in info.value.write_errors] == [1]
    coll = checker[db.name]["users"]
    assert sorted(d["email"] for d in coll.find()) == ["a@x", "b@x"]
    assert coll.find_one({"email": "a@x"})["_id"] == first.inserted_id


def test_indexes_create_list_and_drop(pm, checker):
    db = pm.model("items").db(unique_db("idx"))
    assert db.create_index("email", unique=True) == "email_1"
    assert db.create_index([("age", -1), ("name", 1)], name="by_age") == "by_age"
    db.insert_one({"email": "a@x"})
    with pytest.raises(DuplicateKeyError):
        db.insert_one({"email": "a@x"})
    info = db.index_information()
    assert set(info) == {"_id_", "email_1", "by_age"}
    assert info["by_age"]["key"] == {"age": -1, "name": 1}
    names = {ix["name"] for ix in checker[db.name]["items"].list_indexes()}
    assert names == {"_id_", "email_1", "by_age"}
    db.drop_index([("email", 1)])  # by key spec
    db.drop_index("by_age")        # by name
    assert [ix["name"] for ix in db.list_indexes()] == ["_id_"]
    db.insert_one({"email": "a@x"})  # no longer unique
    with pytest.raises(ServerError) as e:
        db.drop_index("no_such_index")
    assert e.value.server_code != 0
    # A compound key spec is named by the library's rule (pm_index_name), as the server named it.
    assert db.create_index([("x", 1), ("y", -1)]) == "x_1_y_-1"
    db.drop_index([("x", 1), ("y", -1)])
    assert {ix["name"] for ix in checker[db.name]["items"].list_indexes()} == {"_id_"}
    with pytest.raises(polymongo.InvalidArgument):
        db.drop_index([("x", 1.5)])  # no name for such keys: refused before any I/O


def test_model_indexes_are_applied_per_database_on_first_use(pm, checker):
    users = pm.model("users", indexes=[{"key": {"email": 1}, "unique": True},
                                       {"key": {"age": -1}, "name": "by_age"},
                                       [("tenant", 1), ("created", -1)]])
    a, b = users.db(unique_db("model_a")), users.db(unique_db("model_b"))
    a.insert_one({"email": "x@y", "age": 3})
    names = {ix["name"] for ix in checker[a.name]["users"].list_indexes()}
    assert {"email_1", "by_age", "tenant_1_created_-1"} <= names
    assert "users" not in checker[b.name].list_collection_names(), "b is not used yet"
    with pytest.raises(DuplicateKeyError):
        a.insert_one({"email": "x@y"})
    assert b.count_documents() == 0  # first use of b applies them there
    assert "email_1" in {ix["name"] for ix in checker[b.name]["users"].list_indexes()}
    b.insert_one({"email": "x@y"})  # unique per database, not across databases
    with pytest.raises(TypeError):
        pm.model("bad", indexes="email")
    # A bad index specification is refused (by polymongo or by the server) on first use.
    bad = pm.model("bad", indexes=[{"key": {"email": 1}, "unique": "yes please"}]).db(unique_db("bad"))
    with pytest.raises((polymongo.InvalidArgument, ServerError)) as info:
        bad.insert_one({"never": "written"})
    assert "unique" in str(info.value)
    assert checker[bad.name]["bad"].count_documents({}) == 0


def test_model_validator(on_server_with_feature):
    def body(pm, checker):
        m = pm.model("validated", validator={"$jsonSchema": {"bsonType": "object", "required": ["name"]}},
                     validation_action="error")
        db = m.db(unique_db("validator"))
        try:
            db.insert_one({"name": "ok"})
        except (NotSupported, ServerError) as e:
            # The first use applies the validator; a server without validation says so, and the
            # error reaches the caller instead of the write going through unvalidated.
            assert "validator" in str(e)
            assert checker[db.name]["validated"].count_documents({}) == 0
            raise FeatureRefused(str(e)) from e
        with pytest.raises(polymongo.WriteError) as info:
            db.insert_one({"other": 1})
        assert info.value.server_code == 121  # DocumentValidationFailure
        assert checker[db.name]["validated"].count_documents({}) == 1

    on_server_with_feature("validators", body)


def test_command_and_drop(pm, checker):
    db = pm.model("items").db(unique_db("cmd"))
    db.insert_one({"a": 1})
    assert db.command("ping")["ok"] == 1.0
    reply = db.command({"count": "items"})
    assert reply["n"] == 1
    assert db.command("count", "items", query={"a": 2})["n"] == 0
    with pytest.raises(NotSupported) as e:
        db.command({"noSuchCommand": 1})
    assert e.value.server_code == 59
    db.drop()
    assert checker[db.name]["items"].count_documents({}) == 0
    db.drop()  # dropping a missing collection is fine
