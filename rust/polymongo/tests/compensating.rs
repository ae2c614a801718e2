//! Compensating transactions: exact undo logs across pools and clusters, on FerretDB (which has
//! no native transactions). Database `a` is on the main server, `b` on the second one
//! ("another cluster") when the fixture started it, else on a dedicated pool of the main one.
mod common;

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use common::*;
use polymongo::{
    doc, CompensatingOptions, DbSpecific, Document, ErrorKind, FindOneAndModifyOptions, Model, Options,
    PolyMongo, Session, WriteModel,
};

struct Setup {
    pm: PolyMongo,
    items: Model,
    a: String,
    b: String,
    b_uri: String,
    journal: String,
}

impl Setup {
    fn new() -> Setup {
        let (a, b) = (unique_db("comp_a"), unique_db("comp_b"));
        let b_uri = second_uri().unwrap_or_else(server_uri);
        let journal = unique_db("journal");
        let pm = PolyMongo::new(&Setup::options(&a, &b, &b_uri, &journal)).unwrap();
        let items = pm.model("items", None).unwrap();
        let s = Setup { pm, items, a, b, b_uri, journal };
        let (da, db) = (s.items.db(&s.a).unwrap(), s.items.db(&s.b).unwrap());
        da.insert_many((1..=5).map(|i| doc! {"_id": i, "v": i, "tag": "orig"}), None).unwrap();
        db.insert_many([doc! {"_id": "x", "n": 5}, doc! {"_id": "y", "n": 7}], None).unwrap();
        s
    }

    fn options(a: &str, b: &str, b_uri: &str, journal: &str) -> Options {
        Options::new(server_uri())
            .default_db(a)
            .db_specific(DbSpecific::new(b).mongo_uri(b_uri))
            .journal_db(journal)
    }

    /// Both databases as the servers hold them, read through independent wrappers.
    fn snapshot(&self) -> (Vec<Document>, Vec<Document>) {
        let read = |uri: &str, db: &str| -> Vec<Document> {
            let pm = PolyMongo::new(&Options::new(uri)).unwrap();
            let d = pm.model("items", None).unwrap().db(db).unwrap();
            let opts = polymongo::FindOptions::default().sort(doc! {"_id": 1});
            d.find(doc! {}, opts).unwrap().collect::<Result<_, _>>().unwrap()
        };
        (read(&server_uri(), &self.a), read(&self.b_uri, &self.b))
    }

    fn cleanup(&self) {
        for db in [&self.a, &self.b] {
            self.items.db(db).unwrap().drop_collection().unwrap();
        }
    }
}

/// Several kinds of writes in both databases through a compensating session.
fn write_everything(s: &Session, setup: &Setup) -> polymongo::Result<()> {
    let a = setup.items.db(&setup.a)?.with_session(s)?;
    let b = setup.items.db(&setup.b)?.with_session(s)?;
    a.insert_one(doc! {"_id": 6, "v": 6}, None)?;
    b.update_one(doc! {"_id": "x"}, doc! {"$set": {"n": 999}}, None)?;
    a.delete_one(doc! {"_id": 1}, None)?;
    a.update_many(doc! {"v": {"$gte": 3}}, doc! {"$set": {"tag": "changed"}}, None)?;
    b.replace_one(doc! {"_id": "y"}, doc! {"replaced": true}, None)?;
    b.insert_many([doc! {"_id": "new1"}, doc! {"_id": "new2"}], None)?;
    a.delete_many(doc! {"v": {"$lte": 2}}, None)?;
    Ok(())
}

