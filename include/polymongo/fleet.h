/**
 * @file polymongo/fleet.h
 * The tenant fleet (docs/fleet.md): the shared tenant directory of the `directory` option
 * (which database lives on which cluster), the placement of new tenants, and schema operations
 * over the whole fleet (a model's indexes and validator applied to every database, and the
 * drift report). Every function here needs the `directory` option (#PM_EINVAL without it) and
 * is thread-safe (the wrapper and the model are).
 */
#ifndef POLYMONGO_FLEET_H
#define POLYMONGO_FLEET_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Lists the directory's entries, read from the catalog now: a JSON array of
 * `{db, cluster, version, seq, placedBy, options?}`, ordered by database.
 * @param wrapper The wrapper.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EINVAL when an argument is NULL or there is no directory; a connection
 *         or server code when the catalog cannot be read.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_tenants(pm_wrapper *wrapper, char **json, pm_error *err);

/**
 * One entry of the directory, read from the catalog now:
 * `{db, cluster, version, seq, placedBy, options?}`, or `null` when the database has none.
 * @param wrapper The wrapper.
 * @param db The database name.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME for an invalid name; #PM_EINVAL when an argument is NULL or
 *         there is no directory.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_tenant(pm_wrapper *wrapper, const char *db, char **json, pm_error *err);

/**
 * Places a database that has no entry: on `cluster`, or by the placement policy when `cluster`
 * is NULL (the `fewest` policy when the options set none). The catalog decides between
 * processes (insert-if-absent): when the database has an entry already, nothing is written and
 * that entry is returned.
 * @param wrapper The wrapper.
 * @param db The database name.
 * @param cluster One of the directory's cluster names, or NULL.
 * @param json Receives the entry the catalog holds afterwards (as pm_wrapper_tenant()), owned
 *        by the caller (free with pm_free()); may be NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME for an invalid name; #PM_EINVAL for an unknown cluster, a NULL
 *         argument or no directory.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_place_tenant(pm_wrapper *wrapper, const char *db, const char *cluster, char **json,
                                      pm_error *err);

/**
 * The function of the `callback` placement policy: writes the chosen cluster's name (one of
 * the directory's, NUL-terminated, at most `cap` bytes with the NUL) into `cluster` and returns
 * 0; any other return fails the placement (and the operation that caused it) with #PM_EINVAL.
 * @param db The database to place.
 * @param clusters_json The clusters as a JSON array of `{name, tenants}` (tenants: entries in
 *        the catalog), in the configured order; valid during the call.
 * @param cluster Where the name goes.
 * @param cap The size of `cluster`.
 * @param user_data The pointer given to pm_wrapper_set_placement().
 */
typedef int (*pm_placement_fn)(const char *db, const char *clusters_json, char *cluster, size_t cap,
                               void *user_data);

