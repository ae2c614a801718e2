//! Hooks on connections and pools (PolyMongo's onDbConnect, onDbDisconnect, onTheseDBConnect,
//! plus pool and log events).
//!
//! Callbacks run on the wrapper's single event dispatcher thread, in the order the events
//! happened, never while polymongo holds a lock; a slow callback delays only later callbacks,
//! never an operation.
//!
//! Panics: a callback runs on a library thread, where unwinding into C would abort the
//! process. The trampoline catches the panic, stops calling that callback, and parks the
//! payload; [`PolyMongo::flush_events`] resumes it on the caller's thread, as if the panic had
//! happened inside that call.
use std::ffi::{c_char, c_void, CString};
use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polymongo_sys as sys;

use crate::call;
use crate::error::{ErrorKind, Result};
use crate::panic::Parked;
use crate::wrapper::PolyMongo;

/// A set of event types to subscribe to. Combine with `|`; `EventMask::ALL & !EventMask::LOG`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventMask(u32);

impl EventMask {
    /// A database's first successful operation on its open pool.
    pub const CONNECT: EventMask = EventMask(sys::PM_EVENT_CONNECT as u32);
    /// A database's pool closed ([`Event::reason`] says why).
    pub const DISCONNECT: EventMask = EventMask(sys::PM_EVENT_DISCONNECT as u32);
    /// Connection, authentication or pool failure ([`Event::error_kind`]).
    pub const ERROR: EventMask = EventMask(sys::PM_EVENT_ERROR as u32);
    /// A pool opened (first use, connect, reopen).
    pub const POOL_OPENED: EventMask = EventMask(sys::PM_EVENT_POOL_OPENED as u32);
    /// A pool closed: reason "ttl", "idle", "evicted", "closed" or "forced".
    pub const POOL_CLOSED: EventMask = EventMask(sys::PM_EVENT_POOL_CLOSED as u32);
    /// A pool's size limit changed; [`Event::code`] is the new limit.
    pub const POOL_RESIZED: EventMask = EventMask(sys::PM_EVENT_POOL_RESIZED as u32);
    /// A log line; [`Event::code`] is the level (0 debug .. 3 error).
    pub const LOG: EventMask = EventMask(sys::PM_EVENT_LOG as u32);
    /// CMAP: the pool's first success since it opened or was cleared.
    pub const POOL_READY: EventMask = EventMask(sys::PM_EVENT_POOL_READY as u32);
    /// CMAP: a network error cleared the pool's connections.
    pub const POOL_CLEARED: EventMask = EventMask(sys::PM_EVENT_POOL_CLEARED as u32);
    /// CMAP: connection created, ready and closed.
    pub const CONNECTIONS: EventMask = EventMask(
        (sys::PM_EVENT_CONNECTION_CREATED | sys::PM_EVENT_CONNECTION_READY | sys::PM_EVENT_CONNECTION_CLOSED) as u32,
    );
    /// CMAP: check-out started, failed, checked out, checked in (one of each per operation).
    pub const CHECKOUTS: EventMask = EventMask(sys::PM_EVENT_CHECKOUTS as u32);
    /// `maxConnectionsPerCluster` stopped a new connection.
    pub const BUDGET_EXHAUSTED: EventMask = EventMask(sys::PM_EVENT_BUDGET_EXHAUSTED as u32);
    /// Every event type but the per-operation [`EventMask::CHECKOUTS`].
    pub const ALL: EventMask = EventMask(sys::PM_EVENT_ALL as u32);
    /// Every event type, check-outs included.
    pub const EVERY: EventMask = EventMask(sys::PM_EVENT_EVERY as u32);

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: EventMask) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for EventMask {
    type Output = EventMask;
    fn bitor(self, rhs: EventMask) -> EventMask {
        EventMask(self.0 | rhs.0)
    }
}

