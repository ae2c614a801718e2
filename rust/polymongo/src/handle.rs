//! Ownership of C handles: one generic RAII type, so that a new handle type in the C API takes
//! one `impl RawHandle` line here.
use std::ptr;
use std::sync::{Arc, Mutex};

use polymongo_sys as sys;

use crate::error::{Error, Result};

/// A C handle type with its `pm_*_free` function.
///
/// # Safety
/// `free` must be the function that releases a pointer of this type obtained from the library.
pub(crate) unsafe trait RawHandle {
    /// The Rust type's name, for "this X handle is closed" messages.
    const NAME: &'static str;
    /// Releases the caller's reference (NULL-safe in C).
    unsafe fn free(ptr: *mut Self);
}

/// A handle the C header declares thread-safe: any number of threads may call functions on it
/// at once. Owning types are `Sync` only for these.
///
/// # Safety
/// Only for handle types whose header comment says so.
pub(crate) unsafe trait ThreadSafe: RawHandle {}

/// Declares each C handle type: its free function, the Rust name, and its thread-safety as the
/// header states it (`thread_safe`, or `one_thread_at_a_time`: may move between threads, but
/// calls must not overlap). Every handle may be freed on any thread (shared ownership in C).
macro_rules! raw_handle {
    (@safety $raw:ident thread_safe) => {
        unsafe impl ThreadSafe for sys::$raw {}
    };
    (@safety $raw:ident one_thread_at_a_time) => {};
    ($($raw:ident => $free:ident, $name:literal, $safety:ident;)*) => {$(
        unsafe impl RawHandle for sys::$raw {
            const NAME: &'static str = $name;
            unsafe fn free(ptr: *mut Self) {
                unsafe { sys::$free(ptr) }
            }
        }
        raw_handle!(@safety $raw $safety);
    )*};
}

raw_handle! {
    // common.h: "the manager: thread-safe"; wrapper.h: "fully thread-safe".
    pm_wrapper => pm_wrapper_free, "PolyMongo", thread_safe;
    // model.h: "immutable, share freely".
    pm_model => pm_model_free, "Model", thread_safe;
    // db.h: "A pm_db is immutable and thread-safe".
    pm_db => pm_db_free, "Db", thread_safe;
    // result.h: "immutable".
    pm_result => pm_result_free, "WriteResult", thread_safe;
    // cursor.h: "one thread at a time".
    pm_cursor => pm_cursor_free, "Cursor", one_thread_at_a_time;
    // session.h: "Thread-safety: one thread at a time" (and so are the dbs bound to it:
    // they run on the session's connection; see session.rs).
    pm_session => pm_session_free, "Session", one_thread_at_a_time;
    // stream.h: "one thread at a time" (pm_wrapper_close_streams may close it from another
    // thread: the library's own synchronisation; its next call returns PM_ECLOSED).
    pm_stream => pm_stream_free, "ChangeStream", one_thread_at_a_time;
}

/// A shared, closable handle. Each call takes a counted reference to the live C pointer (a
/// mutex held only long enough to clone an `Arc`), so any number of calls run at once, as the
/// thread-safe C handles allow, and no lock is held while C runs (a hook that calls back into
/// polymongo can never deadlock against `close`). [`Shared::close`] empties the slot and returns
/// at once: later calls get `ErrorKind::Closed`, and the C handle is freed when the last call
/// in flight finishes.
///
/// `Send + Sync` exactly when the C handle is [`ThreadSafe`].
pub(crate) struct Shared<T: RawHandle> {
    slot: Mutex<Option<Arc<Live<T>>>>,
}

/// The live C pointer; frees it when the last reference goes.
struct Live<T: RawHandle>(*mut T);

impl<T: RawHandle> Drop for Live<T> {
    fn drop(&mut self) {
        // SAFETY: last reference to a pointer we own; free is NULL-safe.
        unsafe { T::free(self.0) };
    }
}

// SAFETY: the handle may be freed on any thread; calls overlap (through `&Shared`) only for
// handles the header declares thread-safe.
unsafe impl<T: ThreadSafe> Send for Live<T> {}
unsafe impl<T: ThreadSafe> Sync for Live<T> {}

impl<T: RawHandle> Shared<T> {
    /// Takes ownership of `ptr` (non-null, from the library).
    pub(crate) fn new(ptr: *mut T) -> Self {
        debug_assert!(!ptr.is_null());
        Shared { slot: Mutex::new(Some(Arc::new(Live(ptr)))) }
    }

    fn live(&self) -> Option<Arc<Live<T>>> {
        // Nothing panics while the mutex is held: poisoning carries no meaning here.
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` with the live pointer (kept alive until `f` returns), or fails with `Closed`.
    pub(crate) fn with<R>(&self, f: impl FnOnce(*mut T) -> Result<R>) -> Result<R> {
        let live = self.live().ok_or_else(|| Error::closed(T::NAME))?;
        f(live.0)
    }

    /// Releases this handle's reference now (the C handle is freed once calls in flight are
    /// done). Idempotent.
    pub(crate) fn close(&self) {
        let taken = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken); // outside the mutex: freeing may take a while
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

/// A uniquely owned handle (cursor, result): freed on drop, no lock needed. `Send` for every
/// handle type (calls never overlap through `&mut`); `Sync` only for [`ThreadSafe`] ones.
pub(crate) struct Owned<T: RawHandle> {
    ptr: *mut T,
}

impl<T: RawHandle> Owned<T> {
    pub(crate) fn new(ptr: *mut T) -> Self {
        debug_assert!(!ptr.is_null());
        Owned { ptr }
    }

    /// The live pointer, or null once closed.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr
    }

    pub(crate) fn close(&mut self) {
        let p = std::mem::replace(&mut self.ptr, ptr::null_mut());
        // SAFETY: we owned p; free is NULL-safe.
        unsafe { T::free(p) };
    }
}

// SAFETY: see the type's comment and the header quotes in raw_handle! above.
unsafe impl<T: RawHandle> Send for Owned<T> {}
unsafe impl<T: ThreadSafe> Sync for Owned<T> {}

impl<T: RawHandle> Drop for Owned<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static FREED: AtomicUsize = AtomicUsize::new(0);

    /// A stand-in C handle that counts frees.
    struct Fake;
    unsafe impl RawHandle for Fake {
        const NAME: &'static str = "Fake";
        unsafe fn free(ptr: *mut Self) {
            if !ptr.is_null() {
                drop(unsafe { Box::from_raw(ptr) });
                FREED.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    unsafe impl ThreadSafe for Fake {}

    #[test]
    fn close_defers_the_free_until_calls_in_flight_return() {
        let before = FREED.load(Ordering::SeqCst);
        let shared = Shared::new(Box::into_raw(Box::new(Fake)));
        let inside = shared.with(|p| {
            assert!(!p.is_null());
            shared.close(); // from inside a call (as a hook would): returns at once
            assert!(shared.is_closed());
            assert_eq!(FREED.load(Ordering::SeqCst), before, "still in use");
            Ok(7)
        });
        assert_eq!(inside.unwrap(), 7);
        assert_eq!(FREED.load(Ordering::SeqCst), before + 1, "freed when the call returned");
        assert_eq!(shared.with(|_| Ok(())).unwrap_err().kind(), ErrorKind::Closed);
        shared.close(); // idempotent
        drop(shared);
        assert_eq!(FREED.load(Ordering::SeqCst), before + 1, "freed exactly once");
    }
}
