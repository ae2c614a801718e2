//! Event hooks: connect/disconnect/error/pool events for all or chosen databases, in order, on
//! the dispatcher thread; unsubscribing (explicit or by drop); panics in hooks never cross C
//! and are resumed on the caller's thread.
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use polymongo::{doc, ErrorKind, Event, EventMask, EventType, Options, PolyMongo};

const FLUSH: Duration = Duration::from_secs(5);

fn recorder() -> (Arc<Mutex<Vec<Event>>>, impl FnMut(&Event) + Send + 'static) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    (events, move |e: &Event| sink.lock().unwrap().push(e.clone()))
}

#[test]
fn hooks_for_chosen_databases_in_order() {
    let pm = wrapper();
    let model = pm.model("h", None).unwrap();
    let (x, y) = (unique_db("hook_x"), unique_db("hook_y"));
    let (chosen, on_chosen) = recorder();
    let (all, on_all) = recorder();
    let _s1 = pm.subscribe(EventMask::CONNECT | EventMask::DISCONNECT, &[&x], on_chosen).unwrap();
    let _s2 = pm.subscribe(EventMask::ALL & !EventMask::LOG, &[], on_all).unwrap();
    let dx = model.db(&x).unwrap();
    let dy = model.db(&y).unwrap();
    dx.insert_one(doc! {"a": 1}, None).unwrap();
    dx.insert_one(doc! {"a": 2}, None).unwrap(); // only the first operation is a connect
    dy.insert_one(doc! {"a": 1}, None).unwrap();
    pm.close_all(Duration::from_secs(2)).unwrap();
    pm.flush_events(FLUSH).unwrap();

    let chosen = chosen.lock().unwrap().clone();
    assert_eq!(chosen.len(), 2, "{chosen:?}");
    assert_eq!(
        (chosen[0].kind, chosen[0].db.as_str(), chosen[0].pool.as_str()),
        (EventType::Connect, x.as_str(), "shared")
    );
    assert_eq!((chosen[1].kind, chosen[1].reason.as_str()), (EventType::Disconnect, "closed"));
    assert!(chosen[0].timestamp_ms <= chosen[1].timestamp_ms);
    let all = all.lock().unwrap().clone();
    let n = |k| all.iter().filter(|e| e.kind == k).count();
    assert_eq!((n(EventType::Connect), n(EventType::Disconnect)), (2, 2));
    assert_eq!(all.first().unwrap().kind, EventType::PoolOpened, "the pool opens before anything connects");
    assert_eq!(
        (all.last().unwrap().kind, all.last().unwrap().reason.as_str()),
        (EventType::PoolClosed, "closed")
    );
    // The wrapper stays usable after close_all.
    assert_eq!(dx.count_documents(doc! {}, None).unwrap(), 2);
}

#[test]
fn error_events_carry_the_error_kind() {
    let pm =
        PolyMongo::new(&Options::new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200").default_db("d"))
            .unwrap();
    let (events, on_event) = recorder();
    let _sub = pm.subscribe(EventMask::ERROR, &[], on_event).unwrap();
    let db = pm.model("h", None).unwrap().db("down_db").unwrap();
    assert_eq!(db.insert_one(doc! {}, None).unwrap_err().kind(), ErrorKind::Connect);
    pm.flush_events(FLUSH).unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].db, "down_db");
    assert_eq!(events[0].error_kind(), Some(ErrorKind::Connect));
    assert!(!events[0].message.is_empty());
}

