//! The outcome of a write.
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bson::{Bson, Document};

use polymongo_sys as sys;

use crate::call;
use crate::handle::Owned;
use crate::json::JsonMode;

/// What a write applied: counts, inserted and upserted ids, and per-operation write errors.
///
/// Returned by every write; also attached to the [`crate::Error`] of a write that failed
/// part-way (`ErrorKind::Write`, or `DuplicateKey` from a batch), via
/// [`crate::Error::write_result`]. Cloning is cheap (shared).
///
/// Thread-safety: `Send + Sync` (`pm_result` is immutable).
#[derive(Clone)]
pub struct WriteResult {
    inner: Arc<Owned<sys::pm_result>>,
}

/// One failed operation of a write: its index in the request, the server's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub index: usize,
    pub code: i32,
    pub message: String,
}

impl WriteError {
    /// Whether the server's code means a duplicate key (the library's rule,
    /// `pm_is_duplicate_key`: the codes that make a whole call fail with `DuplicateKey`).
    pub fn is_duplicate_key(&self) -> bool {
        // SAFETY: a pure function of an integer.
        unsafe { sys::pm_is_duplicate_key(self.code) != 0 }
    }
}

impl WriteResult {
    pub(crate) fn from_raw(ptr: *mut sys::pm_result) -> Self {
        WriteResult { inner: Arc::new(Owned::new(ptr)) }
    }

    fn raw(&self) -> *const sys::pm_result {
        self.inner.as_ptr()
    }

    pub fn inserted_count(&self) -> u64 {
        unsafe { sys::pm_result_inserted_count(self.raw()) as u64 }
    }

    pub fn matched_count(&self) -> u64 {
        unsafe { sys::pm_result_matched_count(self.raw()) as u64 }
    }

    pub fn modified_count(&self) -> u64 {
        unsafe { sys::pm_result_modified_count(self.raw()) as u64 }
    }

    pub fn deleted_count(&self) -> u64 {
        unsafe { sys::pm_result_deleted_count(self.raw()) as u64 }
    }

    pub fn upserted_count(&self) -> u64 {
        unsafe { sys::pm_result_upserted_count(self.raw()) as u64 }
    }

    /// The failed operations, in request order.
    pub fn write_errors(&self) -> Vec<WriteError> {
        let n = unsafe { sys::pm_result_write_error_count(self.raw()) };
        (0..n)
            .filter_map(|i| {
                let (mut index, mut code, mut msg) = (0usize, 0i32, std::ptr::null());
                call::ffi(|err| unsafe {
                    sys::pm_result_write_error(self.raw(), i, &mut index, &mut code, &mut msg, err)
                })
                .ok()?;
                // SAFETY: borrowed, valid while the result lives; copied here.
                Some(WriteError { index, code, message: unsafe { call::string_from(msg) } })
            })
            .collect()
    }

    /// The whole result as a document: `{insertedCount, matchedCount, modifiedCount,
    /// deletedCount, upsertedCount, insertedIds, upsertedIds, writeErrors, writeConcernErrors}`.
    pub fn to_document(&self) -> Document {
        self.bytes().and_then(|b| call::decode(b).ok()).unwrap_or_default()
    }

    /// `_id`s of inserted documents, by their index in the request.
    pub fn inserted_ids(&self) -> BTreeMap<usize, Bson> {
        self.ids("insertedIds")
    }

    /// The `_id` of the document a single insert (`insert_one`) inserted, generated when the
    /// document had none: the official crate's `InsertOneResult::inserted_id`. For a batch it
    /// is the `_id` of request 0 when that one was inserted; `None` when nothing was inserted
    /// at index 0 (an update, a delete, a failed insert).
    pub fn inserted_id(&self) -> Option<Bson> {
        let ids = self.bytes().and_then(|b| call::raw_doc(b).ok()?.get_document("insertedIds").ok())?;
        Bson::try_from(ids.get("0").ok()??).ok()
    }

    /// `_id`s of upserted documents, by the index of the operation that upserted them.
    pub fn upserted_ids(&self) -> BTreeMap<usize, Bson> {
        self.ids("upsertedIds")
    }

    /// The result document's bytes (borrowed: valid while the result lives).
    fn bytes(&self) -> Option<&[u8]> {
        let (mut data, mut len) = (std::ptr::null(), 0usize);
        unsafe { sys::pm_result_bson(self.raw(), &mut data, &mut len) };
        // SAFETY: the library's bytes, owned by the result, which `self` keeps alive.
        (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data, len) })
    }

    /// The `{"<index>": id}` document at `key`, read in place (the rest is not decoded).
    fn ids(&self, key: &str) -> BTreeMap<usize, Bson> {
        let Some(ids) = self.bytes().and_then(|b| call::raw_doc(b).ok()?.get_document(key).ok()) else {
            return BTreeMap::new();
        };
        ids.iter()
            .filter_map(|e| {
                let (k, v) = e.ok()?;
                Some((k.parse().ok()?, Bson::try_from(v).ok()?))
            })
            .collect()
    }

    /// The result as Extended JSON.
    pub fn to_json(&self, mode: JsonMode) -> String {
        unsafe { call::take_string(sys::pm_result_json(self.raw(), mode.raw())) }.unwrap_or_default()
    }
}

impl fmt::Debug for WriteResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteResult")
            .field("inserted", &self.inserted_count())
            .field("matched", &self.matched_count())
            .field("modified", &self.modified_count())
            .field("deleted", &self.deleted_count())
            .field("upserted", &self.upserted_count())
            .field("write_errors", &self.write_errors())
            .finish()
    }
}
