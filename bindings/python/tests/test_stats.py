"""Statistics: pools, databases, usage, and the Prometheus exposition (parsed by
prometheus_client's own text parser)."""

from __future__ import annotations

from conftest import unique_db
from prometheus_client.parser import text_string_to_metric_families

from polymongo import PolyMongo


def test_stats_usage_and_prometheus_metrics(uri):
    shared, dedicated = unique_db("st_shared"), unique_db("st_ded")
    with PolyMongo(uri, default_db=shared, max_pool_size=3,
                   db_specific=[{"db_name": dedicated, "options": {"max_connections": 2}}]) as pm:
        m = pm.model("metrics")
        for i in range(5):
            m.db(shared).insert_one({"i": i})
        for i in range(3):
            m.db(dedicated).insert_one({"i": i})
        cursor = m.db(shared).find(batch_size=1)
        next(cursor)

        stats = pm.stats()
        pools = {p["name"]: p for p in stats["pools"]}
        assert pools["shared"]["dedicated"] is False and pools["shared"]["maxSize"] == 3
        assert shared in pools["shared"]["databases"]
        ded = [p for p in stats["pools"] if p["dedicated"]]
        assert len(ded) == 1 and dedicated in ded[0]["databases"] and ded[0]["maxSize"] == 2
        assert pools["shared"]["pinned"]["cursors"] == 1, "the open cursor pins its connection"
        assert pools["shared"]["connections"]["inUse"] >= 1
        assert pools["shared"]["responseTimeMs"]["commands"] >= 5
        assert stats["totals"]["pools"] >= 2
        cursor.close()
        assert {p["name"]: p for p in pm.stats()["pools"]}["shared"]["pinned"]["cursors"] == 0

        dbs = pm.db_stats(shared)
        assert dbs["db"] == shared
        assert {c["name"]: c["documents"] for c in dbs["collections"]}["metrics"] == 5
        assert pm.db_stats()["db"] == shared  # the default database
        names = {d["name"] for d in pm.list_databases()}
        assert {shared, dedicated} <= names

        usage = {u["db"]: u for u in pm.usage()}
        assert usage[shared]["operations"] >= 6 and usage[dedicated]["operations"] >= 3
        assert usage[shared]["errors"] == 0
        top = pm.usage(1)
        assert len(top) == 1 and top[0]["operations"] >= usage[dedicated]["operations"]

        text = pm.prometheus()
        assert "mongodb://" not in text or "@" not in text, "no credentials"
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert "polymongo_pool_open" in families
        opened = {s.labels["pool"]: s.value for s in families["polymongo_pool_open"].samples}
        assert opened["shared"] == 1
        ops = families["polymongo_database_operations"]  # the parser strips "_total"
        by_db = {s.labels["db"]: s.value for s in ops.samples if s.name.endswith("_total")}
        assert by_db[shared] >= 6 and by_db[dedicated] >= 3
        assert families["polymongo_pool_command_duration_seconds"].type == "summary"


def test_explain_route_pause_and_resume(uri):
    with PolyMongo(uri, routes=[{"match": "pyadm_*"}], pause_timeout_ms=200) as pm:
        assert pm.explain_route("pyadm_1")["reason"] == "rule"
        assert pm.explain_route("other_1")["reason"] == "shared"
        name = unique_db("pyadm_")
        db = pm.model("items").db(name)
        assert pm.pause(name) is True
        assert pm.pause(name) is False
        try:
            db.insert_one({"x": 1})
            raise AssertionError("a paused database's operation must time out")
        except Exception as e:  # the binding's timeout error
            assert "paused" in str(e)
        assert pm.resume(name) is True
        db.insert_one({"x": 1})
        assert db.count_documents({}) == 1
        pm.reload_routes([{"match": "pyother_*", "shared_pool": True}])
        assert pm.explain_route("pyadm_1")["reason"] == "shared"
        assert pm.explain_route("pyother_1")["pool"] == "pyother_*"
        pm.drain_pool("shared", 2000)
        assert pm.admin_url() == ""