#[test]
fn unsubscribe_stops_delivery_and_drops_the_closure() {
    struct DropCounter(Arc<AtomicUsize>);
    impl Drop for DropCounter {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let pm = wrapper();
    let model = pm.model("h", None).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));

    let make = |calls: &Arc<AtomicUsize>, drops: &Arc<AtomicUsize>| {
        let (calls, guard) = (Arc::clone(calls), DropCounter(Arc::clone(drops)));
        move |_: &Event| {
            let _keep = &guard;
            calls.fetch_add(1, Ordering::SeqCst);
        }
    };
    // Explicit unsubscribe.
    let sub = pm.subscribe(EventMask::CONNECT, &[], make(&calls, &drops)).unwrap();
    let id = sub.id();
    model.db(&unique_db("unsub_a")).unwrap().insert_one(doc! {}, None).unwrap();
    pm.flush_events(FLUSH).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    sub.unsubscribe().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the closure is dropped once unsubscribed");
    model.db(&unique_db("unsub_b")).unwrap().insert_one(doc! {}, None).unwrap();
    pm.flush_events(FLUSH).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(pm.unsubscribe(id).unwrap_err().kind(), ErrorKind::InvalidArgument, "already gone");

    // Dropping the Subscription unsubscribes; detach keeps it until the wrapper goes.
    drop(pm.subscribe(EventMask::CONNECT, &[], make(&calls, &drops)).unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    let kept = pm.subscribe(EventMask::CONNECT, &[], make(&calls, &drops)).unwrap().detach();
    model.db(&unique_db("unsub_c")).unwrap().insert_one(doc! {}, None).unwrap();
    pm.flush_events(FLUSH).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    pm.unsubscribe(kept).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 3);

    // Refused subscriptions drop their closure too, and report the normal errors.
    let err = pm.subscribe(EventMask::CONNECT, &["a.b"], make(&calls, &drops)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidDbName);
    let err = pm.subscribe(EventMask::CONNECT & EventMask::LOG, &[], make(&calls, &drops)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "empty mask");
    assert_eq!(drops.load(Ordering::SeqCst), 5);

    // A wrapper that goes away drops the closures of its remaining subscriptions.
    let detached = pm.subscribe(EventMask::ALL, &[], make(&calls, &drops)).unwrap().detach();
    assert!(detached > 0);
    drop(model);
    drop(pm);
    assert!(wait_until(2000, || drops.load(Ordering::SeqCst) == 6));
}

