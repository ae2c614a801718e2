//! How failures reach Rust: duplicate keys, per-index bulk write errors, invalid database
//! names, wrong argument types and options, unreachable servers. Never a crash.
mod common;

use std::time::{Duration, Instant};

use common::*;
use polymongo::{
    doc, BulkWriteOptions, Document, ErrorKind, FindOptions, IndexOptions, InsertOptions, ModelOptions,
    Options, PolyMongo, WriteModel,
};

#[test]
fn duplicate_key_maps_to_error_kind_with_code() {
    let pm = wrapper();
    let db = pm.model("accounts", None).unwrap().db(&unique_db("dup")).unwrap();
    db.create_index(doc! {"email": 1}, IndexOptions::default().unique(true)).unwrap();
    db.insert_one(doc! {"_id": 1, "email": "a@x"}, None).unwrap();

    let err = db.insert_one(doc! {"_id": 2, "email": "a@x"}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{err:?}");
    assert!(err.is_duplicate_key());
    assert_eq!(err.code(), polymongo::sys::PM_EDUPKEY);
    assert_eq!(err.server_code(), 11000);
    assert!(err.message().contains("E11000") || err.message().to_lowercase().contains("duplicate"), "{err}");
    assert!(err.to_string().contains("PM_EDUPKEY"));
    // The same through `?` into a boxed std error.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.downcast_ref::<polymongo::Error>().unwrap().is_duplicate_key());

    // Duplicate _id too; nothing was written by the failed calls.
    let err = db.insert_one(doc! {"_id": 1, "email": "b@x"}, None).unwrap_err();
    assert_eq!((err.kind(), err.server_code()), (ErrorKind::DuplicateKey, 11000));
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 1);
    db.drop_collection().unwrap();
}

#[test]
fn bulk_write_reports_per_index_write_errors() {
    let pm = wrapper();
    let db = pm.model("bulk", None).unwrap().db(&unique_db("bulk")).unwrap();
    db.insert_one(doc! {"_id": 1, "n": "text"}, None).unwrap();

    // Unordered: every operation runs; 1 and 3 are duplicates, 4 is a type error.
    let ops = vec![
        WriteModel::insert_one(doc! {"_id": 10}),
        WriteModel::insert_one(doc! {"_id": 1}),
        WriteModel::update_one(doc! {"_id": 10}, doc! {"$set": {"seen": true}}),
        WriteModel::insert_one(doc! {"_id": 10}),
        WriteModel::update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}),
        WriteModel::delete_many(doc! {"_id": {"$gt": 100}}),
        WriteModel::replace_one(doc! {"_id": 11}, doc! {"r": 1}).upsert(true),
    ];
    let err = db.bulk_write(ops.clone(), BulkWriteOptions::default().ordered(false)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Write, "a mix of failures: {err:?}");
    let result = err.write_result().expect("the result travels with the error");
    let errors = result.write_errors();
    let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
    assert_eq!(indexes, [1, 3, 4], "{errors:?}");
    assert_eq!(errors[0].code, 11000);
    assert_eq!(errors[1].code, 11000);
    assert_ne!(errors[2].code, 11000);
    // Per operation, the library's rule (pm_is_duplicate_key) classifies the server's codes.
    assert!(errors[0].is_duplicate_key() && errors[1].is_duplicate_key());
    assert!(!errors[2].is_duplicate_key(), "{:?}", errors[2]);
    assert!(!errors[2].message.is_empty());
    assert_eq!(result.inserted_count(), 1);
    assert_eq!(result.matched_count(), 1);
    assert_eq!(result.upserted_count(), 1);
    assert_eq!(result.upserted_ids().keys().copied().collect::<Vec<_>>(), [6]);
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 3); // 1, 10, 11
    assert_eq!(db.find_one(doc! {"_id": 10}, None).unwrap().unwrap(), doc! {"_id": 10, "seen": true});

    // Ordered (default): stops at the first failure; only duplicates: DuplicateKey.
    let db2 = pm.model("bulk", None).unwrap().db(&unique_db("bulk_ordered")).unwrap();
    db2.insert_one(doc! {"_id": 1}, None).unwrap();
    let err = db2
        .bulk_write(
            [
                WriteModel::insert_one(doc! {"_id": 2}),
                WriteModel::insert_one(doc! {"_id": 1}),
                WriteModel::insert_one(doc! {"_id": 3}),
            ],
            None,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{err:?}");
    let result = err.write_result().unwrap();
    assert_eq!(result.inserted_count(), 1);
    assert_eq!(result.write_errors().iter().map(|e| e.index).collect::<Vec<_>>(), [1]);
    assert_eq!(db2.count_documents(doc! {}, None).unwrap(), 2);

    // insert_many reports the same way.
    let err = db2
        .insert_many(
            [doc! {"_id": 5}, doc! {"_id": 2}, doc! {"_id": 6}],
            InsertOptions::default().ordered(false),
        )
        .unwrap_err();
    let r = err.write_result().unwrap();
    assert_eq!((r.inserted_count(), r.write_errors()[0].index), (2, 1));
    db.drop_collection().unwrap();
    db2.drop_collection().unwrap();
}

