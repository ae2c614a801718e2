//! Dedicated pools at run time, routing rules (to a second cluster when the run has one),
//! closing pools, and the pool cap.
mod common;

use std::time::Duration;

use common::*;
use polymongo::{doc, DbSpecificOptions, ErrorKind, EventMask, FindOptions, PolyMongo, PoolSpec, Route};

#[test]
fn set_db_at_run_time_gives_a_dedicated_pool() {
    let pm = PolyMongo::new(&options().max_pool_size(2)).unwrap();
    let model = pm.model("events", None).unwrap();
    let name = unique_db("setdb");
    let other = unique_db("setdb_other");
    assert_eq!(pm.open_pools().unwrap(), 0, "cold start: nothing open");
    pm.set_db(&[&name], Some(&PoolSpec::default().max_connections(2))).unwrap();
    assert_eq!(pm.open_pools().unwrap(), 0, "set_db is lazy with coldStart (the default)");
    model.db(&name).unwrap().insert_one(doc! {"x": 1}, None).unwrap();
    assert_eq!(pm.open_pools().unwrap(), 1, "the dedicated pool opened on first use");
    model.db(&other).unwrap().insert_one(doc! {"x": 2}, None).unwrap();
    assert_eq!(pm.open_pools().unwrap(), 2, "plus the shared pool");
    let stats = pm.stats().unwrap();
    let dedicated = stats.pools.iter().find(|p| p.name == name).expect("a pool named after the db");
    assert!(dedicated.dedicated && dedicated.max_size == 2, "{dedicated:?}");
    assert_eq!(count(&name, "events"), 1);

    // connect_db connects now; bad input is the normal errors.
    let eager = unique_db("connect_now");
    pm.connect_db(&[&eager], None).unwrap();
    assert_eq!(pm.open_pools().unwrap(), 3);
    assert_eq!(pm.set_db(&["no/slashes"], None).unwrap_err().kind(), ErrorKind::InvalidDbName);
    assert_eq!(
        pm.set_db(&[&name], Some(&PoolSpec::default().max_connections(0))).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        pm.set_db(&[&name], Some(&PoolSpec::default().auto_close(true))).unwrap_err().kind(),
        ErrorKind::InvalidArgument,
        "ttl required"
    );
    assert_eq!(pm.set_db(&[], None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let down = PoolSpec::default().mongo_uri("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200");
    assert_eq!(pm.connect_db(&["unreachable_db"], Some(&down)).unwrap_err().kind(), ErrorKind::Connect);
}

#[test]
fn dedicated_pools_and_routes_on_a_second_cluster() {
    let Some(second) = second_uri() else {
        skip("no second server in this run (PM_TEST_SERVER2_DIR / PM_TEST_URI2)");
        return;
    };
    let first = server_uri();
    let stem = unique_db("route");
    let (remote, eu1, eu2, us1, late) = (
        format!("{stem}_remote"),
        format!("{stem}_eu_1"),
        format!("{stem}_eu_2"),
        format!("{stem}_us_1"),
        format!("{stem}_late"),
    );
    let pm = PolyMongo::new(
        &options()
            .db_specific(polymongo::DbSpecific::new(&remote).mongo_uri(&second).max_connections(3))
            .route(Route::new(format!("{stem}_eu_*")).mongo_uri(&second)),
    )
    .unwrap();
    let rows = pm.model("rows", None).unwrap();
    for db in [&remote, &eu1, &eu2, &us1, &late] {
        rows.db(db).unwrap().insert_one(doc! {"at": db.as_str()}, None).unwrap();
    }
    for (db, on_second) in [(&remote, true), (&eu1, true), (&eu2, true), (&us1, false), (&late, false)] {
        assert_eq!(count_on(&second, db, "rows"), on_second as u64, "{db} on the second cluster");
        assert_eq!(count_on(&first, db, "rows"), !on_second as u64, "{db} on the first cluster");
    }
    // A rule added at run time applies to a name already seen.
    pm.add_route(&Route::new(&late).mongo_uri(&second)).unwrap();
    rows.db(&late).unwrap().insert_one(doc! {"again": true}, None).unwrap();
    assert_eq!((count_on(&first, &late, "rows"), count_on(&second, &late, "rows")), (1, 1));
    assert_eq!(pm.add_route(&Route::new("")).unwrap_err().kind(), ErrorKind::InvalidArgument);

    // One shared pool for every database a rule matches.
    let pm = PolyMongo::new(
        &options().route(
            Route::new(format!("{stem}_t*"))
                .mongo_uri(&second)
                .shared_pool(true)
                .options(DbSpecificOptions::default().max_connections(2)),
        ),
    )
    .unwrap();
    let rows = pm.model("rows", None).unwrap();
    for i in 0..8 {
        rows.db(&format!("{stem}_t{i}")).unwrap().insert_one(doc! {"i": i}, None).unwrap();
    }
    assert_eq!(pm.open_pools().unwrap(), 1, "one pool for eight databases; the shared one unused");
    for i in 0..8 {
        assert_eq!(count_on(&second, &format!("{stem}_t{i}"), "rows"), 1);
    }
}

#[test]
fn close_all_is_reversible_and_force_close_fails_open_cursors() {
    let pm = wrapper();
    let (events, sink) = {
        let v = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = std::sync::Arc::clone(&v);
        (v, move |e: &polymongo::Event| s.lock().unwrap().push((e.kind, e.reason.clone())))
    };
    let _sub = pm.subscribe(EventMask::POOL_CLOSED, &[], sink).unwrap();
    let db = pm.model("closing", None).unwrap().db(&unique_db("closeall")).unwrap();
    db.insert_many((0..6).map(|i| doc! {"i": i}), None).unwrap();
    assert_eq!(pm.open_pools().unwrap(), 1);
    pm.close_all(Duration::from_secs(2)).unwrap();
    assert_eq!(pm.open_pools().unwrap(), 0);
    // The next operation reopens what it needs.
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 6);
    assert_eq!(pm.open_pools().unwrap(), 1);

    // A forced close fails an open cursor with Closed at its next step, not a hang or crash.
    let mut cursor = db.find(doc! {}, FindOptions::default().batch_size(1)).unwrap();
    assert!(cursor.next().unwrap().is_ok());
    pm.force_close_all().unwrap();
    let err = cursor.by_ref().find_map(Result::err).expect("the cursor fails");
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    assert!(cursor.next().is_none());
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 6, "usable again");
    pm.flush_events(Duration::from_secs(5)).unwrap();
    let reasons: Vec<String> = events.lock().unwrap().iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(reasons, ["closed", "forced"]);
}