#[test]
fn hook_panic_is_resumed_by_flush_events() {
    let pm = wrapper();
    let model = pm.model("h", None).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let _sub = pm
        .subscribe(EventMask::CONNECT, &[], move |e: &Event| {
            seen.fetch_add(1, Ordering::SeqCst);
            panic!("hook failed on {}", e.db);
        })
        .unwrap();
    let (recorded, on_event) = recorder();
    let _other = pm.subscribe(EventMask::CONNECT, &[], on_event).unwrap();
    let first = unique_db("panic_a");
    // Operations are not affected by the panicking hook.
    model.db(&first).unwrap().insert_one(doc! {}, None).unwrap();
    model.db(&unique_db("panic_b")).unwrap().insert_one(doc! {}, None).unwrap();

    let payload = catch_unwind(AssertUnwindSafe(|| pm.flush_events(FLUSH))).expect_err("resumed here");
    assert_eq!(payload.downcast_ref::<String>().unwrap(), &format!("hook failed on {first}"));
    assert_eq!(pm.hook_panics(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a hook that panicked is not called again");
    assert_eq!(recorded.lock().unwrap().len(), 2, "other hooks still get every event");
    // Resumed once: the next flush is clean, and the wrapper works.
    pm.flush_events(FLUSH).unwrap();
    assert_eq!(model.db(&first).unwrap().count_documents(doc! {}, None).unwrap(), 1);
}

#[test]
fn hooks_may_call_polymongo() {
    let pm = wrapper();
    let model = pm.model("h", None).unwrap();
    let audit_name = unique_db("audit");
    let audit = model.db(&audit_name).unwrap();
    let tenant = unique_db("hooked");
    // The hook writes an audit record for each connect, from the dispatcher thread.
    let _sub = pm
        .subscribe(EventMask::CONNECT, &[&tenant], move |e: &Event| {
            audit.insert_one(doc! {"connected": &e.db, "pool": &e.pool}, None).unwrap();
        })
        .unwrap();
    model.db(&tenant).unwrap().insert_one(doc! {"x": 1}, None).unwrap();
    pm.flush_events(FLUSH).unwrap();
    let check = model.db(&audit_name).unwrap();
    let rec = check.find_one(doc! {}, None).unwrap().expect("the hook's write");
    assert_eq!(rec.get_str("connected"), Ok(tenant.as_str()));
}

#[test]
fn hook_may_close_handles_while_being_unsubscribed() {
    use std::sync::mpsc;
    let pm = wrapper();
    let model = pm.model("h", None).unwrap();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let pm_in_hook = pm.clone();
    let sub = pm
        .subscribe(EventMask::CONNECT, &[], move |_: &Event| {
            entered_tx.send(()).ok();
            go_rx.recv_timeout(Duration::from_secs(5)).ok();
            pm_in_hook.close(); // while another thread waits in unsubscribe for this callback
        })
        .unwrap();
    let name = unique_db("close_in_hook");
    let db = model.db(&name).unwrap();
    db.insert_one(doc! {}, None).unwrap();
    entered_rx.recv_timeout(FLUSH).expect("the hook is running");
    let (done_tx, done_rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    std::thread::spawn(move || {
        tid_tx.send(current_thread_id()).unwrap();
        done_tx.send(sub.unsubscribe()).unwrap()
    });
    // Observed, not assumed: the unsubscribing thread is parked (asleep, no context switch for
    // a while) and unsubscribe has not returned. Its only long wait is the one for the running
    // callback, which cannot end before go_tx: so the hook now closes the wrapper while the
    // other thread waits in unsubscribe for it.
    let tid = tid_rx.recv_timeout(FLUSH).expect("the unsubscribing thread started");
    assert!(wait_until(5000, || thread_is_parked(tid)), "unsubscribe never waited for the running callback");
    assert!(done_rx.try_recv().is_err(), "unsubscribe returned while the callback was still running");
    go_tx.send(()).unwrap();
    let unsubscribed = done_rx.recv_timeout(Duration::from_secs(10)).expect("no deadlock");
    unsubscribed.unwrap();
    assert!(pm.is_closed());
    assert_eq!(pm.open_pools().unwrap_err().kind(), ErrorKind::Closed);
    // The close from the hook is pm_wrapper_close: the children are closed with the wrapper.
    assert_eq!(db.count_documents(doc! {}, None).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(count(&name, "h"), 1, "the write before the close is there");
}

#[test]
fn cmap_events_carry_connection_ids_and_durations() {
    let pm = wrapper();
    let model = pm.model("cmap", None).unwrap();
    let (seen, on_event) = recorder();
    let _s = pm.subscribe(EventMask::CHECKOUTS | EventMask::CONNECTIONS | EventMask::POOL_READY, &[], on_event).unwrap();
    let d = model.db(&unique_db("cmap")).unwrap();
    d.insert_one(doc! {"a": 1}, None).unwrap();
    pm.flush_events(FLUSH).unwrap();
    let seen = seen.lock().unwrap().clone();
    let created: Vec<u64> =
        seen.iter().filter(|e| e.kind == EventType::ConnectionCreated).map(|e| e.connection_id).collect();
    assert_eq!(created.len(), 1, "{seen:?}");
    assert!(created[0] > 0);
    let ready: Vec<&Event> = seen.iter().filter(|e| e.kind == EventType::ConnectionReady).collect();
    assert_eq!(ready.len(), 1);
    assert!(ready[0].duration_us > 0 && ready[0].connection_id == created[0]);
    for kind in [EventType::CheckoutStarted, EventType::CheckedOut, EventType::CheckedIn, EventType::PoolReady] {
        assert_eq!(seen.iter().filter(|e| e.kind == kind).count(), 1, "{kind:?} in {seen:?}");
    }
    for e in seen.iter().filter(|e| matches!(e.kind, EventType::CheckedOut | EventType::CheckedIn)) {
        assert_eq!((e.connection_id, e.pool.as_str()), (created[0], "shared"));
    }
    assert!((EventMask::ALL & EventMask::CHECKOUTS).is_empty() && EventMask::EVERY.contains(EventMask::CHECKOUTS));
}
