//! Connection state and ping.
use std::fmt;
use std::time::Duration;

use polymongo_sys as sys;

use crate::call;
use crate::error::Result;
use crate::wrapper::PolyMongo;

/// The state of the shared pool (PolyMongo's getConnectionState).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// coldStart and never used.
    NotInitialized,
    /// The pool is open; no operation has succeeded yet.
    Connecting,
    /// The last operation reached the server.
    Connected,
    /// `close_all` is draining the pool.
    Disconnecting,
    /// Closed, or the last operation could not connect.
    Disconnected,
    /// A state this binding does not know (from a newer library).
    Other(u32),
}

impl State {
    fn from_raw(raw: sys::pm_state) -> State {
        match raw {
            sys::PM_STATE_NOT_INITIALIZED => State::NotInitialized,
            sys::PM_STATE_CONNECTING => State::Connecting,
            sys::PM_STATE_CONNECTED => State::Connected,
            sys::PM_STATE_DISCONNECTING => State::Disconnecting,
            sys::PM_STATE_DISCONNECTED => State::Disconnected,
            other => State::Other(other as u32),
        }
    }

    fn raw(self) -> sys::pm_state {
        match self {
            State::NotInitialized => sys::PM_STATE_NOT_INITIALIZED,
            State::Connecting => sys::PM_STATE_CONNECTING,
            State::Connected => sys::PM_STATE_CONNECTED,
            State::Disconnecting => sys::PM_STATE_DISCONNECTING,
            State::Disconnected => sys::PM_STATE_DISCONNECTED,
            State::Other(raw) => raw as sys::pm_state,
        }
    }

    /// The library's name for the state: "connected", "not initialized", ...
    pub fn name(self) -> String {
        unsafe { call::string_from(sys::pm_state_name(self.raw())) }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl PolyMongo {
    /// The shared pool's state.
    pub fn state(&self) -> Result<State> {
        self.with(|w| Ok(State::from_raw(unsafe { sys::pm_wrapper_state(w) })))
    }

    /// `state() == Connected`.
    pub fn is_connected(&self) -> Result<bool> {
        self.with(|w| Ok(unsafe { sys::pm_wrapper_is_connected(w) } == 1))
    }

    /// Pings `db` (`None`: the default database) through the pool that serves it; returns the
    /// round-trip time.
    pub fn ping(&self, db: Option<&str>) -> Result<Duration> {
        let name = db.map(|d| call::cstring(d, "database name")).transpose()?;
        let mut ms = 0f64;
        self.with(|w| {
            call::ffi(|err| unsafe {
                sys::pm_wrapper_ping(w, name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()), &mut ms, err)
            })
        })?;
        Ok(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
    }
}
