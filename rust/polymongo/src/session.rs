//! Sessions and transactions (`include/polymongo/session.h`): native ones on one cluster, and
//! compensating ones across any pools and clusters.
//!
//! A native [`Session`] ([`PolyMongo::start_session`]) holds one connection of the pool serving
//! its database until it is dropped. A compensating session
//! ([`PolyMongo::start_compensating`]) records the exact undo of every write made through it,
//! and rolls them back newest first on abort (no isolation: others see the writes before the
//! commit). Both have the same methods. Databases are bound to it with [`crate::Db::with_session`]; the bound db ([`SessionDb`])
//! and its cursors run on the session's connection, so they borrow the session: the borrow
//! checker keeps them on the session's thread (`Session` is `Send` but not `Sync`) and stops
//! them from outliving it. Every method takes `&self`, so bound dbs and the session's own
//! calls interleave freely on that thread.
//!
//! Two forms, as in the drivers:
//!
//! ```no_run
//! # use polymongo::{doc, PolyMongo, Options};
//! # fn main() -> polymongo::Result<()> {
//! # let pm = PolyMongo::new(&Options::new("mongodb://localhost:27017/?replicaSet=rs"))?;
//! let accounts = pm.model("accounts", None)?;
//! let session = pm.start_session(Some("bank_a"), None)?;
//! let a = accounts.db("bank_a")?.with_session(&session)?;
//! let b = accounts.db("bank_b")?.with_session(&session)?;
//!
//! // The callback form: commits when the closure returns Ok, aborts on Err (returned as is)
//! // or on a panic (resumed after the library returns); runs the closure again on a
//! // TransientTransactionError.
//! session.with_transaction(|_s| {
//!     a.insert_one(doc! {"amount": -10}, None)?;
//!     b.insert_one(doc! {"amount": 10}, None)?;
//!     Ok::<_, polymongo::Error>(())
//! })?;
//!
//! // The explicit form.
//! session.start_transaction(None)?;
//! a.insert_one(doc! {"amount": -1}, None)?;
//! session.abort_transaction()?;
//! # Ok(()) }
//! ```
//!
//! [`SessionDb`]: crate::SessionDb
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::fmt;
use std::ptr;
use std::time::Duration;

use serde::Deserialize;

use polymongo_sys as sys;

use crate::call::{self, Doc};
use crate::error::{Error, ErrorKind, Result};
use crate::handle::Owned;
use crate::options::{CompensatingOptions, SessionOptions, TransactionOptions};
use crate::wrapper::PolyMongo;

/// A session: native multi-document transactions on one cluster ([`PolyMongo::start_session`])
/// or compensating transactions across any pools ([`PolyMongo::start_compensating`]). Dropping
/// it ends the session, aborting (or, compensating, rolling back) an open transaction.
///
/// On a server that cannot run native transactions (a standalone, FerretDB), starting one
/// fails with `ErrorKind::NotSupported` before anything is written; a compensating session
/// works there.
///
/// Thread-safety: `Send` but not `Sync` (`pm_session`: one thread at a time). Dbs bound to it
/// borrow it, so they stay on its thread too. Both rules are checked at compile time:
///
/// ```compile_fail
/// # fn f(pm: polymongo::PolyMongo, db: polymongo::Db) -> polymongo::Result<()> {
/// let session = pm.start_session(None, None)?;
/// let bound = db.with_session(&session)?;
/// std::thread::scope(|t| {
///     t.spawn(|| bound.count_documents(polymongo::doc! {}, None)); // not Sync: stays home
/// });
/// # Ok(()) }
/// ```
///
/// ```compile_fail
/// # fn f(pm: polymongo::PolyMongo, db: polymongo::Db) -> polymongo::Result<()> {
/// let session = pm.start_session(None, None)?;
/// let bound = db.with_session(&session)?;
/// drop(session); // still borrowed by `bound`
/// bound.count_documents(polymongo::doc! {}, None)?;
/// # Ok(()) }
/// ```
pub struct Session {
    raw: Owned<sys::pm_session>,
    compensating: bool,
    /// Set while `with_transaction` runs its closure: the closure decides by its return value,
    /// so explicit start/commit/abort (and nesting) are refused there.
    in_callback: Cell<bool>,
}

