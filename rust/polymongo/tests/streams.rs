//! Change streams. They need a replica set: SecantusDB, started by the same CTest fixture (its
//! URI in `$(dirname $PM_TEST_SERVER_DIR)/server-txn/uri`, or `PM_TEST_TXN_URI`); without one
//! these tests report `SKIPPED:`. FerretDB's refusal is tested on the main server.
mod common;

use std::time::Duration;

use common::*;
use polymongo::{
    doc, ChangeStream, ChangeStreamOptions, Db, Document, ErrorKind, JsonMode, Options, PolyMongo,
};

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

/// A wrapper on the change-stream server and two databases whose "events" collection exists.
struct Setup {
    pm: PolyMongo,
    a: String,
    b: String,
}

impl Setup {
    fn new() -> Option<Setup> {
        let Some(uri) = txn_uri() else {
            skip("no server with change streams (SecantusDB did not start; set PM_TEST_TXN_URI)");
            return None;
        };
        let (a, b) = (unique_db("st_a"), unique_db("st_b"));
        let pm = PolyMongo::new(&Options::new(uri).default_db(a.clone()).max_pool_size(4)).unwrap();
        let s = Setup { pm, a, b };
        for db in [&s.a, &s.b] {
            s.db("events", db).insert_one(doc! {"_id": "seed"}, None).unwrap();
        }
        Some(s)
    }

    fn db(&self, collection: &str, db: &str) -> Db {
        self.pm.model(collection, None).unwrap().db(db).unwrap()
    }
}

const WAIT: Duration = Duration::from_secs(5);

/// The next event's `documentKey._id` as a string (or i32 as text); panics on timeout.
fn next_id(stream: &mut ChangeStream) -> String {
    let event = stream.next(WAIT).unwrap().expect("an event within 5 s");
    let id = event.get_document("documentKey").unwrap().get("_id").unwrap();
    match id.as_str() {
        Some(s) => s.to_string(),
        None => id.to_string(),
    }
}

#[test]
fn collection_events_arrive_in_order_and_resume_after_a_token() {
    let Some(s) = Setup::new() else { return };
    let d = s.db("events", &s.a);
    let mut stream = d
        .watch(
            vec![doc! {"$match": {"operationType": "insert"}}],
            ChangeStreamOptions::default().full_document("updateLookup"),
        )
        .unwrap();
    assert_eq!(stream.next(Duration::from_millis(200)).unwrap(), None, "nothing yet: a timeout is Ok(None)");
    for i in 1..=3 {
        d.insert_one(doc! {"_id": i, "n": i * 10}, None).unwrap();
    }
    let first = stream.next(WAIT).unwrap().expect("the first insert");
    assert_eq!(first.get_str("operationType").unwrap(), "insert");
    assert_eq!(first.get_document("fullDocument").unwrap(), &doc! {"_id": 1, "n": 10});
    let token: Document = stream.resume_token().unwrap().expect("a token after an event");
    drop(stream);

    // Reopened after the first event: the second and third arrive, and nothing twice.
    let mut resumed = d.watch([], ChangeStreamOptions::default().resume_after(token)).unwrap();
    assert_eq!(next_id(&mut resumed), "2");
    let json = resumed.next_json(WAIT, JsonMode::Relaxed).unwrap().expect("the third insert, as JSON");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["documentKey"]["_id"], 3, "{json}");
    assert_eq!(resumed.next(Duration::from_millis(300)).unwrap(), None, "then nothing");
    // The events() iterator ends at a timeout.
    d.insert_one(doc! {"_id": 4}, None).unwrap();
    let rest: Vec<Document> = resumed.events(Duration::from_millis(1500)).map(Result::unwrap).collect();
    assert_eq!(rest.len(), 1);
    resumed.close();
    assert!(resumed.is_closed());
    assert_eq!(resumed.next(WAIT).unwrap_err().kind(), ErrorKind::Closed, "use after close: an error");
    assert_eq!(resumed.resume_token().unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn database_watch_sees_every_collection_of_that_database_only() {
    let Some(s) = Setup::new() else { return };
    let mut db_stream = s.pm.watch_database(Some(&s.a), [], None).unwrap();
    let only_ours = vec![doc! {"$match": {"ns.db": {"$in": [&s.a, &s.b]}}}];
    let mut cluster = s.pm.watch_cluster(only_ours, None).unwrap();
    s.db("events", &s.a).insert_one(doc! {"_id": "in_a_events"}, None).unwrap();
    s.db("others", &s.a).insert_one(doc! {"_id": "in_a_others"}, None).unwrap();
    s.db("events", &s.b).insert_one(doc! {"_id": "in_b"}, None).unwrap();
    assert_eq!(next_id(&mut db_stream), "in_a_events");
    assert_eq!(next_id(&mut db_stream), "in_a_others", "every collection of the database");
    assert_eq!(db_stream.next(Duration::from_millis(300)).unwrap(), None, "not the other database");
    let seen: Vec<String> = (0..3).map(|_| next_id(&mut cluster)).collect();
    assert!(seen.contains(&"in_b".to_string()), "the cluster stream sees both databases: {seen:?}");
    // The default database (None): the wrapper's default, `a`.
    let mut default = s.pm.watch_database(None, [], None).unwrap();
    s.db("events", &s.a).insert_one(doc! {"_id": "default"}, None).unwrap();
    assert_eq!(next_id(&mut default), "default");
}

#[test]
fn fifty_shared_subscribers_each_get_every_event_once_in_order() {
    let Some(s) = Setup::new() else { return };
    let mut subs: Vec<ChangeStream> =
        (0..50).map(|_| s.pm.subscribe_stream(&s.a, Some("events")).unwrap()).collect();
    assert_eq!(s.pm.stream_count(Some(&s.a)).unwrap(), 50);
    let d = s.db("events", &s.a);
    for i in 0..5 {
        d.insert_one(doc! {"_id": format!("e{i}")}, None).unwrap();
    }
    // Subscribers are Send: read them from several threads at once.
    let leaver = subs.remove(7);
    let chunks: Vec<Vec<ChangeStream>> = {
        let mut chunks = Vec::new();
        while !subs.is_empty() {
            let rest = subs.split_off(subs.len().min(10));
            chunks.push(std::mem::replace(&mut subs, rest));
        }
        chunks
    };
    let mut leaver = leaver;
    assert_eq!(next_id(&mut leaver), "e0");
    drop(leaver); // leaving does not disturb the others
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|mut chunk| {
            std::thread::spawn(move || {
                for sub in &mut chunk {
                    let ids: Vec<String> = (0..5).map(|_| next_id(sub)).collect();
                    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
                    assert_eq!(sub.next(Duration::from_millis(50)).unwrap(), None, "exactly once");
                }
                chunk
            })
        })
        .collect();
    let subs: Vec<ChangeStream> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(subs.len(), 49);
    assert_eq!(s.pm.stream_count(Some(&s.a)).unwrap(), 49);
    drop(subs);
    assert_eq!(s.pm.stream_count(None).unwrap(), 0);
}

