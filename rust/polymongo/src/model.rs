//! Collection definitions and their binding to databases.
use std::fmt;
use std::sync::Arc;

use polymongo_sys as sys;

use crate::call;
use crate::db::Db;
use crate::error::Result;
use crate::handle::Shared;

/// A collection definition: its name, and optionally a validator and indexes
/// ([`crate::ModelOptions`]) that are applied once per database on the first operation there.
/// Made by [`crate::PolyMongo::model`].
///
/// Cloning is cheap (shared). The model keeps the wrapper alive.
///
/// Thread-safety: `Send + Sync` (`pm_model` is immutable and thread-safe).
#[derive(Clone)]
pub struct Model {
    inner: Arc<Shared<sys::pm_model>>,
}

impl Model {
    pub(crate) fn from_raw(ptr: *mut sys::pm_model) -> Self {
        Model { inner: Arc::new(Shared::new(ptr)) }
    }

    /// Binds the model to database `name` (PolyMongo's `Model.db(name)`). Validates the name
    /// (`ErrorKind::InvalidDbName`), does no I/O and opens no socket: switching databases is cheap.
    pub fn db(&self, name: &str) -> Result<Db> {
        let name = call::cstring(name, "database name")?;
        self.inner
            .with(|m| call::out_ptr(|out, err| unsafe { sys::pm_model_db(m, name.as_ptr(), out, err) }))
            .map(Db::from_raw)
    }

    /// Binds the model to the wrapper's default database.
    pub fn default_db(&self) -> Result<Db> {
        self.inner
            .with(|m| call::out_ptr(|out, err| unsafe { sys::pm_model_db(m, std::ptr::null(), out, err) }))
            .map(Db::from_raw)
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*mut sys::pm_model) -> Result<R>) -> Result<R> {
        self.inner.with(f)
    }

    /// The collection name.
    pub fn collection(&self) -> Result<String> {
        self.inner.with(|m| Ok(unsafe { call::string_from(sys::pm_model_collection(m)) }))
    }

    /// Releases the C handle now, for this value and all its clones; later calls fail with
    /// `ErrorKind::Closed`. [`Db`]s made from it keep working (they keep the model alive).
    pub fn close(&self) {
        self.inner.close()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("collection", &self.collection().ok()).finish()
    }
}