#[test]
fn compensating_abort_restores_both_clusters_exactly() {
    let setup = Setup::new();
    let before = setup.snapshot();
    let session = setup.pm.start_compensating(None).unwrap();
    assert!(session.is_compensating());
    assert_eq!(session.rollback_report().unwrap(), None, "no rollback yet");

    session.start_transaction(None).unwrap();
    assert!(session.in_transaction());
    write_everything(&session, &setup).unwrap();
    let during = setup.snapshot();
    assert_ne!(during, before, "no isolation: others see the writes before the end");
    assert_eq!(during.1.len(), 4);

    session.abort_transaction().unwrap();
    assert!(!session.in_transaction());
    assert_eq!(setup.snapshot(), before, "every write undone, exactly");
    let report = session.rollback_report().unwrap().expect("a report after the rollback");
    assert!(!report.txn.is_empty());
    assert_eq!(report.failed_steps, 0);
    assert_eq!(report.steps.len(), 7, "{report:?}");
    assert!(report.steps.iter().all(|s| s.ok && s.error.is_none()), "{report:?}");
    assert!(report.steps.windows(2).all(|w| w[0].seq > w[1].seq), "newest first: {report:?}");
    // The undo of the last write first: delete_many, of _id 2 (1 was deleted before).
    let first = &report.steps[0];
    assert_eq!(
        (first.db.as_str(), first.collection.as_str(), first.undo.as_str()),
        (setup.a.as_str(), "items", "restore_docs")
    );
    assert_eq!(first.documents, 1);
    let many = &report.steps[3]; // update_many of _id 3, 4, 5 (and 6, inserted before it)
    assert_eq!((many.undo.as_str(), many.documents), ("restore_docs", 4), "{report:?}");
    let last = report.steps.last().unwrap(); // the undo of the first write: the insert
    assert_eq!((last.undo.as_str(), last.documents), ("delete_ids", 1));

    // Committing keeps the writes; the report belongs to the last transaction, which did not
    // roll back.
    session.start_transaction(None).unwrap();
    write_everything(&session, &setup).unwrap();
    session.commit_transaction().unwrap();
    let after = setup.snapshot();
    assert_eq!(after.0.iter().map(|d| d.get_i32("_id").unwrap()).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
    assert_eq!(after.1.iter().find(|d| d.get_str("_id") == Ok("x")).unwrap().get_i32("n").unwrap(), 999);
    assert_eq!(session.rollback_report().unwrap(), None);
    drop(session);
    setup.cleanup();
}

#[derive(Debug, PartialEq)]
enum AppError {
    Refused,
    Db(ErrorKind),
}

impl From<polymongo::Error> for AppError {
    fn from(e: polymongo::Error) -> Self {
        AppError::Db(e.kind())
    }
}

#[test]
fn compensating_with_transaction_err_and_panic_roll_back_ok_commits() {
    let setup = Setup::new();
    let before = setup.snapshot();
    let session = setup.pm.start_compensating(None).unwrap();
    let a = setup.items.db(&setup.a).unwrap().with_session(&session).unwrap();
    let b = setup.items.db(&setup.b).unwrap().with_session(&session).unwrap();

    // Err: rolled back, the closure's error returned as is.
    let err = session
        .with_transaction(|_| {
            a.insert_one(doc! {"_id": 10}, None)?;
            b.update_one(doc! {"_id": "y"}, doc! {"$inc": {"n": 1}}, None)?;
            Err::<(), _>(AppError::Refused)
        })
        .unwrap_err();
    assert_eq!(err, AppError::Refused);
    assert_eq!(setup.snapshot(), before);
    assert_eq!(session.rollback_report().unwrap().unwrap().steps.len(), 2);

    // A failed write (duplicate key) inside: the writes before it are undone.
    let err = session
        .with_transaction(|_| {
            b.delete_one(doc! {"_id": "x"}, None)?;
            a.insert_one(doc! {"_id": 2}, None)?; // exists
            Ok::<_, AppError>(())
        })
        .unwrap_err();
    assert_eq!(err, AppError::Db(ErrorKind::DuplicateKey));
    assert_eq!(setup.snapshot(), before);

    // A panic: rolled back inside the library, then resumed here.
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = session.with_transaction(|_| {
            a.update_many(doc! {}, doc! {"$set": {"tag": "panicked"}}, None)?;
            if a.name()? == setup.a {
                panic!("compensating boom");
            }
            Ok::<_, polymongo::Error>(())
        });
    }))
    .expect_err("the panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>().copied(), Some("compensating boom"));
    assert!(!session.in_transaction());
    assert_eq!(setup.snapshot(), before, "the update_many was undone");

    // Ok: committed, the value returned.
    let n = session
        .with_transaction(|_| {
            a.insert_one(doc! {"_id": 11}, None)?;
            b.insert_one(doc! {"_id": "z"}, None)?;
            Ok::<_, polymongo::Error>(2)
        })
        .unwrap();
    assert_eq!(n, 2);
    let (da, db) = setup.snapshot();
    assert_eq!((da.len(), db.len()), (6, 3));
    drop((a, b));
    drop(session);
    setup.cleanup();
}

