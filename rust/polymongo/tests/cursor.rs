//! find with options, cursor iteration (typed, raw, JSON), and the pooled connection a cursor
//! holds, on the real server.
mod common;

use common::*;
use polymongo::{doc, Document, ErrorKind, FindOptions, JsonMode, Options, PolyMongo};

fn seeded(prefix: &str, n: i32) -> (PolyMongo, polymongo::Db) {
    let pm = wrapper();
    let db = pm.model("seq", None).unwrap().db(&unique_db(prefix)).unwrap();
    let docs: Vec<Document> =
        (0..n).map(|i| doc! {"i": i, "even": i % 2 == 0, "pad": "x".repeat(10)}).collect();
    db.insert_many(docs, None).unwrap();
    (pm, db)
}

#[test]
fn find_with_options_and_cursor_iteration() {
    let (_pm, db) = seeded("find", 25);
    let opts = FindOptions::default()
        .sort(doc! {"i": -1})
        .skip(2)
        .limit(10)
        .batch_size(3)
        .projection(doc! {"_id": 0, "i": 1});
    let mut cursor = db.find(doc! {"even": true}, opts).unwrap();
    let first = cursor.next().unwrap().unwrap();
    assert_eq!(first, doc! {"i": 20}, "sorted descending, skipped 24 and 22, projected");
    assert_ne!(cursor.id(), 0, "more batches are pending on the server");
    let rest: Vec<i32> = cursor.by_ref().map(|d| d.unwrap().get_i32("i").unwrap()).collect();
    assert_eq!(rest, [18, 16, 14, 12, 10, 8, 6, 4, 2, 0][..rest.len()]);
    assert_eq!(rest.len(), 9, "limit 10 in all");
    assert_eq!(cursor.id(), 0);
    assert!(cursor.next().is_none(), "fused after the end");
    assert!(cursor.try_next().unwrap().is_none());

    // An empty result is an empty iterator.
    assert_eq!(db.find(doc! {"i": -1}, None).unwrap().count(), 0);
    // find_one honours sort and projection.
    let top = db
        .find_one(doc! {}, FindOptions::default().sort(doc! {"i": -1}).projection(doc! {"_id": 0, "i": 1}))
        .unwrap();
    assert_eq!(top, Some(doc! {"i": 24}));
    db.drop_collection().unwrap();
}

#[test]
fn cursor_raw_typed_and_json_views() {
    let (_pm, db) = seeded("views", 4);
    let opts = || FindOptions::default().sort(doc! {"i": 1}).projection(doc! {"_id": 0});
    // Zero-copy: borrowed from the library's buffer until the next call.
    let mut cursor = db.find(doc! {}, opts()).unwrap();
    let mut seen = Vec::new();
    while let Some(raw) = cursor.next_raw().unwrap() {
        seen.push(raw.get_i32("i").unwrap());
    }
    assert_eq!(seen, [0, 1, 2, 3]);

    // Typed: any DeserializeOwned type.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Row {
        i: i32,
        even: bool,
    }
    let rows: Vec<Row> =
        db.find(doc! {}, opts()).unwrap().with_type::<Row>().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows[3], Row { i: 3, even: false });

    // Extended JSON, canonical keeps the int32 type visible.
    let mut cursor = db.find(doc! {"i": 2}, opts()).unwrap();
    let json = cursor.next_json(JsonMode::Canonical).unwrap().unwrap();
    assert!(json.contains(r#""$numberInt" : "2""#) || json.contains(r#""$numberInt":"2""#), "{json}");
    assert!(cursor.next_json(JsonMode::Relaxed).unwrap().is_none());
    db.drop_collection().unwrap();
}

#[test]
fn cursor_holds_a_connection_until_dropped() {
    let pm = PolyMongo::new(
        &Options::new(uri_with("waitQueueTimeoutMS=300")).default_db("pm_default").max_pool_size(1),
    )
    .unwrap();
    let db = pm.model("held", None).unwrap().db(&unique_db("held")).unwrap();
    db.insert_many((0..5).map(|i| doc! {"i": i}), None).unwrap();

    let mut cursor = db.find(doc! {}, FindOptions::default().batch_size(1)).unwrap();
    assert!(cursor.next().unwrap().is_ok());
    // The only pooled connection is pinned by the open cursor: a bounded wait, then Timeout.
    let started = std::time::Instant::now();
    let err = db.count_documents(doc! {}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));

    // Dropping the cursor early kills it and returns the connection.
    drop(cursor);
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 5);

    // Exhausting a cursor returns the connection too, even before the handle is dropped.
    let mut cursor = db.find(doc! {}, FindOptions::default().batch_size(2)).unwrap();
    assert_eq!(cursor.by_ref().count(), 5);
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 5);
    drop(cursor);
    db.drop_collection().unwrap();
}

#[test]
fn indexes_created_listed_and_dropped() {
    let (_pm, db) = seeded("idx", 3);
    let name = db
        .create_index(doc! {"i": 1, "even": -1}, polymongo::IndexOptions::default().name("i_even"))
        .unwrap();
    assert_eq!(name, "i_even");
    let auto = db.create_index(doc! {"pad": 1}, None).unwrap();
    assert_eq!(auto, "pad_1");
    // The library's naming rule, computed without the server, names what the server made.
    assert_eq!(polymongo::index_name(doc! {"pad": 1}).unwrap(), auto);
    assert_eq!(polymongo::index_name(doc! {"i": 1, "even": -1}).unwrap(), "i_1_even_-1");
    assert_eq!(polymongo::index_name(doc! {"a": 1.5}).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let names: Vec<String> =
        db.list_indexes().unwrap().map(|spec| spec.unwrap().get_str("name").unwrap().to_string()).collect();
    for expected in ["_id_", "i_even", "pad_1"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    db.drop_index("i_even").unwrap();
    assert!(!index_names(&db.name().unwrap(), "seq").contains(&"i_even".to_string()));
    db.drop_index(&polymongo::index_name(doc! {"pad": 1}).unwrap()).unwrap();
    assert!(!index_names(&db.name().unwrap(), "seq").contains(&auto));
    let err = db.drop_index("no_such_index").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_ne!(err.server_code(), 0);
    db.drop_collection().unwrap();
}
