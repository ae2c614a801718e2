//! Statistics: pools, databases, usage, Prometheus text. The library returns JSON; these types
//! deserialise it (every field defaults when absent, so a newer library's additions or
//! omissions never break decoding). The raw JSON is available too (`stats_json`).
use std::ffi::c_char;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use polymongo_sys as sys;

use crate::call;
use crate::error::{Error, ErrorKind, Result};
use crate::wrapper::PolyMongo;

/// General statistics: every pool, the shared pool's databases, totals and state.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stats {
    pub pools: Vec<PoolStats>,
    pub shared_databases: Vec<String>,
    pub totals: Totals,
    pub state: String,
}

/// One pool (shared, or dedicated to a database or a routing rule).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolStats {
    pub name: String,
    /// The URI, credentials redacted.
    pub uri: String,
    pub dedicated: bool,
    pub state: String,
    pub open: bool,
    pub ready: bool,
    pub max_size: u32,
    pub min_size: u32,
    pub size_limit: u32,
    pub connections: ConnectionStats,
    pub pinned: PinnedStats,
    /// Connection and pool failures.
    pub errors: u64,
    pub last_error: Option<serde_json::Value>,
    /// Operations the server refused (duplicate keys, write errors, other server errors).
    pub server_errors: u64,
    pub last_server_error: Option<serde_json::Value>,
    pub response_time_ms: ResponseTimes,
    pub created_ms: i64,
    pub last_used_ms: i64,
    pub databases: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectionStats {
    pub open: u32,
    pub in_use: u32,
    pub idle: u32,
    pub waiting: u32,
}

/// Connections pinned by open cursors, sessions and change streams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PinnedStats {
    pub cursors: u32,
    pub sessions: u32,
    pub streams: u32,
}

/// Command response times from the driver's command monitoring (percentiles over the last
/// 1,024 commands).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseTimes {
    pub commands: u64,
    pub failed: u64,
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Totals {
    pub pools: u32,
    pub open_pools: u32,
    pub connections: u32,
    pub in_use: u32,
    pub waiting: u32,
    pub errors: u64,
    pub server_errors: u64,
    pub evictions: u64,
}

/// One database, from the server's dbStats and collStats.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DbStats {
    pub db: String,
    pub size_mb: f64,
    pub storage_size_mb: f64,
    pub num_collections: u32,
    pub collections: Vec<CollectionStats>,
    pub last_used_ms: Option<i64>,
    /// The pool that serves the database.
    pub pool: Option<PoolStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CollectionStats {
    pub name: String,
    pub documents: u64,
    pub size_mb: f64,
    pub indexes: u32,
}

/// An entry of [`PolyMongo::list_databases`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DatabaseInfo {
    pub name: String,
    pub size_mb: f64,
    pub empty: bool,
}

/// Usage of one database through this wrapper.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DbUsage {
    pub db: String,
    pub operations: u64,
    pub errors: u64,
    pub last_used_ms: i64,
    pub mean_latency_ms: f64,
    /// Operations its tenant limits refused.
    pub throttled: u64,
    /// Operations that waited: for its tenant limits, or in a saturated pool's queue.
    pub queued: u64,
}

fn parse<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(ErrorKind::Decode, format!("{what}: unexpected JSON from the library: {e}")).with_source(e)
    })
}

impl PolyMongo {
    /// Runs a `char **out` call and takes the string.
    pub(crate) fn text(
        &self,
        f: impl FnOnce(*mut sys::pm_wrapper, *mut *mut c_char, *mut sys::pm_error) -> i32,
    ) -> Result<String> {
        let mut out: *mut c_char = std::ptr::null_mut();
        self.with(|w| call::ffi(|err| f(w, &mut out, err)))?;
        Ok(unsafe { call::take_string(out) }.unwrap_or_default())
    }

    /// General statistics as the library's JSON text.
    pub fn stats_json(&self) -> Result<String> {
        self.text(|w, out, err| unsafe { sys::pm_wrapper_stats(w, out, err) })
    }

    /// General statistics: pools, connections, pinned connections, response times, totals.
    pub fn stats(&self) -> Result<Stats> {
        parse(&self.stats_json()?, "stats")
    }

    /// One database's statistics (`None`: the default database), through the pool that
    /// serves it (connecting if needed).
    pub fn db_stats(&self, db: Option<&str>) -> Result<DbStats> {
        let name = db.map(|d| call::cstring(d, "database name")).transpose()?;
        let p = name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
        parse(&self.text(|w, out, err| unsafe { sys::pm_wrapper_db_stats(w, p, out, err) })?, "db_stats")
    }

    /// The server's databases.
    pub fn list_databases(&self) -> Result<Vec<DatabaseInfo>> {
        parse(
            &self.text(|w, out, err| unsafe { sys::pm_wrapper_list_databases(w, out, err) })?,
            "list_databases",
        )
    }

    /// Usage analytics, most used first; `top_n == 0` lists every database.
    pub fn usage(&self, top_n: usize) -> Result<Vec<DbUsage>> {
        parse(&self.text(|w, out, err| unsafe { sys::pm_wrapper_usage(w, top_n, out, err) })?, "usage")
    }

    /// The metrics in the Prometheus text exposition format (0.0.4).
    pub fn prometheus(&self) -> Result<String> {
        self.text(|w, out, err| unsafe { sys::pm_wrapper_prometheus(w, out, err) })
    }

    /// Where `db` routes and why, as the library's JSON (`{db, pool, cluster, reason: "exact" |
    /// "rule" | "shared", why, rule, ...}`). No I/O.
    pub fn explain_route_json(&self, db: &str) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        self.text(|w, out, err| unsafe { sys::pm_wrapper_explain_route(w, name.as_ptr(), out, err) })
    }

    /// Pauses a database, or every database of a pool (by its name): operations wait before
    /// checking out a connection, until [`resume`](Self::resume) or `pauseTimeoutMS`. False
    /// when it was paused already.
    pub fn pause(&self, name: &str) -> Result<bool> {
        let n = call::cstring(name, "name")?;
        Ok(self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_pause(w, n.as_ptr(), err) }))? == 1)
    }

    /// Ends a pause; false when `name` was not paused.
    pub fn resume(&self, name: &str) -> Result<bool> {
        let n = call::cstring(name, "name")?;
        Ok(self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_resume(w, n.as_ptr(), err) }))? == 1)
    }

    /// Drains and closes the pool of that name (its next use reopens it); a timeout error when
    /// connections were still out after `timeout_ms`.
    pub fn drain_pool(&self, pool: &str, timeout_ms: i64) -> Result<()> {
        let n = call::cstring(pool, "pool")?;
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_drain_pool(w, n.as_ptr(), timeout_ms, err) }))?;
        Ok(())
    }

    /// Replaces the routing rules with `routes_json`, a JSON array of rules.
    pub fn reload_routes(&self, routes_json: &str) -> Result<()> {
        let r = call::cstring(routes_json, "routes")?;
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_reload_routes(w, r.as_ptr(), err) }))?;
        Ok(())
    }

    /// The admin endpoint's base URL, or "" when the admin option is not set.
    pub fn admin_url(&self) -> Result<String> {
        self.text(|w, out, err| unsafe { sys::pm_wrapper_admin_url(w, out, err) })
    }
}