#[test]
fn compensating_refuses_writes_without_an_exact_undo() {
    let setup = Setup::new();
    let before = setup.snapshot();
    let session = setup.pm.start_compensating(None).unwrap();
    let a = setup.items.db(&setup.a).unwrap().with_session(&session).unwrap();
    let err = session
        .start_transaction(polymongo::TransactionOptions::default().write_concern_majority())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "a compensating transaction takes no options: {err}");
    session.start_transaction(None).unwrap();
    let err = a.bulk_write([WriteModel::insert_one(doc! {"_id": 20})], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    let err = a
        .find_one_and_update(doc! {"_id": 3}, doc! {"$set": {"v": 0}}, FindOneAndModifyOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    session.abort_transaction().unwrap();
    assert_eq!(setup.snapshot(), before, "nothing was written");

    // A native session has no rollback report.
    let native = setup.pm.start_session(Some(&setup.a), None).unwrap();
    assert!(!native.is_compensating());
    assert_eq!(native.rollback_report().unwrap_err().kind(), ErrorKind::InvalidArgument);
    let err = setup.pm.start_compensating(CompensatingOptions::default().option("colour", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    drop(a);
    drop(session);
    setup.cleanup();
}

/// A journaled transaction whose process "crashed": the session and its dbs are leaked
/// (never ended), as a killed process leaves them; its journal records stay open.
fn crash_mid_transaction(setup: &Setup) {
    let session = setup
        .pm
        .start_compensating(CompensatingOptions::default().journal(true).journal_db(setup.journal.clone()))
        .unwrap();
    session.start_transaction(None).unwrap();
    write_everything(&session, setup).unwrap();
    std::mem::forget(session);
}

// Recovery never touches a transaction whose process is alive on this host: here the leaked
// session's process (this one) is alive. Rolling back what a killed process left open is tested
// by the C suite (tests/txn/compensating_test.cpp), which SIGKILLs a child mid-transaction.
#[test]
fn recover_leaves_a_live_processs_transaction_alone() {
    let setup = Setup::new();
    let before = setup.snapshot();
    crash_mid_transaction(&setup);
    let during = setup.snapshot();
    assert_ne!(during, before);
    let fresh = PolyMongo::new(&Setup::options(&setup.a, &setup.b, &setup.b_uri, &setup.journal)).unwrap();
    assert_eq!(fresh.recover(Duration::from_secs(3600)).unwrap().recovered, vec![]);
    assert_eq!(fresh.recover(Duration::ZERO).unwrap().recovered, vec![], "its owner is alive");
    assert_eq!(setup.snapshot(), during, "nothing rolled back under a live transaction");
    setup.cleanup();
}

#[test]
fn recover_on_start_leaves_a_live_processs_transaction_alone() {
    let setup = Setup::new();
    let before = setup.snapshot();
    crash_mid_transaction(&setup);
    let during = setup.snapshot();
    assert_ne!(during, before);
    let _fresh = PolyMongo::new(
        &Setup::options(&setup.a, &setup.b, &setup.b_uri, &setup.journal).recover_on_start(true),
    )
    .unwrap();
    assert_eq!(setup.snapshot(), during, "nothing rolled back under a live transaction");
    setup.cleanup();
}
