//! Sessions and native transactions. FerretDB (the main test server) refuses transactions:
//! that refusal is tested there. Everything else needs a replica set: SecantusDB, started by
//! the same CTest fixture (its URI in `$(dirname $PM_TEST_SERVER_DIR)/server-txn/uri`, or
//! `PM_TEST_TXN_URI`); without one these tests report `SKIPPED:`.
mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use polymongo::{
    doc, Document, ErrorKind, FindOptions, Model, Options, PolyMongo, ReadPreference, Session,
    SessionOptions, TransactionOptions,
};

macro_rules! require_txn_server {
    () => {
        match txn_uri() {
            Some(uri) => uri,
            None => {
                skip("no server with transactions (SecantusDB did not start; set PM_TEST_TXN_URI)");
                return;
            }
        }
    };
}

/// A wrapper on the transaction server, a model, and two databases whose collection exists
/// (holding one "seed" document) before any transaction.
struct Bank {
    uri: String,
    pm: PolyMongo,
    accounts: Model,
    a: String,
    b: String,
}

impl Bank {
    fn new(uri: String) -> Bank {
        let (a, b) = (unique_db("txn_a"), unique_db("txn_b"));
        let pm = PolyMongo::new(&Options::new(uri.clone()).default_db(a.clone())).unwrap();
        let accounts = pm.model("accounts", None).unwrap();
        for db in [&a, &b] {
            accounts.db(db).unwrap().insert_one(doc! {"_id": "seed"}, None).unwrap();
        }
        Bank { uri, pm, accounts, a, b }
    }

    /// Documents other than the seed, read through an independent wrapper (its own pool and
    /// connection, outside every session).
    fn count(&self, db: &str) -> u64 {
        let pm = PolyMongo::new(&Options::new(self.uri.clone())).unwrap();
        let d = pm.model("accounts", None).unwrap().db(db).unwrap();
        d.count_documents(doc! {"_id": {"$ne": "seed"}}, None).unwrap()
    }

    fn drop_all(&self) {
        for db in [&self.a, &self.b] {
            self.accounts.db(db).unwrap().drop_collection().unwrap();
        }
    }
}

#[test]
fn ferretdb_refuses_transactions_before_any_write() {
    let pm = wrapper();
    let name = unique_db("notxn");
    let db = pm.model("accounts", None).unwrap().db(&name).unwrap();
    let session = pm.start_session(Some(&name), None).unwrap();
    let bound = db.with_session(&session).unwrap();

    let err = session.start_transaction(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    assert_eq!(err.code(), polymongo::sys::PM_ENOTSUP);
    assert!(err.message().contains("nothing was written"), "{err}");
    assert!(!session.in_transaction());

    // The callback form: refused before the closure runs; the error converts into the
    // closure's error type.
    let calls = AtomicUsize::new(0);
    let err = session
        .with_transaction(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            bound.insert_one(doc! {"written": true}, None)
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the closure never ran");
    let err: Box<dyn std::error::Error + Send + Sync> =
        session.with_transaction(|_| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())).unwrap_err();
    assert_eq!(err.downcast_ref::<polymongo::Error>().unwrap().kind(), ErrorKind::NotSupported);

    drop(bound);
    drop(session);
    assert_eq!(count(&name, "accounts"), 0, "nothing was written");
}

#[test]
fn commit_across_two_databases_is_visible_only_after_commit() {
    let bank = Bank::new(require_txn_server!());
    let session = bank.pm.start_session(Some(&bank.a), None).unwrap();
    let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
    let b = bank.accounts.db(&bank.b).unwrap().with_session(&session).unwrap();
    assert_eq!(a.name().unwrap(), bank.a);

    session
        .start_transaction(
            TransactionOptions::default().write_concern_majority().read_concern_level("snapshot"),
        )
        .unwrap();
    assert!(session.in_transaction());
    a.insert_one(doc! {"amount": -10}, None).unwrap();
    b.insert_one(doc! {"amount": 10}, None).unwrap();
    // Inside the transaction its own writes are visible, through a cursor on the session.
    let mine: Vec<Document> = a
        .find(doc! {"amount": {"$exists": true}}, FindOptions::default().limit(5))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].get_i32("amount").unwrap(), -10);
    // Outside: nothing yet, in either database.
    assert_eq!(bank.count(&bank.a), 0, "not visible outside the transaction before commit");
    assert_eq!(bank.count(&bank.b), 0);

    session.commit_transaction().unwrap();
    assert!(!session.in_transaction());
    assert_eq!(bank.count(&bank.a), 1);
    assert_eq!(bank.count(&bank.b), 1);
    let other = PolyMongo::new(&Options::new(bank.uri.clone())).unwrap();
    let got = other
        .model("accounts", None)
        .unwrap()
        .db(&bank.b)
        .unwrap()
        .find_one(doc! {"amount": 10}, None)
        .unwrap();
    assert_eq!(got.unwrap().get_i32("amount").unwrap(), 10, "the document itself, read back independently");

    // Outside a transaction, a bound db writes at once (in the session, no transaction).
    b.insert_one(doc! {"amount": 1}, None).unwrap();
    assert_eq!(bank.count(&bank.b), 2);
    drop((a, b));
    drop(session);
    bank.drop_all();
}

