//! The async API (`polymongo::aio`) on the real server, under tokio's multi-thread and
//! current-thread runtimes: CRUD, cursors as streams in order, many tasks over many databases
//! each landing in its own database, a current-thread runtime that keeps running while an
//! operation waits a full second for a connection, cancellation by dropping a future, and
//! change streams on SecantusDB.
mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use polymongo::{doc, Document, ErrorKind, FindOptions, Options, PolyMongo};

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

#[test]
fn crud_and_cursors_under_both_runtimes() {
    for rt in [multi_thread(), current_thread()] {
        let name = unique_db("aio_crud");
        let pm = PolyMongo::new(&options().max_pool_size(4)).unwrap();
        let db = pm.model("items", None).unwrap().db(&name).unwrap().to_async().unwrap();
        rt.block_on(async {
            assert_eq!(db.insert_one(doc! {"_id": 1, "k": "a"}, None).await.unwrap().inserted_count(), 1);
            let many = db.insert_many((2..=250).map(|i| doc! {"_id": i, "k": "b"}), None).await.unwrap();
            assert_eq!(many.inserted_count(), 249);
            assert_eq!(db.update_one(doc! {"_id": 1}, doc! {"$set": {"u": 1}}, None).await.unwrap().modified_count(), 1);
            assert_eq!(db.update_many(doc! {"k": "b"}, doc! {"$set": {"u": 2}}, None).await.unwrap().modified_count(), 249);
            assert_eq!(db.replace_one(doc! {"_id": 250}, doc! {"k": "r"}, None).await.unwrap().modified_count(), 1);
            let one: Option<Document> = db.find_one(doc! {"_id": 2}, None).await.unwrap();
            assert_eq!(one, Some(doc! {"_id": 2, "k": "b", "u": 2}));
            assert_eq!(db.find_one(doc! {"_id": 999}, None).await.unwrap(), None);
            assert_eq!(db.count_documents(doc! {"u": 2}, None).await.unwrap(), 248);
            let err = db.insert_one(doc! {"_id": 1}, None).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DuplicateKey);
            assert_eq!(db.command(doc! {"ping": 1}).await.unwrap().get_f64("ok").unwrap(), 1.0);

            // A cursor as a Stream: every document, in order, across batches.
            let cursor = db.find(doc! {}, FindOptions::default().sort(doc! {"_id": 1}).batch_size(7)).await.unwrap();
            let ids: Vec<i32> = cursor.map(|d| d.unwrap().get_i32("_id").unwrap()).collect().await;
            assert_eq!(ids, (1..=250).collect::<Vec<_>>());
            let agg = db.aggregate([doc! {"$match": {"k": "b"}}, doc! {"$count": "n"}]).await.unwrap();
            assert_eq!(agg.try_collect().await.unwrap(), vec![doc! {"n": 248}]);

            assert_eq!(db.delete_one(doc! {"_id": 1}, None).await.unwrap().deleted_count(), 1);
            assert_eq!(db.delete_many(doc! {"k": "b"}, None).await.unwrap().deleted_count(), 248);
        });
        assert_eq!(count(&name, "items"), 1); // read back through another wrapper
        rt.block_on(db.drop_collection()).unwrap();
        assert_eq!(count(&name, "items"), 0);
    }
}

