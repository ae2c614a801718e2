//! Async operations: futures completed by the C library's executor (`pm_async_submit`), with
//! no runtime of their own. Each operation is submitted at once and runs on the library's
//! bounded set of threads; its completion callback stores the outcome and wakes the task, so
//! the futures work under any executor (tokio multi-thread or current-thread, async-std,
//! `futures::executor::block_on`) and never block the thread that polls them. Cursors and
//! change streams are [`futures_core::Stream`]s.
//!
//! ```no_run
//! # async fn demo() -> polymongo::Result<()> {
//! use futures_util::StreamExt;
//! use polymongo::{doc, Options, PolyMongo};
//! let pm = PolyMongo::new(&Options::new("mongodb://localhost:27017"))?;
//! let users = pm.model("users", None)?.db("tenant_1")?.to_async()?;
//! users.insert_one(doc! {"email": "a@x"}, None).await?;
//! let mut cursor = users.find(doc! {}, None).await?;
//! while let Some(doc) = cursor.next().await {
//!     println!("{}", doc?);
//! }
//! # Ok(()) }
//! ```
//!
//! Dropping a future before it completes cancels its operation when it has not started yet
//! (nothing is sent); one already running finishes on the library's thread and its outcome is
//! released there. The blocking API stays: [`Db`] is the blocking form of [`AsyncDb`].
use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CString};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::path::Path;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use polymongo_sys as sys;

use crate::bulk::Update;
use crate::call::{self, Doc};
use crate::db::Db;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{
    CompensatingOptions, CountOptions, DeleteOptions, FindOptions, ImportOptions, InsertOptions, SessionOptions,
    TransactionOptions, UpdateOptions,
};
use crate::result::WriteResult;
use crate::transfer::{self, ImportReport};
use crate::wrapper::PolyMongo;

/// Documents per cursor submission (the first batch comes with the query).
const BATCH: i64 = 101;
/// One change-stream wait occupies a library thread: short waits, one after the other.
const STREAM_SLICE_MS: i64 = 200;

/// The wrapper that submissions and cancellations go to: a db's own reference
/// (`pm_db_wrapper`), or the [`PolyMongo`] of an [`AsyncPolyMongo`].
enum WrapperRef {
    Owned(*mut sys::pm_wrapper),
    Client(PolyMongo),
}

// SAFETY: pm_wrapper is thread-safe (common.h), and freeing it is NULL-safe and final.
unsafe impl Send for WrapperRef {}
unsafe impl Sync for WrapperRef {}

impl WrapperRef {
    fn with<R>(&self, f: impl FnOnce(*mut sys::pm_wrapper) -> Result<R>) -> Result<R> {
        match self {
            WrapperRef::Owned(w) => f(*w),
            WrapperRef::Client(pm) => pm.with(f),
        }
    }
}

impl Drop for WrapperRef {
    fn drop(&mut self) {
        if let WrapperRef::Owned(w) = self {
            unsafe { sys::pm_wrapper_free(*w) }
        }
    }
}

/// An owned completion: what it holds (result, cursor, stream, document, text) is released on
/// drop unless taken.
struct Completion(sys::pm_completion);

// SAFETY: everything a completion points to is owned by it alone (async.h).
unsafe impl Send for Completion {}

impl Drop for Completion {
    fn drop(&mut self) {
        unsafe { sys::pm_completion_clear(&mut self.0) }
    }
}

impl Completion {
    fn check(&self) -> Result<i32> {
        if self.0.code < 0 {
            Err(Error::from_pm(self.0.code, &self.0.error))
        } else {
            Ok(self.0.code)
        }
    }

    fn doc_bytes(&self) -> &[u8] {
        if self.0.doc.data.is_null() {
            &[]
        } else {
            // SAFETY: len bytes at data, owned by this completion.
            unsafe { std::slice::from_raw_parts(self.0.doc.data, self.0.doc.len) }
        }
    }

    /// The documents one after the other in `doc` (cursor reads).
    fn documents<T: DeserializeOwned>(&self, into: &mut VecDeque<T>) -> Result<()> {
        let mut rest = self.doc_bytes();
        for _ in 0..self.0.count {
            let n = rest.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).unwrap_or(0);
            if n < 5 || n > rest.len() {
                return Err(Error::new(ErrorKind::Internal, "the library returned invalid BSON"));
            }
            into.push_back(call::decode(&rest[..n])?);
            rest = &rest[n..];
        }
        Ok(())
    }

    fn take_result(&mut self) -> Option<WriteResult> {
        let r = std::mem::replace(&mut self.0.result, ptr::null_mut());
        (!r.is_null()).then(|| WriteResult::from_raw(r))
    }

    fn take_cursor(&mut self) -> *mut sys::pm_cursor {
        std::mem::replace(&mut self.0.cursor, ptr::null_mut())
    }

    fn take_stream(&mut self) -> *mut sys::pm_stream {
        std::mem::replace(&mut self.0.stream, ptr::null_mut())
    }
}

/// What the completion callback fills and the future reads.
#[derive(Default)]
struct Slot {
    done: Option<Completion>,
    waker: Option<Waker>,
    /// A cursor or stream whose owner was dropped while this operation used it: freed once the
    /// operation completed (never under a running operation).
    orphan: Option<Box<dyn FnOnce() + Send>>,
}