impl BitOrAssign for EventMask {
    fn bitor_assign(&mut self, rhs: EventMask) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for EventMask {
    type Output = EventMask;
    fn bitand(self, rhs: EventMask) -> EventMask {
        EventMask(self.0 & rhs.0)
    }
}

impl Not for EventMask {
    type Output = EventMask;
    fn not(self) -> EventMask {
        EventMask(!self.0 & EventMask::ALL.0)
    }
}

impl From<EventType> for EventMask {
    fn from(t: EventType) -> EventMask {
        EventMask(t.bits())
    }
}

impl fmt::Debug for EventMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventMask({:#x})", self.0)
    }
}

/// The type of an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    Connect,
    Disconnect,
    Error,
    PoolOpened,
    PoolClosed,
    PoolResized,
    Log,
    /// CMAP: the pool's first success since it opened or was cleared.
    PoolReady,
    /// CMAP: a network error cleared the pool's connections.
    PoolCleared,
    /// CMAP: a new connection (`connection_id`).
    ConnectionCreated,
    /// CMAP: it answered its handshake (`duration_us` since created).
    ConnectionReady,
    /// CMAP: reason "poolClosed" or "error".
    ConnectionClosed,
    /// CMAP: an operation asks for a connection.
    CheckoutStarted,
    /// CMAP: reason "timeout", "poolClosed", "connectionError", "budget".
    CheckoutFailed,
    /// CMAP: an operation got a connection (`duration_us`: the wait).
    CheckedOut,
    /// CMAP: a connection went back (`duration_us`: how long it was out).
    CheckedIn,
    /// `maxConnectionsPerCluster` stopped a new connection; `code` is the budget.
    BudgetExhausted,
    /// A type this binding does not know (from a newer library).
    Other(u32),
}

impl EventType {
    fn from_raw(raw: u32) -> EventType {
        match raw as sys::pm_event_type {
            sys::PM_EVENT_CONNECT => EventType::Connect,
            sys::PM_EVENT_DISCONNECT => EventType::Disconnect,
            sys::PM_EVENT_ERROR => EventType::Error,
            sys::PM_EVENT_POOL_OPENED => EventType::PoolOpened,
            sys::PM_EVENT_POOL_CLOSED => EventType::PoolClosed,
            sys::PM_EVENT_POOL_RESIZED => EventType::PoolResized,
            sys::PM_EVENT_LOG => EventType::Log,
            sys::PM_EVENT_POOL_READY => EventType::PoolReady,
            sys::PM_EVENT_POOL_CLEARED => EventType::PoolCleared,
            sys::PM_EVENT_CONNECTION_CREATED => EventType::ConnectionCreated,
            sys::PM_EVENT_CONNECTION_READY => EventType::ConnectionReady,
            sys::PM_EVENT_CONNECTION_CLOSED => EventType::ConnectionClosed,
            sys::PM_EVENT_CHECKOUT_STARTED => EventType::CheckoutStarted,
            sys::PM_EVENT_CHECKOUT_FAILED => EventType::CheckoutFailed,
            sys::PM_EVENT_CHECKED_OUT => EventType::CheckedOut,
            sys::PM_EVENT_CHECKED_IN => EventType::CheckedIn,
            sys::PM_EVENT_BUDGET_EXHAUSTED => EventType::BudgetExhausted,
            _ => EventType::Other(raw),
        }
    }

