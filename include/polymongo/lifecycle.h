/**
 * @file polymongo/lifecycle.h
 * Dedicated pools at run time, routing rules, shutdown, signals. Every function here is
 * thread-safe (the wrapper is).
 */
#ifndef POLYMONGO_LIFECYCLE_H
#define POLYMONGO_LIFECYCLE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Gives each named database a dedicated pool (PolyMongo's scale.setDB). The spec is
 * `{mongoURI?, maxConnections? (10), coldStart? (true), autoClose? (false), ttl?}` where
 * mongoURI may name another cluster and ttl (ms, required with autoClose) closes the pool after
 * that long unused; the next use reopens it. Connects now when coldStart is false. A database
 * that already had a pool gets a new one; the old one finishes what it has out.
 * @param wrapper The wrapper.
 * @param names The database names: names[0..n).
 * @param n How many (at least 1).
 * @param spec_json The pool's spec as a JSON object, or NULL for the defaults.
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EDBNAME for an invalid name; #PM_EINVAL for an invalid spec or n == 0;
 *         when connecting, the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_set_db(pm_wrapper *wrapper, const char *const *names, size_t n,
                                const char *spec_json, pm_error *err);

/**
 * Like pm_wrapper_set_db(), and connects now whatever coldStart says (scale.connectDB).
 * @param wrapper The wrapper.
 * @param names The database names: names[0..n).
 * @param n How many (at least 1).
 * @param spec_json The pool's spec as a JSON object, or NULL for the defaults.
 * @param err Receives the error, or NULL.
 * @return As pm_wrapper_set_db(), with the @ref pm_io_errors "I/O errors" of connecting.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_connect_db(pm_wrapper *wrapper, const char *const *names, size_t n,
                                    const char *spec_json, pm_error *err);

/**
 * Adds a routing rule: `{match: "tenant_eu_*", mongoURI?, options?: {maxConnections,
 * coldStart, autoClose, ttl}, sharedPool?: false}`. `match` is a glob (*, ?, [...]). Each
 * matching database gets its own pool, or with sharedPool all of them share one.
 * Precedence: a database's own pool (dbSpecific, pm_wrapper_set_db()) first, then the rules in
 * the order they were added (the `routes` option first), first match wins; then the shared
 * pool.
 * @param wrapper The wrapper.
 * @param route_json The rule as a JSON object.
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL for an invalid rule.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_add_route(pm_wrapper *wrapper, const char *route_json, pm_error *err);

/**
 * Sets a database's share of its pool at run time (tenantLimits; see docs/fairness.md):
 * `{maxConcurrent?: 0, ratePerSecond?: 0, burst?: max(1, ratePerSecond), onLimit?: "wait" |
 * "fail", maxWaitMS?: 1000}`. maxConcurrent caps the database's operations in flight (0: no
 * cap); ratePerSecond (with burst) is a token bucket (0: no rate). An operation over a limit
 * waits up to maxWaitMS ("wait") or fails at once ("fail"); either way it fails with
 * #PM_ETHROTTLED when it cannot go, before anything is sent. Takes effect for the next
 * operation (waiting ones see a raised cap at once). Precedence: the database's own limits set
 * here, then the tenantLimits of its pool's spec (dbSpecific, routing rule, pm_wrapper_set_db()),
 * then the default (the tenantLimits option, or set here with `db` NULL).
 * @param wrapper The wrapper.
 * @param db The database, or NULL for the default of every database.
 * @param limits_json The limits as a JSON object, or NULL: for a database, remove its own
 *        limits (its spec's or the default apply again); for the default, no limits.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL for invalid limits; #PM_EDBNAME for an invalid `db`.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_set_tenant_limits(pm_wrapper *wrapper, const char *db, const char *limits_json,
                                           pm_error *err);

/**
 * Closes every pool, letting operations in flight finish: waits up to timeout_ms for each
 * pool's connections to come back (new operations wait meanwhile). The wrapper stays usable:
 * the next operation reopens what it needs.
 * @param wrapper The wrapper.
 * @param timeout_ms The longest wait in milliseconds (>= 0), for all pools together.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_ETIMEOUT when some pool still had connections out (those stay open);
 *         #PM_EINVAL for a negative timeout.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_close_all(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err);

/**
 * Closes the wrapper for good: the one close every binding's close() is. Every pool closes now
 * (as pm_wrapper_force_close_all()), open change streams end, and from then on every operation
 * of the wrapper and of every handle made from it (models, dbs, cursors, sessions, streams)
 * fails with #PM_ECLOSED, as does binding a database or making a model. Results already
 * returned stay readable. Freeing stays separate and order-free: each handle is still freed
 * with its pm_*_free. Idempotent.
 * @param wrapper The wrapper.
 * @param err Receives the error, or NULL.
 * @return #PM_OK (also when already closed), or #PM_EINVAL when `wrapper` is NULL.
 * @par Thread-safety
 * Thread-safe, also while other threads run operations (they fail with #PM_ECLOSED).
 */
PM_EXTERN int pm_wrapper_close(pm_wrapper *wrapper, pm_error *err);

/**
 * Closes every pool now. Operations waiting for a connection, and cursors on the closed
 * pools, fail with #PM_ECLOSED at their next step; a call already inside the driver finishes
 * (bounded by the socket timeouts) and its connection is then discarded. The wrapper stays
 * usable.
 * @param wrapper The wrapper.
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when `wrapper` is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_force_close_all(pm_wrapper *wrapper, pm_error *err);

/**
 * The number of pools (shared and dedicated) currently open.
 * @param wrapper The wrapper.
 * @return The count (0 when `wrapper` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN size_t pm_wrapper_open_pools(pm_wrapper *wrapper);
/**
 * How many dedicated pools were closed to stay within the maxOpenPools option.
 * @param wrapper The wrapper.
 * @return The count since the wrapper was created (0 when `wrapper` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN uint64_t pm_wrapper_evictions(pm_wrapper *wrapper);

/**
 * Opt-in graceful shutdown: on SIGINT or SIGTERM, closes the wrapper's pools (waiting up to
 * timeout_ms) on a helper thread, then restores the handler that was installed before and
 * raises the signal again, so that handler (or the default action) runs. One wrapper per
 * process; calling it again moves the duty to the new wrapper. The duty never keeps the
 * wrapper alive.
 * @param wrapper The wrapper.
 * @param timeout_ms How long to wait for the pools, in milliseconds.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when `wrapper` is NULL; #PM_EINTERNAL when the helper could not
 *         be set up.
 * @par Thread-safety
 * Thread-safe; installs process-wide signal handlers.
 */
PM_EXTERN int pm_wrapper_handle_signals(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_LIFECYCLE_H */
