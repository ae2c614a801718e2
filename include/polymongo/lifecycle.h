/* polymongo/lifecycle.h: dedicated pools at run time, routing rules, shutdown, signals. */
#ifndef POLYMONGO_LIFECYCLE_H
#define POLYMONGO_LIFECYCLE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Gives each named database a dedicated pool (PolyMongo's scale.setDB). `spec_json` (NULL for
 * defaults): {mongoURI?, maxConnections? (10), coldStart? (true), autoClose? (false), ttl?}
 * where mongoURI may name another cluster and ttl (ms, required with autoClose) closes the pool
 * after that long unused; the next use reopens it. Connects now when coldStart is false.
 * A database that already had a pool gets a new one; the old one finishes what it has out. */
PM_EXTERN int pm_wrapper_set_db(pm_wrapper *wrapper, const char *const *names, size_t n,
                                const char *spec_json, pm_error *err);

/* Like pm_wrapper_set_db, and connects now whatever coldStart says (scale.connectDB). */
PM_EXTERN int pm_wrapper_connect_db(pm_wrapper *wrapper, const char *const *names, size_t n,
                                    const char *spec_json, pm_error *err);

/* Adds a routing rule: {match: "tenant_eu_*", mongoURI?, options?: {maxConnections,
 * coldStart, autoClose, ttl}, sharedPool?: false}. `match` is a glob (*, ?, [...]). Each
 * matching database gets its own pool, or with sharedPool all of them share one.
 * Precedence: a database's own pool (dbSpecific, set_db) first, then the rules in the order
 * they were added (the `routes` option first), first match wins; then the shared pool. */
PM_EXTERN int pm_wrapper_add_route(pm_wrapper *wrapper, const char *route_json, pm_error *err);

/* Closes every pool, letting operations in flight finish: waits up to timeout_ms for each
 * pool's connections to come back (new operations wait meanwhile). PM_ETIMEOUT when some pool
 * still had connections out (those stay open). The wrapper stays usable: the next operation
 * reopens what it needs. */
PM_EXTERN int pm_wrapper_close_all(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err);

/* Closes the wrapper for good: the one close every binding's close() is. Every pool closes now
 * (as pm_wrapper_force_close_all), open change streams end, and from then on every operation
 * of the wrapper and of every handle made from it (models, dbs, cursors, sessions, streams)
 * fails with PM_ECLOSED, as does binding a database or making a model. Results already
 * returned stay readable. Freeing stays separate and order-free: each handle is still freed
 * with its pm_*_free. Idempotent; thread-safe. */
PM_EXTERN int pm_wrapper_close(pm_wrapper *wrapper, pm_error *err);

/* Closes every pool now. Operations waiting for a connection, and cursors on the closed
 * pools, fail with PM_ECLOSED at their next step; a call already inside the driver finishes
 * (bounded by the socket timeouts) and its connection is then discarded. The wrapper stays
 * usable. */
PM_EXTERN int pm_wrapper_force_close_all(pm_wrapper *wrapper, pm_error *err);

/* Number of pools (shared and dedicated) currently open, and how many dedicated pools were
 * closed to stay within the maxOpenPools option. */
PM_EXTERN size_t pm_wrapper_open_pools(pm_wrapper *wrapper);
PM_EXTERN uint64_t pm_wrapper_evictions(pm_wrapper *wrapper);

/* Opt-in graceful shutdown: on SIGINT or SIGTERM, closes the wrapper's pools (waiting up to
 * timeout_ms) on a helper thread, then restores the handler that was installed before and
 * raises the signal again, so that handler (or the default action) runs. One wrapper per
 * process; calling it again moves the duty to the new wrapper. */
PM_EXTERN int pm_wrapper_handle_signals(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_LIFECYCLE_H */