impl PolyMongo {
    /// Starts a session on the pool serving `db` (`None`: the default database; see
    /// [`PolyMongo::default_db_name`]). Checks out one connection and keeps it until the
    /// session is dropped. A bad name fails with `InvalidDbName`, bad options with
    /// `InvalidArgument`.
    pub fn start_session(
        &self,
        db: Option<&str>,
        options: impl Into<Option<SessionOptions>>,
    ) -> Result<Session> {
        let name = db.map(|d| call::cstring(d, "database name")).transpose()?;
        let opts = Doc::opts(options.into())?;
        let raw = self.with(|w| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_wrapper_start_session(
                    w,
                    name.as_ref().map_or(ptr::null(), |n| n.as_ptr()),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })?;
        Ok(Session { raw: Owned::new(raw), compensating: false, in_callback: Cell::new(false) })
    }

    /// Starts a compensating session: transactions across any databases, pools and clusters,
    /// made of exactly recorded undos (see `session.h`). Supported writes through its dbs:
    /// insert one/many, update one/many, replace one, delete one/many; any other write fails
    /// with `NotSupported` inside it. [`Session::start_transaction`] takes no options here.
    pub fn start_compensating(&self, options: impl Into<Option<CompensatingOptions>>) -> Result<Session> {
        let opts = Doc::opts(options.into())?;
        let raw = self.with(|w| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_wrapper_start_compensating(w, opts.ptr(), opts.len(), out, err)
            })
        })?;
        Ok(Session { raw: Owned::new(raw), compensating: true, in_callback: Cell::new(false) })
    }

    /// Rolls back the compensating transactions that crashed processes left open in the
    /// journals of every cluster this wrapper knows, when they are older than `older_than`.
    /// (The `recover_on_start` wrapper option does this when the wrapper starts.)
    pub fn recover(&self, older_than: Duration) -> Result<RecoveryReport> {
        let ms = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let mut json: *mut c_char = ptr::null_mut();
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_recover(w, ms, &mut json, err) }))?;
        let json = unsafe { call::take_string(json) }.unwrap_or_default();
        parse_report(&json, "recover")
    }
}

impl Session {
    /// The live pointer (a session is never closed while borrowed; kept fallible for the
    /// binding's uniform call shape).
    pub(crate) fn as_ptr(&self) -> Result<*mut sys::pm_session> {
        let p = self.raw.as_ptr();
        if p.is_null() {
            Err(Error::closed("Session"))
        } else {
            Ok(p)
        }
    }

    fn not_in_callback(&self, what: &str) -> Result<()> {
        if self.in_callback.get() {
            return Err(Error::invalid(format!(
                "{what} inside with_transaction: the closure's return value decides (Ok commits, Err aborts)"
            )));
        }
        Ok(())
    }

    /// Starts a transaction; `options` override the session's defaults. `NotSupported` on a
    /// server without transactions (nothing is written), `InvalidArgument` for bad options.
    pub fn start_transaction(&self, options: impl Into<Option<TransactionOptions>>) -> Result<()> {
        self.not_in_callback("start_transaction")?;
        let opts = Doc::opts(options.into())?;
        let s = self.as_ptr()?;
        call::ffi(|err| unsafe { sys::pm_session_start_transaction(s, opts.ptr(), opts.len(), err) })?;
        Ok(())
    }

    /// Commits the open transaction: its writes become visible together.
    pub fn commit_transaction(&self) -> Result<()> {
        self.not_in_callback("commit_transaction")?;
        let s = self.as_ptr()?;
        call::ffi(|err| unsafe { sys::pm_session_commit(s, err) })?;
        Ok(())
    }

    /// Aborts the open transaction: none of its writes remain.
    pub fn abort_transaction(&self) -> Result<()> {
        self.not_in_callback("abort_transaction")?;
        let s = self.as_ptr()?;
        call::ffi(|err| unsafe { sys::pm_session_abort(s, err) })?;
        Ok(())
    }

    /// Whether this is a compensating session.
    pub fn is_compensating(&self) -> bool {
        self.compensating
    }

