//! Change streams (stream.h): watching a collection, a database or the whole cluster, and
//! shared streams that many subscribers read from one server-side stream.
use std::ffi::{c_char, CString};
use std::fmt;
use std::time::Duration;

use bson::{doc, Bson, Document, RawDocument};
use serde::de::DeserializeOwned;

use polymongo_sys as sys;

use crate::call::{self, Doc};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::handle::Owned;
use crate::json::JsonMode;
use crate::options::ChangeStreamOptions;
use crate::wrapper::PolyMongo;

/// An open change stream: call [`ChangeStream::next`] with a timeout to wait for the next
/// event. Made by [`Db::watch`], [`PolyMongo::watch_database`], [`PolyMongo::watch_cluster`]
/// and [`PolyMongo::subscribe_stream`].
///
/// A stream holds one pooled connection (its pool is never closed by TTL while it is open) and
/// keeps the wrapper alive; dropping it (or [`ChangeStream::close`]) releases both.
/// [`PolyMongo::close_streams`] and [`PolyMongo::drop_database`] may close it from another
/// thread: its next call then fails with `ErrorKind::Closed`.
///
/// Thread-safety: `Send` but not `Sync` (the C stream is used by one thread at a time, which
/// `&mut self` guarantees).
pub struct ChangeStream {
    raw: Owned<sys::pm_stream>,
}

/// A pipeline as the C API takes it: `{"pipeline": [...]}`, or NULL when empty.
fn pipeline_doc(pipeline: impl IntoIterator<Item = Document>) -> Result<Doc> {
    let stages: Vec<Bson> = pipeline.into_iter().map(Bson::Document).collect();
    if stages.is_empty() {
        Ok(Doc::NONE)
    } else {
        Doc::new(&doc! {"pipeline": stages}, "pipeline")
    }
}

fn timeout_ms(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

/// `None` (NULL) or a C string.
fn opt_cstring(s: Option<&str>, what: &str) -> Result<Option<CString>> {
    s.map(|s| call::cstring(s, what)).transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

impl ChangeStream {
    fn from_raw(ptr: *mut sys::pm_stream) -> Self {
        ChangeStream { raw: Owned::new(ptr) }
    }

    fn live(&self) -> Result<*mut sys::pm_stream> {
        let p = self.raw.as_ptr();
        if p.is_null() {
            Err(Error::closed("ChangeStream"))
        } else {
            Ok(p)
        }
    }

    /// Waits up to `timeout` for the next event, borrowed without a copy (valid until the next
    /// call on this stream). `Ok(None)`: none came in time (the stream stays open).
    pub fn next_raw(&mut self, timeout: Duration) -> Result<Option<&RawDocument>> {
        let raw = self.live()?;
        let (mut data, mut len) = (std::ptr::null(), 0usize);
        let rc = call::ffi(|err| unsafe {
            sys::pm_stream_next(raw, timeout_ms(timeout), &mut data, &mut len, err)
        })?;
        if rc == 0 || data.is_null() {
            return Ok(None);
        }
        // SAFETY: borrowed bytes valid until the next call on this stream; tied to &mut self.
        call::raw_doc(unsafe { std::slice::from_raw_parts(data, len) }).map(Some)
    }

    /// Waits up to `timeout` for the next event; `Ok(None)` when none came in time.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Document>> {
        self.next_as(timeout)
    }

    /// The next event deserialised into `T` (e.g. your own event struct).
    pub fn next_as<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<Option<T>> {
        match self.next_raw(timeout)? {
            None => Ok(None),
            Some(event) => call::decode(event.as_bytes()).map(Some),
        }
    }

    /// The next event as Extended JSON; `Ok(None)` when none came in time.
    pub fn next_json(&mut self, timeout: Duration, mode: JsonMode) -> Result<Option<String>> {
        let raw = self.live()?;
        let mut json: *const c_char = std::ptr::null();
        let rc = call::ffi(|err| unsafe {
            sys::pm_stream_next_json(raw, timeout_ms(timeout), mode.raw(), &mut json, err)
        })?;
        if rc == 0 || json.is_null() {
            return Ok(None);
        }
        Ok(Some(unsafe { call::string_from(json) }))
    }

    /// An iterator over the events, each waited for up to `timeout`: it ends when no event
    /// came in time, and after yielding an error.
    pub fn events(&mut self, timeout: Duration) -> Events<'_> {
        Events { stream: self, timeout, done: false }
    }

    /// The token to resume after the last event returned: pass it to
    /// [`ChangeStreamOptions::resume_after`]. `None` before any event (on some servers).
    pub fn resume_token(&mut self) -> Result<Option<Document>> {
        let raw = self.live()?;
        let buf = call::buf(|out, err| unsafe { sys::pm_stream_resume_token(raw, out, err) })?;
        buf.decode()
    }

    /// Closes the stream now (dropping it does the same); later calls fail with
    /// `ErrorKind::Closed`.
    pub fn close(&mut self) {
        self.raw.close();
    }

    /// Closed by [`ChangeStream::close`] (a stream closed by the library from another thread
    /// reports `ErrorKind::Closed` on its next call instead).
    pub fn is_closed(&self) -> bool {
        self.raw.as_ptr().is_null()
    }
}

