//! Operations on a model bound to one database.
use std::ffi::{c_char, c_void};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use bson::{doc, Bson, Document};
use serde::de::DeserializeOwned;
use serde::Serialize;

use polymongo_sys as sys;

use crate::bulk::{Update, WriteModel};
use crate::call::{self, Doc};
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::handle::Shared;
use crate::options::{
    AggregateOptions, BulkWriteOptions, CountOptions, DeleteOptions, FindOneAndModifyOptions, FindOptions,
    IndexOptions, InsertOptions, ReadOptions, UpdateOptions,
};
use crate::result::WriteResult;
use crate::session::Session;

/// The name the server gives an index on `keys` when none is given (`doc! {"a": 1, "b": -1}`
/// gives `"a_1_b_-1"`): the library's rule (`pm_index_name`), the one [`Db::create_index`] and a
/// model's indexes use, e.g. to drop an index by its keys. No I/O. `InvalidArgument` for empty
/// keys or values other than integers and index type strings.
pub fn index_name(keys: impl Serialize) -> Result<String> {
    let keys = Doc::new(&keys, "index keys")?;
    let mut name: *mut c_char = std::ptr::null_mut();
    call::ffi(|err| unsafe { sys::pm_index_name(keys.ptr(), keys.len(), &mut name, err) })?;
    Ok(unsafe { call::take_string(name) }.unwrap_or_default())
}

/// A model bound to one database (PolyMongo's `Model.db("tenant_1")`); made by
/// [`crate::Model::db`]. Cheap: no I/O and no socket until an operation runs. Every operation
/// goes through the wrapper's router (the database's dedicated pool when it has one).
///
/// `T` is the type that reads return: [`Document`] by default, or any `DeserializeOwned` type
/// via [`Db::typed`]. Writes accept anything `Serialize` that encodes as a document
/// (a `Document`, `&Document`, or your own `#[derive(Serialize)]` struct).
///
/// Cloning is cheap (shared). The db keeps its model and wrapper alive, so it can outlive the
/// [`crate::Model`] and [`crate::PolyMongo`] values it came from.
///
/// Thread-safety: `Send + Sync` (`pm_db` is immutable and thread-safe): share it across threads.
///
/// `S` says where operations run: `()` (the default) through the pools; `&'s Session` for a db
/// bound to a [`Session`] by [`Db::with_session`] (alias [`SessionDb`]): every operation then
/// runs in that session, on its connection, so such a db (and its cursors) is neither `Send`
/// nor `Sync` and cannot outlive the session.
pub struct Db<T = Document, S = ()> {
    inner: Arc<Shared<sys::pm_db>>,
    _type: PhantomData<fn() -> T>,
    _scope: PhantomData<S>,
}

/// A db bound to a [`Session`]: made by [`Db::with_session`]; every operation runs in the
/// session. Borrows the session, and stays on its thread.
pub type SessionDb<'s, T = Document> = Db<T, &'s Session>;

impl<T, S: Copy> Clone for Db<T, S> {
    fn clone(&self) -> Self {
        Db { inner: Arc::clone(&self.inner), _type: PhantomData, _scope: PhantomData }
    }
}

/// A pointer/length table for the C calls that take arrays of documents.
struct DocArray {
    docs: Vec<Vec<u8>>,
}

impl DocArray {
    fn new<I, D>(items: I, what: &str) -> Result<DocArray>
    where
        I: IntoIterator<Item = D>,
        D: Serialize,
    {
        let docs = items.into_iter().map(|d| call::encode(&d, what)).collect::<Result<Vec<_>>>()?;
        Ok(DocArray { docs })
    }

    fn ptrs(&self) -> (Vec<*const c_void>, Vec<usize>) {
        (self.docs.iter().map(|d| d.as_ptr().cast()).collect(), self.docs.iter().map(Vec::len).collect())
    }
}

impl<S> Db<Document, S> {
    pub(crate) fn from_raw(ptr: *mut sys::pm_db) -> Self {
        Db { inner: Arc::new(Shared::new(ptr)), _type: PhantomData, _scope: PhantomData }
    }
}

impl<T> Db<T> {
    /// The same database and model with every operation in `session` (a native transaction
    /// when one is started, a compensating one for a compensating session). The session's
    /// rules apply: for a native session every operation must be served by the session's pool
    /// (one cluster), else it fails with `ErrorKind::InvalidArgument`.
    ///
    /// The returned db borrows the session: it cannot outlive it or leave its thread.
    pub fn with_session<'s>(&self, session: &'s Session) -> Result<SessionDb<'s, T>> {
        let s = session.as_ptr()?;
        let bound =
            self.with(|db| call::out_ptr(|out, err| unsafe { sys::pm_db_with_session(db, s, out, err) }))?;
        Ok(Db::<Document, &'s Session>::from_raw(bound).typed())
    }
}

