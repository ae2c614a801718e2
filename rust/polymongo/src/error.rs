//! The error type: one `Error` carrying the library's `pm_code` (as [`ErrorKind`]), the server's
//! error code when the server gave one, the message, and, for partially failed writes, the
//! [`WriteResult`] that says what was applied.
use std::ffi::CStr;
use std::fmt;
use std::sync::Arc;

use polymongo_sys as sys;

use crate::result::WriteResult;
use crate::transfer::ImportReport;

/// `Result<T, polymongo::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong: one variant per C `pm_code`, plus [`ErrorKind::Decode`] for a document that
/// could not be deserialised into the caller's Rust type (a Rust-side failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `PM_EINVAL`: an argument or option is invalid (also: a value that cannot be encoded as a
    /// BSON document, or a string with a NUL byte). Nothing was sent.
    InvalidArgument,
    /// `PM_EDBNAME`: a database name breaks MongoDB's rules or is a refused system database.
    InvalidDbName,
    /// `PM_ECONNECT`: no server could be reached, or the connection broke.
    Connect,
    /// `PM_ETIMEOUT`: a bounded wait ran out (pool checkout, socket, maxTimeMS).
    Timeout,
    /// `PM_EAUTH`: authentication failed.
    Auth,
    /// `PM_EDUPKEY`: duplicate key (server codes 11000, 11001, 12582).
    DuplicateKey,
    /// `PM_ESERVER`: any other server error; see [`Error::server_code`].
    Server,
    /// `PM_ECLOSED`: the handle (or the wrapper) is closed.
    Closed,
    /// `PM_ENOTSUP`: the server or the build cannot do this.
    NotSupported,
    /// `PM_EINTERNAL`: a bug or resource exhaustion inside polymongo.
    Internal,
    /// `PM_EWRITE`: some writes of a batch failed; see [`Error::write_result`].
    Write,
    /// `PM_ETHROTTLED`: the database's tenant limits (its rate or its concurrent operations)
    /// refused the operation; nothing was sent. Retryable later ([`ErrorKind::is_retryable`]).
    Throttled,
    /// `PM_ECANCELED`: an operation that completes later never ran (cancelled, or the wrapper
    /// closed while it was queued). Nothing was sent.
    Canceled,
    /// `PM_EMOVING`: the database is moving between clusters and a move's fence held the
    /// write past its bound; nothing was sent. Retryable later.
    Moving,
    /// A document read from the server does not deserialise into the requested Rust type.
    Decode,
    /// A code this version of the binding does not know (from a newer library).
    Other(i32),
}

impl ErrorKind {
    /// The kind for a (negative) `pm_code`.
    pub fn from_code(code: i32) -> ErrorKind {
        match code {
            sys::PM_EINVAL => ErrorKind::InvalidArgument,
            sys::PM_EDBNAME => ErrorKind::InvalidDbName,
            sys::PM_ECONNECT => ErrorKind::Connect,
            sys::PM_ETIMEOUT => ErrorKind::Timeout,
            sys::PM_EAUTH => ErrorKind::Auth,
            sys::PM_EDUPKEY => ErrorKind::DuplicateKey,
            sys::PM_ESERVER => ErrorKind::Server,
            sys::PM_ECLOSED => ErrorKind::Closed,
            sys::PM_ENOTSUP => ErrorKind::NotSupported,
            sys::PM_EINTERNAL => ErrorKind::Internal,
            sys::PM_EWRITE => ErrorKind::Write,
            sys::PM_ETHROTTLED => ErrorKind::Throttled,
            sys::PM_ECANCELED => ErrorKind::Canceled,
            sys::PM_EMOVING => ErrorKind::Moving,
            other => ErrorKind::Other(other),
        }
    }

