//! The tenant fleet through the Rust binding: placement, a move between the two test
//! clusters, fleet sync and drift, each checked through independent wrappers.
mod common;

use common::*;
use polymongo::{doc, ErrorKind, ModelOptions, PolyMongo};

#[test]
fn directory_placement_move_and_fleet_sync() {
    let Some(second) = second_uri() else {
        return skip("no second server");
    };
    let first = server_uri();
    let tenant = unique_db("rsfleet");
    let directory = serde_json::json!({"mongoURI": first, "db": unique_db("rsfleetdir"), "refreshMS": 100,
                                       "clusters": {"a": first, "b": second}});
    let pm = PolyMongo::new(&options().option("directory", directory)).unwrap();
    assert_eq!(pm.tenant_json(&tenant).unwrap(), "null");
    assert!(pm.place_tenant_json(&tenant, Some("a")).unwrap().contains("\"cluster\":\"a\""));
    let db = pm.model("items", None).unwrap().db(&tenant).unwrap();
    db.insert_many((0..7).map(|i| doc! {"i": i}), None).unwrap();
    let report = pm.move_tenant_json(&tenant, "b").unwrap();
    assert!(report.contains("\"documents\":7"), "{report}");
    assert_eq!(count_on(&second, &tenant, "items"), 7);
    let err = pm.move_tenant_json(&tenant, "nowhere").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    pm.complete_move_json(&tenant).unwrap();
    assert_eq!(count_on(&first, &tenant, "items"), 0);
    assert!(ErrorKind::Moving.is_retryable());

    let opts = ModelOptions::default().indexes(vec![polymongo::IndexModel::new(doc! {"q": 1})]);
    let model = pm.model("items", opts).unwrap();
    let target = format!("{{\"match\": \"{tenant}\", \"tenants\": true}}");
    let sync = model.fleet_sync_json(Some(&target)).unwrap();
    assert!(sync.contains("\"applied\":1"), "{sync}");
    let drift = model.fleet_drift_json(Some(&target)).unwrap();
    assert!(drift.contains("\"drifted\":[]"), "{drift}");
}

/// The callback placement policy: a new tenant lands on the cluster the closure chose (read back
/// with an independent wrapper on that cluster); `None` from it fails the write, nothing written.
#[test]
fn callback_placement_puts_a_new_tenant_where_the_closure_says() {
    let Some(second) = second_uri() else {
        return skip("no second server");
    };
    let first = server_uri();
    let (tenant, refused) = (unique_db("rsplace"), unique_db("rsplace_no"));
    let directory = serde_json::json!({"mongoURI": first, "db": unique_db("rsplacedir"), "refreshMS": 100,
                                       "clusters": {"a": first, "b": second}, "placement": {"policy": "callback"}});
    let pm = PolyMongo::new(&options().option("directory", directory)).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen_in, refused_in) = (seen.clone(), refused.clone());
    pm.set_placement(move |db, clusters| {
        if db == refused_in {
            return None;
        }
        seen_in.lock().unwrap().push(clusters.to_vec());
        Some("b".to_string())
    })
    .unwrap();
    let db = pm.model("items", None).unwrap().db(&tenant).unwrap();
    db.insert_one(doc! {"_id": 1, "x": "placed"}, None).unwrap();
    let loads = |name: &str| polymongo::ClusterLoad { name: name.to_string(), tenants: 0 };
    assert_eq!(*seen.lock().unwrap(), vec![vec![loads("a"), loads("b")]]);
    assert_eq!(count_on(&second, &tenant, "items"), 1);
    assert_eq!(count_on(&first, &tenant, "items"), 0);
    let entry = pm.tenant_json(&tenant).unwrap();
    assert!(entry.contains("\"cluster\":\"b\"") && entry.contains("\"placedBy\":\"callback\""), "{entry}");
    let other = pm.model("items", None).unwrap().db(&refused).unwrap();
    let err = other.insert_one(doc! {"_id": 1}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(count_on(&first, &refused, "items") + count_on(&second, &refused, "items"), 0);
    pm.clear_placement().unwrap();
    let err = pm.place_tenant_json(&unique_db("rsplace_none"), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}