type SlotRef = Arc<Mutex<Slot>>;

fn lock(slot: &SlotRef) -> std::sync::MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The completion callback, on a library thread (or the cancelling thread). Moves everything
/// out of the library's completion, so that nothing is released when it returns.
unsafe extern "C" fn on_complete(c: *mut sys::pm_completion, user_data: *mut c_void) {
    // SAFETY: user_data is the Arc given by submit, reclaimed exactly once (one completion).
    let slot = unsafe { Arc::from_raw(user_data as *const Mutex<Slot>) };
    let c = unsafe { &mut *c };
    let taken = Completion(*c);
    c.result = ptr::null_mut();
    c.cursor = ptr::null_mut();
    c.stream = ptr::null_mut();
    c.session = ptr::null_mut();
    c.doc = sys::pm_buf { data: ptr::null_mut(), len: 0 };
    c.text = ptr::null_mut();
    let (waker, orphan) = {
        let mut s = lock(&slot);
        s.done = Some(taken);
        (s.waker.take(), s.orphan.take())
    };
    if let Some(free) = orphan {
        free();
    }
    if let Some(w) = waker {
        w.wake();
    }
}

/// A submitted operation: resolves to its completion; cancels it when dropped unfinished.
struct Op {
    slot: SlotRef,
    id: u64,
    wrapper: Arc<WrapperRef>,
    finished: bool,
}

impl Future for Op {
    type Output = Completion;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion> {
        let mut s = lock(&self.slot);
        match s.done.take() {
            Some(c) => {
                drop(s);
                self.finished = true;
                Poll::Ready(c)
            }
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if !self.finished {
            // Ends it if it has not started (the callback runs now, on this thread); a running
            // one completes later and its outcome is released with the slot.
            // (A closed wrapper cancelled it already.)
            let _ = self.wrapper.with(|w| {
                unsafe { sys::pm_async_cancel(w, self.id) };
                Ok(())
            });
        }
    }
}

/// Submits `op` (copied by the library before this returns).
fn submit(wrapper: &Arc<WrapperRef>, op: &sys::pm_op) -> Result<Op> {
    let slot: SlotRef = Arc::new(Mutex::new(Slot::default()));
    let user = Arc::into_raw(Arc::clone(&slot)) as *mut c_void;
    let mut id = 0u64;
    let r = wrapper.with(|w| {
        call::ffi(|err| unsafe {
            sys::pm_async_submit(w, op, ptr::null_mut(), Some(on_complete), user, &mut id, err)
        })
    });
    if r.is_err() {
        // Refused: nothing will complete, the reference is ours again.
        drop(unsafe { Arc::from_raw(user as *const Mutex<Slot>) });
    }
    r?;
    Ok(Op { slot, id, wrapper: Arc::clone(wrapper), finished: false })
}

fn op(kind: sys::pm_op_kind) -> sys::pm_op {
    // SAFETY: pm_op is plain data for which all-zero is "nothing set" (async.h).
    let mut o: sys::pm_op = unsafe { std::mem::zeroed() };
    o.kind = kind as i32;
    o
}

fn write_outcome(mut c: Completion) -> Result<WriteResult> {
    let result = c.take_result();
    if c.0.code < 0 {
        return Err(Error::from_pm(c.0.code, &c.0.error).with_result(result));
    }
    result.ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no write result"))
}

/// A model bound to one database, with every operation a future: the async form of [`Db`]
/// (made by [`Db::to_async`]). Same arguments, options, results and errors as the blocking
/// methods. `Send + Sync`, cheap to clone; its futures are `Send`.
pub struct AsyncDb<T = Document> {
    db: Db<T>,
    wrapper: Arc<WrapperRef>,
    /// Bound to an [`AsyncSession`]: its operations must keep the session's order.
    bound: bool,
}

impl<T> std::fmt::Debug for AsyncDb<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncDb").field("db", &self.db.name().unwrap_or_default()).finish()
    }
}

impl<T> std::fmt::Debug for AsyncCursor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncCursor").field("buffered", &self.buf.len()).field("done", &self.done).finish()
    }
}

impl std::fmt::Debug for AsyncChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncChangeStream").field("done", &self.done).finish()
    }
}

impl<T> Clone for AsyncDb<T> {
    fn clone(&self) -> Self {
        AsyncDb { db: self.db.clone(), wrapper: Arc::clone(&self.wrapper), bound: self.bound }
    }
}

impl<T> Db<T> {
    /// The async form of this db: its operations as futures (see [`crate::aio`]). No I/O.
    pub fn to_async(&self) -> Result<AsyncDb<T>> {
        let w = self.with(|db| call::out_ptr(|out, err| unsafe { sys::pm_db_wrapper(db, out, err) }))?;
        Ok(AsyncDb { db: self.clone(), wrapper: Arc::new(WrapperRef::Owned(w)), bound: false })
    }
}

