"""The tenant fleet through the Python binding: the directory, placement, a move, fleet sync
and drift, read back with an independent client (pymongo)."""

from __future__ import annotations

import pymongo
import pytest
from conftest import second_server_uri, unique_db

from polymongo import InvalidArgument, PolyMongo


def test_directory_placement_move_and_fleet_sync(uri):
    second = second_server_uri()
    catalog = unique_db("pyfleet")
    t = unique_db("pyfleet_t")
    directory = {"mongo_uri": uri, "db": catalog, "refresh_ms": 100, "clusters": {"a": uri, "b": second}}
    a = pymongo.MongoClient(uri)
    b = pymongo.MongoClient(second)
    with PolyMongo(uri, default_db=unique_db("pyfleet_default"), directory=directory) as pm:
        assert pm.tenant(t) is None
        entry = pm.place_tenant(t, "a")
        assert entry["cluster"] == "a" and entry["placedBy"] == "explicit"
        assert [e["db"] for e in pm.tenants()] == [t]
        pm.model("items").db(t).insert_many([{"_id": i} for i in range(10)])
        assert a[t]["items"].count_documents({}) == 10
        report = pm.move_tenant(t, "b")
        assert report["from"] == "a" and report["to"] == "b" and report["documents"] == 10
        assert b[t]["items"].count_documents({}) == 10
        assert pm.explain_route(t)["directoryCluster"] == "b"
        pm.complete_move(t)
        assert a[t]["items"].count_documents({}) == 0
        with pytest.raises(InvalidArgument, match="not one of directory.clusters"):
            pm.move_tenant(t, "nowhere")

        model = pm.model("items", indexes=[{"key": {"q": 1}}])
        drift = model.fleet_drift({"match": t, "tenants": True})
        assert [d["missing"] for d in drift["drifted"]] == [["q_1"]]
        sync = model.fleet_sync({"match": t, "tenants": True})
        assert sync["applied"] == 1 and sync["failed"] == 0
        assert "q_1" in b[t]["items"].index_information()
        assert model.fleet_drift({"match": t, "tenants": True})["drifted"] == []
    a.close()
    b.close()


def test_callback_placement_puts_a_new_tenant_where_the_function_says(uri):
    second = second_server_uri()
    catalog = unique_db("pyplace")
    t, refused = unique_db("pyplace_t"), unique_db("pyplace_no")
    directory = {"mongo_uri": uri, "db": catalog, "refresh_ms": 100, "clusters": {"a": uri, "b": second},
                 "placement": {"policy": "callback"}}
    seen = []

    def choose(db, clusters):
        seen.append((db, clusters))
        if db == refused:
            raise RuntimeError("no room for this one")
        return "b"

    a = pymongo.MongoClient(uri)
    b = pymongo.MongoClient(second)
    with PolyMongo(uri, default_db=unique_db("pyplace_default"), directory=directory) as pm:
        pm.set_placement(choose)
        pm.model("items").db(t).insert_one({"_id": 1, "x": "placed"})
        assert seen == [(t, [{"name": "a", "tenants": 0}, {"name": "b", "tenants": 0}])]
        assert b[t]["items"].find_one({"_id": 1}) == {"_id": 1, "x": "placed"}
        assert a[t]["items"].count_documents({}) == 0
        entry = pymongo.MongoClient(uri)[catalog]["tenants"].find_one({"_id": t})
        assert entry["cluster"] == "b" and entry["placedBy"] == "callback"
        # An exception fails the placement, and the write, with nothing written anywhere.
        with pytest.raises(InvalidArgument):
            pm.model("items").db(refused).insert_one({"_id": 1})
        assert b[refused]["items"].count_documents({}) == 0 and a[refused]["items"].count_documents({}) == 0
        assert pm.tenant(refused) is None
        # None removes it: placements by callback then fail.
        pm.set_placement(None)
        with pytest.raises(InvalidArgument):
            pm.place_tenant(unique_db("pyplace_none"))
        with pytest.raises(TypeError):
            pm.set_placement("b")  # type: ignore[arg-type]
    a.close()
    b.close()