#[test]
fn abort_leaves_nothing() {
    let bank = Bank::new(require_txn_server!());
    let session = bank.pm.start_session(Some(&bank.a), None).unwrap();
    {
        let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
        let b = bank.accounts.db(&bank.b).unwrap().with_session(&session).unwrap();
        session.start_transaction(None).unwrap();
        a.insert_one(doc! {"x": 1}, None).unwrap();
        b.update_one(doc! {"_id": "seed"}, doc! {"$set": {"touched": true}}, None).unwrap();
        session.abort_transaction().unwrap();
        assert!(!session.in_transaction());
        assert_eq!(bank.count(&bank.a), 0);
        let seed = bank.accounts.db(&bank.b).unwrap().find_one(doc! {"_id": "seed"}, None).unwrap().unwrap();
        assert!(!seed.contains_key("touched"), "the update was rolled back: {seed}");

        // Dropping the session with a transaction open aborts it too.
        session.start_transaction(None).unwrap();
        a.insert_one(doc! {"x": 2}, None).unwrap();
    }
    drop(session);
    assert_eq!(bank.count(&bank.a), 0, "dropping the session aborted its transaction");
    bank.drop_all();
}

#[test]
fn with_transaction_commits_and_returns_the_closures_value() {
    let bank = Bank::new(require_txn_server!());
    let session = bank
        .pm
        .start_session(
            None,
            SessionOptions::default().max_commit_time_ms(5000).read_preference(ReadPreference::Primary),
        )
        .unwrap();
    let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
    let b = bank.accounts.db(&bank.b).unwrap().with_session(&session).unwrap();
    let mut calls = 0;
    let ids = session
        .with_transaction_options(
            TransactionOptions::default().write_concern_majority(),
            Duration::from_secs(10),
            |s| {
                calls += 1;
                assert!(s.in_transaction(), "the closure runs inside the transaction");
                let from = a.insert_one(doc! {"amount": -5}, None)?;
                let to = b.insert_one(doc! {"amount": 5}, None)?;
                assert_eq!(bank.count(&bank.a), 0, "not visible outside before the commit");
                Ok::<_, polymongo::Error>((from.inserted_ids().len(), to.inserted_ids().len()))
            },
        )
        .unwrap();
    assert_eq!(ids, (1, 1), "the closure's value comes back");
    assert_eq!(calls, 1);
    assert!(!session.in_transaction());
    assert_eq!(bank.count(&bank.a), 1);
    assert_eq!(bank.count(&bank.b), 1);
    drop((a, b));
    drop(session);
    bank.drop_all();
}

/// The closure's own error type: anything with `From<polymongo::Error>`.
#[derive(Debug, PartialEq)]
enum TransferError {
    Insufficient { wanted: i32 },
    Db(ErrorKind),
}

impl From<polymongo::Error> for TransferError {
    fn from(e: polymongo::Error) -> Self {
        TransferError::Db(e.kind())
    }
}