/**
 * Sets the function of the `callback` placement policy (`directory.placement.policy`). It is
 * called on the thread of the operation that meets a database with no entry, never with a lock
 * of the library held; it may run on several threads at once.
 * @param wrapper The wrapper.
 * @param fn The function, or NULL to remove it (placements by `callback` then fail).
 * @param user_data Passed to `fn`; the caller keeps it valid while `fn` is set.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when `wrapper` is NULL or there is no directory.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_set_placement(pm_wrapper *wrapper, pm_placement_fn fn, void *user_data, pm_error *err);

/**
 * Applies the model's indexes and validator to every database of the target, on its cluster,
 * with bounded concurrency. The target:
 * `{match?: glob ("*"), tenants?: false, concurrency?: 4 (1..64), job?: name}`; `tenants: true` covers the directory's entries,
 * otherwise every database of the directory's clusters (but the catalog's, the journal's and
 * the system ones). The job's state and each database's status are written next to the
 * catalog (collections `<collection>_jobs` and `<collection>_job_status`) as each database
 * finishes, so a sync killed midway and started again (same model, same target, or the same
 * `job`) skips what was done. Applying is idempotent.
 * @param model The model whose collection, indexes and validator are applied.
 * @param target_json The target, or NULL for the defaults.
 * @param report Receives `{job, total, applied, already, failed, failures}`, failures as
 *        `[{database, error}]` ("already": done by an earlier run; a database is "cluster/db"), owned by
 *        the caller (free with pm_free()); may be NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK when every database is in place; #PM_EWRITE when some failed (the report
 *         lists them; run again to retry them); #PM_EINVAL for an invalid target, a job started
 *         with another model or target, a NULL model or no directory.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_model_fleet_sync(pm_model *model, const char *target_json, char **report, pm_error *err);

/**
 * Compares every database of the target (as pm_model_fleet_sync()) with the model. The report:
 * `{collection, databases, drifted: [...]}`, each drifted database as
 * `{db, cluster, missing, extra, different, validator, error?}`: index names missing, extra, or
 * whose key or uniqueness differ; the validator null, "missing" or "different". Ordered by
 * cluster then database; a database in place is not listed. The `_id` index is never extra.
 * The validator is compared only when the model has one.
 * @param model The model.
 * @param target_json The target (`job` is not used), or NULL for the defaults.
 * @param report Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL for an invalid target, a NULL argument or no directory.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_model_fleet_drift(pm_model *model, const char *target_json, char **report, pm_error *err);

/**
 * Moves a tenant (a database with a directory entry) to another of the directory's clusters,
 * online. Where the source's server has change streams, the data is copied (type-exact, with
 * indexes and collection options) while writes go on, a change stream opened before the copy
 * carries the writes made meanwhile to the target, and only then are the tenant's writes
 * fenced in every process for the final catch-up and the verification. Where it has none, the
 * writes are fenced for the whole copy. Fenced writes wait, then fail with #PM_EMOVING, which
 * is retryable; reads go on from the source. The verification compares per collection a count
 * and a hash of the documents; the entry is then flipped to the target with the fence lifted in
 * the same write. The source keeps its copy until pm_wrapper_complete_move() (or
 * pm_wrapper_reverse_move()). The mover holds a lease on the move (`directory.moveLeaseMS`,
 * renewed while it runs). A move left unfinished by a killed mover is taken over by this call
 * with the same target once that mover's lease ran out (or rolled back by
 * pm_wrapper_abort_move()); any failure here rolls the move back. docs/fleet.md has the
 * guarantees and limits.
 * @param wrapper The wrapper.
 * @param db The tenant.
 * @param to The target cluster's name.
 * @param report Receives `{db, from, to, documents, collections, attempts, fenceMs, copyMs, resumed,
 *        catchUp}` (with catch-up also `rounds`, `applied`, `finalMs`), owned by the caller (free
 *        with pm_free()); may be NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when the tenant has no entry, the cluster is unknown, the tenant
 *         is there already, another move of it to another cluster is in progress, or there is
 *         no directory; #PM_EMOVING (retryable) when another mover's lease on the move is live,
 *         or a collection of the tenant was dropped or renamed during a catch-up move (rolled
 *         back); #PM_EDBNAME for an invalid name; a connection or server code when a step
 *         failed (the move is rolled back).
 * @par Thread-safety
 * Thread-safe; one mover of a tenant at a time (its lease in the catalog refuses a second).
 */
PM_EXTERN int pm_wrapper_move_tenant(pm_wrapper *wrapper, const char *db, const char *to, char **report,
                                     pm_error *err);

/**
 * Moves a tenant back to the cluster its last move left (its entry's `source`), the same way as
 * pm_wrapper_move_tenant().
 * @param wrapper The wrapper.
 * @param db The tenant.
 * @param report Receives the report (as pm_wrapper_move_tenant()), owned by the caller (free
 *        with pm_free()); may be NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when the tenant has no source copy; as pm_wrapper_move_tenant().
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_reverse_move(pm_wrapper *wrapper, const char *db, char **report, pm_error *err);

/**
 * Completes a move: drops the copy the tenant's last move left on its source cluster.
 * @param wrapper The wrapper.
 * @param db The tenant.
 * @param json Receives the entry afterwards, owned by the caller (free with pm_free()); may be NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when the tenant has no source copy or there is no directory.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_complete_move(pm_wrapper *wrapper, const char *db, char **json, pm_error *err);

/**
 * Rolls back a move in progress (one a killed mover left): the target's partial copy is
 * dropped and the fence lifted; the tenant stays on its cluster.
 * @param wrapper The wrapper.
 * @param db The tenant.
 * @param json Receives the entry afterwards, owned by the caller (free with pm_free()); may be NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when no move of the tenant is in progress or there is no directory;
 *         #PM_EMOVING (retryable) while the mover's lease on the move is live.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_abort_move(pm_wrapper *wrapper, const char *db, char **json, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_FLEET_H */
