//! CRUD across many databases, write results, find-and-modify, counts, aggregation, BSON types
//! and serde types, on the real server.
mod common;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Regex, Timestamp};
use common::*;
use polymongo::{
    doc, Document, ErrorKind, FindOneAndModifyOptions, FindOptions, Options, PolyMongo, ReturnDocument,
    UpdateOptions,
};
use serde::{Deserialize, Serialize};

#[test]
fn crud_across_many_databases() {
    let pm = wrapper();
    let orders = pm.model("orders", None).unwrap();
    let tenants: Vec<String> = (0..6).map(|_| unique_db("crud_tenant")).collect();
    for (i, name) in tenants.iter().enumerate() {
        let db = orders.db(name).unwrap();
        assert_eq!(db.name().unwrap(), *name);
        assert_eq!(db.collection().unwrap(), "orders");
        let docs: Vec<Document> = (0..=i).map(|k| doc! {"tenant": i as i32, "k": k as i32}).collect();
        let r = db.insert_many(docs, None).unwrap();
        assert_eq!(r.inserted_count(), i as u64 + 1);
    }
    // Each database holds exactly its own documents.
    for (i, name) in tenants.iter().enumerate() {
        let db = orders.db(name).unwrap();
        let docs: Vec<Document> = db.find(doc! {}, None).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(docs.len(), i + 1, "{name}");
        assert!(docs.iter().all(|d| d.get_i32("tenant").unwrap() == i as i32));
        assert_eq!(count(name, "orders"), i as u64 + 1, "independent count in {name}");
    }
    // Updating and deleting in one database leaves the others alone.
    let third = orders.db(&tenants[3]).unwrap();
    let r = third.update_many(doc! {}, doc! {"$set": {"touched": true}}, None).unwrap();
    assert_eq!((r.matched_count(), r.modified_count()), (4, 4));
    let r = third.delete_one(doc! {"k": 0}, None).unwrap();
    assert_eq!(r.deleted_count(), 1);
    for (i, name) in tenants.iter().enumerate() {
        let db = orders.db(name).unwrap();
        let touched = db.count_documents(doc! {"touched": true}, None).unwrap();
        let expect = if i == 3 { (3, 3) } else { (0, i as u64 + 1) };
        assert_eq!((touched, db.count_documents(doc! {}, None).unwrap()), expect, "{name}");
    }
    for name in &tenants {
        orders.db(name).unwrap().drop_collection().unwrap();
    }
}

#[test]
fn insert_one_reports_its_inserted_id() {
    // The official crate's InsertOneResult::inserted_id: the given _id, or the generated one,
    // which names the document as stored (read back through another wrapper).
    let pm = wrapper();
    let name = unique_db("inserted_id");
    let db = pm.model("items", None).unwrap().db(&name).unwrap();
    let r = db.insert_one(doc! {"_id": 42, "n": 1}, None).unwrap();
    assert_eq!(r.inserted_id(), Some(Bson::Int32(42)));

    let r = db.insert_one(doc! {"n": 2}, None).unwrap();
    let Some(Bson::ObjectId(generated)) = r.inserted_id() else {
        panic!("a generated ObjectId, got {:?}", r.inserted_id())
    };
    let other = wrapper();
    let stored = other.model("items", None).unwrap().db(&name).unwrap();
    let found = stored.find_one(doc! {"_id": generated}, None).unwrap().expect("stored under that _id");
    assert_eq!(found.get_i32("n").unwrap(), 2);

    // Nothing inserted, no id: a duplicate, and a write that is not an insert.
    let dup = db.insert_one(doc! {"_id": 42}, None).unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::DuplicateKey);
    assert_eq!(dup.write_result().and_then(|w| w.inserted_id()), None);
    assert_eq!(db.update_one(doc! {"n": 1}, doc! {"$set": {"m": 1}}, None).unwrap().inserted_id(), None);
    assert_eq!(count(&name, "items"), 2);
}

