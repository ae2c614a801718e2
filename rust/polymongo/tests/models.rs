//! Models and pools: indexes and validators from model options, applied once per database;
//! dedicated pools through `dbSpecific`; the default database.
mod common;

use std::time::Instant;

use common::*;
use polymongo::{
    doc, DbSpecific, ErrorKind, FindOptions, IndexModel, IndexOptions, ModelOptions, Options, PolyMongo,
    ValidationAction,
};

#[test]
fn indexes_via_model_options() {
    let pm = wrapper();
    let users = pm
        .model(
            "users",
            ModelOptions::default().indexes(vec![
                IndexModel::new(doc! {"email": 1}).options(IndexOptions::default().unique(true)),
                IndexModel::new(doc! {"age": -1}).options(IndexOptions::default().name("by_age")),
            ]),
        )
        .unwrap();
    assert_eq!(users.collection().unwrap(), "users");
    let (a, b) = (unique_db("model_a"), unique_db("model_b"));
    let da = users.db(&a).unwrap();
    let db_b = users.db(&b).unwrap();
    da.insert_one(doc! {"email": "x@y", "age": 3}, None).unwrap();
    let names = index_names(&a, "users");
    assert!(names.contains(&"email_1".to_string()) && names.contains(&"by_age".to_string()), "{names:?}");
    assert!(index_names(&b, "users").is_empty(), "b is not used yet: no I/O there");
    // The unique index is enforced.
    let err = da.insert_one(doc! {"email": "x@y"}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey);
    // The first operation on b, from another model handle on another thread, applies them there.
    let users2 = users.clone();
    let b2 = b.clone();
    std::thread::spawn(move || users2.db(&b2).unwrap().count_documents(doc! {}, None).unwrap())
        .join()
        .unwrap();
    let names = index_names(&b, "users");
    assert!(names.contains(&"email_1".to_string()), "{names:?}");
    drop(db_b);
    da.drop_collection().unwrap();
    users.db(&b).unwrap().drop_collection().unwrap();
}

#[test]
fn validator_via_model_options() {
    on_server_with_feature("validators", |uri| {
        let pm = PolyMongo::new(&Options::new(uri).default_db("pm_default")).unwrap();
        let model = pm
            .model(
                "validated",
                ModelOptions::default()
                    .validator(doc! {"$jsonSchema": {"bsonType": "object", "required": ["name"]}})
                    .validation_action(ValidationAction::Error),
            )
            .unwrap();
        let name = unique_db("validator");
        let db = model.db(&name).unwrap();
        match db.insert_one(doc! {"name": "ok"}, None) {
            Ok(_) => {
                let err = db.insert_one(doc! {"other": 1}, None).unwrap_err();
                assert!(matches!(err.kind(), ErrorKind::Server | ErrorKind::Write), "{err}");
                assert_eq!(err.server_code(), 121, "DocumentValidationFailure: {err}");
                assert_eq!(count_on(uri, &name, "validated"), 1);
                db.drop_collection().unwrap();
                Ok(())
            }
            Err(e) => {
                // The server cannot apply validators: the error reaches the caller, nothing written.
                assert!(matches!(e.kind(), ErrorKind::NotSupported | ErrorKind::Server), "{e}");
                assert!(e.message().contains("validator"), "{e}");
                assert_eq!(count_on(uri, &name, "validated"), 0);
                Err(Refused(e.to_string()))
            }
        }
    });
}

#[test]
fn dedicated_pool_via_db_specific() {
    let dedicated = unique_db("dedicated");
    let shared = unique_db("shared");
    let pm = PolyMongo::new(
        &Options::new(uri_with("waitQueueTimeoutMS=250"))
            .default_db("pm_default")
            .max_pool_size(1)
            .db_specific(DbSpecific::new(&dedicated).max_connections(2)),
    )
    .unwrap();
    let routed = pm.model("routed", None).unwrap();
    let s = routed.db(&shared).unwrap();
    let d = routed.db(&dedicated).unwrap();
    s.insert_many((0..3).map(|i| doc! {"i": i}), None).unwrap();
    // Hold the shared pool's only connection.
    let mut held = s.find(doc! {}, FindOptions::default().batch_size(1)).unwrap();
    assert!(held.next().unwrap().is_ok());
    let started = Instant::now();
    assert_eq!(s.insert_one(doc! {"i": 9}, None).unwrap_err().kind(), ErrorKind::Timeout);
    assert!(started.elapsed().as_millis() >= 200);
    // The dedicated database is unaffected: its traffic has its own pool.
    d.insert_one(doc! {"mine": true}, None).unwrap();
    d.insert_many([doc! {"mine": 2}, doc! {"mine": 3}], None).unwrap();
    assert_eq!(d.count_documents(doc! {}, None).unwrap(), 3);
    drop(held);
    // Documents reached their own databases only.
    assert_eq!(count(&dedicated, "routed"), 3);
    assert_eq!(count(&shared, "routed"), 3);
    assert_eq!(s.count_documents(doc! {"mine": true}, None).unwrap(), 0);
    d.drop_collection().unwrap();
    s.drop_collection().unwrap();
}

#[test]
fn default_database_comes_from_options_or_uri() {
    let pm = PolyMongo::new(&Options::new(server_uri()).default_db(unique_db("dflt"))).unwrap();
    let name = pm.default_db_name().unwrap().unwrap();
    assert!(name.starts_with("rs_dflt_"));
    let db = pm.model("c", None).unwrap().default_db().unwrap();
    assert_eq!(db.name().unwrap(), name);
    db.insert_one(doc! {"here": 1}, None).unwrap();
    assert_eq!(count(&name, "c"), 1);
    // A destructive call never falls back to the default database: it names it.
    assert_eq!(db.drop_collection().unwrap_err().kind(), ErrorKind::InvalidDbName);
    assert_eq!(count(&name, "c"), 1);
    pm.model("c", None).unwrap().db(&name).unwrap().drop_collection().unwrap();
    assert_eq!(count(&name, "c"), 0);

    // Without defaultDB: the database in the URI's path.
    let base = server_uri();
    let with_path = format!("{}/{}", base.trim_end_matches('/').split('?').next().unwrap(), "from_uri");
    let pm = PolyMongo::new(&Options::new(with_path)).unwrap();
    assert_eq!(pm.default_db_name().unwrap().as_deref(), Some("from_uri"));
    assert_eq!(pm.model("c", None).unwrap().default_db().unwrap().name().unwrap(), "from_uri");
    // Neither: there is no default database (wrapper.h), and binding or starting a session on
    // it fails with InvalidDbName, without I/O.
    let pm = PolyMongo::new(&Options::new(base)).unwrap();
    let model = pm.model("c", None).unwrap();
    assert_eq!(pm.default_db_name().unwrap(), None);
    let err = model.default_db().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidDbName, "{err}");
    assert_eq!(err.code(), polymongo::sys::PM_EDBNAME);
    assert_eq!(
        model.db("").unwrap_err().kind(),
        ErrorKind::InvalidDbName,
        "\"\" is the default database too"
    );
    assert_eq!(pm.start_session(None, None).unwrap_err().kind(), ErrorKind::InvalidDbName);
}
