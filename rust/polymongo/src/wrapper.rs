//! The wrapper: the pools and every database routed to them.
use std::fmt;
use std::sync::Arc;

use polymongo_sys as sys;

use crate::call::{self, Doc};
use crate::error::{Error, ErrorKind, Result};
use crate::handle::Shared;
use crate::model::Model;
use crate::options::{ModelOptions, Options};

/// The manager of pools, models and databases: share one per process.
///
/// Cloning is cheap (shared). Dropping the last clone releases the caller's reference; pools
/// close once no [`Model`], [`crate::Db`] or [`crate::Cursor`] still refers to the wrapper, so
/// handles may be dropped in any order.
///
/// Thread-safety: `Send + Sync` (`pm_wrapper` is fully thread-safe).
#[derive(Clone)]
pub struct PolyMongo {
    pub(crate) inner: Arc<WrapperInner>,
}

pub(crate) struct WrapperInner {
    pub(crate) handle: Shared<sys::pm_wrapper>,
    /// Panics of event callbacks (which run on the library's dispatcher thread), resumed on
    /// the caller's thread by `flush_events`.
    pub(crate) hook_panics: Arc<crate::panic::Parked>,
    /// The functions given to `set_placement`, kept until the wrapper goes.
    pub(crate) placements: std::sync::Mutex<Vec<Arc<Box<crate::fleet::PlacementFn>>>>,
}

impl Drop for WrapperInner {
    fn drop(&mut self) {
        // The C wrapper may outlive this (models, dbs): it must not call a function freed here.
        if !self.placements.get_mut().map(|p| p.is_empty()).unwrap_or(false) {
            let _ = self.handle.with(|w| {
                call::ffi(|err| unsafe { sys::pm_wrapper_set_placement(w, None, std::ptr::null_mut(), err) })
            });
        }
    }
}

impl PolyMongo {
    /// Creates a wrapper. Unknown or invalid options fail with `ErrorKind::InvalidArgument`
    /// naming the option; with `cold_start(false)` it connects here.
    pub fn new(options: &Options) -> Result<PolyMongo> {
        Self::from_json(&options.to_json())
    }

    /// Creates a wrapper from the options as JSON text (the C API's form).
    pub fn from_json(options_json: &str) -> Result<PolyMongo> {
        check_library_version()?;
        let json = call::cstring(options_json, "options JSON")?;
        let raw = call::out_ptr(|out, err| unsafe { sys::pm_wrapper_new(json.as_ptr(), out, err) })?;
        Ok(PolyMongo {
            inner: Arc::new(WrapperInner {
                handle: Shared::new(raw),
                hook_panics: Arc::new(crate::panic::Parked::default()),
                placements: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` with the live C handle, or fails with `Closed`.
    pub(crate) fn with<R>(&self, f: impl FnOnce(*mut sys::pm_wrapper) -> Result<R>) -> Result<R> {
        self.inner.handle.with(f)
    }

    /// Defines a collection (name, and optionally validator and indexes).
    pub fn model(&self, collection: &str, options: impl Into<Option<ModelOptions>>) -> Result<Model> {
        let name = call::cstring(collection, "collection name")?;
        let opts = Doc::opts(options.into())?;
        self.with(|w| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_model_new(w, name.as_ptr(), opts.ptr(), opts.len(), out, err)
            })
        })
        .map(Model::from_raw)
    }

    /// The default database's name: `defaultDB`, else the database in the URI's path; `None`
    /// when neither is given (then [`Model::default_db`] fails with `InvalidDbName`).
    pub fn default_db_name(&self) -> Result<Option<String>> {
        self.inner.handle.with(|w| {
            let p = unsafe { sys::pm_wrapper_default_db(w) };
            Ok((!p.is_null()).then(|| unsafe { call::string_from(p) }))
        })
    }

    /// Checks a database name against MongoDB's rules and the system-database policy, without
    /// I/O: `Ok(())` or `ErrorKind::InvalidDbName` with the reason.
    pub fn check_db_name(&self, name: &str) -> Result<()> {
        let name = call::cstring(name, "database name")?;
        self.inner
            .handle
            .with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_check_db_name(w, name.as_ptr(), err) }))?;
        Ok(())
    }

    /// Closes the wrapper for good (`pm_wrapper_close`, the contract every binding shares; see
    /// include/polymongo/lifecycle.h): its pools close now, and every later call on it, its
    /// clones, and every model, db, cursor, session and change stream made from it fails with
    /// `ErrorKind::Closed`. Results already returned stay readable. Closing twice is harmless.
    /// The C handle itself is freed once calls in flight on it have returned.
    pub fn close(&self) {
        // Err only when another clone closed it first (the handle is gone): nothing left to do.
        let _ = self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_close(w, err) }));
        self.inner.handle.close()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }
}

impl fmt::Debug for PolyMongo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolyMongo").field("default_db", &self.default_db_name().ok()).finish()
    }
}

/// The library actually loaded must serve a program built against the header these bindings
/// were built with: the library's own policy, `pm_check_version` (same major; before 1.0 the
/// same minor; the same minor needs at least the header's patch).
fn check_library_version() -> Result<()> {
    let compatible =
        unsafe { sys::pm_check_version(sys::PM_VERSION_MAJOR, sys::PM_VERSION_MINOR, sys::PM_VERSION_PATCH) };
    if compatible == 1 {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::NotSupported,
            format!(
                "libpolymongo {} is loaded but these bindings were built for {}",
                crate::version(),
                sys::PM_VERSION_STRING
            ),
        ))
    }
}
