//! Extended JSON conversions done by the library (libbson), for logs, the CLI and interop.
//! (The `bson` crate can do the same in Rust: `Bson::into_relaxed_extjson` and friends.)
use std::ffi::c_char;

use bson::Document;

use polymongo_sys as sys;

use crate::call::{self, Doc};
use crate::error::{Error, ErrorKind, Result};

/// Extended JSON flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonMode {
    /// Readable: numbers as numbers, dates as ISO-8601 when in range.
    #[default]
    Relaxed,
    /// Type-exact: every BSON type round-trips.
    Canonical,
}

impl JsonMode {
    pub(crate) fn raw(self) -> sys::pm_json_mode {
        match self {
            JsonMode::Relaxed => sys::PM_JSON_RELAXED,
            JsonMode::Canonical => sys::PM_JSON_CANONICAL,
        }
    }
}

/// A document as Extended JSON text.
pub fn to_json(doc: &Document, mode: JsonMode) -> Result<String> {
    let bytes = Doc::new(doc, "document")?;
    // SAFETY: valid BSON bytes; the returned string is ours to free.
    unsafe { call::take_string(sys::pm_bson_to_json(bytes.ptr(), bytes.len(), mode.raw())) }
        .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "not a valid BSON document"))
}

/// Parses Extended JSON (either mode) into a document.
pub fn from_json(json: &str) -> Result<Document> {
    let text = call::cstring(json, "JSON text")?;
    let buf =
        call::buf(|out, err| unsafe { sys::pm_json_to_bson(text.as_ptr() as *const c_char, out, err) })?;
    buf.decode()?.ok_or_else(|| Error::new(ErrorKind::Internal, "no document returned"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Bson};

    #[test]
    fn extended_json_round_trips_through_the_library() {
        let d = doc! {"i": 1_i32, "l": 2_i64, "s": "x", "a": [true, Bson::Null]};
        let canonical = to_json(&d, JsonMode::Canonical).unwrap();
        assert!(canonical.contains("$numberLong"), "{canonical}");
        assert_eq!(from_json(&canonical).unwrap(), d);
        assert!(!to_json(&d, JsonMode::Relaxed).unwrap().contains("$numberInt"));
        assert_eq!(from_json("{not json").unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(from_json("{\"a\": \"b\0\"}").unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