impl<T> AsyncDb<T> {
    /// The blocking form of this db.
    ///
    /// # Panics
    /// For a db bound to an [`AsyncSession`] ([`AsyncDb::with_session`]): a session runs one
    /// operation at a time, in the order they were submitted, which a blocking call on
    /// another thread would break.
    pub fn blocking(&self) -> &Db<T> {
        assert!(!self.bound, "AsyncDb::blocking: this db is bound to an AsyncSession; use its async operations");
        &self.db
    }

    /// The same database and model with every operation in `session` (in its transaction
    /// when one is open): the async form of [`Db::with_session`]. The session's operations
    /// and those of its bound dbs run one at a time, in the order they were submitted; await
    /// each before the next (and a cursor's documents before the session's next operation).
    /// The bound db keeps the session's connection until it is dropped too. No I/O.
    pub fn with_session(&self, session: &AsyncSession) -> Result<AsyncDb<T>> {
        let s = session.raw.ptr;
        if s.is_null() {
            return Err(Error::closed("AsyncSession"));
        }
        let bound =
            self.db.with(|db| call::out_ptr(|out, err| unsafe { sys::pm_db_with_session(db, s, out, err) }))?;
        Ok(AsyncDb { db: Db::<Document>::from_raw(bound).typed(), wrapper: Arc::clone(&self.wrapper), bound: true })
    }

    /// Submits an operation on this db (its documents are copied before this returns).
    fn run(&self, mut o: sys::pm_op) -> Result<Op> {
        self.db.with(|db| {
            o.db = db;
            submit(&self.wrapper, &o)
        })
    }

    fn docs(o: &mut sys::pm_op, doc: &Doc, doc2: &Doc, opts: &Doc) {
        o.doc = doc.ptr();
        o.doc_len = doc.len();
        o.doc2 = doc2.ptr();
        o.doc2_len = doc2.len();
        o.opts = opts.ptr();
        o.opts_len = opts.len();
    }

    async fn write(&self, kind: sys::pm_op_kind, doc: Doc, doc2: Doc, opts: Doc) -> Result<WriteResult> {
        let pending = {
            let mut o = op(kind);
            Self::docs(&mut o, &doc, &doc2, &opts);
            self.run(o)?
        };
        write_outcome(pending.await)
    }

    /// Inserts one document.
    pub async fn insert_one(
        &self,
        document: impl Serialize,
        options: impl Into<Option<InsertOptions>>,
    ) -> Result<WriteResult> {
        let d = Doc::new(&document, "document")?;
        let o = Doc::opts(options.into())?;
        self.write(sys::PM_OP_INSERT_ONE, d, Doc::NONE, o).await
    }

    /// Inserts many documents (ordered unless the options say otherwise).
    pub async fn insert_many<D: Serialize>(
        &self,
        documents: impl IntoIterator<Item = D>,
        options: impl Into<Option<InsertOptions>>,
    ) -> Result<WriteResult> {
        let docs =
            documents.into_iter().map(|d| call::encode(&d, "document")).collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_void> = docs.iter().map(|d| d.as_ptr().cast()).collect();
        let lens: Vec<usize> = docs.iter().map(Vec::len).collect();
        let opts = Doc::opts(options.into())?;
        let pending = {
            let mut o = op(sys::PM_OP_INSERT_MANY);
            o.docs = ptrs.as_ptr();
            o.lens = lens.as_ptr();
            o.n = docs.len();
            o.opts = opts.ptr();
            o.opts_len = opts.len();
            self.run(o)?
        };
        drop(ptrs); // copied by the library; nothing raw is held across the await
        write_outcome(pending.await)
    }

    /// Updates the first matching document.
    pub async fn update_one(
        &self,
        filter: impl Serialize,
        update: impl Into<Update>,
        options: impl Into<Option<UpdateOptions>>,
    ) -> Result<WriteResult> {
        let (f, u) = (Doc::new(&filter, "filter")?, Doc::new(&update.into().to_document(), "update")?);
        self.write(sys::PM_OP_UPDATE_ONE, f, u, Doc::opts(options.into())?).await
    }

    /// Updates every matching document.
    pub async fn update_many(
        &self,
        filter: impl Serialize,
        update: impl Into<Update>,
        options: impl Into<Option<UpdateOptions>>,
    ) -> Result<WriteResult> {
        let (f, u) = (Doc::new(&filter, "filter")?, Doc::new(&update.into().to_document(), "update")?);
        self.write(sys::PM_OP_UPDATE_MANY, f, u, Doc::opts(options.into())?).await
    }

    /// Replaces the first matching document.
    pub async fn replace_one(
        &self,
        filter: impl Serialize,
        replacement: impl Serialize,
        options: impl Into<Option<UpdateOptions>>,
    ) -> Result<WriteResult> {
        let (f, r) = (Doc::new(&filter, "filter")?, Doc::new(&replacement, "replacement")?);
        self.write(sys::PM_OP_REPLACE_ONE, f, r, Doc::opts(options.into())?).await
    }

    /// Deletes the first matching document.
    pub async fn delete_one(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<DeleteOptions>>,
    ) -> Result<WriteResult> {
        let f = Doc::new(&filter, "filter")?;
        self.write(sys::PM_OP_DELETE_ONE, f, Doc::NONE, Doc::opts(options.into())?).await
    }

