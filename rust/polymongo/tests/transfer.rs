//! Export, import, copy and drop of whole databases (bulk.h), on the real server.
mod common;

use std::io;

use common::*;
use polymongo::bson::{oid::ObjectId, spec::BinarySubtype, Binary, DateTime};
use polymongo::{
    doc, Bson, Document, ErrorKind, FindOptions, ImportOptions, IndexModel, IndexOptions, ModelOptions,
    PolyMongo, Progress,
};

/// Fills `db` with typed documents in two collections ("items", with a unique index on `sku`
/// from the model options, and "notes").
fn seed(pm: &PolyMongo, db: &str) -> Vec<Document> {
    let items = pm
        .model(
            "items",
            ModelOptions::default().indexes(vec![IndexModel::new(doc! {"sku": 1})
                .options(IndexOptions::default().unique(true).name("sku_unique"))]),
        )
        .unwrap()
        .db(db)
        .unwrap();
    let docs: Vec<Document> = (0..25)
        .map(|i| {
            doc! {
                "_id": i,
                "sku": format!("sku-{i}"),
                "big": 5_000_000_000_i64 + i as i64,
                "price": 1.5 * i as f64,
                "at": DateTime::from_millis(1_700_000_000_000 + i as i64),
                "oid": ObjectId::parse_str("64b7f0c2a1b2c3d4e5f60718").unwrap(),
                "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, i as u8] },
                "tags": ["a", Bson::Null, {"n": i}],
            }
        })
        .collect();
    items.insert_many(docs.clone(), None).unwrap();
    pm.model("notes", None)
        .unwrap()
        .db(db)
        .unwrap()
        .insert_one(doc! {"_id": "n1", "text": "hello"}, None)
        .unwrap();
    docs
}

fn all(pm: &PolyMongo, db: &str, collection: &str) -> Vec<Document> {
    let d = pm.model(collection, None).unwrap().db(db).unwrap();
    d.find(doc! {}, FindOptions::default().sort(doc! {"_id": 1})).unwrap().map(Result::unwrap).collect()
}

#[test]
fn export_then_import_round_trips_every_document_type_and_index() {
    let pm = wrapper();
    let (src, dst) = (unique_db("exp_src"), unique_db("exp_dst"));
    let docs = seed(&pm, &src);

    let mut ndjson = Vec::new();
    let mut seen = Vec::new();
    let mut progress = |p: Progress| seen.push(p);
    pm.export(&src, &mut ndjson, Some(&mut progress)).unwrap();
    let text = String::from_utf8(ndjson.clone()).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "meta");
    assert_eq!(first["database"], src.as_str());
    assert!(text.contains("\"$numberLong\""), "canonical Extended JSON");
    assert_eq!(seen.last().map(|p| p.documents), Some(26), "progress at the end: {seen:?}");

    let mut imported = Vec::new();
    let mut on_import = |p: Progress| imported.push(p);
    let report = pm.import(&dst, ndjson.as_slice(), None, Some(&mut on_import)).unwrap();
    assert!(report.ok, "{}", report.json);
    assert_eq!((report.database.as_str(), report.documents, report.failures), (dst.as_str(), 26, 0));
    let items = report.collections.iter().find(|c| c.name == "items").expect("items in the report");
    assert_eq!(items.documents, 25);
    assert!(items.indexes >= 1, "{}", report.json);
    assert_eq!(imported.last().map(|p| p.documents), Some(26));

    assert_eq!(all(&pm, &dst, "items"), docs, "every BSON type round-trips exactly");
    assert_eq!(all(&pm, &dst, "notes"), vec![doc! {"_id": "n1", "text": "hello"}]);
    assert!(index_names(&dst, "items").contains(&"sku_unique".to_string()));
    assert_eq!(count(&src, "items"), 25, "the source is untouched");
}

#[test]
fn export_file_and_import_file_round_trip() {
    let pm = wrapper();
    let (src, dst) = (unique_db("file_src"), unique_db("file_dst"));
    let docs = seed(&pm, &src);
    let path = std::env::temp_dir().join(format!("{src}.ndjson"));
    pm.export_file(&src, &path, None).unwrap();
    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    assert!(lines >= 26 + 2 + 2, "meta, collections, documents, ends: {lines} lines");
    let report = pm.import_file(&dst, &path, ImportOptions::default().batch_size(7u32), None).unwrap();
    assert_eq!(report.documents, 26);
    assert_eq!(report.lines as usize, lines);
    assert_eq!(all(&pm, &dst, "items"), docs);
    std::fs::remove_file(&path).unwrap();

    let missing = pm.import_file(&dst, "/nonexistent/dir/x.ndjson", None, None).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InvalidArgument, "{missing}");
}

