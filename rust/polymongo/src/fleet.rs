//! The tenant fleet (`fleet.h`, docs/fleet.md): the shared tenant directory of the `directory`
//! option, placement, online moves and fleet schema operations. Thin: entries and reports are
//! the library's JSON text.
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use polymongo_sys as sys;

use crate::call;
use crate::error::Result;
use crate::model::Model;
use crate::wrapper::PolyMongo;

/// A cluster as a placement function sees it: its name and the number of tenants the catalog
/// puts there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ClusterLoad {
    pub name: String,
    pub tenants: i64,
}

/// The function of the `callback` placement policy (see [`PolyMongo::set_placement`]).
pub(crate) type PlacementFn = dyn Fn(&str, &[ClusterLoad]) -> Option<String> + Send + Sync;

/// The `pm_placement_fn` trampoline: `user_data` is a `*const Box<PlacementFn>` the wrapper
/// keeps alive. A panic fails the placement (it may run on a library thread: nothing to resume
/// it in) and is reported on standard error.
unsafe extern "C" fn placement_trampoline(
    db: *const c_char,
    clusters_json: *const c_char,
    cluster: *mut c_char,
    cap: usize,
    user_data: *mut c_void,
) -> c_int {
    let choose = unsafe { &*(user_data as *const Box<PlacementFn>) };
    let db = unsafe { CStr::from_ptr(db) }.to_string_lossy();
    let clusters: Vec<ClusterLoad> = match serde_json::from_slice(unsafe { CStr::from_ptr(clusters_json) }.to_bytes()) {
        Ok(c) => c,
        Err(_) => return 1,
    };
    let name = match crate::panic::catch(|| choose(&db, &clusters)) {
        Ok(Some(name)) => name,
        Ok(None) => return 1,
        Err(_) => {
            eprintln!("polymongo: the placement function panicked; the placement fails");
            return 1;
        }
    };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() + 1 > cap || bytes.contains(&0) {
        return 1;
    }
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), cluster as *mut u8, bytes.len());
        *cluster.add(bytes.len()) = 0;
    }
    0
}

impl PolyMongo {
    /// Sets the function of the `callback` placement policy (`directory.placement.policy`):
    /// `choose(db, clusters)` gets the database with no entry and the directory's clusters in
    /// their configured order, and returns one cluster's name. `None`, a name that is not one of
    /// the clusters, or a panic fails the placement, and the operation that caused it, with
    /// `ErrorKind::InvalidArgument`. It runs on the thread of the operation that meets the
    /// database (a library thread for the async forms), possibly on several at once.
    pub fn set_placement<F>(&self, choose: F) -> Result<()>
    where
        F: Fn(&str, &[ClusterLoad]) -> Option<String> + Send + Sync + 'static,
    {
        let boxed: Arc<Box<PlacementFn>> = Arc::new(Box::new(choose));
        let user_data = &*boxed as *const Box<PlacementFn> as *mut c_void;
        self.with(|w| {
            call::ffi(|err| unsafe { sys::pm_wrapper_set_placement(w, Some(placement_trampoline), user_data, err) })
        })?;
        // Kept while the wrapper lives: a placement that started with an earlier function may
        // still run it.
        self.inner.placements.lock().unwrap_or_else(|e| e.into_inner()).push(boxed);
        Ok(())
    }

    /// Removes the placement function: placements by `callback` then fail.
    pub fn clear_placement(&self) -> Result<()> {
        self.with(|w| call::ffi(|err| unsafe { sys::pm_wrapper_set_placement(w, None, std::ptr::null_mut(), err) }))?;
        Ok(())
    }

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
