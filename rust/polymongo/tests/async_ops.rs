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
