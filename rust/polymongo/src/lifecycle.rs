//! Dedicated pools at run time, routing rules, closing pools, signals.
use std::ffi::{c_char, CString};
use std::time::Duration;

use serde::Serialize;

use polymongo_sys as sys;

use crate::call;
use crate::error::Result;
use crate::options::{DbSpecificOptions, TenantLimits};
use crate::wrapper::PolyMongo;

/// A dedicated pool's specification for [`PolyMongo::set_db`] / [`PolyMongo::connect_db`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSpec {
    /// Another cluster for these databases; default: the wrapper's URI.
    #[serde(rename = "mongoURI", skip_serializing_if = "Option::is_none")]
    pub mongo_uri: Option<String>,
    /// Connections of the pool (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// true (default): no socket until first use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
    /// Close the pool after `ttl` ms unused (the next use reopens it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_close: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

impl PoolSpec {
    pub fn mongo_uri(mut self, uri: impl Into<String>) -> Self {
        self.mongo_uri = Some(uri.into());
        self
    }
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }
    pub fn cold_start(mut self, cold: bool) -> Self {
        self.cold_start = Some(cold);
        self
    }
    pub fn auto_close(mut self, auto: bool) -> Self {
        self.auto_close = Some(auto);
        self
    }
    pub fn ttl(mut self, ms: u64) -> Self {
        self.ttl = Some(ms);
        self
    }
}

/// A routing rule: databases whose names match the glob `pattern` (`*`, `?`, `[...]`) get
/// their own pools, or with `shared_pool` one pool for all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    #[serde(rename = "match")]
    pub pattern: String,
    #[serde(rename = "mongoURI", skip_serializing_if = "Option::is_none")]
    pub mongo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<DbSpecificOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_pool: Option<bool>,
}

impl Route {
    pub fn new(pattern: impl Into<String>) -> Self {
        Route { pattern: pattern.into(), ..Route::default() }
    }
    pub fn mongo_uri(mut self, uri: impl Into<String>) -> Self {
        self.mongo_uri = Some(uri.into());
        self
    }
    pub fn options(mut self, options: DbSpecificOptions) -> Self {
        self.options = Some(options);
        self
    }
    pub fn shared_pool(mut self, shared: bool) -> Self {
        self.shared_pool = Some(shared);
        self
    }
}

fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

type SetDbFn = unsafe extern "C" fn(
    *mut sys::pm_wrapper,
    *const *const c_char,
    usize,
    *const c_char,
    *mut sys::pm_error,
) -> std::ffi::c_int;

impl PolyMongo {
    fn set_db_with(&self, f: SetDbFn, names: &[&str], spec: Option<&PoolSpec>) -> Result<()> {
        let names =
            names.iter().map(|n| call::cstring(n, "database name")).collect::<Result<Vec<CString>>>()?;
        let ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let spec =
            spec.map(|s| call::cstring(&serde_json::to_string(s).expect("JSON"), "pool spec")).transpose()?;
        let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        self.with(|w| call::ffi(|err| unsafe { f(w, ptrs.as_ptr(), ptrs.len(), spec_ptr, err) }))?;
        Ok(())
    }

    /// Gives each named database a dedicated pool (PolyMongo's `scale.setDB`); a database that
    /// already had one gets a new one (the old one finishes what it has out).
    pub fn set_db(&self, names: &[&str], spec: Option<&PoolSpec>) -> Result<()> {
        self.set_db_with(sys::pm_wrapper_set_db, names, spec)
    }

    /// Like [`PolyMongo::set_db`], and connects now whatever `cold_start` says
    /// (`scale.connectDB`).
    pub fn connect_db(&self, names: &[&str], spec: Option<&PoolSpec>) -> Result<()> {
        self.set_db_with(sys::pm_wrapper_connect_db, names, spec)
    }

    /// Adds a routing rule (after the `routes` option's rules; first match wins, after
    /// databases with their own pool).
    pub fn add_route(&self, route: &Route) -> Result<()> {
        let json = call::cstring(&serde_json::to_string(route).expect("JSON"), "route")?;
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_add_route(w, json.as_ptr(), err) }))?;
        Ok(())
    }

    /// Sets the tenant limits of database `db` at run time, or with `db` `None` every
    /// database's default (see docs/fairness.md). `limits` `None` removes the database's own
    /// limits (for the default: no limits). An operation over its limits fails with
    /// [`ErrorKind::Throttled`](crate::ErrorKind::Throttled), at once or after `max_wait_ms`.
    pub fn set_tenant_limits(&self, db: Option<&str>, limits: Option<&TenantLimits>) -> Result<()> {
        let db = db.map(|d| call::cstring(d, "db")).transpose()?;
        let json = limits
            .map(|l| call::cstring(&serde_json::to_string(l).expect("JSON"), "tenant limits"))
            .transpose()?;
        let db_ptr = db.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
        let json_ptr = json.as_ref().map_or(std::ptr::null(), |j| j.as_ptr());
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_set_tenant_limits(w, db_ptr, json_ptr, err) }))?;
        Ok(())
    }

    /// Closes every pool, letting operations in flight finish (waits up to `timeout` for each
    /// pool's connections; `Timeout` when some were still out). The wrapper stays usable: the
    /// next operation reopens what it needs.
    pub fn close_all(&self, timeout: Duration) -> Result<()> {
        let ms = millis(timeout);
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_close_all(w, ms, err) }))?;
        Ok(())
    }

    /// Closes every pool now: waiting operations and cursors on them fail with `Closed` at
    /// their next step. The wrapper stays usable.
    pub fn force_close_all(&self) -> Result<()> {
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_force_close_all(w, err) }))?;
        Ok(())
    }

    /// Number of pools (shared and dedicated) open now.
    pub fn open_pools(&self) -> Result<usize> {
        self.with(|w| Ok(unsafe { sys::pm_wrapper_open_pools(w) }))
    }

    /// How many dedicated pools were closed to stay within `maxOpenPools`.
    pub fn evictions(&self) -> Result<u64> {
        self.with(|w| Ok(unsafe { sys::pm_wrapper_evictions(w) }))
    }

    /// Opt-in graceful shutdown: on SIGINT or SIGTERM, closes the pools (waiting up to
    /// `timeout`), then restores the previous handler and re-raises the signal.
    pub fn handle_signals(&self, timeout: Duration) -> Result<()> {
        let ms = millis(timeout);
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_handle_signals(w, ms, err) }))?;
        Ok(())
    }
}