#[test]
fn with_transaction_callback_abort() {
    let bank = Bank::new(require_txn_server!());
    let session = bank.pm.start_session(Some(&bank.a), None).unwrap();
    let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
    let b = bank.accounts.db(&bank.b).unwrap().with_session(&session).unwrap();

    // An Err of the closure's own type aborts what it wrote and comes back unchanged.
    let err = session
        .with_transaction(|_| {
            a.insert_one(doc! {"amount": -500}, None)?;
            b.insert_one(doc! {"amount": 500}, None)?;
            Err::<(), _>(TransferError::Insufficient { wanted: 500 })
        })
        .unwrap_err();
    assert_eq!(err, TransferError::Insufficient { wanted: 500 });
    assert!(!session.in_transaction());
    assert_eq!(bank.count(&bank.a), 0, "aborted: nothing written");
    assert_eq!(bank.count(&bank.b), 0);

    // A failed operation inside (a duplicate key) aborts the writes before it, and its error
    // comes back with its kind.
    let err = session
        .with_transaction(|_| {
            a.insert_one(doc! {"amount": 1}, None)?;
            b.insert_one(doc! {"_id": "seed"}, None)?; // duplicate
            Ok::<_, polymongo::Error>(())
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{err}");
    assert_eq!(err.server_code(), 11000);
    assert_eq!(bank.count(&bank.a), 0, "the insert before the failure was aborted");

    // Explicit transaction control inside the closure is refused: its return value decides.
    let inner = session
        .with_transaction(|s| {
            a.insert_one(doc! {"amount": 2}, None)?;
            let refused = [
                s.commit_transaction(),
                s.abort_transaction(),
                s.start_transaction(None),
                s.with_transaction(|_| Ok(())),
            ];
            Ok::<_, polymongo::Error>(refused.map(|r| r.unwrap_err().kind()))
        })
        .unwrap();
    assert_eq!(inner, [ErrorKind::InvalidArgument; 4]);
    assert_eq!(bank.count(&bank.a), 1, "the closure returned Ok: committed");

    // The session is still usable afterwards.
    session.start_transaction(None).unwrap();
    a.insert_one(doc! {"amount": 3}, None).unwrap();
    session.commit_transaction().unwrap();
    assert_eq!(bank.count(&bank.a), 2);
    drop((a, b));
    drop(session);
    bank.drop_all();
}

#[test]
fn with_transaction_panic_aborts_and_resumes_after_c_returns() {
    let bank = Bank::new(require_txn_server!());
    let session = bank.pm.start_session(Some(&bank.a), None).unwrap();
    let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
    let calls = AtomicUsize::new(0);
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = session.with_transaction(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            a.insert_one(doc! {"amount": 7}, None)?;
            if calls.load(Ordering::SeqCst) > 0 {
                panic!("boom in the transaction");
            }
            Ok::<_, polymongo::Error>(())
        });
    }))
    .expect_err("the panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>().copied(), Some("boom in the transaction"));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not run again");
    assert!(!session.in_transaction(), "the library aborted the transaction");
    assert_eq!(bank.count(&bank.a), 0, "nothing committed");

    // No state is left behind: the next transaction works.
    session.with_transaction(|_| a.insert_one(doc! {"amount": 8}, None).map(|_| ())).unwrap();
    assert_eq!(bank.count(&bank.a), 1);
    drop(a);
    drop(session);
    bank.drop_all();
}