#[test]
fn export_document_and_import_document_round_trip() {
    let pm = wrapper();
    let (src, dst) = (unique_db("doc_src"), unique_db("doc_dst"));
    let docs = seed(&pm, &src);
    let exported = pm.export_document(&src).unwrap();
    assert_eq!(exported.get_str("database").unwrap(), src);
    let collections = exported.get_document("collections").unwrap();
    assert_eq!(collections.get_document("items").unwrap().get_array("documents").unwrap().len(), 25);
    let report = pm.import_document(&dst, &exported, None).unwrap();
    assert_eq!((report.documents, report.failures), (26, 0));
    assert_eq!(all(&pm, &dst, "items"), docs);
}

#[test]
fn copy_database_then_drop_database() {
    let pm = wrapper();
    let (src, dst) = (unique_db("copy_src"), unique_db("copy_dst"));
    let docs = seed(&pm, &src);
    let mut calls = 0;
    let mut progress = |_: Progress| calls += 1;
    let report = pm.copy_database(&src, &dst, None, Some(&mut progress)).unwrap();
    assert_eq!(report.documents, 26);
    assert!(calls >= 1);
    assert_eq!(all(&pm, &dst, "items"), docs);
    assert!(index_names(&dst, "items").contains(&"sku_unique".to_string()));

    pm.drop_database(&dst).unwrap();
    assert_eq!(count(&dst, "items"), 0, "dropped");
    assert_eq!(count(&src, "items"), 25, "only that database");
    let bad = pm.drop_database("bad/name").unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidDbName, "{bad}");
}

#[test]
fn refused_documents_fail_with_write_and_the_report() {
    let pm = wrapper();
    let (src, dst) = (unique_db("dup_src"), unique_db("dup_dst"));
    seed(&pm, &src);
    let mut ndjson = Vec::new();
    pm.export(&src, &mut ndjson, None).unwrap();
    // The destination already holds two of the _ids: those are refused, the rest land.
    let items = pm.model("items", None).unwrap().db(&dst).unwrap();
    items.insert_many([doc! {"_id": 3, "sku": "x3"}, doc! {"_id": 4, "sku": "x4"}], None).unwrap();
    let err = pm.import(&dst, ndjson.as_slice(), None, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Write, "{err}");
    let report = err.import_report().expect("the report comes with the error");
    assert_eq!(report.failures, 2, "{}", report.json);
    assert_eq!(report.documents, 24, "{}", report.json);
    let coll = report.collections.iter().find(|c| c.name == "items").unwrap();
    assert_eq!(coll.failures, 2);
    assert!(!coll.errors.is_empty());
    assert_eq!(count(&dst, "items"), 25);
    assert_eq!(items.find_one(doc! {"_id": 3}, None).unwrap().unwrap().get_str("sku").unwrap(), "x3");
}

#[test]
fn a_malformed_line_fails_with_invalid_argument_naming_it() {
    let pm = wrapper();
    let dst = unique_db("bad_line");
    let input = format!(
        "{}\n{}\n{}\nnot json at all\n{}\n",
        r#"{"type":"meta","format":"polymongo-export","version":1,"database":"x"}"#,
        r#"{"type":"collection","name":"items","options":{}}"#,
        r#"{"type":"document","collection":"items","doc":{"_id":{"$numberInt":"1"}}}"#,
        r#"{"type":"document","collection":"items","doc":{"_id":{"$numberInt":"2"}}}"#,
    );
    let err = pm.import(&dst, input.as_bytes(), None, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains('4'), "names line 4: {err}");
    assert_eq!(count(&dst, "items"), 1, "what came before the bad line was written");
}

/// A writer that fails after `left` bytes.
struct Failing {
    left: usize,
}

impl io::Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_errors_and_bad_arguments_become_errors_not_crashes() {
    let pm = wrapper();
    let src = unique_db("io_err");
    seed(&pm, &src);
    let err = pm.export(&src, Failing { left: 300 }, None).unwrap_err();
    assert!(err.message().contains("disk full"), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the io::Error is the source");

    let bad = pm.export("bad/name", io::sink(), None).unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidDbName);
    assert_eq!(pm.import("a\0b", io::empty(), None, None).unwrap_err().kind(), ErrorKind::InvalidArgument);

    // A panicking progress callback is resumed on this thread after C returns, not an abort.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut boom = |_: Progress| panic!("progress panicked");
        let _ = pm.export(&src, io::sink(), Some(&mut boom));
    }));
    assert!(caught.is_err());

    pm.close();
    assert_eq!(pm.export_document(&src).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(pm.drop_database(&src).unwrap_err().kind(), ErrorKind::Closed);
}
