//! Export, import, copy and drop of whole databases (bulk.h).
//!
//! The export format is NDJSON (one record per line, canonical Extended JSON, so every BSON
//! type round-trips). Export streams from a cursor into any [`io::Write`]; import reads any
//! [`io::Read`] and inserts in unordered batches, so memory does not grow with the database.
//! Callbacks (the writer, the reader, the progress closure) run on the calling thread, during
//! the call; a panic in one is carried across C and resumed when the call returns.
use std::ffi::{c_char, c_int, c_long, c_void, CString};
use std::io;
use std::path::Path;

use bson::Document;
use serde::Deserialize;

use polymongo_sys as sys;

use crate::call::{self, Doc};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ImportOptions;
use crate::wrapper::PolyMongo;

/// How far an export or import has come: called every 1,000 documents and at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub documents: u64,
    /// BSON bytes so far.
    pub bytes: u64,
}

/// What an import (or copy) did, from the library's JSON report.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ImportReport {
    pub database: String,
    /// NDJSON lines read.
    pub lines: u64,
    /// Documents inserted.
    pub documents: u64,
    /// Documents the server refused (e.g. duplicate keys).
    pub failures: u64,
    pub collections: Vec<CollectionReport>,
    /// Stopped early (`stop_on_error`, or a malformed line).
    pub stopped: bool,
    /// Why it stopped, when it did.
    pub error: Option<String>,
    pub ok: bool,
    /// The report as the library wrote it (JSON).
    #[serde(skip)]
    pub json: String,
}

/// One collection of an [`ImportReport`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CollectionReport {
    pub name: String,
    pub documents: u64,
    pub indexes: u64,
    pub failures: u64,
    /// The first few refusals' messages.
    pub errors: Vec<String>,
}

impl ImportReport {
    fn parse(json: String) -> Result<ImportReport> {
        let mut report: ImportReport = serde_json::from_str(&json).map_err(|e| {
            Error::new(ErrorKind::Internal, format!("the library's import report is not valid: {e}"))
                .with_source(e)
        })?;
        report.json = json;
        Ok(report)
    }
}

type ProgressFn<'a> = Option<&'a mut dyn FnMut(Progress)>;

extern "C" fn progress_trampoline(documents: u64, bytes: u64, data: *mut c_void) {
    // SAFETY: data is the `&mut dyn FnMut` passed below, alive for the whole call.
    let f = unsafe { &mut *(data as *mut &mut dyn FnMut(Progress)) };
    crate::panic::wrap(|| f(Progress { documents, bytes }));
}

/// The (callback, data) pair for an optional progress closure.
fn progress_args(progress: &mut ProgressFn<'_>) -> (sys::pm_progress_fn, *mut c_void) {
    match progress {
        Some(f) => (Some(progress_trampoline), f as *mut &mut dyn FnMut(Progress) as *mut c_void),
        None => (None, std::ptr::null_mut()),
    }
}

/// A Rust writer or reader and the I/O error it hit, if any (reported instead of the
/// library's generic "the output failed").
struct Io<T> {
    inner: T,
    error: Option<io::Error>,
}

extern "C" fn write_trampoline<W: io::Write>(line: *const c_char, len: usize, data: *mut c_void) -> c_int {
    // SAFETY: data is the `Io<W>` passed below; line/len are the library's bytes for this call.
    let io = unsafe { &mut *(data as *mut Io<W>) };
    let bytes = unsafe { std::slice::from_raw_parts(line.cast::<u8>(), len) };
    crate::panic::wrap(|| match io.inner.write_all(bytes).and_then(|_| io.inner.write_all(b"\n")) {
        Ok(()) => 0,
        Err(e) => {
            io.error = Some(e);
            1
        }
    })
    .unwrap_or(1)
}

extern "C" fn read_trampoline<R: io::Read>(buf: *mut c_char, cap: usize, data: *mut c_void) -> c_long {
    // SAFETY: data is the `Io<R>` passed below; buf has room for cap bytes.
    let io = unsafe { &mut *(data as *mut Io<R>) };
    let buf = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) };
    crate::panic::wrap(|| loop {
        match io.inner.read(buf) {
            Ok(n) => return n as c_long,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                io.error = Some(e);
                return -1;
            }
        }
    })
    .unwrap_or(-1)
}

/// The error of a call whose callback hit an I/O error: that error, as the source.
fn io_failure<T>(result: Result<T>, io_error: Option<io::Error>, what: &str) -> Result<T> {
    match (result, io_error) {
        (Err(e), Some(io)) => {
            Err(Error::new(e.kind(), format!("{}: {what} failed: {io}", e.message())).with_source(io))
        }
        (r, _) => r,
    }
}

