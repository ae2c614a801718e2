/* polymongo/stats.h: statistics that tell the truth. Every function returns a string the caller
 * frees with pm_free(). No credentials appear in any of them. */
#ifndef POLYMONGO_STATS_H
#define POLYMONGO_STATS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* General statistics (JSON): {pools: [{name, uri (redacted), dedicated, state, open, ready,
 * maxSize, minSize, sizeLimit, connections: {open, inUse, idle, waiting}, pinned: {cursors,
 * sessions, streams}, errors, lastError, responseTimeMs: {commands, failed, mean, p50, p99},
 * createdMs, lastUsedMs, databases: [...]}], sharedDatabases: [...], totals: {pools, openPools,
 * connections, inUse, waiting, errors, evictions}, databaseTables: {maxTracked, routed,
 * routedForgotten, usage, modelsReady, usageForgotten: {databases, operations, errors}}, state}.
 * Response times come from libmongoc's command monitoring (the last 1,024 commands for the
 * percentiles). A pool's databases are those the usage table remembers (maxTrackedDatabases);
 * the forgotten ones' figures are the usageForgotten aggregate. */
PM_EXTERN int pm_wrapper_stats(pm_wrapper *wrapper, char **json, pm_error *err);

/* One database (NULL or "": the default), from the server's dbStats and collStats, through
 * the pool that serves it (connecting if needed): {db, sizeMb, storageSizeMb, numCollections,
 * collections: [{name, documents, sizeMb, indexes}], lastUsedMs, pool: {...}}. */
PM_EXTERN int pm_wrapper_db_stats(pm_wrapper *wrapper, const char *db, char **json, pm_error *err);

/* The server's databases: [{name, sizeMb, empty}]. */
PM_EXTERN int pm_wrapper_list_databases(pm_wrapper *wrapper, char **json, pm_error *err);

/* Usage analytics: [{db, operations, errors, lastUsedMs, meanLatencyMs}], most used first;
 * top_n == 0 lists every database. */
PM_EXTERN int pm_wrapper_usage(pm_wrapper *wrapper, size_t top_n, char **json, pm_error *err);

/* The same metrics in the Prometheus text exposition format (0.0.4). Metric names:
 * polymongo_pool_open, polymongo_pool_max_connections, polymongo_pool_connections,
 * polymongo_pool_connections_in_use, polymongo_pool_waiting, polymongo_pool_errors_total,
 * polymongo_pool_command_duration_seconds (summary), polymongo_database_operations_total,
 * polymongo_database_errors_total (label db; db="" sums the forgotten databases),
 * polymongo_databases_tracked, polymongo_databases_forgotten_total,
 * polymongo_pool_evictions_total; pool metrics are labelled pool="shared" or the dedicated
 * pool's name. */
PM_EXTERN int pm_wrapper_prometheus(pm_wrapper *wrapper, char **text, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_STATS_H */