    /// The C `pm_code` of this kind. [`ErrorKind::Decode`] has none of its own and reports
    /// `PM_EINVAL` (the requested type does not fit the data).
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument | ErrorKind::Decode => sys::PM_EINVAL,
            ErrorKind::InvalidDbName => sys::PM_EDBNAME,
            ErrorKind::Connect => sys::PM_ECONNECT,
            ErrorKind::Timeout => sys::PM_ETIMEOUT,
            ErrorKind::Auth => sys::PM_EAUTH,
            ErrorKind::DuplicateKey => sys::PM_EDUPKEY,
            ErrorKind::Server => sys::PM_ESERVER,
            ErrorKind::Closed => sys::PM_ECLOSED,
            ErrorKind::NotSupported => sys::PM_ENOTSUP,
            ErrorKind::Internal => sys::PM_EINTERNAL,
            ErrorKind::Write => sys::PM_EWRITE,
            ErrorKind::Throttled => sys::PM_ETHROTTLED,
            ErrorKind::Canceled => sys::PM_ECANCELED,
            ErrorKind::Moving => sys::PM_EMOVING,
            ErrorKind::Other(code) => code,
        }
    }

    /// Whether a call that failed with this kind may simply be tried again later: nothing
    /// reached the server (`pm_code_is_retryable`; true for [`ErrorKind::Throttled`]).
    pub fn is_retryable(self) -> bool {
        self != ErrorKind::Decode && unsafe { sys::pm_code_is_retryable(self.code()) } != 0
    }

    /// The constant's name, e.g. `"PM_EDBNAME"` (from the library's `pm_code_name`).
    pub fn name(self) -> &'static str {
        if self == ErrorKind::Decode {
            return "decode";
        }
        // SAFETY: pm_code_name returns a pointer to a static string for any int.
        let p = unsafe { sys::pm_code_name(self.code()) };
        if p.is_null() {
            return "PM_E?";
        }
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("PM_E?")
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed polymongo call.
///
/// `Error` is `Send + Sync + 'static`, so it works with `?` into `Box<dyn Error + Send + Sync>`
/// and error-handling crates.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    server_code: i32,
    message: String,
    result: Option<WriteResult>,
    report: Option<Arc<ImportReport>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, server_code: 0, message: message.into(), result: None, report: None, source: None }
    }

    /// From the C out-parameter after a call returned `rc < 0`.
    pub(crate) fn from_pm(rc: i32, err: &sys::pm_error) -> Error {
        let bytes: &[u8] =
            // SAFETY: c_char and u8 have the same layout; the array is fully initialised.
            unsafe { std::slice::from_raw_parts(err.message.as_ptr().cast(), err.message.len()) };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let mut message = String::from_utf8_lossy(&bytes[..end]).into_owned();
        // The return value is authoritative; the struct should agree with it.
        let code = if err.code < 0 { err.code } else { rc };
        if message.is_empty() {
            message = format!("polymongo call failed with {}", ErrorKind::from_code(code).name());
        }
        Error {
            kind: ErrorKind::from_code(code),
            server_code: err.server_code,
            message,
            result: None,
            report: None,
            source: None,
        }
    }

    pub(crate) fn closed(what: &str) -> Error {
        Error::new(ErrorKind::Closed, format!("this {what} handle is closed"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_result(mut self, result: Option<WriteResult>) -> Error {
        self.result = result;
        self
    }

    pub(crate) fn with_report(mut self, report: Option<ImportReport>) -> Error {
        self.report = report.map(Arc::new);
        self
    }

    /// For an import or copy that failed part-way (`Write`: documents refused;
    /// `InvalidArgument`: a malformed line): what was written before.
    pub fn import_report(&self) -> Option<&ImportReport> {
        self.report.as_deref()
    }

    /// The kind of failure (the C `pm_code`).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The raw negative `pm_code`.
    pub fn code(&self) -> i32 {
        self.kind.code()
    }

    /// The server's error code when the server gave one (e.g. 11000), else 0.
    pub fn server_code(&self) -> i32 {
        self.server_code
    }

    /// The library's message (never contains credentials).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For a write that partly failed (`Write`, or `DuplicateKey` from a batch): what was
    /// applied, and the per-operation write errors with their indexes.
    pub fn write_result(&self) -> Option<&WriteResult> {
        self.result.as_ref()
    }

    /// Shorthand for `kind() == ErrorKind::DuplicateKey`.
    pub fn is_duplicate_key(&self) -> bool {
        self.kind == ErrorKind::DuplicateKey
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.message, self.kind.name())?;
        if self.server_code != 0 {
            write!(f, ", server code {}", self.server_code)?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("server_code", &self.server_code).field("message", &self.message);
        if let Some(r) = &self.result {
            d.field("write_result", r);
        }
        if let Some(r) = &self.report {
            d.field("import_report", r);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_codes() {
        for code in -13..=-1 {
            let kind = ErrorKind::from_code(code);
            assert!(!matches!(kind, ErrorKind::Other(_)), "{code}");
            assert_eq!(kind.code(), code);
            assert!(kind.name().starts_with("PM_E"), "{}", kind.name());
        }
        assert_eq!(ErrorKind::from_code(-99), ErrorKind::Other(-99));
        assert_eq!(ErrorKind::DuplicateKey.name(), "PM_EDUPKEY");
        assert!(ErrorKind::Throttled.is_retryable() && !ErrorKind::Timeout.is_retryable());
    }

    #[test]
    fn reads_the_c_error_struct() {
        let mut raw = sys::pm_error { code: sys::PM_EDUPKEY, server_code: 11000, ..Default::default() };
        for (i, b) in b"E11000 duplicate key".iter().enumerate() {
            raw.message[i] = *b as _;
        }
        let e = Error::from_pm(sys::PM_EDUPKEY, &raw);
        assert_eq!(e.kind(), ErrorKind::DuplicateKey);
        assert_eq!(e.server_code(), 11000);
        assert_eq!(e.message(), "E11000 duplicate key");
        assert_eq!(e.to_string(), "E11000 duplicate key (PM_EDUPKEY, server code 11000)");
    }

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<Error>();
    }
}
