//! Handle lifetimes: use after close is an error (never a crash), handles dropped in any order
//! and on any thread, children keeping their parents alive.
mod common;

use common::*;
use polymongo::{doc, Document, ErrorKind, FindOptions, PolyMongo};

#[test]
fn use_after_close_is_an_error() {
    let pm = wrapper();
    let model = pm.model("closing", None).unwrap();
    let db = model.db(&unique_db("closed")).unwrap();
    db.insert_many((0..4).map(|i| doc! {"i": i}), None).unwrap();
    let mut cursor = db.find(doc! {}, FindOptions::default().batch_size(1)).unwrap();
    let db_clone = db.clone();

    // The model.
    model.close();
    assert_eq!(model.db("x").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(model.collection().unwrap_err().kind(), ErrorKind::Closed);

    // The db, through any clone.
    db.close();
    assert!(db_clone.is_closed());
    assert_eq!(db_clone.insert_one(doc! {"i": 9}, None).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(db.find(doc! {}, None).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(db.name().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(db.typed::<Document>().find_one(doc! {}, None).unwrap_err().kind(), ErrorKind::Closed);
    assert!(format!("{db:?}").contains("closed"));

    // The cursor opened before: still iterates (it keeps its db alive)...
    assert!(cursor.next().unwrap().is_ok());
    // ...until it is closed: then an error once from the iterator, and Closed from try_next.
    cursor.close();
    assert!(cursor.is_closed());
    assert_eq!(cursor.next().unwrap().unwrap_err().kind(), ErrorKind::Closed);
    assert!(cursor.next().is_none(), "the iterator ends after reporting");
    assert_eq!(cursor.try_next().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(cursor.next_raw().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(cursor.id(), 0);
    cursor.close(); // idempotent

    // The wrapper: closed for this value and its clones.
    let pm_clone = pm.clone();
    pm.close();
    assert!(pm.is_closed() && pm_clone.is_closed());
    for err in [
        pm.model("other", None).unwrap_err(),
        pm_clone.check_db_name("x").unwrap_err(),
        pm.default_db_name().unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert_eq!(err.code(), polymongo::sys::PM_ECLOSED);
    }
    pm.close(); // idempotent

    // The data is all there, seen through a fresh wrapper.
    let name = unique_db("unused");
    assert_eq!(count(&name, "closing"), 0);
}

/// `close()` is `pm_wrapper_close` (include/polymongo/lifecycle.h), the contract every binding
/// shares: every operation of everything made from the wrapper fails with `Closed` (PM_ECLOSED,
/// from C), a result obtained before stays readable, closing twice is harmless, and the OS
/// shows none of its sockets.
#[test]
fn close_is_the_c_contract() {
    let port = server_port();
    let before = sockets_to_port(port);
    let pm = PolyMongo::new(&options().max_pool_size(2)).unwrap();
    let model = pm.model("contract", None).unwrap();
    let name = unique_db("contract");
    let db = model.db(&name).unwrap();
    db.insert_many((0..3).map(|i| doc! {"i": i}), None).unwrap();
    let result = db.insert_one(doc! {"i": 3}, None).unwrap();
    let mut cursor = db.find(doc! {}, FindOptions::default().batch_size(1).sort(doc! {"i": 1})).unwrap();
    assert_eq!(cursor.next().unwrap().unwrap().get_i32("i").unwrap(), 0, "in progress");
    assert!(sockets_to_port(port) > before);

    pm.close();
    pm.close(); // harmless
    assert_eq!(sockets_to_port(port), before, "close() shut every pool now, the cursor's included");
    for err in [
        db.insert_one(doc! {"i": 9}, None).unwrap_err(),
        db.count_documents(doc! {}, None).unwrap_err(),
        cursor.try_next().unwrap_err(),
        model.db(&unique_db("later")).unwrap_err(),
        pm.model("later", None).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert_eq!(err.code(), polymongo::sys::PM_ECLOSED);
    }
    assert_eq!(result.inserted_count(), 1, "a result already returned stays readable");
    assert_eq!(sockets_to_port(port), before, "nothing reconnected");
    assert_eq!(count(&name, "contract"), 4, "nothing refused reached the server");
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for (i, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

#[test]
fn handles_dropped_in_any_order() {
    let name = unique_db("order");
    {
        let pm = wrapper();
        pm.model("order", None)
            .unwrap()
            .db(&name)
            .unwrap()
            .insert_many((0..3).map(|i| doc! {"i": i}), None)
            .unwrap();
    }
    // Every order of dropping wrapper (0), model (1), db (2) and an open cursor (3); whatever
    // is still alive keeps working after each drop.
    for order in permutations(&[0, 1, 2, 3]) {
        let mut pm = Some(wrapper());
        let mut model = Some(pm.as_ref().unwrap().model("order", None).unwrap());
        let mut db = Some(model.as_ref().unwrap().db(&name).unwrap());
        let mut cursor =
            Some(db.as_ref().unwrap().find(doc! {}, FindOptions::default().batch_size(1)).unwrap());
        let mut read = 0;
        for which in order.iter().copied() {
            match which {
                0 => drop(pm.take()),
                1 => drop(model.take()),
                2 => drop(db.take()),
                _ => drop(cursor.take()),
            }
            if let Some(m) = &model {
                assert_eq!(m.collection().unwrap(), "order");
            }
            if let Some(d) = &db {
                assert_eq!(d.count_documents(doc! {}, None).unwrap(), 3, "{order:?}");
            }
            if let Some(c) = cursor.as_mut() {
                if read < 3 {
                    assert!(c.next().unwrap().is_ok(), "{order:?}");
                    read += 1;
                }
            }
        }
    }
    assert_eq!(count(&name, "order"), 3);
}

#[test]
fn handles_dropped_on_other_threads() {
    let pm = wrapper();
    let model = pm.model("threads_drop", None).unwrap();
    let db = model.db(&unique_db("tdrop")).unwrap();
    db.insert_many((0..10).map(|i| doc! {"i": i}), None).unwrap();
    let cursor = db.find(doc! {}, FindOptions::default().batch_size(2)).unwrap();
    let result = db.insert_one(doc! {"i": 10}, None).unwrap();
    // The parents go away on this thread while the children are used and dropped elsewhere.
    drop(pm);
    drop(model);
    let t1 = std::thread::spawn(move || cursor.count());
    let db2 = db.clone();
    let t2 = std::thread::spawn(move || {
        let n = db2.count_documents(doc! {}, None).unwrap();
        drop(db2);
        n
    });
    let t3 = std::thread::spawn(move || result.inserted_count());
    assert_eq!(t1.join().unwrap(), 10, "the cursor saw the 10 documents present when it was opened");
    assert_eq!(t2.join().unwrap(), 11);
    assert_eq!(t3.join().unwrap(), 1);
    assert_eq!(db.count_documents(doc! {}, None).unwrap(), 11);
    db.drop_collection().unwrap();
}
