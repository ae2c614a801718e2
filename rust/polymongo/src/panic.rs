//! Keeping Rust panics from crossing the FFI boundary (the git2-rs `panic.rs` pattern).
//!
//! Unwinding out of an `extern "C"` function aborts the process (or is UB with older
//! toolchains), so every Rust function that C calls back — hooks, event handlers, custom
//! allocators once the C API grows them — must run its body through [`wrap`]: a panic is caught
//! and parked in a thread-local slot, and the trampoline returns an error value to C (the
//! `pm_session_with_transaction` callback: the transaction aborts). When the
//! C call returns, [`crate::call`] runs [`check`], which resumes the unwind on the Rust side, as
//! if the panic had passed through C.
//!
//! This only covers callbacks that run on the calling thread, during the call. Callbacks that
//! the library runs on its own threads (the hook dispatcher of the architecture) have no Rust
//! caller to resume in: their trampolines must use [`catch`] and report or drop the payload,
//! never unwind.
use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    static PENDING: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
}

/// Runs a callback body invoked from C on the calling thread. Returns `None` when it panicked
/// (the panic is parked for [`check`]) or when an earlier callback of the same C call already
/// panicked (further callbacks are not run).
pub(crate) fn wrap<T>(f: impl FnOnce() -> T) -> Option<T> {
    if PENDING.with(|p| p.borrow().is_some()) {
        return None;
    }
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(payload) => {
            PENDING.with(|p| *p.borrow_mut() = Some(payload));
            None
        }
    }
}

/// For callbacks run on a library-owned thread: catches a panic and hands back its payload
/// instead of unwinding into C.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn Any + Send>> {
    panic::catch_unwind(AssertUnwindSafe(f))
}

/// A slot for the panic of a callback that runs on a library-owned thread (event hooks): the
/// first payload is kept until a call on the owner's side (`PolyMongo::flush_events`) resumes
/// it on the caller's thread.
#[derive(Default)]
pub(crate) struct Parked {
    payload: std::sync::Mutex<Option<Box<dyn Any + Send>>>,
    count: std::sync::atomic::AtomicU64,
}

impl Parked {
    pub(crate) fn park(&self, payload: Box<dyn Any + Send>) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut slot = self.payload.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(payload);
        }
    }

    /// Resumes the parked panic, if any, on the calling thread.
    pub(crate) fn resume(&self) {
        let payload = self.payload.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(payload) = payload {
            panic::resume_unwind(payload);
        }
    }

    /// How many callbacks panicked so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Resumes a panic parked by [`wrap`] during the C call that just returned.
pub(crate) fn check() {
    if let Some(payload) = PENDING.with(|p| p.borrow_mut().take()) {
        panic::resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A stand-in for a C function that calls a Rust callback, as a future hook API will.
    extern "C" fn c_calls_back(cb: extern "C" fn(i32) -> i32, arg: i32) -> i32 {
        cb(arg)
    }

    extern "C" fn trampoline(arg: i32) -> i32 {
        wrap(|| {
            if arg < 0 {
                panic!("callback failed on {arg}");
            }
            arg * 2
        })
        .unwrap_or(-1)
    }

    #[test]
    fn callback_result_passes_through() {
        assert_eq!(c_calls_back(trampoline, 21), 42);
        check(); // nothing pending
    }

    #[test]
    fn panic_is_parked_then_resumed_after_c_returns() {
        let rc = c_calls_back(trampoline, -5);
        assert_eq!(rc, -1, "C saw an error value, not an unwind");
        let resumed = panic::catch_unwind(check).expect_err("the panic is resumed");
        assert_eq!(resumed.downcast_ref::<String>().unwrap(), "callback failed on -5");
        check(); // consumed
    }
}