/// An import-like call with a `char **report`: the report is returned, or attached to the
/// error (`ErrorKind::Write` when documents were refused, `InvalidArgument` naming a bad line).
fn with_report(f: impl FnOnce(*mut *mut c_char, *mut sys::pm_error) -> c_int) -> Result<ImportReport> {
    let mut report: *mut c_char = std::ptr::null_mut();
    let mut err = sys::pm_error::default();
    let rc = f(&mut report, &mut err);
    // SAFETY: NULL or a string for us to free; taken before a parked panic resumes.
    let json = unsafe { call::take_string(report) };
    crate::panic::check();
    report_outcome(rc, &err, json)
}

/// The outcome of an import-like call from its code, error and report (also for the async
/// form, whose completion carries the three).
pub(crate) fn report_outcome(rc: c_int, err: &sys::pm_error, json: Option<String>) -> Result<ImportReport> {
    let report = json.map(ImportReport::parse).transpose();
    if rc < 0 {
        return Err(Error::from_pm(rc, err).with_report(report.ok().flatten()));
    }
    let report =
        report?.ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no import report"))?;
    // The header's contract: refused documents mean PM_EWRITE. The C side decides by searching
    // the report for `"failures":0,`, which a later collection with no failures also matches;
    // enforce the contract from the parsed total so callers see it either way.
    if report.failures > 0 {
        let message = format!("import: {} documents were refused; see the report", report.failures);
        return Err(Error::new(ErrorKind::Write, message).with_report(Some(report)));
    }
    Ok(report)
}

pub(crate) fn options_json(options: Option<ImportOptions>) -> Result<Option<CString>> {
    let Some(options) = options else { return Ok(None) };
    let doc = bson::to_document(&options)
        .map_err(|e| Error::invalid(format!("the import options cannot be encoded: {e}")).with_source(e))?;
    let json = bson::Bson::Document(doc).into_relaxed_extjson().to_string();
    call::cstring(&json, "import options").map(Some)
}

pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

pub(crate) fn path_cstring(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| Error::invalid(format!("the path {} is not valid UTF-8", path.display())))?
        .as_bytes()
        .to_vec();
    CString::new(bytes).map_err(|_| Error::invalid("the path contains a NUL byte"))
}

impl PolyMongo {
    /// Writes database `db` as NDJSON lines (each followed by '\n') to `out`.
    pub fn export<W: io::Write>(&self, db: &str, out: W, mut progress: ProgressFn<'_>) -> Result<()> {
        let name = call::cstring(db, "database name")?;
        let mut io = Io { inner: out, error: None };
        let (pcb, pdata) = progress_args(&mut progress);
        let data = &mut io as *mut Io<W> as *mut c_void;
        let result = self.with(|w| {
            call::ffi(|err| unsafe {
                sys::pm_wrapper_export(w, name.as_ptr(), Some(write_trampoline::<W>), data, pcb, pdata, err)
            })
        });
        let mut result = io_failure(result, io.error.take(), "writing the export").map(drop);
        if result.is_ok() {
            result = io.inner.flush().map_err(|e| {
                Error::new(ErrorKind::Internal, format!("export of {db}: flushing the output failed: {e}"))
                    .with_source(e)
            });
        }
        result
    }

    /// Writes database `db` as NDJSON to a file (`"-"`: standard output).
    pub fn export_file(&self, db: &str, path: impl AsRef<Path>, mut progress: ProgressFn<'_>) -> Result<()> {
        let name = call::cstring(db, "database name")?;
        let path = path_cstring(path.as_ref())?;
        let (pcb, pdata) = progress_args(&mut progress);
        self.with(|w| {
            call::ffi(|err| unsafe {
                sys::pm_wrapper_export_file(w, name.as_ptr(), path.as_ptr(), pcb, pdata, err)
            })
        })
        .map(drop)
    }

    /// The whole database in one document:
    /// `{database, exportedAt, collections: {name: {options, indexes, documents}}}`.
    pub fn export_document(&self, db: &str) -> Result<Document> {
        let name = call::cstring(db, "database name")?;
        let buf = self.with(|w| {
            call::buf(|out, err| unsafe { sys::pm_wrapper_export_document(w, name.as_ptr(), out, err) })
        })?;
        buf.decode()?.ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no document"))
    }

