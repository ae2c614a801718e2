//! The tenant fleet (`fleet.h`, docs/fleet.md): the shared tenant directory of the `directory`
//! option, placement, online moves and fleet schema operations. Thin: entries and reports are
//! the library's JSON text.
use std::ffi::c_char;

use polymongo_sys as sys;

use crate::call;
use crate::error::Result;
use crate::model::Model;
use crate::wrapper::PolyMongo;

impl PolyMongo {
    /// The directory's entries, read from the catalog now: a JSON array of
    /// `{db, cluster, version, seq, placedBy, options?}`.
    pub fn tenants_json(&self) -> Result<String> {
        self.text(|w, out, err| unsafe { sys::pm_wrapper_tenants(w, out, err) })
    }

    /// One entry of the directory, or `null`.
    pub fn tenant_json(&self, db: &str) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        self.text(|w, out, err| unsafe { sys::pm_wrapper_tenant(w, name.as_ptr(), out, err) })
    }

    /// Places a database with no entry on `cluster` (`None`: by the placement policy); the entry
    /// the catalog holds afterwards (an existing one wins).
    pub fn place_tenant_json(&self, db: &str, cluster: Option<&str>) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        let c = cluster.map(|c| call::cstring(c, "cluster")).transpose()?;
        let cp = c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        self.text(|w, out, err| unsafe { sys::pm_wrapper_place_tenant(w, name.as_ptr(), cp, out, err) })
    }

    /// Moves a tenant to the cluster `to`, online; the report. Writes to it meanwhile wait,
    /// then fail with `ErrorKind::Moving` (retryable).
    pub fn move_tenant_json(&self, db: &str, to: &str) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        let t = call::cstring(to, "cluster")?;
        self.text(|w, out, err| unsafe { sys::pm_wrapper_move_tenant(w, name.as_ptr(), t.as_ptr(), out, err) })
    }

    /// Moves a tenant back to the cluster its last move left; the report.
    pub fn reverse_move_json(&self, db: &str) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        self.text(|w, out, err| unsafe { sys::pm_wrapper_reverse_move(w, name.as_ptr(), out, err) })
    }

    /// Drops the copy a move left on the source; the entry afterwards.
    pub fn complete_move_json(&self, db: &str) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        self.text(|w, out, err| unsafe { sys::pm_wrapper_complete_move(w, name.as_ptr(), out, err) })
    }

    /// Rolls back a move in progress; the entry afterwards.
    pub fn abort_move_json(&self, db: &str) -> Result<String> {
        let name = call::cstring(db, "database name")?;
        self.text(|w, out, err| unsafe { sys::pm_wrapper_abort_move(w, name.as_ptr(), out, err) })
    }
}

impl Model {
    fn fleet(
        &self,
        target_json: Option<&str>,
        f: unsafe extern "C" fn(*mut sys::pm_model, *const c_char, *mut *mut c_char, *mut sys::pm_error) -> i32,
    ) -> Result<String> {
        let target = target_json.map(|t| call::cstring(t, "fleet target")).transpose()?;
        let tp = target.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
        let mut out: *mut c_char = std::ptr::null_mut();
        let outcome = self.with(|m| call::ffi(|err| unsafe { f(m, tp, &mut out, err) }));
        let text = unsafe { call::take_string(out) }.unwrap_or_default();
        outcome.map(|_| text)
    }

    /// Applies the model's indexes and validator over the fleet (`target_json`: `{match,
    /// tenants, concurrency, job}`; `None`: every database of the directory's clusters);
    /// resumable. The report as JSON; `ErrorKind::Write` when some databases failed.
    pub fn fleet_sync_json(&self, target_json: Option<&str>) -> Result<String> {
        self.fleet(target_json, sys::pm_model_fleet_sync)
    }

    /// The databases whose indexes or validator differ from the model, and how (JSON).
    pub fn fleet_drift_json(&self, target_json: Option<&str>) -> Result<String> {
        self.fleet(target_json, sys::pm_model_fleet_drift)
    }
}