impl<T, S> Db<T, S> {
    /// The same db, reading documents as `U` (shares the handle).
    pub fn typed<U>(&self) -> Db<U, S> {
        Db { inner: Arc::clone(&self.inner), _type: PhantomData, _scope: PhantomData }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*mut sys::pm_db) -> Result<R>) -> Result<R> {
        self.inner.with(f)
    }

    /// The database name.
    pub fn name(&self) -> Result<String> {
        self.with(|db| Ok(unsafe { call::string_from(sys::pm_db_name(db)) }))
    }

    /// The collection (the model's) name.
    pub fn collection(&self) -> Result<String> {
        self.with(|db| Ok(unsafe { call::string_from(sys::pm_db_collection(db)) }))
    }

    /// Releases the C handle for this value and all its clones: returns at once; calls in
    /// flight finish normally (the C handle is freed after the last one), later calls fail with `ErrorKind::Closed`. Cursors already opened keep working.
    /// Dropping the last clone does the same.
    pub fn close(&self) {
        self.inner.close()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    // ---- writes ---------------------------------------------------------------------------

    /// Inserts one document. A duplicate `_id` or unique-index value fails with
    /// `ErrorKind::DuplicateKey` (server code 11000).
    pub fn insert_one(
        &self,
        document: impl Serialize,
        options: impl Into<Option<InsertOptions>>,
    ) -> Result<WriteResult> {
        let doc = Doc::new(&document, "document")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::write(|out, err| unsafe {
                sys::pm_db_insert_one(db, doc.ptr(), doc.len(), opts.ptr(), opts.len(), out, err)
            })
        })
    }

    /// Inserts many documents, ordered unless `InsertOptions::ordered(false)`. When some fail,
    /// the error (`Write`, or `DuplicateKey` when every failure is one) carries the
    /// [`WriteResult`] with the per-index write errors.
    pub fn insert_many<I, D>(
        &self,
        documents: I,
        options: impl Into<Option<InsertOptions>>,
    ) -> Result<WriteResult>
    where
        I: IntoIterator<Item = D>,
        D: Serialize,
    {
        let docs = DocArray::new(documents, "document")?;
        let opts = Doc::opts(options.into())?;
        let (ptrs, lens) = docs.ptrs();
        self.with(|db| {
            call::write(|out, err| unsafe {
                sys::pm_db_insert_many(
                    db,
                    ptrs.as_ptr(),
                    lens.as_ptr(),
                    ptrs.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })
    }

    /// Updates the first matching document.
    pub fn update_one(
        &self,
        filter: impl Serialize,
        update: impl Into<Update>,
        options: impl Into<Option<UpdateOptions>>,
    ) -> Result<WriteResult> {
        self.update(sys::pm_db_update_one, filter, update.into(), options.into())
    }

    /// Updates every matching document.
    pub fn update_many(
        &self,
        filter: impl Serialize,
        update: impl Into<Update>,
        options: impl Into<Option<UpdateOptions>>,
    ) -> Result<WriteResult> {
        self.update(sys::pm_db_update_many, filter, update.into(), options.into())
    }

    /// Replaces the first matching document.
    pub fn replace_one(
        &self,
        filter: impl Serialize,
        replacement: impl Serialize,
        options: impl Into<Option<UpdateOptions>>,
    ) -> Result<WriteResult> {
        let filter = Doc::new(&filter, "filter")?;
        let repl = Doc::new(&replacement, "replacement")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::write(|out, err| unsafe {
                sys::pm_db_replace_one(
                    db,
                    filter.ptr(),
                    filter.len(),
                    repl.ptr(),
                    repl.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })
    }

    fn update(
        &self,
        f: UpdateFn,
        filter: impl Serialize,
        update: Update,
        options: Option<UpdateOptions>,
    ) -> Result<WriteResult> {
        let filter = Doc::new(&filter, "filter")?;
        let update = Doc::new(&update.to_document(), "update")?;
        let opts = Doc::opts(options)?;
        self.with(|db| {
            call::write(|out, err| unsafe {
                f(
                    db,
                    filter.ptr(),
                    filter.len(),
                    update.ptr(),
                    update.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })
    }

    /// Deletes the first matching document.
    pub fn delete_one(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<DeleteOptions>>,
    ) -> Result<WriteResult> {
        self.delete(sys::pm_db_delete_one, filter, options.into())
    }

    /// Deletes every matching document.
    pub fn delete_many(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<DeleteOptions>>,
    ) -> Result<WriteResult> {
        self.delete(sys::pm_db_delete_many, filter, options.into())
    }

    fn delete(
        &self,
        f: DeleteFn,
        filter: impl Serialize,
        options: Option<DeleteOptions>,
    ) -> Result<WriteResult> {
        let filter = Doc::new(&filter, "filter")?;
        let opts = Doc::opts(options)?;
        self.with(|db| {
            call::write(|out, err| unsafe {
                f(db, filter.ptr(), filter.len(), opts.ptr(), opts.len(), out, err)
            })
        })
    }

    /// Runs several writes in one bulk operation. A failed operation makes the call fail with
    /// `ErrorKind::Write` (or `DuplicateKey`), whose [`Error::write_result`] lists each
    /// failure with its index in `models` and what was applied.
    pub fn bulk_write<I>(
        &self,
        models: I,
        options: impl Into<Option<BulkWriteOptions>>,
    ) -> Result<WriteResult>
    where
        I: IntoIterator<Item = WriteModel>,
    {
        let ops = DocArray::new(models, "write model")?;
        let opts = Doc::opts(options.into())?;
        let (ptrs, lens) = ops.ptrs();
        self.with(|db| {
            call::write(|out, err| unsafe {
                sys::pm_db_bulk_write(
                    db,
                    ptrs.as_ptr(),
                    lens.as_ptr(),
                    ptrs.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })
    }

    // ---- reads ----------------------------------------------------------------------------

    /// Finds matching documents (`doc! {}` matches all).
    pub fn find(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<FindOptions>>,
    ) -> Result<Cursor<T, S>> {
        let filter = Doc::new(&filter, "filter")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_db_find(db, filter.ptr(), filter.len(), opts.ptr(), opts.len(), out, err)
            })
            .map(Cursor::from_raw)
        })
    }

    /// The first matching document, if any.
    pub fn find_one(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<FindOptions>>,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let filter = Doc::new(&filter, "filter")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::buf(|out, err| unsafe {
                sys::pm_db_find_one(db, filter.ptr(), filter.len(), opts.ptr(), opts.len(), out, err)
            })?
            .decode()
        })
    }

    /// Atomically updates a document and returns it as it was before (default) or after
    /// (`FindOneAndModifyOptions::return_document(ReturnDocument::After)`).
    pub fn find_one_and_update(
        &self,
        filter: impl Serialize,
        update: impl Into<Update>,
        options: impl Into<Option<FindOneAndModifyOptions>>,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let filter = Doc::new(&filter, "filter")?;
        let update = Doc::new(&update.into().to_document(), "update")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::buf(|out, err| unsafe {
                sys::pm_db_find_one_and_update(
                    db,
                    filter.ptr(),
                    filter.len(),
                    update.ptr(),
                    update.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })?
            .decode()
        })
    }

    /// Atomically replaces a document; returns it before (default) or after the change.
    pub fn find_one_and_replace(
        &self,
        filter: impl Serialize,
        replacement: impl Serialize,
        options: impl Into<Option<FindOneAndModifyOptions>>,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let filter = Doc::new(&filter, "filter")?;
        let repl = Doc::new(&replacement, "replacement")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::buf(|out, err| unsafe {
                sys::pm_db_find_one_and_replace(
                    db,
                    filter.ptr(),
                    filter.len(),
                    repl.ptr(),
                    repl.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })?
            .decode()
        })
    }

    /// Atomically deletes a document and returns it.
    pub fn find_one_and_delete(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<FindOneAndModifyOptions>>,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let filter = Doc::new(&filter, "filter")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::buf(|out, err| unsafe {
                sys::pm_db_find_one_and_delete(
                    db,
                    filter.ptr(),
                    filter.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })?
            .decode()
        })
    }

    /// Exact count of matching documents (C: `pm_db_count`).
    pub fn count_documents(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<CountOptions>>,
    ) -> Result<u64> {
        let filter = Doc::new(&filter, "filter")?;
        let opts = Doc::opts(options.into())?;
        let mut n = 0i64;
        self.with(|db| {
            call::ffi(|err| unsafe {
                sys::pm_db_count(db, filter.ptr(), filter.len(), opts.ptr(), opts.len(), &mut n, err)
            })
        })?;
        Ok(n as u64)
    }

    /// Fast count from collection metadata (C: `pm_db_estimated_count`).
    pub fn estimated_document_count(&self, options: impl Into<Option<ReadOptions>>) -> Result<u64> {
        let opts = Doc::opts(options.into())?;
        let mut n = 0i64;
        self.with(|db| {
            call::ffi(|err| unsafe { sys::pm_db_estimated_count(db, opts.ptr(), opts.len(), &mut n, err) })
        })?;
        Ok(n as u64)
    }

    /// Distinct values of `field` among matching documents.
    pub fn distinct(
        &self,
        field: &str,
        filter: impl Serialize,
        options: impl Into<Option<ReadOptions>>,
    ) -> Result<Vec<Bson>> {
        let field = call::cstring(field, "field name")?;
        let filter = Doc::new(&filter, "filter")?;
        let opts = Doc::opts(options.into())?;
        let reply: Option<Document> = self.with(|db| {
            call::buf(|out, err| unsafe {
                sys::pm_db_distinct(
                    db,
                    field.as_ptr(),
                    filter.ptr(),
                    filter.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })?
            .decode()
        })?;
        match reply.as_ref().map(|r| r.get_array("values")) {
            Some(Ok(values)) => Ok(values.clone()),
            _ => Err(Error::new(ErrorKind::Internal, "distinct: the reply has no \"values\" array")),
        }
    }

    /// Runs an aggregation pipeline. The cursor yields [`Document`]s (a pipeline reshapes
    /// documents); use [`Cursor::with_type`] to deserialise them into your own type.
    pub fn aggregate<I>(
        &self,
        pipeline: I,
        options: impl Into<Option<AggregateOptions>>,
    ) -> Result<Cursor<Document, S>>
    where
        I: IntoIterator<Item = Document>,
    {
        let stages: Vec<Document> = pipeline.into_iter().collect();
        let pipeline = Doc::new(&doc! {"pipeline": stages}, "pipeline")?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_db_aggregate(db, pipeline.ptr(), pipeline.len(), opts.ptr(), opts.len(), out, err)
            })
            .map(Cursor::from_raw)
        })
    }

    // ---- indexes and the collection -------------------------------------------------------

    /// Creates an index on `keys` (e.g. `doc! {"email": 1}`); returns its name.
    pub fn create_index(
        &self,
        keys: impl Serialize,
        options: impl Into<Option<IndexOptions>>,
    ) -> Result<String> {
        let keys = Doc::new(&keys, "index keys")?;
        let opts = Doc::opts(options.into())?;
        let mut name: *mut c_char = std::ptr::null_mut();
        self.with(|db| {
            call::ffi(|err| unsafe {
                sys::pm_db_create_index(db, keys.ptr(), keys.len(), opts.ptr(), opts.len(), &mut name, err)
            })
        })?;
        Ok(unsafe { call::take_string(name) }.unwrap_or_default())
    }

    /// The collection's index specifications.
    pub fn list_indexes(&self) -> Result<Cursor<Document, S>> {
        self.with(|db| {
            call::out_ptr(|out, err| unsafe { sys::pm_db_list_indexes(db, out, err) }).map(Cursor::from_raw)
        })
    }

    /// Drops the index called `name`.
    pub fn drop_index(&self, name: &str) -> Result<()> {
        let name = call::cstring(name, "index name")?;
        self.with(|db| call::ffi(|err| unsafe { sys::pm_db_drop_index(db, name.as_ptr(), err) }))?;
        Ok(())
    }

    /// Drops the collection in this database (a missing collection is not an error).
    pub fn drop_collection(&self) -> Result<()> {
        self.with(|db| call::ffi(|err| unsafe { sys::pm_db_drop_collection(db, err) }))?;
        Ok(())
    }

    /// Runs a command on this database and returns the server's reply.
    pub fn run_command(&self, command: impl Serialize) -> Result<Document> {
        let cmd = Doc::new(&command, "command")?;
        self.with(|db| {
            call::buf(|out, err| unsafe { sys::pm_db_command(db, cmd.ptr(), cmd.len(), out, err) })?
                .decode::<Document>()
        })
        .map(Option::unwrap_or_default)
    }
}

type UpdateFn = unsafe extern "C" fn(
    *mut sys::pm_db,
    *const c_void,
    usize,
    *const c_void,
    usize,
    *const c_void,
    usize,
    *mut *mut sys::pm_result,
    *mut sys::pm_error,
) -> std::ffi::c_int;

type DeleteFn = unsafe extern "C" fn(
    *mut sys::pm_db,
    *const c_void,
    usize,
    *const c_void,
    usize,
    *mut *mut sys::pm_result,
    *mut sys::pm_error,
) -> std::ffi::c_int;

impl<T, S> fmt::Debug for Db<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Db");
        match (self.name(), self.collection()) {
            (Ok(name), Ok(coll)) => d.field("name", &name).field("collection", &coll),
            _ => d.field("closed", &true),
        };
        d.finish()
    }
}