    /// Imports NDJSON (as [`PolyMongo::export`] writes it) from `input` into `db`. Indexes are
    /// created after each collection's documents. Refused documents fail the call with
    /// `ErrorKind::Write` and a malformed line with `InvalidArgument` (naming the line); the
    /// report is then on the error ([`Error::import_report`]): what came before was written.
    pub fn import<R: io::Read>(
        &self,
        db: &str,
        input: R,
        options: impl Into<Option<ImportOptions>>,
        mut progress: ProgressFn<'_>,
    ) -> Result<ImportReport> {
        let name = call::cstring(db, "database name")?;
        let opts = options_json(options.into())?;
        let mut io = Io { inner: input, error: None };
        let (pcb, pdata) = progress_args(&mut progress);
        let data = &mut io as *mut Io<R> as *mut c_void;
        let result = self.with(|w| {
            with_report(|report, err| unsafe {
                sys::pm_wrapper_import(
                    w,
                    name.as_ptr(),
                    Some(read_trampoline::<R>),
                    data,
                    opt_ptr(&opts),
                    pcb,
                    pdata,
                    report,
                    err,
                )
            })
        });
        io_failure(result, io.error.take(), "reading the import")
    }

    /// Imports an NDJSON file (`"-"`: standard input) into `db`; see [`PolyMongo::import`].
    pub fn import_file(
        &self,
        db: &str,
        path: impl AsRef<Path>,
        options: impl Into<Option<ImportOptions>>,
        mut progress: ProgressFn<'_>,
    ) -> Result<ImportReport> {
        let name = call::cstring(db, "database name")?;
        let path = path_cstring(path.as_ref())?;
        let opts = options_json(options.into())?;
        let (pcb, pdata) = progress_args(&mut progress);
        self.with(|w| {
            with_report(|report, err| unsafe {
                sys::pm_wrapper_import_file(
                    w,
                    name.as_ptr(),
                    path.as_ptr(),
                    opt_ptr(&opts),
                    pcb,
                    pdata,
                    report,
                    err,
                )
            })
        })
    }

    /// Imports a document as [`PolyMongo::export_document`] makes it into `db`.
    pub fn import_document(
        &self,
        db: &str,
        document: &Document,
        options: impl Into<Option<ImportOptions>>,
    ) -> Result<ImportReport> {
        let name = call::cstring(db, "database name")?;
        let doc = Doc::new(document, "import document")?;
        let opts = options_json(options.into())?;
        self.with(|w| {
            with_report(|report, err| unsafe {
                sys::pm_wrapper_import_document(
                    w,
                    name.as_ptr(),
                    doc.ptr(),
                    doc.len(),
                    opt_ptr(&opts),
                    report,
                    err,
                )
            })
        })
    }

    /// Copies database `from` into `to` (which may be served by another pool or cluster),
    /// streaming the export into the import. Same options and report as an import.
    pub fn copy_database(
        &self,
        from: &str,
        to: &str,
        options: impl Into<Option<ImportOptions>>,
        mut progress: ProgressFn<'_>,
    ) -> Result<ImportReport> {
        let from = call::cstring(from, "database name")?;
        let to = call::cstring(to, "database name")?;
        let opts = options_json(options.into())?;
        let (pcb, pdata) = progress_args(&mut progress);
        self.with(|w| {
            with_report(|report, err| unsafe {
                sys::pm_wrapper_copy_database(
                    w,
                    from.as_ptr(),
                    to.as_ptr(),
                    opt_ptr(&opts),
                    pcb,
                    pdata,
                    report,
                    err,
                )
            })
        })
    }

    /// Drops the database (closing its change streams), and forgets which models were
    /// applied there (their indexes are created again on next use).
    pub fn drop_database(&self, db: &str) -> Result<()> {
        let name = call::cstring(db, "database name")?;
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_drop_database(w, name.as_ptr(), err) }))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_and_options_take_the_c_shape() {
        let json = r#"{"database":"d","lines":5,"documents":2,"failures":1,"collections":[{"name":"c","documents":2,"indexes":1,"failures":1,"errors":["E11000"]}],"ok":false}"#;
        let r = ImportReport::parse(json.to_string()).unwrap();
        assert_eq!((r.documents, r.failures, r.stopped), (2, 1, false));
        assert_eq!(r.collections[0].errors, vec!["E11000".to_string()]);
        assert_eq!(r.json, json);
        let o = options_json(Some(ImportOptions::default().batch_size(10u32).stop_on_error(true)))
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(o.to_str().unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"batchSize": 10, "stopOnError": true}));
        assert!(options_json(None).unwrap().is_none());
    }
}