#[test]
fn invalid_database_names_are_errors() {
    let pm = wrapper();
    let model = pm.model("things", None).unwrap();
    let too_long = "x".repeat(64);
    for bad in [
        "has space",
        "a/b",
        "a.b",
        "dollar$",
        "back\\slash",
        "quote\"",
        too_long.as_str(),
        "admin",
        "local",
        "config",
    ] {
        let err = model.db(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidDbName, "{bad:?}: {err}");
        assert!(!err.message().is_empty());
        let err = pm.check_db_name(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidDbName, "{bad:?}");
    }
    // A NUL byte cannot reach C at all: the normal InvalidArgument error.
    assert_eq!(model.db("a\0b").unwrap_err().kind(), ErrorKind::InvalidArgument);
    // Valid names work; "" is the default database.
    pm.check_db_name("tenant_1-ok").unwrap();
    assert_eq!(model.db(&"y".repeat(63)).unwrap().name().unwrap().len(), 63);
    assert_eq!(model.default_db().unwrap().name().unwrap(), "pm_default");
    assert_eq!(model.db("").unwrap().name().unwrap(), "pm_default");
    assert_eq!(pm.default_db_name().unwrap().as_deref(), Some("pm_default"));
    // System databases only when allowed.
    let admin_ok = PolyMongo::new(&options().allow_system_databases(true)).unwrap();
    admin_ok.check_db_name("admin").unwrap();
}

#[test]
fn wrong_argument_types_are_invalid_argument() {
    let pm = wrapper();
    let db = pm.model("typed", None).unwrap().db(&unique_db("wrongtypes")).unwrap();
    // Values that are not documents are refused before anything is sent.
    for err in [
        db.insert_one(42, None).unwrap_err(),
        db.insert_one("a string", None).unwrap_err(),
        db.insert_one(vec![1, 2, 3], None).unwrap_err(),
        db.insert_many([1, 2], None).unwrap_err(),
        db.find(3.5, None).unwrap_err(),
        db.count_documents(true, None).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.message().contains("BSON document"), "{err}");
    }
    // An update without $-operators is refused by the library.
    let err = db.update_one(doc! {}, doc! {"plain": 1}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // Options of the wrong type or unknown to the driver.
    let err = db
        .find(doc! {}, FindOptions::default().option("limit", "ten"))
        .and_then(|c| c.collect::<Result<Vec<Document>, _>>())
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument | ErrorKind::Server), "{err}");
    // Strings with NUL bytes.
    assert_eq!(db.distinct("a\0b", doc! {}, None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(pm.model("bad\0name", None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // Bad model definitions.
    for name in ["", "a$b", "system.users"] {
        assert_eq!(pm.model(name, None).unwrap_err().kind(), ErrorKind::InvalidArgument, "{name:?}");
    }
    let err = pm.model("x", ModelOptions::default().option("indexes", doc! {})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 0, "nothing was written");
}

#[test]
fn invalid_wrapper_options_name_the_option() {
    let cases: Vec<(Options, &str)> = vec![
        (options().max_pool_size(0), "maxPoolSize"),
        (options().option("maxPoolSise", 3), "maxPoolSise"),
        (options().option("coldStart", "yes"), "coldStart"),
        (Options::new("http://not-mongo/"), "mongoURI"),
        (options().max_pool_size(2).min_free_connections(5), "minFreeConnections"),
    ];
    for (opts, name) in cases {
        let err = PolyMongo::new(&opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name}: {err}");
        assert!(err.message().contains(name), "message names {name}: {err}");
    }
    let err = PolyMongo::from_json("{not json").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err =
        PolyMongo::from_json(r#"{"mongoURI": "mongodb://user:s3cret@127.0.0.1:1/", "maxPoolSize": -1}"#)
            .unwrap_err();
    assert!(!err.message().contains("s3cret"), "credentials never appear: {err}");
}

#[test]
fn unreachable_server_is_a_connect_error_in_bounded_time() {
    let pm = PolyMongo::new(
        &Options::new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
            .default_db("x"),
    )
    .unwrap();
    let db = pm.model("nowhere", None).unwrap().default_db().unwrap();
    let started = Instant::now();
    assert_eq!(db.insert_one(doc! {"a": 1}, None).unwrap_err().kind(), ErrorKind::Connect);
    assert_eq!(db.find(doc! {}, None).unwrap_err().kind(), ErrorKind::Connect);
    assert_eq!(db.count_documents(doc! {}, None).unwrap_err().kind(), ErrorKind::Connect);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