    /// Deletes every matching document.
    pub async fn delete_many(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<DeleteOptions>>,
    ) -> Result<WriteResult> {
        let f = Doc::new(&filter, "filter")?;
        self.write(sys::PM_OP_DELETE_MANY, f, Doc::NONE, Doc::opts(options.into())?).await
    }

    /// Exact count of matching documents.
    pub async fn count_documents(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<CountOptions>>,
    ) -> Result<u64> {
        let (f, o) = (Doc::new(&filter, "filter")?, Doc::opts(options.into())?);
        let pending = {
            let mut op = op(sys::PM_OP_COUNT);
            Self::docs(&mut op, &f, &Doc::NONE, &o);
            self.run(op)?
        };
        let c = pending.await;
        c.check()?;
        Ok(c.0.count as u64)
    }

    /// Runs a command on this database and returns the reply.
    pub async fn command(&self, command: impl Serialize) -> Result<Document> {
        let cmd = Doc::new(&command, "command")?;
        let pending = {
            let mut o = op(sys::PM_OP_COMMAND);
            Self::docs(&mut o, &cmd, &Doc::NONE, &Doc::NONE);
            self.run(o)?
        };
        let c = pending.await;
        c.check()?;
        call::decode(c.doc_bytes())
    }

    /// Drops the collection in this database.
    pub async fn drop_collection(&self) -> Result<()> {
        let pending = self.run(op(sys::PM_OP_DROP_COLLECTION))?;
        pending.await.check().map(|_| ())
    }

    /// A change stream of this collection in this database (a replica set; FerretDB gives
    /// `NotSupported`), as a [`Stream`] of events.
    pub async fn watch(&self, pipeline: impl IntoIterator<Item = Document>) -> Result<AsyncChangeStream> {
        let stages: Vec<Bson> = pipeline.into_iter().map(Bson::Document).collect();
        let p = if stages.is_empty() { Doc::NONE } else { Doc::new(&doc! {"pipeline": stages}, "pipeline")? };
        let pending = {
            let mut o = op(sys::PM_OP_WATCH);
            Self::docs(&mut o, &p, &Doc::NONE, &Doc::NONE);
            self.run(o)?
        };
        let mut c = pending.await;
        c.check()?;
        Ok(AsyncChangeStream::new(c.take_stream(), Arc::clone(&self.wrapper)))
    }
}

impl<T: DeserializeOwned + Send + 'static> AsyncDb<T> {
    /// The first matching document, if any.
    pub async fn find_one(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<FindOptions>>,
    ) -> Result<Option<T>> {
        let (f, o) = (Doc::new(&filter, "filter")?, Doc::opts(options.into())?);
        let pending = {
            let mut op = op(sys::PM_OP_FIND_ONE);
            Self::docs(&mut op, &f, &Doc::NONE, &o);
            self.run(op)?
        };
        let c = pending.await;
        c.check()?;
        let bytes = c.doc_bytes();
        if bytes.is_empty() {
            Ok(None)
        } else {
            call::decode(bytes).map(Some)
        }
    }

    /// The matching documents, as a [`Stream`]. The first batch comes with the query.
    pub async fn find(
        &self,
        filter: impl Serialize,
        options: impl Into<Option<FindOptions>>,
    ) -> Result<AsyncCursor<T>> {
        let (f, o) = (Doc::new(&filter, "filter")?, Doc::opts(options.into())?);
        self.query(sys::PM_OP_FIND, f, o).await
    }

    /// The pipeline's output, as a [`Stream`].
    pub async fn aggregate(&self, pipeline: impl IntoIterator<Item = Document>) -> Result<AsyncCursor<T>> {
        let stages: Vec<Bson> = pipeline.into_iter().map(Bson::Document).collect();
        let p = Doc::new(&doc! {"pipeline": stages}, "pipeline")?;
        self.query(sys::PM_OP_AGGREGATE, p, Doc::NONE).await
    }

    async fn query(&self, kind: sys::pm_op_kind, doc: Doc, opts: Doc) -> Result<AsyncCursor<T>> {
        let pending = {
            let mut o = op(kind);
            Self::docs(&mut o, &doc, &Doc::NONE, &opts);
            o.number = BATCH;
            self.run(o)?
        };
        let mut c = pending.await;
        c.check()?;
        let mut cursor = AsyncCursor::new(c.take_cursor(), Arc::clone(&self.wrapper));
        cursor.take(&c)?;
        Ok(cursor)
    }
}

/// A cursor or stream pointer owned by an async value; freed on drop, or after the operation
/// that uses it completes when one is in flight.
struct Owned<H: 'static> {
    ptr: *mut H,
    free: unsafe extern "C" fn(*mut H),
}

// SAFETY: the handle is used by one operation at a time (the future that owns it), and freed
// from whichever thread ends last: both allowed by cursor.h and stream.h ("from the thread
// that uses it, or once none does").
unsafe impl<H> Send for Owned<H> {}

impl<H> Owned<H> {
    /// Frees the handle now, or once `pending` completes.
    fn release(&mut self, pending: Option<&Op>) {
        let ptr = std::mem::replace(&mut self.ptr, ptr::null_mut());
        if ptr.is_null() {
            return;
        }
        let free = self.free;
        let owned = Owned { ptr, free };
        if let Some(op) = pending {
            let mut s = lock(&op.slot);
            if s.done.is_none() {
                s.orphan = Some(Box::new(move || drop(owned)));
                return;
            }
        }
        drop(owned);
    }
}