#[test]
fn write_results_report_counts_and_ids() {
    let pm = wrapper();
    let db = pm.model("items", None).unwrap().db(&unique_db("results")).unwrap();
    let id = ObjectId::new();
    let r = db.insert_one(doc! {"_id": id, "n": 1}, None).unwrap();
    assert_eq!(r.inserted_count(), 1);
    assert_eq!(r.inserted_ids().get(&0), Some(&Bson::ObjectId(id)));
    assert!(r.write_errors().is_empty());

    let r = db.insert_many([doc! {"n": 2}, doc! {"n": 3}, doc! {"n": 4}], None).unwrap();
    assert_eq!(r.inserted_count(), 3);
    assert_eq!(r.inserted_ids().len(), 3);

    let r = db.update_one(doc! {"n": 2}, doc! {"$inc": {"n": 10}}, None).unwrap();
    assert_eq!((r.matched_count(), r.modified_count()), (1, 1));
    assert!(db.find_one(doc! {"n": 12}, None).unwrap().is_some());

    let r = db
        .update_one(doc! {"n": 99}, doc! {"$set": {"up": true}}, UpdateOptions::default().upsert(true))
        .unwrap();
    assert_eq!((r.matched_count(), r.upserted_count()), (0, 1));
    let upserted = r.upserted_ids().remove(&0).expect("upserted id");
    let doc = db.find_one(doc! {"_id": upserted}, None).unwrap().unwrap();
    assert_eq!(doc.get_bool("up"), Ok(true));

    let r = db.replace_one(doc! {"n": 3}, doc! {"n": 30, "replaced": true}, None).unwrap();
    assert_eq!(r.modified_count(), 1);
    let replaced = db.find_one(doc! {"n": 30}, None).unwrap().unwrap();
    assert!(!replaced.contains_key("up") && replaced.get_bool("replaced") == Ok(true));

    let summary = r.to_document();
    assert_eq!(
        summary.get_i64("modifiedCount").ok().or(summary.get_i32("modifiedCount").ok().map(i64::from)),
        Some(1)
    );
    assert!(r.to_json(polymongo::JsonMode::Relaxed).contains("modifiedCount"));

    let r = db.delete_many(doc! {"n": {"$gte": 4}}, None).unwrap();
    assert_eq!(r.deleted_count(), 4); // 4, 12, 30 and the upsert's 99
    assert_eq!(db.find_one(doc! {}, None).unwrap().unwrap().get_i32("n"), Ok(1));
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 1);
    db.drop_collection().unwrap();
}

#[test]
fn find_one_and_modify_returns_before_or_after() {
    let pm = wrapper();
    let db = pm.model("counters", None).unwrap().db(&unique_db("fam")).unwrap();
    db.insert_one(doc! {"_id": "c", "v": 1}, None).unwrap();
    let before = db.find_one_and_update(doc! {"_id": "c"}, doc! {"$inc": {"v": 1}}, None).unwrap().unwrap();
    assert_eq!(before.get_i32("v"), Ok(1));
    let after = db
        .find_one_and_update(
            doc! {"_id": "c"},
            doc! {"$inc": {"v": 1}},
            FindOneAndModifyOptions::default().return_document(ReturnDocument::After),
        )
        .unwrap()
        .unwrap();
    assert_eq!(after.get_i32("v"), Ok(3));
    let old = db.find_one_and_replace(doc! {"_id": "c"}, doc! {"w": 9}, None).unwrap().unwrap();
    assert_eq!(old.get_i32("v"), Ok(3));
    assert_eq!(db.find_one(doc! {"_id": "c"}, None).unwrap().unwrap(), doc! {"_id": "c", "w": 9});
    assert!(db.find_one_and_update(doc! {"_id": "none"}, doc! {"$set": {"x": 1}}, None).unwrap().is_none());
    let gone = db.find_one_and_delete(doc! {"_id": "c"}, None).unwrap().unwrap();
    assert_eq!(gone.get_i32("w"), Ok(9));
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 0);
    db.drop_collection().unwrap();
}

