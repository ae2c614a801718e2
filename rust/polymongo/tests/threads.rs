//! Concurrent use from several threads: one wrapper, model and db shared by reference and by
//! clone; cursors moved between threads; close racing with calls in flight.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;

use common::*;
use polymongo::{doc, Cursor, Db, ErrorKind, FindOptions, Model, PolyMongo};

#[test]
fn concurrent_use_from_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolyMongo>();
    assert_send_sync::<Model>();
    assert_send_sync::<Db>();
    assert_send_sync::<polymongo::WriteResult>();

    let pm = PolyMongo::new(&options().max_pool_size(4)).unwrap();
    let model = pm.model("events", None).unwrap();
    let shared_name = unique_db("threads_shared");
    let shared = model.db(&shared_name).unwrap();
    let threads = 8;
    let per_thread = 40;
    let tenant_names: Vec<String> = (0..threads).map(|_| unique_db("threads_tenant")).collect();
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for (t, tenant) in tenant_names.iter().enumerate() {
            let (model, shared, barrier) = (&model, shared.clone(), &barrier);
            s.spawn(move || {
                // Binding a model to a database from any thread is cheap and safe.
                let mine = model.db(tenant).unwrap();
                barrier.wait();
                for i in 0..per_thread {
                    shared.insert_one(doc! {"t": t as i32, "i": i}, None).unwrap();
                    mine.insert_one(doc! {"t": t as i32, "i": i}, None).unwrap();
                    if i % 10 == 0 {
                        let n = shared.count_documents(doc! {"t": t as i32}, None).unwrap();
                        assert_eq!(n, i as u64 + 1);
                    }
                }
                let mine_docs: Vec<_> = mine.find(doc! {}, None).unwrap().collect::<Result<_, _>>().unwrap();
                assert_eq!(mine_docs.len(), per_thread as usize);
                assert!(mine_docs.iter().all(|d| d.get_i32("t").unwrap() == t as i32));
            });
        }
    });
    assert_eq!(count(&shared_name, "events"), (threads * per_thread as usize) as u64);
    for name in &tenant_names {
        assert_eq!(count(name, "events"), per_thread as u64);
    }
}

#[test]
fn cursor_moves_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Cursor>();
    let pm = wrapper();
    let db = pm.model("moving", None).unwrap().db(&unique_db("move")).unwrap();
    db.insert_many((0..9).map(|i| doc! {"i": i}), None).unwrap();
    let mut cursor = db.find(doc! {}, FindOptions::default().sort(doc! {"i": 1}).batch_size(2)).unwrap();
    let first = cursor.next().unwrap().unwrap().get_i32("i").unwrap();
    // One thread at a time: moved, iterated there, moved back.
    let (cursor, rest) = std::thread::spawn(move || {
        let rest: Vec<i32> = cursor.by_ref().take(4).map(|d| d.unwrap().get_i32("i").unwrap()).collect();
        (cursor, rest)
    })
    .join()
    .unwrap();
    let tail: Vec<i32> = cursor.map(|d| d.unwrap().get_i32("i").unwrap()).collect();
    assert_eq!((first, rest, tail), (0, vec![1, 2, 3, 4], vec![5, 6, 7, 8]));
}

#[test]
fn close_racing_with_calls_in_flight() {
    let pm = wrapper();
    let name = unique_db("race");
    let db = pm.model("race", None).unwrap().db(&name).unwrap();
    let ok = AtomicUsize::new(0);
    let closed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (db, ok, closed) = (db.clone(), &ok, &closed);
            s.spawn(move || loop {
                match db.insert_one(doc! {"x": 1}, None) {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) if e.kind() == ErrorKind::Closed => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => panic!("unexpected: {e}"),
                };
            });
        }
        while ok.load(Ordering::Relaxed) < 20 {
            std::thread::yield_now();
        }
        // Returns at once; calls in flight finish, later ones see Closed, and the C handle is
        // freed after the last call.
        db.close();
    });
    assert_eq!(closed.load(Ordering::Relaxed), 4);
    // Every insert that reported success is on the server.
    assert_eq!(count(&name, "race"), ok.load(Ordering::Relaxed) as u64);
}