#[test]
fn many_tasks_over_many_databases_land_each_in_its_own() {
    let rt = multi_thread();
    let pm = PolyMongo::new(&options().max_pool_size(8)).unwrap();
    let model = pm.model("items", None).unwrap();
    let names: Vec<String> = (0..16).map(|_| unique_db("aio_many")).collect();
    let dbs: Vec<_> = names.iter().map(|n| model.db(n).unwrap().to_async().unwrap()).collect();
    rt.block_on(async {
        let tasks: Vec<_> = (0..128)
            .map(|i| {
                let db = dbs[i % dbs.len()].clone();
                let name = names[i % names.len()].clone();
                tokio::spawn(async move {
                    db.insert_one(doc! {"_id": i as i64, "db": &name}, None).await.unwrap();
                    let back: Document = db.find_one(doc! {"_id": i as i64}, None).await.unwrap().unwrap();
                    assert_eq!(back.get_str("db").unwrap(), name);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let check = wrapper();
    let m = check.model("items", None).unwrap();
    for n in &names {
        let d = m.db(n).unwrap();
        assert_eq!(d.count_documents(doc! {}, None).unwrap(), 8, "{n}");
        assert_eq!(d.count_documents(doc! {"db": n}, None).unwrap(), 8, "{n}");
    }
}

#[test]
fn a_current_thread_runtime_keeps_running_while_an_operation_waits() {
    // One connection, held by an open cursor: a query waits a full second for a connection
    // (then fails with Timeout, as the blocking call would). A ticker on the same single
    // thread keeps ticking all along: a blocking call would have frozen the runtime.
    let rt = current_thread();
    let name = unique_db("aio_tick");
    let pm = PolyMongo::new(&Options::new(uri_with("waitQueueTimeoutMS=1000")).max_pool_size(1)).unwrap();
    let db = pm.model("items", None).unwrap().db(&name).unwrap().to_async().unwrap();
    rt.block_on(async {
        db.insert_many((0..300).map(|i| doc! {"_id": i}), None).await.unwrap();
        let holder = db.find(doc! {}, FindOptions::default().batch_size(2)).await.unwrap(); // open
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = Arc::clone(&ticks);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(1));
                loop {
                    every.tick().await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let start = Instant::now();
        let err = db.find_one(doc! {"_id": 1}, None).await.unwrap_err();
        let waited = start.elapsed();
        ticker.abort();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(waited >= Duration::from_millis(900), "{waited:?}");
        let n = ticks.load(Ordering::Relaxed);
        assert!(n >= 200, "the runtime ticked only {n} times in {waited:?}");
        drop(holder); // gives the connection back
        let back: Option<Document> = db.find_one(doc! {"_id": 1}, None).await.unwrap();
        assert_eq!(back, Some(doc! {"_id": 1}));
    });
}

#[test]
fn dropping_a_future_cancels_its_queued_operation() {
    let name = unique_db("aio_cancel");
    let pm = PolyMongo::new(&options().max_pool_size(1)).unwrap();
    let db = pm.model("items", None).unwrap().db(&name).unwrap().to_async().unwrap();
    // Each future is polled once (it submits), then dropped: those not started never run.
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..300 {
        let fut = pin!(db.insert_one(doc! {"_id": i}, None));
        if let Poll::Ready(r) = fut.poll(&mut cx) {
            r.unwrap();
        }
    }
    let rt = current_thread();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    let stored = count(&name, "items");
    assert!(stored < 300, "every insert ran despite the cancellation");
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    assert_eq!(count(&name, "items"), stored, "a cancelled insert ran later");
    // The db still works.
    rt.block_on(db.insert_one(doc! {"_id": "after"}, None)).unwrap();
    assert_eq!(count(&name, "items"), stored + 1);
}

fn txn_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("PM_TEST_TXN_URI") {
        if !uri.is_empty() {
            return Some(uri);
        }
    }
    let dir = std::path::Path::new(&std::env::var("PM_TEST_SERVER_DIR").ok()?).parent()?.join("server-txn");
    let uri = std::fs::read_to_string(dir.join("uri")).ok()?;
    Some(uri.trim().to_string()).filter(|u| !u.is_empty())
}

#[test]
fn change_stream_events_arrive_as_a_stream() {
    let Some(uri) = txn_uri() else {
        skip("no server with change streams (SecantusDB did not start; set PM_TEST_TXN_URI)");
        return;
    };
    let name = unique_db("aio_stream");
    let pm = PolyMongo::new(&Options::new(uri).max_pool_size(4)).unwrap();
    let db = pm.model("events", None).unwrap().db(&name).unwrap().to_async().unwrap();
    for rt in [multi_thread(), current_thread()] {
        rt.block_on(async {
            db.insert_one(doc! {"seed": 1}, None).await.unwrap();
            let mut stream = db.watch([doc! {"$match": {"operationType": "insert"}}]).await.unwrap();
            assert_eq!(stream.next_timeout(Duration::from_millis(100)).await.unwrap(), None);
            let mut ids = Vec::new();
            for i in 0..3 {
                db.insert_one(doc! {"n": i}, None).await.unwrap();
            }
            while ids.len() < 3 {
                let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
                ids.push(event.get_document("fullDocument").unwrap().get_i32("n").unwrap());
            }
            assert_eq!(ids, vec![0, 1, 2]);
        });
    }
}

/// Documents other than "seed" in `db`.accounts, read through an independent wrapper (its own
/// pool and connection, outside every session).
fn committed(uri: &str, db: &str) -> u64 {
    let pm = PolyMongo::new(&Options::new(uri.to_string())).unwrap();
    let d = pm.model("accounts", None).unwrap().db(db).unwrap();
    d.count_documents(doc! {"_id": {"$ne": "seed"}}, None).unwrap()
}

#[test]
fn transactions_commit_and_abort_under_both_runtimes() {
    let Some(uri) = txn_uri() else {
        skip("no server with transactions (SecantusDB did not start; set PM_TEST_TXN_URI)");
        return;
    };
    for rt in [multi_thread(), current_thread()] {
        let name = unique_db("aio_txn");
        let pm = PolyMongo::new(&Options::new(uri.clone()).max_pool_size(4)).unwrap();
        let accounts = pm.model("accounts", None).unwrap().db(&name).unwrap().to_async().unwrap();
        let apm = pm.to_async();
        rt.block_on(async {
            accounts.insert_one(doc! {"_id": "seed"}, None).await.unwrap(); // the collection exists
            let mut session = apm.start_session(Some(&name), None).await.unwrap();
            assert!(!session.is_compensating());
            let bound = accounts.with_session(&session).unwrap();

            // Explicit form, committed: invisible to others until the commit.
            session.start_transaction(None).await.unwrap();
            bound.insert_one(doc! {"_id": 1, "amount": -10}, None).await.unwrap();
            bound.insert_one(doc! {"_id": 2, "amount": 10}, None).await.unwrap();
            assert_eq!(bound.count_documents(doc! {"_id": {"$ne": "seed"}}, None).await.unwrap(), 2);
            assert_eq!(committed(&uri, &name), 0, "uncommitted writes are isolated");
            session.commit_transaction().await.unwrap();
            assert_eq!(committed(&uri, &name), 2);

            // Explicit form, aborted: nothing remains.
            session.start_transaction(None).await.unwrap();
            bound.insert_one(doc! {"_id": 3}, None).await.unwrap();
            session.abort_transaction().await.unwrap();
            assert_eq!(committed(&uri, &name), 2);

            // The callback form: Ok commits (the closure's value comes back) ...
            let n = session
                .with_transaction(None, None, || async {
                    bound.insert_one(doc! {"_id": 4}, None).await?;
                    bound.insert_one(doc! {"_id": 5}, None).await?;
                    Ok::<_, polymongo::Error>(7)
                })
                .await
                .unwrap();
            assert_eq!(n, 7);
            assert_eq!(committed(&uri, &name), 4);
            // ... Err aborts, and the error comes back unchanged (a duplicate key here).
            let err = session
                .with_transaction(None, None, || async {
                    bound.insert_one(doc! {"_id": 6}, None).await?;
                    bound.insert_one(doc! {"_id": 1}, None).await?;
                    Ok::<_, polymongo::Error>(())
                })
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{err}");
            assert_eq!(committed(&uri, &name), 4, "the aborted transaction left nothing");
            // The closure's own error type, unchanged.
            #[derive(Debug, PartialEq)]
            enum Mine {
                Refused,
                Pm(ErrorKind),
            }
            impl From<polymongo::Error> for Mine {
                fn from(e: polymongo::Error) -> Self {
                    Mine::Pm(e.kind())
                }
            }
            let mine = session
                .with_transaction(None, None, || async {
                    bound.insert_one(doc! {"_id": 8}, None).await?;
                    Err::<(), _>(Mine::Refused)
                })
                .await;
            assert_eq!(mine, Err(Mine::Refused));
            assert_eq!(committed(&uri, &name), 4);
            // Commit without a transaction: an error, not a crash.
            assert!(session.commit_transaction().await.is_err());
            apm.drop_database(&name).await.unwrap();
        });
    }
}

#[test]
fn transactions_on_a_server_without_them_fail_before_writing() {
    let rt = current_thread();
    let name = unique_db("aio_notxn");
    let pm = PolyMongo::new(&options().max_pool_size(2)).unwrap();
    let db = pm.model("accounts", None).unwrap().db(&name).unwrap().to_async().unwrap();
    rt.block_on(async {
        let mut session = pm.to_async().start_session(Some(&name), None).await.unwrap();
        let bound = db.with_session(&session).unwrap();
        let mut ran = false;
        let err = session
            .with_transaction(None, None, || {
                ran = true;
                let bound = bound.clone();
                async move { bound.insert_one(doc! {"x": 1}, None).await.map(drop) }
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
        assert!(!ran, "the closure never ran");
        // A compensating session works here: Err undoes, Ok keeps.
        let mut comp = pm.to_async().start_compensating(None).await.unwrap();
        assert!(comp.is_compensating());
        let cdb = db.with_session(&comp).unwrap();
        let err = comp
            .with_transaction(None, None, || async {
                cdb.insert_one(doc! {"_id": 1}, None).await?;
                cdb.insert_one(doc! {"_id": 1}, None).await.map(drop) // a duplicate key
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{err}");
        comp.with_transaction(None, None, || async { cdb.insert_one(doc! {"_id": 2}, None).await.map(drop) })
            .await
            .unwrap();
    });
    assert_eq!(count(&name, "accounts"), 1, "the undone insert is gone, the kept one stays");
    pm.drop_database(&name).unwrap();
}

#[test]
fn with_transaction_runs_again_after_a_write_conflict() {
    let Some(uri) = txn_uri() else {
        skip("no server with transactions (SecantusDB did not start; set PM_TEST_TXN_URI)");
        return;
    };
    for (label, rt) in [("multi-thread", multi_thread()), ("current-thread", current_thread())] {
        let name = unique_db("aio_conflict");
        let pm = PolyMongo::new(&Options::new(uri.clone()).max_pool_size(4)).unwrap();
        let model = pm.model("accounts", None).unwrap();
        model.db(&name).unwrap().insert_one(doc! {"_id": "hot", "n": 0}, None).unwrap();
        // Session 1 (blocking, on another thread) holds an uncommitted update of "hot"; the
        // async session's transaction updates it too, meets a write conflict
        // (TransientTransactionError) and runs again until session 1 has committed.
        let s1 = pm.start_session(Some(&name), None).unwrap();
        s1.start_transaction(None).unwrap();
        {
            let d1 = model.db(&name).unwrap().with_session(&s1).unwrap();
            d1.update_one(doc! {"_id": "hot"}, doc! {"$inc": {"n": 1}}, None).unwrap();
        }
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let committer = std::thread::spawn(move || {
            assert!(wait_until(5000, || seen.load(Ordering::SeqCst) >= 1));
            std::thread::sleep(Duration::from_millis(300));
            s1.commit_transaction()
        });
        let db = model.db(&name).unwrap().to_async().unwrap();
        let result = rt.block_on(async {
            let mut s2 = pm.to_async().start_session(Some(&name), None).await.unwrap();
            let d2 = db.with_session(&s2).unwrap();
            s2.with_transaction(None, Duration::from_secs(20), || {
                calls.fetch_add(1, Ordering::SeqCst);
                let d2 = d2.clone();
                async move { d2.update_one(doc! {"_id": "hot"}, doc! {"$inc": {"n": 10}}, None).await }
            })
            .await
        });
        committer.join().unwrap().unwrap();
        let calls = calls.load(Ordering::SeqCst);
        println!("{label}: the closure ran {calls} time(s)");
        if result.is_ok() && calls == 1 {
            skip("this server serialised the two transactions instead of reporting a write conflict");
            return;
        }
        result.unwrap();
        assert!(calls >= 2, "the conflicting transaction ran again ({calls} calls)");
        let other = PolyMongo::new(&Options::new(uri.clone())).unwrap();
        let hot = other.model("accounts", None).unwrap().db(&name).unwrap().find_one(doc! {"_id": "hot"}, None);
        assert_eq!(hot.unwrap().unwrap().get_i32("n").unwrap(), 11, "both increments, each once");
        pm.drop_database(&name).unwrap();
    }
}

#[test]
fn export_then_import_round_trips_type_exact_under_both_runtimes() {
    use polymongo::bson::{oid::ObjectId, spec::BinarySubtype, Binary, DateTime};
    use polymongo::{Bson, ImportOptions};
    for rt in [multi_thread(), current_thread()] {
        let (src, dst, dst2) = (unique_db("aio_exp"), unique_db("aio_imp"), unique_db("aio_impdoc"));
        let pm = PolyMongo::new(&options().max_pool_size(4)).unwrap();
        let apm = pm.to_async();
        let items = pm.model("items", None).unwrap();
        let docs: Vec<Document> = (0..30)
            .map(|i| {
                doc! {
                    "_id": i,
                    "big": 5_000_000_000_i64 + i as i64,
                    "price": 1.5 * i as f64,
                    "at": DateTime::from_millis(1_700_000_000_000 + i as i64),
                    "oid": ObjectId::parse_str("64b7f0c2a1b2c3d4e5f60718").unwrap(),
                    "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, i as u8] },
                    "tags": ["a", Bson::Null, {"n": i}],
                }
            })
            .collect();
        items.db(&src).unwrap().insert_many(docs.clone(), None).unwrap();
        let read = |db: &str| -> Vec<Document> {
            let d = items.db(db).unwrap();
            d.find(doc! {}, FindOptions::default().sort(doc! {"_id": 1})).unwrap().map(Result::unwrap).collect()
        };
        let path = std::env::temp_dir().join(format!("{src}.ndjson"));
        rt.block_on(async {
            apm.export_file(&src, &path).await.unwrap();
            let report = apm.import_file(&dst, &path, ImportOptions::default().batch_size(7u32)).await.unwrap();
            assert!(report.ok, "{}", report.json);
            assert_eq!((report.database.as_str(), report.documents, report.failures), (dst.as_str(), 30, 0));
            // In memory, and back.
            let whole = apm.export_document(&src).await.unwrap();
            assert_eq!(whole.get_str("database").unwrap(), src);
            assert_eq!(apm.import_document(&dst2, &whole, None).await.unwrap().documents, 30);
        });
        assert_eq!(read(&dst), docs, "every BSON type round-trips exactly (file)");
        assert_eq!(read(&dst2), docs, "every BSON type round-trips exactly (document)");

        // Bad input: a clear error, and nothing lost or half-written.
        let bad = std::env::temp_dir().join(format!("{src}.bad.ndjson"));
        let text = std::fs::read_to_string(&path).unwrap();
        let cut: String = text.lines().take(4).map(|l| format!("{l}\n")).collect::<String>() + "{not json\n";
        std::fs::write(&bad, cut).unwrap();
        rt.block_on(async {
            let missing = apm.import_file(&dst, "/nonexistent/dir/x.ndjson", None).await.unwrap_err();
            assert_eq!(missing.kind(), ErrorKind::InvalidArgument, "{missing}");
            let unwritable = apm.export_file(&src, "/nonexistent/dir/x.ndjson").await.unwrap_err();
            assert_eq!(unwritable.kind(), ErrorKind::InvalidArgument, "{unwritable}");
            let dup = apm.import_file(&dst, &path, None).await.unwrap_err();
            assert_eq!(dup.kind(), ErrorKind::Write, "{dup}");
            assert_eq!(dup.import_report().map(|r| r.failures), Some(30));
            let malformed = apm.import_file(&dst2, &bad, ImportOptions::default().stop_on_error(true)).await;
            let malformed = malformed.unwrap_err();
            assert_eq!(malformed.kind(), ErrorKind::InvalidArgument, "{malformed}");
            assert!(malformed.import_report().is_some_and(|r| r.stopped), "{malformed}");
        });
        assert_eq!(read(&src), docs, "the source is untouched");
        assert_eq!(read(&dst), docs, "a refused import changed nothing");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&bad).unwrap();
        rt.block_on(async {
            for db in [&src, &dst, &dst2] {
                apm.drop_database(db).await.unwrap();
            }
        });
    }
}

/// The async forms' futures are `Send` (spawnable on a multi-thread runtime): checked at
/// compile time.
#[allow(dead_code)]
fn futures_are_send(pm: PolyMongo, db: polymongo::AsyncDb, mut s: polymongo::AsyncSession) {
    fn send<T: Send>(_: T) {}
    let apm = pm.to_async();
    send(apm.clone());
    send(apm.start_session(None, None));
    send(apm.start_compensating(None));
    send(apm.export_file("a", "a.ndjson"));
    send(apm.import_file("a", "a.ndjson", None));
    send(apm.export_document("a"));
    send(apm.copy_database("a", "b", None));
    send(apm.drop_database("a"));
    send(db.with_session(&s));
    send(s.start_transaction(None));
    send(s.commit_transaction());
    send(s.abort_transaction());
    send(s.with_transaction(None, None, || async { Ok::<_, polymongo::Error>(()) }));
}