impl<H> Drop for Owned<H> {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            unsafe { (self.free)(self.ptr) }
        }
    }
}

/// Query results as a [`Stream`] of documents (`T`: [`Document`] or your type). Reads a batch
/// per submission; one thing at a time (poll it from one task).
pub struct AsyncCursor<T = Document> {
    raw: Owned<sys::pm_cursor>,
    wrapper: Arc<WrapperRef>,
    buf: VecDeque<T>,
    pending: Option<Op>,
    done: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> AsyncCursor<T> {
    fn new(ptr: *mut sys::pm_cursor, wrapper: Arc<WrapperRef>) -> Self {
        AsyncCursor {
            raw: Owned { ptr, free: sys::pm_cursor_free },
            wrapper,
            buf: VecDeque::new(),
            pending: None,
            done: false,
            _type: PhantomData,
        }
    }

    fn take(&mut self, c: &Completion) -> Result<()> {
        c.documents(&mut self.buf)?;
        if c.0.count < BATCH {
            self.done = true; // the cursor gave its connection back: free it now
            self.raw.release(None);
        }
        Ok(())
    }

    /// Every remaining document.
    pub async fn try_collect(mut self) -> Result<Vec<T>>
    where
        T: Unpin,
    {
        let mut out = Vec::new();
        while let Some(d) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
            out.push(d?);
        }
        Ok(out)
    }
}

