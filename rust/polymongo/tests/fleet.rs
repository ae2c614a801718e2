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
