//! The plumbing every binding function shares (the git2-rs `call.rs` role): running a C call
//! with an error out-parameter, turning its return code into `Result`, resuming parked panics,
//! and moving documents across the boundary as BSON bytes.
//!
//! Adding a C function to the binding is mechanical: encode the inputs with [`Doc`] /
//! [`cstring`], run the call inside [`ffi`] (or [`write`] / [`cursor`] / [`buf`] for the
//! usual out-parameters), decode the output.
use std::ffi::{c_int, c_void, CString};
use std::ptr;

use bson::RawDocument;
use serde::de::DeserializeOwned;
use serde::Serialize;

use polymongo_sys as sys;

use crate::error::{Error, ErrorKind, Result};
use crate::result::WriteResult;

/// Runs one C call with a fresh `pm_error`; `rc < 0` becomes `Err`. Returns the non-negative rc.
pub(crate) fn ffi(f: impl FnOnce(*mut sys::pm_error) -> c_int) -> Result<c_int> {
    let mut err = sys::pm_error::default();
    let rc = f(&mut err);
    crate::panic::check();
    if rc < 0 {
        Err(Error::from_pm(rc, &err))
    } else {
        Ok(rc)
    }
}

/// A write call with a `pm_result **out`: the result is returned even when the call failed
/// part-way (`PM_EWRITE`, `PM_EDUPKEY`), attached to the error.
pub(crate) fn write(
    f: impl FnOnce(*mut *mut sys::pm_result, *mut sys::pm_error) -> c_int,
) -> Result<WriteResult> {
    let mut out: *mut sys::pm_result = ptr::null_mut();
    let mut err = sys::pm_error::default();
    let rc = f(&mut out, &mut err);
    // Take ownership first, so that the result is freed even if a parked panic resumes.
    let result = (!out.is_null()).then(|| WriteResult::from_raw(out));
    crate::panic::check();
    if rc < 0 {
        return Err(Error::from_pm(rc, &err).with_result(result));
    }
    result.ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no write result"))
}

/// A call with a `T **out` constructor parameter.
pub(crate) fn out_ptr<T>(f: impl FnOnce(*mut *mut T, *mut sys::pm_error) -> c_int) -> Result<*mut T> {
    let mut out: *mut T = ptr::null_mut();
    ffi(|err| f(&mut out, err))?;
    if out.is_null() {
        return Err(Error::new(ErrorKind::Internal, "the library returned no handle"));
    }
    Ok(out)
}

/// An owned `pm_buf`, released with `pm_buf_free`.
pub(crate) struct Buf(sys::pm_buf);

impl Buf {
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        if self.0.data.is_null() {
            None
        } else {
            // SAFETY: the library gave us len bytes at data, owned until pm_buf_free.
            Some(unsafe { std::slice::from_raw_parts(self.0.data, self.0.len) })
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        self.bytes().map(decode).transpose()
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: NULL-safe; zeroes the struct.
        unsafe { sys::pm_buf_free(&mut self.0) }
    }
}

/// A call with a `pm_buf *out` parameter.
pub(crate) fn buf(f: impl FnOnce(*mut sys::pm_buf, *mut sys::pm_error) -> c_int) -> Result<Buf> {
    let mut out = Buf(sys::pm_buf::default());
    ffi(|err| f(&mut out.0, err))?;
    Ok(out)
}

/// A BSON document ready to pass as `(const void *doc, size_t len)`; `Doc::NONE` is NULL.
pub(crate) struct Doc(Option<Vec<u8>>);

impl Doc {
    pub(crate) const NONE: Doc = Doc(None);

    /// Encodes a value that must serialise to a document.
    pub(crate) fn new(value: &impl Serialize, what: &str) -> Result<Doc> {
        encode(value, what).map(|b| Doc(Some(b)))
    }

    /// Encodes options: `None` or an empty document become NULL ("no options").
    pub(crate) fn opts<O: Serialize>(value: Option<O>) -> Result<Doc> {
        match value {
            None => Ok(Doc::NONE),
            Some(v) => {
                let bytes = encode(&v, "options")?;
                Ok(Doc(if bytes.len() <= 5 { None } else { Some(bytes) }))
            }
        }
    }

    pub(crate) fn ptr(&self) -> *const c_void {
        self.0.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, Vec::len)
    }
}

/// Serialises `value` as BSON bytes; anything but a document (a number, an array, a string)
/// is refused with `InvalidArgument`.
pub(crate) fn encode(value: &impl Serialize, what: &str) -> Result<Vec<u8>> {
    bson::to_vec(value).map_err(|e| {
        Error::invalid(format!("the {what} cannot be encoded as a BSON document: {e}")).with_source(e)
    })
}

/// Deserialises BSON bytes from the library into `T`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bson::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Decode,
            format!("a document does not deserialise into {}: {e}", std::any::type_name::<T>()),
        )
        .with_source(e)
    })
}

/// Borrows BSON bytes from the library as a raw document (no copy).
pub(crate) fn raw_doc(bytes: &[u8]) -> Result<&RawDocument> {
    RawDocument::from_bytes(bytes).map_err(|e| {
        Error::new(ErrorKind::Internal, format!("the library returned invalid BSON: {e}")).with_source(e)
    })
}

/// A Rust string as a C string; an interior NUL is `InvalidArgument`.
pub(crate) fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("the {what} contains a NUL byte")))
}

/// Copies a borrowed C string (NULL becomes an empty string).
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn string_from(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Takes a string the library allocated (freed with `pm_free`).
///
/// # Safety
/// `p` is NULL or a string returned by polymongo for the caller to free.
pub(crate) unsafe fn take_string(p: *mut std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { string_from(p) };
    unsafe { sys::pm_free(p.cast()) };
    Some(s)
}