    /// What the rollback of the session's last compensating transaction did, step by step;
    /// `None` when it did not roll back (none yet, still open, or committed: starting a
    /// transaction clears the report). `InvalidArgument` on a native session.
    pub fn rollback_report(&self) -> Result<Option<RollbackReport>> {
        let s = self.as_ptr()?;
        let mut json: *mut c_char = ptr::null_mut();
        // No pm_error out-parameter here: the code alone says what failed.
        let rc = unsafe { sys::pm_session_rollback_report(s, &mut json) };
        let json = unsafe { call::take_string(json) };
        crate::panic::check();
        if rc < 0 {
            let kind = ErrorKind::from_code(rc);
            let why = if self.compensating { "failed" } else { "exists for compensating sessions only" };
            return Err(Error::new(
                kind,
                format!("rollback_report: a rollback report {why} ({})", kind.name()),
            ));
        }
        json.map(|j| parse_report(&j, "rollback_report")).transpose()
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.as_ptr().is_ok_and(|s| unsafe { sys::pm_session_in_transaction(s) } == 1)
    }

    /// Runs `f` in a transaction with the session's default options and the library's default
    /// time limit (120 s); see [`Session::with_transaction_options`].
    pub fn with_transaction<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&Session) -> Result<R, E>,
        E: From<Error>,
    {
        self.with_transaction_options(None, None, f)
    }

    /// Runs `f` in a transaction, with the drivers' with-transaction semantics:
    ///
    /// - `Ok(value)`: the transaction commits and `Ok(value)` is returned.
    /// - `Err(e)`: the transaction aborts and `Err(e)` is returned unchanged, unless an
    ///   operation in the session failed with the `TransientTransactionError` label (a write
    ///   conflict): then the whole transaction runs again, calling `f` again (hence `FnMut`).
    ///   A commit that fails with `UnknownTransactionCommitResult` is retried. Both retries stop
    ///   at `timeout` (`None`: 120 s).
    /// - a panic in `f`: the transaction aborts and the panic resumes here, after the library
    ///   has returned (it never unwinds through C).
    ///
    /// Errors of the library itself (`NotSupported` on a server without transactions, before
    /// `f` runs; a failed commit) come back as `E::from(polymongo::Error)`.
    ///
    /// Inside `f`, use dbs bound to this session; `start_transaction`, `commit_transaction`,
    /// `abort_transaction` and a nested `with_transaction` fail with `InvalidArgument` there.
    ///
    /// A compensating session runs `f` once (no retries, `options` and `timeout` unused):
    /// `Ok` keeps the writes, `Err` or a panic undoes them (see [`Session::rollback_report`]).
    pub fn with_transaction_options<R, E, F>(
        &self,
        options: impl Into<Option<TransactionOptions>>,
        timeout: impl Into<Option<Duration>>,
        f: F,
    ) -> Result<R, E>
    where
        F: FnMut(&Session) -> Result<R, E>,
        E: From<Error>,
    {
        self.not_in_callback("with_transaction")?;
        let opts = Doc::opts(options.into())?;
        let timeout_ms =
            timeout.into().map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX).max(1));
        let s = self.as_ptr()?;
        let mut state = Transaction { f, session: self, outcome: None };
        let rc = {
            self.in_callback.set(true);
            // Cleared even when a panic of `f` resumes inside `call::ffi`.
            let _reset = ResetOnDrop(&self.in_callback);
            call::ffi(|err| unsafe {
                sys::pm_session_with_transaction(
                    s,
                    Some(run_transaction::<R, E, F>),
                    (&mut state as *mut Transaction<'_, R, E, F>).cast::<c_void>(),
                    opts.ptr(),
                    opts.len(),
                    timeout_ms,
                    err,
                )
            })
        };
        match (rc, state.outcome.take()) {
            // Committed: the value of the closure's last (successful) run.
            (Ok(0), Some(Ok(value))) => Ok(value),
            // Aborted by the closure; its error as it was. When aborting failed too (rc < 0),
            // the closure's error is still the one reported: the cause, not the consequence.
            (Ok(_), Some(Err(e))) | (Err(_), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(E::from(e)),
            (Ok(rc), _) => Err(E::from(Error::new(
                ErrorKind::Internal,
                format!("pm_session_with_transaction returned {rc} without a result from the closure"),
            ))),
        }
    }
}