impl fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeStream").field("closed", &self.is_closed()).finish()
    }
}

/// The iterator of [`ChangeStream::events`].
#[derive(Debug)]
pub struct Events<'a> {
    stream: &'a mut ChangeStream,
    timeout: Duration,
    done: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        if self.done {
            return None;
        }
        let item = self.stream.next(self.timeout).transpose();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

impl<T, S> Db<T, S> {
    /// Watches this model's collection in this database. `pipeline`: stages filtering or
    /// reshaping the events (`[]` for all).
    pub fn watch(
        &self,
        pipeline: impl IntoIterator<Item = Document>,
        options: impl Into<Option<ChangeStreamOptions>>,
    ) -> Result<ChangeStream> {
        let pipeline = pipeline_doc(pipeline)?;
        let opts = Doc::opts(options.into())?;
        self.with(|db| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_db_watch(db, pipeline.ptr(), pipeline.len(), opts.ptr(), opts.len(), out, err)
            })
        })
        .map(ChangeStream::from_raw)
    }
}

impl PolyMongo {
    /// Watches every collection of a database (`None`: the default database).
    pub fn watch_database(
        &self,
        db: Option<&str>,
        pipeline: impl IntoIterator<Item = Document>,
        options: impl Into<Option<ChangeStreamOptions>>,
    ) -> Result<ChangeStream> {
        let name = opt_cstring(db, "database name")?;
        let pipeline = pipeline_doc(pipeline)?;
        let opts = Doc::opts(options.into())?;
        self.with(|w| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_wrapper_watch_database(
                    w,
                    opt_ptr(&name),
                    pipeline.ptr(),
                    pipeline.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })
        .map(ChangeStream::from_raw)
    }

    /// Watches the whole cluster (of the default pool).
    pub fn watch_cluster(
        &self,
        pipeline: impl IntoIterator<Item = Document>,
        options: impl Into<Option<ChangeStreamOptions>>,
    ) -> Result<ChangeStream> {
        let pipeline = pipeline_doc(pipeline)?;
        let opts = Doc::opts(options.into())?;
        self.with(|w| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_wrapper_watch_cluster(
                    w,
                    pipeline.ptr(),
                    pipeline.len(),
                    opts.ptr(),
                    opts.len(),
                    out,
                    err,
                )
            })
        })
        .map(ChangeStream::from_raw)
    }

    /// A subscriber to the shared stream of a database (`collection` `None`) or of one
    /// collection: all subscribers of the same target share one server-side stream; each gets
    /// every event from when it subscribed, once, in order, and may drop out without
    /// disturbing the others. One more than 100,000 events behind is ended with an error.
    pub fn subscribe_stream(&self, db: &str, collection: Option<&str>) -> Result<ChangeStream> {
        let name = call::cstring(db, "database name")?;
        let coll = opt_cstring(collection, "collection name")?;
        self.with(|w| {
            call::out_ptr(|out, err| unsafe {
                sys::pm_wrapper_subscribe_stream(w, name.as_ptr(), opt_ptr(&coll), out, err)
            })
        })
        .map(ChangeStream::from_raw)
    }

    /// Closes the open streams of one database (`None`: all of them), from any thread; their
    /// next call fails with `ErrorKind::Closed`. Returns how many were closed.
    pub fn close_streams(&self, db: Option<&str>) -> Result<usize> {
        let name = opt_cstring(db, "database name")?;
        self.with(|w| {
            let mut closed = 0usize;
            call::ffi(|err| unsafe { sys::pm_wrapper_close_streams(w, opt_ptr(&name), &mut closed, err) })?;
            Ok(closed)
        })
    }

    /// Open streams (subscribers included) of one database, or of all (`None`).
    pub fn stream_count(&self, db: Option<&str>) -> Result<usize> {
        let name = opt_cstring(db, "database name")?;
        self.with(|w| Ok(unsafe { sys::pm_wrapper_stream_count(w, opt_ptr(&name)) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_send_but_not_sync() {
        fn send<T: Send>() {}
        send::<ChangeStream>();
        trait AmbiguousIfSync<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSync<()> for T {}
        impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
        <ChangeStream as AmbiguousIfSync<_>>::check();
    }

    #[test]
    fn pipelines_and_timeouts_take_the_c_shape() {
        assert!(pipeline_doc(Vec::new()).unwrap().ptr().is_null());
        let p = pipeline_doc(vec![doc! {"$match": {"operationType": "insert"}}]).unwrap();
        let bytes = unsafe { std::slice::from_raw_parts(p.ptr().cast::<u8>(), p.len()) };
        assert_eq!(
            bson::from_slice::<Document>(bytes).unwrap(),
            doc! {"pipeline": [{"$match": {"operationType": "insert"}}]}
        );
        assert_eq!(timeout_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(timeout_ms(Duration::MAX), i64::MAX);
        let opts = bson::to_document(
            &ChangeStreamOptions::default().max_await_time_ms(50).full_document("updateLookup"),
        )
        .unwrap();
        assert_eq!(opts, doc! {"fullDocument": "updateLookup", "maxAwaitTimeMS": 50_i64});
    }
}
