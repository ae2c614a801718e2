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


def test_opentelemetry_metric_names_parse_with_prometheus_client(uri):
    import pytest

    import polymongo
    from conftest import uri_with

    holder, waiter = unique_db("otel_hold"), unique_db("otel_wait")
    with PolyMongo(uri_with("waitQueueTimeoutMS=200"), max_pool_size=1) as pm:
        m = pm.model("otel")
        m.db(holder).insert_many([{"i": 1}, {"i": 2}])
        # More databases than the per-database series keep (20): the rest are one "other".
        for i in range(22):
            m.db(unique_db(f"otel_{i}")).count_documents()
        cursor = m.db(holder).find(batch_size=1)  # holds the pool's one connection
        next(cursor)
        with pytest.raises(polymongo.Timeout):
            m.db(waiter).count_documents()
        text = pm.prometheus()
        families = {f.name: f for f in text_string_to_metric_families(text)}

        def samples(name, pool="shared"):
            return [s for s in families[name].samples if s.labels.get("pool_name") == pool]

        by_state = {s.labels["state"]: s.value for s in samples("db_client_connection_count")}
        assert by_state == {"idle": 0, "used": 1}, by_state
        assert [s.value for s in samples("db_client_connection_max")] == [1]
        assert [s.value for s in samples("db_client_connection_pending_requests")] == [0]
        assert families["db_client_connection_timeouts"].type == "counter"
        assert [s.value for s in samples("db_client_connection_timeouts")] == [1]
        for name in ("db_client_connection_wait_time", "db_client_operation_duration"):
            assert families[name].type == "histogram", name
            by_kind = {}
            for s in samples(name):
                by_kind.setdefault(s.name[len(name):], []).append(s)
            buckets = by_kind["_bucket"]
            assert buckets[-1].labels["le"] == "+Inf"
            assert [b.value for b in buckets] == sorted(b.value for b in buckets), "cumulative"
            assert buckets[-1].value == by_kind["_count"][0].value >= 3, name
        queued = families["polymongo_database_queued"].samples
        assert len([s for s in queued if "db" in s.labels]) == 20
        other = [s for s in queued if s.labels.get("db_other") == "true"]
        assert len(other) == 1
        assert sum(s.value for s in queued) == 1, "the timed-out waiter queued"
        # The existing names stay.
        assert "polymongo_pool_connections_in_use" in families
        cursor.close()


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