/// The report of a compensating rollback ([`Session::rollback_report`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollbackReport {
    /// The transaction's id.
    pub txn: String,
    /// The undo steps, in the order they ran (newest write first).
    pub steps: Vec<RollbackStep>,
    /// How many steps failed (then the journal, if any, is kept for `recover`).
    pub failed_steps: u64,
}

/// One undo step of a rollback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollbackStep {
    pub seq: u64,
    pub db: String,
    pub collection: String,
    /// "delete_ids" (undo of inserts) or "restore_docs" (pre-images put back).
    pub undo: String,
    /// How many documents the step covered.
    pub documents: u64,
    pub ok: bool,
    pub error: Option<String>,
}

/// The report of [`PolyMongo::recover`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecoveryReport {
    pub recovered: Vec<RecoveredTransaction>,
}

/// One transaction that `recover` rolled back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecoveredTransaction {
    pub txn: String,
    /// The cluster's URI, credentials redacted.
    pub cluster: String,
    /// Undo steps applied, and failed.
    pub undone: u64,
    pub failed: u64,
}

fn parse_report<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(ErrorKind::Decode, format!("{what}: unexpected JSON from the library: {e}")).with_source(e)
    })
}

/// What the trampoline needs: the closure, the session to hand it, and its last outcome.
struct Transaction<'a, R, E, F> {
    f: F,
    session: &'a Session,
    outcome: Option<Result<R, E>>,
}

/// The `pm_transaction_fn` for `F`; runs on the calling thread, inside
/// `pm_session_with_transaction`. Returns `PM_OK` to commit, 1 to abort (the closure's error is
/// kept in the state; a panic is parked by `panic::wrap` and resumed by `call::ffi`).
extern "C" fn run_transaction<R, E, F>(_session: *mut sys::pm_session, user_data: *mut c_void) -> c_int
where
    F: FnMut(&Session) -> Result<R, E>,
{
    // SAFETY: user_data is the &mut Transaction passed to pm_session_with_transaction, which
    // is still running on this thread and calls us one at a time.
    let state = unsafe { &mut *user_data.cast::<Transaction<'_, R, E, F>>() };
    let session = state.session;
    let f = &mut state.f;
    match crate::panic::wrap(|| f(session)) {
        Some(Ok(value)) => {
            state.outcome = Some(Ok(value));
            sys::PM_OK as c_int
        }
        Some(Err(e)) => {
            state.outcome = Some(Err(e));
            1
        }
        None => {
            state.outcome = None;
            1
        }
    }
}

struct ResetOnDrop<'a>(&'a Cell<bool>);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("compensating", &self.compensating)
            .field("in_transaction", &self.in_transaction())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_is_send_but_not_sync_and_bound_dbs_stay_home() {
        fn send<T: Send>() {}
        send::<Session>();
        // Compiles only while the type is not Sync / not Send (the call would be ambiguous).
        trait AmbiguousIfSync<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSync<()> for T {}
        impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
        trait AmbiguousIfSend<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSend<()> for T {}
        impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
        <Session as AmbiguousIfSync<_>>::check();
        <crate::SessionDb<'static> as AmbiguousIfSend<_>>::check();
        <crate::SessionDb<'static> as AmbiguousIfSync<_>>::check();
        <crate::SessionCursor<'static> as AmbiguousIfSend<_>>::check();
        // Plain dbs and cursors keep their thread-safety.
        fn sync<T: Send + Sync>() {}
        sync::<crate::Db>();
        send::<crate::Cursor>();
    }

    #[test]
    fn transaction_options_serialise_to_the_c_keys() {
        use crate::options::ReadPreference;
        let o = TransactionOptions::default()
            .read_concern_level("snapshot")
            .write_concern_majority()
            .read_preference(ReadPreference::PrimaryPreferred)
            .max_commit_time_ms(5000);
        let d = bson::to_document(&o).unwrap();
        assert_eq!(
            d,
            bson::doc! {
                "readConcern": {"level": "snapshot"},
                "writeConcern": {"w": "majority"},
                "readPreference": "primaryPreferred",
                "maxCommitTimeMS": 5000_i64,
            }
        );
        let s = SessionOptions::default().causal_consistency(false);
        assert_eq!(bson::to_document(&s).unwrap(), bson::doc! {"causalConsistency": false});
    }
}
