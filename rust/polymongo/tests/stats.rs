//! Statistics checked against what the test did: pools, connections in use, pinned cursors,
//! database statistics, the server's database list, usage ranking, Prometheus text.
mod common;

use common::*;
use polymongo::{doc, FindOptions, Options, PolyMongo};

#[test]
fn general_statistics_match_operations() {
    let pm = PolyMongo::new(&options().max_pool_size(3)).unwrap();
    let db = pm.model("st", None).unwrap().db(&unique_db("stats")).unwrap();
    db.insert_many((0..5).map(|i| doc! {"i": i}), None).unwrap();
    let stats = pm.stats().unwrap();
    assert_eq!(stats.totals.pools, 1);
    let shared = &stats.pools[0];
    assert_eq!((shared.name.as_str(), shared.dedicated, shared.max_size), ("shared", false, 3));
    assert!(shared.response_time_ms.commands >= 1);
    assert!(stats.shared_databases.contains(&db.name().unwrap()));
    assert!(stats.pools[0].connections.open >= 1);

    // An open cursor pins a connection in use.
    let mut cursor = db.find(doc! {}, FindOptions::default().batch_size(1)).unwrap();
    cursor.next().unwrap().unwrap();
    let shared = pm.stats().unwrap().pools.remove(0);
    assert_eq!((shared.connections.in_use, shared.pinned.cursors), (1, 1), "{shared:?}");
    drop(cursor);
    let shared = pm.stats().unwrap().pools.remove(0);
    assert_eq!((shared.connections.in_use, shared.pinned.cursors), (0, 0));
    assert!(pm.stats_json().unwrap().starts_with('{'));
}

#[test]
fn database_statistics_and_list_match_the_server() {
    let pm = wrapper();
    let name = unique_db("dbstats");
    let db = pm.model("things", None).unwrap().db(&name).unwrap();
    db.insert_many((0..7).map(|i| doc! {"i": i, "pad": "y".repeat(100)}), None).unwrap();
    let s = pm.db_stats(Some(&name)).unwrap();
    assert_eq!(s.db, name);
    let things = s.collections.iter().find(|c| c.name == "things").expect("the collection");
    assert_eq!(things.documents, 7);
    assert!(things.indexes >= 1);
    assert!(s.size_mb > 0.0);
    assert_eq!(s.pool.as_ref().map(|p| p.name.as_str()), Some("shared"));

    let listed = pm.list_databases().unwrap();
    let me = listed.iter().find(|d| d.name == name).expect("listed");
    assert!(!me.empty);
    assert!(listed.iter().all(|d| !d.name.is_empty()));
}

#[test]
fn usage_ranks_databases_and_prometheus_text_has_the_metrics() {
    let pm = wrapper();
    let model = pm.model("u", None).unwrap();
    let (busy, quiet) = (unique_db("busy"), unique_db("quiet"));
    for _ in 0..5 {
        model.db(&busy).unwrap().insert_one(doc! {}, None).unwrap();
    }
    model.db(&quiet).unwrap().insert_one(doc! {}, None).unwrap();
    // An error counts as an error of that database.
    let _ = model.db(&quiet).unwrap().run_command(doc! {"noSuchCommand": 1}).unwrap_err();
    let usage = pm.usage(0).unwrap();
    assert_eq!(usage[0].db, busy);
    assert_eq!(usage[0].operations, 5);
    let q = usage.iter().find(|u| u.db == quiet).unwrap();
    assert_eq!((q.operations, q.errors), (2, 1));
    assert_eq!(pm.usage(1).unwrap().len(), 1);

    let text = pm.prometheus().unwrap();
    for metric in ["polymongo_pool_open{pool=\"shared\"} 1", "# TYPE polymongo_pool_connections gauge"] {
        assert!(text.contains(metric), "{metric} in:\n{text}");
    }
    let ops = text
        .lines()
        .find(|l| l.starts_with("polymongo_database_operations_total") && l.contains(&busy))
        .expect("per-database operations");
    assert!(ops.ends_with(" 5"), "{ops}");
}

#[test]
fn statistics_work_on_a_cold_wrapper_and_never_show_credentials() {
    let uri = server_uri().replacen("mongodb://", "mongodb://nobody:s3cr3t@", 1);
    let pm = PolyMongo::new(&Options::new(uri).default_db("pm_default")).unwrap();
    assert!(!pm.stats_json().unwrap().contains("s3cr3t"));
    assert!(!pm.prometheus().unwrap().contains("s3cr3t"));
}

#[test]
fn admin_actions_explain_pause_resume_reload_drain() {
    let pm = PolyMongo::new(&options().option("routes", serde_json::json!([{"match": "rsadm_*"}]))).unwrap();
    assert!(pm.explain_route_json("rsadm_1").unwrap().contains("\"reason\":\"rule\""));
    assert!(pm.explain_route_json("other_1").unwrap().contains("\"reason\":\"shared\""));
    let name = unique_db("rsadm");
    assert!(pm.pause(&name).unwrap());
    assert!(!pm.pause(&name).unwrap());
    assert!(pm.explain_route_json(&name).unwrap().contains("\"paused\":true"));
    assert!(pm.resume(&name).unwrap());
    assert!(!pm.resume(&name).unwrap());
    pm.reload_routes(r#"[{"match": "rsother_*", "sharedPool": true}]"#).unwrap();
    assert!(pm.explain_route_json("rsother_1").unwrap().contains("\"pool\":\"rsother_*\""));
    assert!(pm.reload_routes("{}").is_err());
    pm.drain_pool("shared", 2000).unwrap();
    assert_eq!(pm.admin_url().unwrap(), "");
}