#[test]
fn close_streams_and_drop_database_close_them() {
    let Some(s) = Setup::new() else { return };
    let mut a1 = s.db("events", &s.a).watch([], None).unwrap();
    let mut a2 = s.pm.watch_database(Some(&s.a), [], None).unwrap();
    let mut a3 = s.pm.subscribe_stream(&s.a, None).unwrap();
    let mut b1 = s.db("events", &s.b).watch([], None).unwrap();
    assert_eq!(s.pm.stream_count(Some(&s.a)).unwrap(), 3);
    assert_eq!(s.pm.stream_count(None).unwrap(), 4);
    // Closed from another thread, as the header allows.
    let pm = s.pm.clone();
    let a = s.a.clone();
    let closed = std::thread::spawn(move || pm.close_streams(Some(&a)).unwrap()).join().unwrap();
    assert_eq!(closed, 3);
    for stream in [&mut a1, &mut a2, &mut a3] {
        let err = stream.next(Duration::from_millis(10)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    }
    assert_eq!(b1.next(Duration::from_millis(10)).unwrap(), None, "the other database's stream is untouched");
    s.pm.drop_database(&s.b).unwrap();
    assert_eq!(
        b1.next(Duration::from_millis(10)).unwrap_err().kind(),
        ErrorKind::Closed,
        "dropping closes them"
    );
    assert_eq!(s.pm.stream_count(None).unwrap(), 0);
    assert_eq!(s.pm.close_streams(None).unwrap(), 0);
    // Closing the PolyMongo (pm_wrapper_close) ends its streams too: they fail cleanly with Closed.
    let mut c = s.db("events", &s.a).watch([], None).unwrap();
    s.pm.close();
    assert_eq!(s.pm.stream_count(None).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(s.pm.watch_cluster([], None).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(c.next(Duration::from_millis(10)).unwrap_err().kind(), ErrorKind::Closed, "ended by the close");
}

#[test]
fn ferretdb_refuses_change_streams_with_a_clear_error() {
    let pm = wrapper();
    let name = unique_db("st_ferret");
    let d = pm.model("events", None).unwrap().db(&name).unwrap();
    d.insert_one(doc! {}, None).unwrap();
    match d.watch([], None) {
        Ok(_) => {
            skip("this server has change streams");
            return;
        }
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::NotSupported | ErrorKind::Server),
            "NotSupported or Server, got {e}"
        ),
    }
    assert!(pm
        .subscribe_stream(&name, Some("events"))
        .and_then(|mut s| s.next(Duration::from_millis(500)))
        .is_err());
    assert_eq!(pm.stream_count(None).unwrap(), 0);
    assert_eq!(pm.watch_database(Some("bad/name"), [], None).unwrap_err().kind(), ErrorKind::InvalidDbName);
}