#[test]
fn count_distinct_and_aggregate() {
    let pm = wrapper();
    let db = pm.model("sales", None).unwrap().db(&unique_db("agg")).unwrap();
    let docs: Vec<Document> = (0..20)
        .map(|i| {
            let region = ["north", "south", "east"][i % 3];
            doc! {"region": region, "amount": i as i64}
        })
        .collect();
    db.insert_many(docs, None).unwrap();
    assert_eq!(db.count_documents(doc! {"region": "north"}, None).unwrap(), 7);
    assert_eq!(db.estimated_document_count(None).unwrap(), 20);
    let mut regions: Vec<String> = db
        .distinct("region", doc! {}, None)
        .unwrap()
        .into_iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    regions.sort();
    assert_eq!(regions, ["east", "north", "south"]);

    let totals: Vec<Document> = db
        .aggregate(
            [doc! {"$group": {"_id": "$region", "total": {"$sum": "$amount"}}}, doc! {"$sort": {"_id": 1}}],
            None,
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let got: Vec<(String, i64)> =
        totals.iter().map(|d| (d.get_str("_id").unwrap().to_string(), d.get_i64("total").unwrap())).collect();
    // north: 0,3,..,18 = 63; south: 1,4,..,19 = 70; east: 2,5,..,17 = 57
    assert_eq!(got, [("east".into(), 57), ("north".into(), 63), ("south".into(), 70)]);
    db.drop_collection().unwrap();
}

#[test]
fn bson_types_keep_their_types() {
    let pm = wrapper();
    let db = pm.model("types", None).unwrap().db(&unique_db("bson")).unwrap();
    let when = DateTime::from_millis(1_700_000_000_123);
    let original = doc! {
        "_id": ObjectId::new(),
        "i32": 7_i32,
        "i64": 7_i64,
        "big": i64::MAX,
        "f64": 7.5_f64,
        "str": "héllo ✓",
        "bool": true,
        "null": Bson::Null,
        "date": when,
        "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] },
        "regex": Regex { pattern: "^a.*z$".into(), options: "i".into() },
        "ts": Timestamp { time: 1_700_000_000, increment: 3 },
        "arr": [1_i32, "two", 3.0_f64, {"four": 4_i64}],
        "nested": {"deep": {"er": [true, Bson::Null]}},
    };
    db.insert_one(&original, None).unwrap();
    let back = db.find_one(doc! {"_id": original.get_object_id("_id").unwrap()}, None).unwrap().unwrap();
    assert_eq!(back, original, "every value with its exact BSON type");
    assert!(matches!(back.get("i32"), Some(Bson::Int32(7))));
    assert!(matches!(back.get("i64"), Some(Bson::Int64(7))));
    // Queries by typed values match.
    assert_eq!(db.count_documents(doc! {"date": when}, None).unwrap(), 1);
    assert_eq!(
        db.count_documents(doc! {"ts": Timestamp { time: 1_700_000_000, increment: 3 }}, None).unwrap(),
        1
    );
    db.drop_collection().unwrap();
}

#[test]
fn decimal128_round_trips() {
    let bytes = {
        // 1.5 as Decimal128: coefficient 15, exponent -1 (bias 6176).
        let mut b = [0u8; 16];
        b[0] = 15;
        let exp: u64 = (6176 - 1) << 49;
        b[8..].copy_from_slice(&exp.to_le_bytes());
        b
    };
    let value = bson::Decimal128::from_bytes(bytes);
    on_server_with_feature("Decimal128", |uri| {
        let pm = PolyMongo::new(&Options::new(uri).default_db("pm_default")).unwrap();
        let name = unique_db("dec");
        let db = pm.model("money", None).unwrap().db(&name).unwrap();
        match db.insert_one(doc! {"_id": 1, "price": value}, None) {
            Ok(_) => {
                let back = db.find_one(doc! {"_id": 1}, None).unwrap().unwrap();
                assert_eq!(back.get("price"), Some(&Bson::Decimal128(value)));
                assert_eq!(
                    db.count_documents(doc! {"price": value}, None).unwrap(),
                    1,
                    "queried by its value"
                );
                db.drop_collection().unwrap();
                Ok(())
            }
            Err(e) => {
                // FerretDB drops the connection on a Decimal128 (Connect); others refuse it.
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::Server
                            | ErrorKind::NotSupported
                            | ErrorKind::InvalidArgument
                            | ErrorKind::Connect
                    ),
                    "{e}"
                );
                assert_eq!(count_on(uri, &name, "money"), 0, "nothing written");
                Err(Refused(e.to_string()))
            }
        }
    });
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: String,
    age: i32,
    tags: Vec<String>,
    joined: DateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    manager: Option<String>,
}

#[test]
fn serde_types_in_and_out() {
    let pm = wrapper();
    let users = pm.model("users", None).unwrap().db(&unique_db("serde")).unwrap().typed::<User>();
    let people: Vec<User> = (0..5)
        .map(|i| User {
            id: ObjectId::new(),
            name: format!("user{i}"),
            age: 20 + i,
            tags: vec!["a".into(); i as usize],
            joined: DateTime::from_millis(1_600_000_000_000 + i as i64),
            manager: (i % 2 == 0).then(|| "boss".to_string()),
        })
        .collect();
    users.insert_many(&people, None).unwrap();
    let got = users.find_one(doc! {"name": "user3"}, None).unwrap().unwrap();
    assert_eq!(got, people[3]);
    let adults: Vec<User> = users
        .find(doc! {"age": {"$gte": 22}}, FindOptions::default().sort(doc! {"age": 1}))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(adults, people[2..]);

    // A document that does not fit the type is a Decode error, not a panic.
    users.insert_one(doc! {"name": "broken", "age": "not a number"}, None).unwrap();
    let err = users.find_one(doc! {"name": "broken"}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(std::error::Error::source(&err).is_some());
    // The same document reads fine as a Document.
    let raw = users.typed::<Document>().find_one(doc! {"name": "broken"}, None).unwrap().unwrap();
    assert_eq!(raw.get_str("age"), Ok("not a number"));
    users.drop_collection().unwrap();
}
