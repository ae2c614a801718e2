/**
 * @file polymongo/wrapper.h
 * The wrapper, which owns the pools and every database routed to them.
 */
#ifndef POLYMONGO_WRAPPER_H
#define POLYMONGO_WRAPPER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Creates a wrapper from options given as a JSON object, mirroring PolyMongo's createWrapper:
 *
 *  - `mongoURI` (string, required): mongodb:// or mongodb+srv:// (multi-host allowed). URI
 *    options apply to every pool on it, e.g. serverSelectionTimeoutMS, and
 *    waitQueueTimeoutMS, the longest wait for a pooled connection (polymongo's default: 10000).
 *  - `defaultDB` (string): database used when pm_model_db() gets NULL or "". Default: the
 *    database in the URI's path; with neither, NULL/"" fail with #PM_EDBNAME.
 *  - `maxPoolSize` (integer >= 1): connections of the shared pool (default 10).
 *  - `minFreeConnections` (integer >= 0, <= maxPoolSize): connections opened and kept warm (0).
 *  - `idleTimeoutMS` (integer >= 0): idle connections are closed after this long (0: never).
 *  - `coldStart` (bool): true (default) opens no socket until first use; false connects (and
 *    warms minFreeConnections) inside pm_wrapper_new.
 *  - `retry` (integer >= 0): base delay in ms, 3 attempts (0: off); or an object
 *    {attempts, initialDelayMS, maxDelayMS}.
 *  - `debug` (bool): log to standard error.
 *  - `logPath` (string): directory for rotating log files (5 MiB x 5, plus errors.log).
 *  - `logLevel`: "debug" | "info" (default) | "warn" | "error" | "off".
 *  - `routes`: array of routing rules {match, mongoURI?, options?, sharedPool?} (see
 *    pm_wrapper_add_route()).
 *  - `maxOpenPools` (integer >= 0): cap on open dedicated pools (0: none); the least recently
 *    used idle one is closed first.
 *  - `poolSizing`: {min, max, scaleUpAt, scaleDownAt, intervalMS}: dynamic size limit of the
 *    shared pool (see stats.h).
 *  - `dbSpecific`: array of {dbName, mongoURI?, options: {maxConnections, coldStart,
 *    autoClose, ttl}}: databases served by a dedicated pool.
 *  - `allowSystemDatabases` (bool): allow admin, config and local (default false).
 *  - `recoverOnStart` (bool): roll back compensating transactions that crashed processes left
 *    open in the journals (see session.h) when the wrapper starts.
 *  - `journalDb` (string): the journals' database (default "polymongo_journal").
 *  - `maxTrackedDatabases` (integer >= 16): databases each per-database table remembers
 *    (routing, usage figures, a model's setup; default 10000); the least recently used are
 *    forgotten first, routed and set up again when they come back, their usage kept as an
 *    aggregate (see stats.h).
 *
 * Credentials never appear in messages or logs.
 * @param options_json The options: a NUL-terminated JSON object.
 * @param out Receives the new wrapper, owned by the caller: release it with pm_wrapper_free().
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EINVAL for an unknown option name, a wrong type or an out-of-range value
 *         (an invalid defaultDB or mongoURI included; the message names the option); with
 *         coldStart false or recoverOnStart, the @ref pm_io_errors "I/O errors" of connecting.
 * @par Thread-safety
 * Thread-safe. The wrapper is fully thread-safe; share one per process.
 */
PM_EXTERN int pm_wrapper_new(const char *options_json, pm_wrapper **out, pm_error *err);

/**
 * Releases the caller's reference. Pools close once no model, db, cursor or other child
 * handle still refers to the wrapper (see @ref pm_ownership).
 * @param wrapper The wrapper, or NULL (nothing happens).
 * @par Thread-safety
 * May be called from any thread, an event callback included, once no other thread uses this
 * pointer.
 */
PM_EXTERN void pm_wrapper_free(pm_wrapper *wrapper);

/**
 * The default database name (the defaultDB option, else the URI's database).
 * @param wrapper The wrapper.
 * @return The name, or NULL when there is none (or `wrapper` is NULL). Borrowed: valid while
 *         the wrapper lives.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN const char *pm_wrapper_default_db(const pm_wrapper *wrapper);

/**
 * Checks a database name against MongoDB's rules and the wrapper's system-database policy,
 * without any I/O.
 * @param wrapper The wrapper, whose allowSystemDatabases option applies.
 * @param name The database name (NUL-terminated).
 * @param err Receives the error (with the reason), or NULL.
 * @return #PM_OK when the name is valid, #PM_EDBNAME when it is not, #PM_EINVAL when an
 *         argument is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_check_db_name(const pm_wrapper *wrapper, const char *name,
                                       pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_WRAPPER_H */