    fn bits(self) -> u32 {
        (match self {
            EventType::Connect => sys::PM_EVENT_CONNECT,
            EventType::Disconnect => sys::PM_EVENT_DISCONNECT,
            EventType::Error => sys::PM_EVENT_ERROR,
            EventType::PoolOpened => sys::PM_EVENT_POOL_OPENED,
            EventType::PoolClosed => sys::PM_EVENT_POOL_CLOSED,
            EventType::PoolResized => sys::PM_EVENT_POOL_RESIZED,
            EventType::Log => sys::PM_EVENT_LOG,
            EventType::PoolReady => sys::PM_EVENT_POOL_READY,
            EventType::PoolCleared => sys::PM_EVENT_POOL_CLEARED,
            EventType::ConnectionCreated => sys::PM_EVENT_CONNECTION_CREATED,
            EventType::ConnectionReady => sys::PM_EVENT_CONNECTION_READY,
            EventType::ConnectionClosed => sys::PM_EVENT_CONNECTION_CLOSED,
            EventType::CheckoutStarted => sys::PM_EVENT_CHECKOUT_STARTED,
            EventType::CheckoutFailed => sys::PM_EVENT_CHECKOUT_FAILED,
            EventType::CheckedOut => sys::PM_EVENT_CHECKED_OUT,
            EventType::CheckedIn => sys::PM_EVENT_CHECKED_IN,
            EventType::BudgetExhausted => sys::PM_EVENT_BUDGET_EXHAUSTED,
            EventType::Other(bits) => bits as sys::pm_event_type,
        }) as u32
    }
}

/// One event, copied out of the library's borrowed `pm_event`. Strings are "" when not
/// applicable and never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// The database concerned, or "".
    pub db: String,
    /// "shared", or the dedicated pool's database or rule pattern.
    pub pool: String,
    /// Pool closed / disconnect: why.
    pub reason: String,
    /// Errors and log lines.
    pub message: String,
    /// Errors: a `pm_code`; log: the level; resized: the new limit.
    pub code: i32,
    /// Wall clock, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Connection ready, check-out events, checked in: how long, in microseconds (else 0).
    pub duration_us: i64,
    /// Connection and check-out events: the connection, unique in its pool (else 0).
    pub connection_id: u64,
}

impl Event {
    /// # Safety
    /// `raw` points to a valid `pm_event` whose strings are NUL-terminated or NULL.
    unsafe fn from_raw(raw: &sys::pm_event) -> Event {
        unsafe {
            Event {
                kind: EventType::from_raw(raw.type_ as u32),
                db: call::string_from(raw.db),
                pool: call::string_from(raw.pool),
                reason: call::string_from(raw.reason),
                message: call::string_from(raw.message),
                code: raw.code,
                timestamp_ms: raw.timestamp_ms,
                duration_us: raw.duration_us,
                connection_id: raw.connection_id,
            }
        }
    }

    /// For [`EventType::Error`]: the error's kind.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        (self.kind == EventType::Error && self.code < 0).then(|| ErrorKind::from_code(self.code))
    }

    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.timestamp_ms.max(0) as u64)
    }
}

type Callback = Box<dyn FnMut(&Event) + Send + 'static>;

/// What C holds as `user_data`: freed through `free_state` once the subscription is gone for
/// good (after unsubscribing and any delivery in progress, or when the wrapper goes away).
struct State {
    /// Poisoned once the callback panicked: it is not called again.
    callback: Mutex<Callback>,
    panics: Arc<Parked>,
}

unsafe extern "C" fn on_event(event: *const sys::pm_event, user_data: *mut c_void) {
    // SAFETY: user_data is the State we leaked in subscribe; C frees it only through
    // free_state, after the last delivery. The event is valid during this call.
    let state = unsafe { &*(user_data as *const State) };
    let Some(raw) = (unsafe { event.as_ref() }) else { return };
    let outcome = crate::panic::catch(|| {
        let event = unsafe { Event::from_raw(raw) };
        if let Ok(mut callback) = state.callback.lock() {
            callback(&event);
        }
    });
    if let Err(payload) = outcome {
        state.panics.park(payload);
    }
}

unsafe extern "C" fn free_state(user_data: *mut c_void) {
    // Dropping the user's closure may run arbitrary Drop code: never let it unwind into C.
    let _ = crate::panic::catch(|| drop(unsafe { Box::from_raw(user_data as *mut State) }));
}

/// A live event subscription: dropping it unsubscribes (use [`Subscription::detach`] to keep
/// it for the wrapper's lifetime). Holds a reference to the wrapper.
#[must_use = "dropping a Subscription unsubscribes at once"]
pub struct Subscription {
    wrapper: Option<PolyMongo>,
    id: u64,
}

