//! Iterating query results.
use std::ffi::c_char;
use std::fmt;
use std::marker::PhantomData;

use bson::{Document, RawDocument};
use serde::de::DeserializeOwned;

use polymongo_sys as sys;

use crate::call;
use crate::error::{Error, Result};
use crate::handle::Owned;
use crate::json::JsonMode;

/// The results of `find`, `aggregate` or `list_indexes`: an [`Iterator`] of
/// `Result<T>`, where `T` is [`Document`] or any `DeserializeOwned` type
/// (see [`Cursor::with_type`], [`crate::Db::typed`]).
///
/// A cursor holds one pooled connection from its first batch until it is exhausted, closed or
/// dropped; dropping it early kills the server-side cursor and returns the connection. It keeps
/// its database, model and wrapper alive.
///
/// Thread-safety: `Send` (move it to another thread) but not `Sync`: the C cursor is used by
/// one thread at a time, which `&mut self` on every call guarantees. A cursor of a
/// [`crate::SessionDb`] (`S = &'s Session`, alias [`SessionCursor`]) reads on the session's
/// connection: it is not `Send` either and cannot outlive the session.
pub struct Cursor<T = Document, S = ()> {
    raw: Owned<sys::pm_cursor>,
    state: State,
    _type: PhantomData<fn() -> T>,
    _scope: PhantomData<S>,
}

/// The cursor of a query on a [`crate::SessionDb`].
pub type SessionCursor<'s, T = Document> = Cursor<T, &'s crate::Session>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Exhausted,
    /// Closed by [`Cursor::close`]; `reported` once the iterator has yielded the error.
    Closed {
        reported: bool,
    },
}

impl<T, S> Cursor<T, S> {
    pub(crate) fn from_raw(ptr: *mut sys::pm_cursor) -> Self {
        Cursor { raw: Owned::new(ptr), state: State::Open, _type: PhantomData, _scope: PhantomData }
    }

    /// The same cursor, deserialising its documents into `U`.
    pub fn with_type<U>(self) -> Cursor<U, S> {
        Cursor { raw: self.raw, state: self.state, _type: PhantomData, _scope: PhantomData }
    }

    fn live(&mut self) -> Result<Option<*mut sys::pm_cursor>> {
        match self.state {
            State::Open => Ok(Some(self.raw.as_ptr())),
            State::Exhausted => Ok(None),
            State::Closed { .. } => Err(Error::closed("Cursor")),
        }
    }

    /// The next document without copying it: the bytes stay in the library's buffer, borrowed
    /// until the next call on this cursor (which the borrow checker enforces).
    pub fn next_raw(&mut self) -> Result<Option<&RawDocument>> {
        let Some(raw) = self.live()? else { return Ok(None) };
        let (mut data, mut len) = (std::ptr::null(), 0usize);
        let rc = call::ffi(|err| unsafe { sys::pm_cursor_next(raw, &mut data, &mut len, err) })?;
        if rc == 0 || data.is_null() {
            self.state = State::Exhausted;
            return Ok(None);
        }
        // SAFETY: borrowed bytes valid until the next call on this cursor; tied to &mut self.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        call::raw_doc(bytes).map(Some)
    }

    /// The next document as Extended JSON.
    pub fn next_json(&mut self, mode: JsonMode) -> Result<Option<String>> {
        let Some(raw) = self.live()? else { return Ok(None) };
        let mut json: *const c_char = std::ptr::null();
        let rc = call::ffi(|err| unsafe { sys::pm_cursor_next_json(raw, mode.raw(), &mut json, err) })?;
        if rc == 0 || json.is_null() {
            self.state = State::Exhausted;
            return Ok(None);
        }
        Ok(Some(unsafe { call::string_from(json) }))
    }

    /// The server-side cursor id: 0 once the server has no more results for it (or closed).
    pub fn id(&self) -> i64 {
        unsafe { sys::pm_cursor_id(self.raw.as_ptr()) }
    }

    /// Releases the cursor now: kills the server-side cursor if it is still open and returns
    /// its connection to the pool. Later calls fail with `ErrorKind::Closed` (the iterator
    /// yields that error once, then ends). Dropping the cursor does the same.
    pub fn close(&mut self) {
        self.raw.close();
        if !matches!(self.state, State::Closed { .. }) {
            self.state = State::Closed { reported: false };
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed { .. })
    }
}

impl<T: DeserializeOwned, S> Cursor<T, S> {
    /// The next document deserialised into `T`; `Ok(None)` at the end.
    pub fn try_next(&mut self) -> Result<Option<T>> {
        match self.next_raw()? {
            None => Ok(None),
            Some(doc) => call::decode(doc.as_bytes()).map(Some),
        }
    }
}

impl<T: DeserializeOwned, S> Iterator for Cursor<T, S> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let State::Closed { reported } = &mut self.state {
            // Yield the error once, then end, so that `filter_map(Result::ok)` cannot spin.
            return if std::mem::replace(reported, true) { None } else { Some(Err(Error::closed("Cursor"))) };
        }
        self.try_next().transpose()
    }
}

impl<T, S> fmt::Debug for Cursor<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("state", &self.state)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_send_but_not_sync() {
        fn send<T: Send>() {}
        send::<Cursor>();
        send::<Cursor<std::rc::Rc<u8>>>(); // the item type does not matter: it is produced, not held
                                           // Compiles only while Cursor is not Sync: with Sync, the call below would be ambiguous.
        trait AmbiguousIfSync<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSync<()> for T {}
        impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
        <Cursor as AmbiguousIfSync<_>>::check();
    }
}
