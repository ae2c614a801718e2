/**
 * @file polymongo/admin.h
 * Admin actions and the admin endpoint: pausing and resuming a database or a pool, draining a
 * pool, explaining where a database routes, reloading the routing rules, and the URL of the
 * admin endpoint (the `admin` option: an HTTP listener with a dashboard, metrics, health and a
 * JSON API; docs/dashboard.md). The endpoint offers the same actions to holders of its token.
 * Every function here is thread-safe (the wrapper is).
 */
#ifndef POLYMONGO_ADMIN_H
#define POLYMONGO_ADMIN_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Pauses a database or a pool: from now on, an operation on that database (or on any database
 * the pool serves) waits before it checks out a connection, until pm_wrapper_resume() or
 * pauseTimeoutMS (10,000 by default) passes, and then fails with #PM_ETIMEOUT having sent
 * nothing. Operations already running finish. Operations of a native transaction are not held.
 * @param wrapper The wrapper.
 * @param name A database name, or a pool's name ("shared", a dedicated pool's database, a
 *        sharedPool rule's pattern; see pm_wrapper_stats()).
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return 1 when it was paused now, 0 when it was paused already; #PM_EINVAL when an argument
 *         is NULL or `name` is empty.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_pause(pm_wrapper *wrapper, const char *name, pm_error *err);

/**
 * Ends a pause of pm_wrapper_pause(): the operations waiting on it go on at once.
 * @param wrapper The wrapper.
 * @param name The database or pool name given to pm_wrapper_pause().
 * @param err Receives the error, or NULL.
 * @return 1 when it was paused, 0 when it was not; #PM_EINVAL when an argument is NULL or
 *         `name` is empty.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_resume(pm_wrapper *wrapper, const char *name, pm_error *err);

/**
 * Drains and closes a pool: new checkouts wait while the connections out come back, then the
 * pool closes (its next use reopens it).
 * @param wrapper The wrapper.
 * @param pool The pool's name ("shared", or a dedicated pool's; see pm_wrapper_stats()).
 * @param timeout_ms How long to wait for the connections out.
 * @param err Receives the error, or NULL.
 * @return #PM_OK when drained and closed; #PM_ETIMEOUT when connections were still out after
 *         `timeout_ms` (the pool stays open); #PM_EINVAL when no pool has that name or an
 *         argument is NULL; #PM_ECLOSED after pm_wrapper_close().
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_drain_pool(pm_wrapper *wrapper, const char *pool, int64_t timeout_ms,
                                    pm_error *err);

/**
 * Explains where a database routes and why, without I/O and without opening anything:
 * `{db, pool, cluster (the URI, redacted), reason: "exact" | "rule" | "shared", why (a sentence),
 * rule (the matching pattern or null), ruleIndex, sharedPool, rules (how many), poolExists,
 * poolOpen, paused}`. "exact": the database has its own pool (dbSpecific, pm_wrapper_set_db());
 * "rule": the first routing rule it matches; "shared": neither.
 * @param wrapper The wrapper.
 * @param db The database name.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME for an invalid name; #PM_EINVAL when an argument is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_explain_route(pm_wrapper *wrapper, const char *db, char **json,
                                       pm_error *err);

/**
 * Replaces the routing rules (those of the routes option and pm_wrapper_add_route()) with
 * `routes_json`, a JSON array of rules in the same form. Databases with their own pool keep
 * it; every other database is routed by the new rules from its next operation on (a pool of an
 * old rule finishes what it has out and closes with it). Nothing changes when the array is
 * invalid.
 * @param wrapper The wrapper.
 * @param routes_json The rules, as a JSON array (`[]` removes every rule).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL for an invalid array or a NULL argument; #PM_ECLOSED after
 *         pm_wrapper_close().
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_reload_routes(pm_wrapper *wrapper, const char *routes_json, pm_error *err);

/**
 * The base URL of the admin endpoint ("http://127.0.0.1:9400"; with admin.listen's port 0, the
 * port it was given), or an empty string when the admin option is not set.
 * @param wrapper The wrapper.
 * @param url Receives the URL, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when an argument is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_admin_url(pm_wrapper *wrapper, char **url, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_ADMIN_H */