impl Subscription {
    /// The subscription's id (for [`PolyMongo::unsubscribe`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Unsubscribes now; the callback is not called again once this returns (a delivery in
    /// progress finishes first) and the closure is dropped.
    pub fn unsubscribe(mut self) -> Result<()> {
        match self.wrapper.take() {
            Some(w) => w.unsubscribe(self.id),
            None => Ok(()),
        }
    }

    /// Keeps the subscription until the wrapper is gone (or [`PolyMongo::unsubscribe`] with
    /// the returned id), releasing this value's reference to the wrapper.
    pub fn detach(mut self) -> u64 {
        self.wrapper = None;
        self.id
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(w) = self.wrapper.take() {
            let _ = w.unsubscribe(self.id);
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).finish()
    }
}

impl PolyMongo {
    /// Calls `callback` for each event of the types in `events` concerning the databases in
    /// `dbs` (empty: every database, and events about no database). Invalid names fail with
    /// `InvalidDbName`, an empty mask with `InvalidArgument`.
    ///
    /// The callback runs on the library's dispatcher thread (hence `Send + 'static`) and may
    /// call polymongo. A closure that holds a clone of this `PolyMongo` keeps the wrapper alive
    /// until it is unsubscribed.
    pub fn subscribe<F>(&self, events: EventMask, dbs: &[&str], callback: F) -> Result<Subscription>
    where
        F: FnMut(&Event) + Send + 'static,
    {
        let names =
            dbs.iter().map(|d| call::cstring(d, "database name")).collect::<Result<Vec<CString>>>()?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let state = Box::new(State {
            callback: Mutex::new(Box::new(callback)),
            panics: Arc::clone(&self.inner.hook_panics),
        });
        let mut id = 0u64;
        self.with(|w| {
            // Ownership of the state passes to the library, which frees it with free_state
            // (also when subscribing fails).
            let user_data = Box::into_raw(state) as *mut c_void;
            call::ffi(|err| unsafe {
                sys::pm_wrapper_subscribe(
                    w,
                    events.bits(),
                    name_ptrs.as_ptr(),
                    name_ptrs.len(),
                    Some(on_event),
                    user_data,
                    Some(free_state),
                    &mut id,
                    err,
                )
            })
        })?;
        Ok(Subscription { wrapper: Some(self.clone()), id })
    }

    /// Ends subscription `id`; `InvalidArgument` when there is no such subscription.
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_unsubscribe(w, id, err) }))?;
        Ok(())
    }

    /// Waits up to `timeout` until every event raised so far has been delivered (`Timeout`
    /// otherwise). If a callback panicked, its panic is resumed here, on the caller's thread.
    pub fn flush_events(&self, timeout: Duration) -> Result<()> {
        let ms = timeout.as_millis().min(i64::MAX as u128) as i64;
        let outcome = self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_flush_events(w, ms, err) }));
        self.inner.hook_panics.resume();
        outcome.map(drop)
    }

    /// Events not delivered: dropped because the queue overflowed, or whose callback failed.
    pub fn dropped_events(&self) -> Result<u64> {
        self.with(|w| Ok(unsafe { sys::pm_wrapper_dropped_events(w) }))
    }

    /// How many event callbacks of this wrapper panicked (each is then no longer called).
    pub fn hook_panics(&self) -> u64 {
        self.inner.hook_panics.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_combine() {
        let m = EventMask::CONNECT | EventMask::DISCONNECT;
        assert!(m.contains(EventMask::CONNECT) && !m.contains(EventMask::LOG));
        assert_eq!((EventMask::ALL & !EventMask::LOG).bits(), 0x10fbf);
        assert_eq!(EventMask::from(EventType::PoolClosed), EventMask::POOL_CLOSED);
        assert_eq!(EventType::from_raw(EventMask::LOG.bits()), EventType::Log);
        assert_eq!(EventType::from_raw(1 << 20), EventType::Other(1 << 20));
    }
}