#[test]
fn bound_db_of_another_pool_fails_with_invalid_argument() {
    let bank = Bank::new(require_txn_server!());
    let other = unique_db("txn_other");
    bank.pm.set_db(&[other.as_str()], None).unwrap(); // a dedicated pool: not the session's
    let session = bank.pm.start_session(Some(&bank.a), None).unwrap();
    let elsewhere = bank.accounts.db(&other).unwrap().with_session(&session).unwrap();
    let err = elsewhere.insert_one(doc! {"x": 1}, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(err.code(), polymongo::sys::PM_EINVAL);
    assert!(err.message().contains("pool"), "{err}");
    // Inside a transaction too; and the session's own databases still work.
    let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
    let err = session
        .with_transaction(|_| {
            a.insert_one(doc! {"fine": 1}, None)?;
            elsewhere.insert_one(doc! {"x": 2}, None)
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(bank.count(&bank.a), 0, "the transaction was aborted");
    let plain = bank.accounts.db(&other).unwrap();
    assert_eq!(plain.count_documents(doc! {}, None).unwrap(), 0, "nothing reached the other pool's db");
    drop((a, elsewhere));
    drop(session);
    bank.drop_all();
}

#[test]
fn bad_session_and_transaction_options() {
    let bank = Bank::new(require_txn_server!());
    let err = bank.pm.start_session(Some("bad/name"), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidDbName, "{err}");
    let err = bank.pm.start_session(None, SessionOptions::default().option("colour", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let session = bank.pm.start_session(Some(&bank.a), None).unwrap();
    for opts in [
        TransactionOptions::default().option("readPreference", "sideways"),
        TransactionOptions::default().option("colour", 1),
        TransactionOptions::default().read_concern(doc! {"lvl": "x"}),
        TransactionOptions::default().max_commit_time_ms(-1),
    ] {
        let err = session.start_transaction(opts.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{opts:?}: {err}");
        assert!(!session.in_transaction());
        let err =
            session.with_transaction_options(opts, None, |_| Ok::<_, polymongo::Error>(())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    // Commit or abort without a transaction: an error, not a crash.
    assert!(session.commit_transaction().is_err());
    drop(session);
    bank.drop_all();
}

#[test]
fn with_transaction_runs_again_after_a_write_conflict() {
    let bank = Bank::new(require_txn_server!());
    bank.accounts.db(&bank.a).unwrap().insert_one(doc! {"_id": "hot", "n": 0}, None).unwrap();
    // Session 1 holds an uncommitted update of "hot"; session 2's transaction updates it too,
    // meets a write conflict (TransientTransactionError) and runs again until session 1 has
    // committed on another thread (a Session is Send; its bound dbs are dropped first).
    let s1 = bank.pm.start_session(Some(&bank.a), None).unwrap();
    s1.start_transaction(None).unwrap();
    {
        let d1 = bank.accounts.db(&bank.a).unwrap().with_session(&s1).unwrap();
        d1.update_one(doc! {"_id": "hot"}, doc! {"$inc": {"n": 1}}, None).unwrap();
    }
    let s2 = bank.pm.start_session(Some(&bank.a), None).unwrap();
    let d2 = bank.accounts.db(&bank.a).unwrap().with_session(&s2).unwrap();
    let calls = AtomicUsize::new(0);
    let calls_ref = &calls;
    let result = std::thread::scope(|scope| {
        let committer = scope.spawn(move || {
            assert!(wait_until(5000, || calls_ref.load(Ordering::SeqCst) >= 1));
            std::thread::sleep(Duration::from_millis(300));
            s1.commit_transaction()
        });
        let r = s2.with_transaction_options(None, Duration::from_secs(20), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            d2.update_one(doc! {"_id": "hot"}, doc! {"$inc": {"n": 10}}, None)
        });
        committer.join().unwrap().unwrap();
        r
    });
    let calls = calls.load(Ordering::SeqCst);
    println!("write conflict: the closure ran {calls} time(s)");
    if result.is_ok() && calls == 1 {
        skip("this server serialised the two transactions instead of reporting a write conflict");
        return;
    }
    result.unwrap();
    assert!(calls >= 2, "the conflicting transaction ran again ({calls} calls)");
    let pm = PolyMongo::new(&Options::new(bank.uri.clone())).unwrap();
    let hot =
        pm.model("accounts", None).unwrap().db(&bank.a).unwrap().find_one(doc! {"_id": "hot"}, None).unwrap();
    assert_eq!(hot.unwrap().get_i32("n").unwrap(), 11, "both increments, each once");
    drop(d2);
    drop(s2);
    bank.drop_all();
}

#[test]
fn sessions_in_threads_each_commit_their_own() {
    let bank = Bank::new(require_txn_server!());
    // One session per thread (the usual per-request shape); the wrapper and model are shared.
    std::thread::scope(|scope| {
        for t in 0..4 {
            let bank = &bank;
            scope.spawn(move || {
                let session: Session = bank.pm.start_session(Some(&bank.a), None).unwrap();
                let a = bank.accounts.db(&bank.a).unwrap().with_session(&session).unwrap();
                let b = bank.accounts.db(&bank.b).unwrap().with_session(&session).unwrap();
                for i in 0..3 {
                    session
                        .with_transaction(|_| {
                            a.insert_one(doc! {"t": t, "i": i, "amount": -1}, None)?;
                            b.insert_one(doc! {"t": t, "i": i, "amount": 1}, None)?;
                            Ok::<_, polymongo::Error>(())
                        })
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(bank.count(&bank.a), 12);
    assert_eq!(bank.count(&bank.b), 12);
    bank.drop_all();
}