#[test]
fn max_open_pools_evicts_the_least_recently_used() {
    let pm = PolyMongo::new(&options().max_open_pools(2)).unwrap();
    let model = pm.model("lru", None).unwrap();
    let names: Vec<String> = (0..4).map(|_| unique_db("lru")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    pm.set_db(&refs, None).unwrap();
    for name in &names {
        model.db(name).unwrap().insert_one(doc! {"n": name.as_str()}, None).unwrap();
        assert!(pm.open_pools().unwrap() <= 2);
    }
    assert_eq!(pm.evictions().unwrap(), 2);
    // An evicted database's pool reopens on its next use; nothing was lost.
    assert_eq!(model.db(&names[0]).unwrap().count_documents(doc! {}, None).unwrap(), 1);
    assert!(pm.evictions().unwrap() >= 3);
}

#[test]
fn tenant_limits_throttle_with_a_retryable_error() {
    use polymongo::TenantLimits;
    let limits = TenantLimits::default().rate(0.01, 1.0).on_limit("fail");
    let pm = PolyMongo::new(&options().tenant_limits(limits)).unwrap();
    let model = pm.model("items", None).unwrap();
    let name = unique_db("limits");
    let db = model.db(&name).unwrap();
    db.insert_one(doc! {"n": 1}, None).unwrap();
    let err = db.insert_one(doc! {"n": 2}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
    assert!(err.kind().is_retryable());
    assert_eq!(err.kind().name(), "PM_ETHROTTLED");
    pm.set_tenant_limits(Some(&name), Some(&TenantLimits::default())).unwrap();
    db.insert_one(doc! {"n": 3}, None).unwrap();
    pm.set_tenant_limits(Some(&name), None).unwrap();
    assert_eq!(db.insert_one(doc! {"n": 4}, None).unwrap_err().kind(), ErrorKind::Throttled);
    pm.set_tenant_limits(None, None).unwrap();
    db.insert_one(doc! {"n": 5}, None).unwrap();
    assert_eq!(
        pm.set_tenant_limits(None, Some(&TenantLimits::default().on_limit("later"))).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let usage = pm.usage(0).unwrap();
    let mine = usage.iter().find(|u| u.db == name).expect("usage of the database");
    assert_eq!(mine.throttled, 2);
    assert_eq!(count(&name, "items"), 3, "throttled writes send nothing");
}