impl<T: DeserializeOwned + Unpin> Stream for AsyncCursor<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = &mut *self;
        loop {
            if let Some(d) = this.buf.pop_front() {
                return Poll::Ready(Some(Ok(d)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.pending.is_none() {
                let mut o = op(sys::PM_OP_CURSOR_NEXT);
                o.cursor = this.raw.ptr;
                o.number = BATCH;
                match submit(&this.wrapper, &o) {
                    Ok(p) => this.pending = Some(p),
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            let c = match Pin::new(this.pending.as_mut().expect("submitted")).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(c) => c,
            };
            this.pending = None;
            if let Err(e) = c.check().and_then(|_| this.take(&c)) {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl<T> Drop for AsyncCursor<T> {
    fn drop(&mut self) {
        // Never free the cursor under an operation still using it.
        self.raw.release(self.pending.as_ref());
    }
}

/// A change stream as a [`Stream`] of events; ends when the stream is closed. Each wait is a
/// series of short waits on a library thread, so many streams share the executor.
pub struct AsyncChangeStream {
    raw: Owned<sys::pm_stream>,
    wrapper: Arc<WrapperRef>,
    pending: Option<Op>,
    done: bool,
}

impl AsyncChangeStream {
    fn new(ptr: *mut sys::pm_stream, wrapper: Arc<WrapperRef>) -> Self {
        AsyncChangeStream { raw: Owned { ptr, free: sys::pm_stream_free }, wrapper, pending: None, done: false }
    }

    /// The next event, or `None` when none came within `timeout`.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Document>> {
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        if let Some(earlier) = self.pending.take() {
            // A wait whose future was dropped: let it end first, so that at most one
            // operation on this stream is ever in flight (the one a drop would wait for).
            drop(earlier.await);
        }
        let pending = {
            let mut o = op(sys::PM_OP_STREAM_NEXT);
            o.stream = self.raw.ptr;
            o.number = ms;
            submit(&self.wrapper, &o)?
        };
        self.pending = Some(pending);
        let c = std::future::poll_fn(|cx| Pin::new(self.pending.as_mut().expect("submitted")).poll(cx)).await;
        self.pending = None;
        if c.check()? == 0 {
            return Ok(None);
        }
        call::decode(c.doc_bytes()).map(Some)
    }
}

impl Stream for AsyncChangeStream {
    type Item = Result<Document>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Document>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.pending.is_none() {
                let mut o = op(sys::PM_OP_STREAM_NEXT);
                o.stream = this.raw.ptr;
                o.number = STREAM_SLICE_MS;
                match submit(&this.wrapper, &o) {
                    Ok(p) => this.pending = Some(p),
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            let c = match Pin::new(this.pending.as_mut().expect("submitted")).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(c) => c,
            };
            this.pending = None;
            match c.check() {
                Ok(0) => continue, // none yet: wait again
                Ok(_) => return Poll::Ready(Some(call::decode(c.doc_bytes()))),
                Err(e) if e.kind() == ErrorKind::Closed => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl Drop for AsyncChangeStream {
    fn drop(&mut self) {
        self.raw.release(self.pending.as_ref());
    }
}

/// The async form of [`PolyMongo`]'s own operations (made by [`PolyMongo::to_async`]): native
/// and compensating sessions, export and import of whole databases. `Send + Sync`, cheap to
/// clone; its futures are `Send`. Databases' operations are on [`AsyncDb`] ([`Db::to_async`]).
#[derive(Clone)]
pub struct AsyncPolyMongo {
    wrapper: Arc<WrapperRef>,
}

impl std::fmt::Debug for AsyncPolyMongo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPolyMongo").finish_non_exhaustive()
    }
}

impl PolyMongo {
    /// The async form of this wrapper (see [`crate::aio`]). No I/O; shares the wrapper.
    pub fn to_async(&self) -> AsyncPolyMongo {
        AsyncPolyMongo { wrapper: Arc::new(WrapperRef::Client(self.clone())) }
    }
}

/// An optional database name as the C API takes it (NULL: the default database).
fn db_cstring(db: Option<&str>) -> Result<Option<CString>> {
    db.map(|d| call::cstring(d, "database name")).transpose()
}

fn name_ptr(name: &Option<CString>) -> *const c_char {
    name.as_ref().map_or(ptr::null(), |n| n.as_ptr())
}

fn report_of(mut c: Completion) -> Result<ImportReport> {
    let text = std::mem::replace(&mut c.0.text, ptr::null_mut());
    // SAFETY: NULL or a string the completion owned, now ours to free.
    let json = unsafe { call::take_string(text) };
    transfer::report_outcome(c.0.code, &c.0.error, json)
}

impl AsyncPolyMongo {
    /// The blocking form.
    pub fn blocking(&self) -> Option<&PolyMongo> {
        match &*self.wrapper {
            WrapperRef::Client(pm) => Some(pm),
            WrapperRef::Owned(_) => None,
        }
    }

    /// Waits for a submitted operation; its error, or its completion.
    async fn finish(pending: Op) -> Result<Completion> {
        let c = pending.await;
        c.check()?;
        Ok(c)
    }

    /// Starts a native session on the pool serving `db` (`None`: the default database): the
    /// async form of [`PolyMongo::start_session`]. It holds one connection until dropped.
    pub async fn start_session(
        &self,
        db: Option<&str>,
        options: impl Into<Option<SessionOptions>>,
    ) -> Result<AsyncSession> {
        let name = db_cstring(db)?;
        let opts = Doc::opts(options.into())?;
        let pending = {
            let mut o = op(sys::PM_OP_START_SESSION);
            o.name = name_ptr(&name);
            o.opts = opts.ptr();
            o.opts_len = opts.len();
            submit(&self.wrapper, &o)?
        };
        let mut c = pending.await;
        c.check()?;
        let raw = std::mem::replace(&mut c.0.session, ptr::null_mut());
        Ok(AsyncSession::new(raw, Arc::clone(&self.wrapper), false))
    }

    /// Starts a compensating session (transactions across any pools and clusters, made of
    /// recorded undos): the async form of [`PolyMongo::start_compensating`].
    pub async fn start_compensating(
        &self,
        options: impl Into<Option<CompensatingOptions>>,
    ) -> Result<AsyncSession> {
        let opts = Doc::opts(options.into())?;
        let pending = {
            let mut o = op(sys::PM_OP_START_COMPENSATING);
            o.opts = opts.ptr();
            o.opts_len = opts.len();
            submit(&self.wrapper, &o)?
        };
        let mut c = pending.await;
        c.check()?;
        let raw = std::mem::replace(&mut c.0.session, ptr::null_mut());
        Ok(AsyncSession::new(raw, Arc::clone(&self.wrapper), true))
    }

    /// Writes database `db` as NDJSON to the file `path` (the format of [`PolyMongo::export`]).
    /// The export runs on a library thread; a writer of the caller's would have to run there
    /// too, so the async form takes a path (a FIFO works, for streaming elsewhere).
    pub async fn export_file(&self, db: &str, path: impl AsRef<Path>) -> Result<()> {
        let name = call::cstring(db, "database name")?;
        let path = transfer::path_cstring(path.as_ref())?;
        let pending = {
            let mut o = op(sys::PM_OP_EXPORT_FILE);
            o.name = name.as_ptr();
            o.path = path.as_ptr();
            submit(&self.wrapper, &o)?
        };
        Self::finish(pending).await.map(drop)
    }

    /// Imports an NDJSON file into `db`: the async form of [`PolyMongo::import_file`], with its
    /// report and errors (`ErrorKind::Write` when documents were refused, `InvalidArgument`
    /// naming a malformed line; the report is then on the error).
    pub async fn import_file(
        &self,
        db: &str,
        path: impl AsRef<Path>,
        options: impl Into<Option<ImportOptions>>,
    ) -> Result<ImportReport> {
        let name = call::cstring(db, "database name")?;
        let path = transfer::path_cstring(path.as_ref())?;
        let opts = transfer::options_json(options.into())?;
        let pending = {
            let mut o = op(sys::PM_OP_IMPORT_FILE);
            o.name = name.as_ptr();
            o.path = path.as_ptr();
            o.json = transfer::opt_ptr(&opts);
            submit(&self.wrapper, &o)?
        };
        report_of(pending.await)
    }

    /// The whole database in one document: the async form of [`PolyMongo::export_document`].
    pub async fn export_document(&self, db: &str) -> Result<Document> {
        let name = call::cstring(db, "database name")?;
        let pending = {
            let mut o = op(sys::PM_OP_EXPORT_DOCUMENT);
            o.name = name.as_ptr();
            submit(&self.wrapper, &o)?
        };
        let c = Self::finish(pending).await?;
        call::decode(c.doc_bytes())
    }

    /// Imports a document as [`AsyncPolyMongo::export_document`] makes it into `db`: the async
    /// form of [`PolyMongo::import_document`].
    pub async fn import_document(
        &self,
        db: &str,
        document: &Document,
        options: impl Into<Option<ImportOptions>>,
    ) -> Result<ImportReport> {
        let name = call::cstring(db, "database name")?;
        let doc = Doc::new(document, "import document")?;
        let opts = transfer::options_json(options.into())?;
        let pending = {
            let mut o = op(sys::PM_OP_IMPORT_DOCUMENT);
            o.name = name.as_ptr();
            o.doc = doc.ptr();
            o.doc_len = doc.len();
            o.json = transfer::opt_ptr(&opts);
            submit(&self.wrapper, &o)?
        };
        report_of(pending.await)
    }

    /// Copies database `from` into `to` (any pool or cluster): the async form of
    /// [`PolyMongo::copy_database`].
    pub async fn copy_database(
        &self,
        from: &str,
        to: &str,
        options: impl Into<Option<ImportOptions>>,
    ) -> Result<ImportReport> {
        let from = call::cstring(from, "database name")?;
        let to = call::cstring(to, "database name")?;
        let opts = transfer::options_json(options.into())?;
        let pending = {
            let mut o = op(sys::PM_OP_COPY_DATABASE);
            o.name = from.as_ptr();
            o.path = to.as_ptr();
            o.json = transfer::opt_ptr(&opts);
            submit(&self.wrapper, &o)?
        };
        report_of(pending.await)
    }

    /// Drops database `db`: the async form of [`PolyMongo::drop_database`].
    pub async fn drop_database(&self, db: &str) -> Result<()> {
        let name = call::cstring(db, "database name")?;
        let pending = {
            let mut o = op(sys::PM_OP_DROP_DATABASE);
            o.name = name.as_ptr();
            submit(&self.wrapper, &o)?
        };
        Self::finish(pending).await.map(drop)
    }
}

/// A session whose transaction calls are futures: the async form of [`crate::Session`], made
/// by [`AsyncPolyMongo::start_session`] or [`AsyncPolyMongo::start_compensating`]. Bind dbs to
/// it with [`AsyncDb::with_session`]. As in the official driver, its methods take `&mut self`
/// (one thing at a time) and their futures are `Send`.
///
/// ```no_run
/// # async fn demo(pm: polymongo::PolyMongo) -> polymongo::Result<()> {
/// use polymongo::doc;
/// let accounts = pm.model("accounts", None)?;
/// let mut session = pm.to_async().start_session(Some("bank"), None).await?;
/// let a = accounts.db("bank")?.to_async()?.with_session(&session)?;
///
/// // The callback form: commits when the future returns Ok, aborts on Err; runs the closure
/// // again on a TransientTransactionError, retries a commit with an unknown result.
/// session
///     .with_transaction(None, None, || async {
///         a.insert_one(doc! {"amount": -10}, None).await?;
///         a.insert_one(doc! {"amount": 10}, None).await?;
///         Ok::<_, polymongo::Error>(())
///     })
///     .await?;
///
/// // The explicit form.
/// session.start_transaction(None).await?;
/// a.insert_one(doc! {"amount": -1}, None).await?;
/// session.abort_transaction().await?;
/// # Ok(()) }
/// ```
///
/// Dropping it ends the session (aborting an open transaction) once its dbs are dropped too;
/// an operation of it still running finishes first.
pub struct AsyncSession {
    raw: Owned<sys::pm_session>,
    wrapper: Arc<WrapperRef>,
    /// The session's last operation, while it runs (kept when its future was dropped, so that
    /// the next one, and the session's end, wait for it).
    pending: Option<Op>,
    compensating: bool,
}

impl std::fmt::Debug for AsyncSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSession").field("compensating", &self.compensating).finish_non_exhaustive()
    }
}

impl AsyncSession {
    fn new(ptr: *mut sys::pm_session, wrapper: Arc<WrapperRef>, compensating: bool) -> Self {
        AsyncSession { raw: Owned { ptr, free: sys::pm_session_free }, wrapper, pending: None, compensating }
    }

    /// Whether this is a compensating session.
    pub fn is_compensating(&self) -> bool {
        self.compensating
    }

    async fn session_op(&mut self, kind: sys::pm_op_kind, opts: &Doc) -> Result<()> {
        if let Some(earlier) = self.pending.take() {
            drop(earlier.await); // a dropped call's operation: let it end first
        }
        if self.raw.ptr.is_null() {
            return Err(Error::closed("AsyncSession"));
        }
        let pending = {
            let mut o = op(kind);
            o.session = self.raw.ptr;
            o.opts = opts.ptr();
            o.opts_len = opts.len();
            submit(&self.wrapper, &o)?
        };
        self.pending = Some(pending);
        let c = std::future::poll_fn(|cx| Pin::new(self.pending.as_mut().expect("submitted")).poll(cx)).await;
        self.pending = None;
        c.check().map(drop)
    }

    /// Starts a transaction; `options` override the session's defaults (`NotSupported` on a
    /// server without transactions, before anything is written).
    pub async fn start_transaction(&mut self, options: impl Into<Option<TransactionOptions>>) -> Result<()> {
        let opts = Doc::opts(options.into())?;
        self.session_op(sys::PM_OP_START_TRANSACTION, &opts).await
    }

    /// Commits the open transaction: its writes become visible together.
    pub async fn commit_transaction(&mut self) -> Result<()> {
        self.session_op(sys::PM_OP_COMMIT, &Doc::NONE).await
    }

    /// Aborts the open transaction: none of its writes remain.
    pub async fn abort_transaction(&mut self) -> Result<()> {
        self.session_op(sys::PM_OP_ABORT, &Doc::NONE).await
    }

    /// The labels the retries go by (`pm_session_transaction_labels`).
    fn labels(&self) -> i32 {
        unsafe { sys::pm_session_transaction_labels(self.raw.ptr) }
    }

    /// Runs `f` in a transaction, with the semantics of the blocking
    /// [`crate::Session::with_transaction_options`] (the same rules, from the same labels):
    ///
    /// - `Ok(value)`: the transaction commits and `Ok(value)` is returned; a commit that fails
    ///   with `UnknownTransactionCommitResult` is tried again.
    /// - `Err(e)`: the transaction aborts and `Err(e)` is returned unchanged, unless an
    ///   operation in the session (or the commit) failed with the `TransientTransactionError`
    ///   label: then the whole transaction runs again, calling `f` again, after a backoff (5 ms
    ///   doubling up to 500 ms, with jitter). Retries stop at `timeout` (`None`: 120 s).
    ///
    /// `f` makes a new future for each attempt, using dbs bound to this session (made before,
    /// with [`AsyncDb::with_session`]); await every operation inside it. Errors of the
    /// library itself (`NotSupported` on a server without transactions, before `f` runs; a
    /// failed commit) come back as `E::from(polymongo::Error)`. A panic in `f` leaves the
    /// transaction open: dropping the session aborts it. A compensating session runs `f`
    /// once: `Ok` keeps the writes, `Err` undoes them.
    pub async fn with_transaction<R, E, F, Fut>(
        &mut self,
        options: impl Into<Option<TransactionOptions>>,
        timeout: impl Into<Option<Duration>>,
        mut f: F,
    ) -> std::result::Result<R, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<R, E>>,
        E: From<Error>,
    {
        let opts = Doc::opts(options.into())?;
        let deadline = Instant::now() + timeout.into().unwrap_or(Duration::from_secs(120));
        let time_left = || Instant::now() < deadline;
        let mut attempt = 0u32;
        'transaction: loop {
            if attempt > 0 {
                Sleep::new(backoff(attempt)).await;
            }
            attempt += 1;
            self.session_op(sys::PM_OP_START_TRANSACTION, &opts).await?;
            let value = match f().await {
                Ok(value) => value,
                Err(e) => {
                    let transient = self.labels() & sys::PM_TXN_TRANSIENT as i32 != 0;
                    // The closure's error is the one that matters, not an abort's.
                    let _ = self.session_op(sys::PM_OP_ABORT, &Doc::NONE).await;
                    if transient && time_left() {
                        continue 'transaction;
                    }
                    return Err(e);
                }
            };
            loop {
                match self.session_op(sys::PM_OP_COMMIT, &Doc::NONE).await {
                    Ok(()) => return Ok(value),
                    Err(e) => {
                        let labels = self.labels();
                        if labels & sys::PM_TXN_UNKNOWN_COMMIT as i32 != 0 && time_left() {
                            continue;
                        }
                        if labels & sys::PM_TXN_TRANSIENT as i32 != 0 && time_left() {
                            continue 'transaction;
                        }
                        return Err(E::from(e));
                    }
                }
            }
        }
    }
}

impl Drop for AsyncSession {
    fn drop(&mut self) {
        // Never end the session under an operation still using it.
        self.raw.release(self.pending.as_ref());
    }
}

/// The wait before running a transaction again: 5 ms doubling up to 500 ms, a random point
/// in its upper half (as `pm_session_with_transaction`).
fn backoff(attempt: u32) -> Duration {
    let cap = 500u64.min(5u64 << attempt.saturating_sub(1).min(7));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = u64::from(nanos) % (cap / 2 + 1);
    Duration::from_millis(cap / 2 + jitter)
}

/// A timer that needs no runtime: a short-lived thread wakes the task (only between
/// transaction attempts, which are rare).
struct Sleep {
    duration: Duration,
    state: Option<Arc<Mutex<Alarm>>>,
}

/// Whether the timer fired, and the task to wake when it does.
#[derive(Default)]
struct Alarm {
    fired: bool,
    waker: Option<Waker>,
}

impl Sleep {
    fn new(duration: Duration) -> Self {
        Sleep { duration, state: None }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        let state = self.state.get_or_insert_with(|| {
            let state = Arc::new(Mutex::new(Alarm::default()));
            let timer = Arc::clone(&state);
            std::thread::spawn(move || {
                std::thread::sleep(duration);
                let waker = {
                    let mut s = timer.lock().unwrap_or_else(|e| e.into_inner());
                    s.fired = true;
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
            state
        });
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if s.fired {
            Poll::Ready(())
        } else {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
