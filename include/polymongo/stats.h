/**
 * @file polymongo/stats.h
 * Statistics that tell the truth. Every function gives a string the caller frees with
 * pm_free(); no credentials appear in any of them. Every function here is thread-safe.
 */
#ifndef POLYMONGO_STATS_H
#define POLYMONGO_STATS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * General statistics, from what the wrapper knows (no I/O): `{pools: [{name, uri (redacted),
 * dedicated, state, open, ready, maxSize, minSize, sizeLimit, connections: {open, inUse, idle,
 * waiting}, pinned: {cursors, sessions, streams}, errors, lastError, responseTimeMs: {commands,
 * failed, mean, p50, p99}, createdMs, lastUsedMs, databases: [...]}], sharedDatabases: [...],
 * totals: {pools, openPools, connections, inUse, waiting, errors, evictions}, databaseTables:
 * {maxTracked, routed, routedForgotten, usage, modelsReady, usageForgotten: {databases,
 * operations, errors}}, state}`. Response times come from libmongoc's command monitoring (the
 * last 1,024 commands for the percentiles). A pool's databases are those the usage table
 * remembers (maxTrackedDatabases); the forgotten ones' figures are the usageForgotten
 * aggregate.
 * @param wrapper The wrapper.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK, or #PM_EINVAL when an argument is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_stats(pm_wrapper *wrapper, char **json, pm_error *err);

/**
 * Statistics of one database, from the server's dbStats and collStats, through the pool that
 * serves it (connecting if needed): `{db, sizeMb, storageSizeMb, numCollections, collections:
 * [{name, documents, sizeMb, indexes}], lastUsedMs, pool: {...}}`.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_db_stats(pm_wrapper *wrapper, const char *db, char **json, pm_error *err);

/**
 * The server's databases (through the shared pool): `[{name, sizeMb, empty}]`.
 * @param wrapper The wrapper.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_list_databases(pm_wrapper *wrapper, char **json, pm_error *err);

/**
 * Usage analytics, most used first (no I/O): `[{db, operations, errors, lastUsedMs,
 * meanLatencyMs, throttled, queued}]` (throttled: operations its tenantLimits refused; queued:
 * operations that waited, for its limits or in a saturated pool's queue).
 * @param wrapper The wrapper.
 * @param top_n How many databases to list; 0 lists every database.
 * @param json Receives the JSON text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when an argument is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_usage(pm_wrapper *wrapper, size_t top_n, char **json, pm_error *err);

/**
 * The same metrics in the Prometheus text exposition format (0.0.4), no I/O. Metric names:
 * polymongo_pool_open, polymongo_pool_max_connections, polymongo_pool_connections,
 * polymongo_pool_connections_in_use, polymongo_pool_waiting, polymongo_pool_errors_total,
 * polymongo_pool_command_duration_seconds (summary), polymongo_database_operations_total,
 * polymongo_database_errors_total (label db; db="" sums the forgotten databases),
 * polymongo_databases_tracked, polymongo_databases_forgotten_total,
 * polymongo_pool_evictions_total; pool metrics are labelled pool="shared" or the dedicated
 * pool's name.
 * @param wrapper The wrapper.
 * @param text Receives the text, owned by the caller (free with pm_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when an argument is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_prometheus(pm_wrapper *wrapper, char **text, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_STATS_H */
