/* polymongo/bulk.h: export, import, copy and drop of whole databases.
 *
 * The export format is NDJSON, one record per line:
 *   {"type":"meta","format":"polymongo-export","version":1,"database":...,"exportedAt":...}
 *   {"type":"collection","name":...,"options":{...}}
 *   {"type":"index","collection":...,"spec":{...}}
 *   {"type":"document","collection":...,"doc":{...}}      canonical Extended JSON: every BSON
 *   {"type":"collectionEnd","collection":...,"documents":N}  type round-trips exactly
 * Export streams from a cursor and import inserts in unordered batches, so memory does not grow
 * with the database. Callbacks run on the calling thread. */
#ifndef POLYMONGO_BULK_H
#define POLYMONGO_BULK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: documents and bytes (BSON) so far; called every 1,000 documents and at the end. */
typedef void (*pm_progress_fn)(uint64_t documents, uint64_t bytes, void *user_data);
/* Receives one NDJSON line (no newline; not NUL-terminated). Return 0 to go on. */
typedef int (*pm_write_fn)(const char *line, size_t len, void *user_data);
/* Fills buf with up to cap bytes of NDJSON; returns how many, 0 at the end, < 0 on error. */
typedef long (*pm_read_fn)(char *buf, size_t cap, void *user_data);

PM_EXTERN int pm_wrapper_export(pm_wrapper *wrapper, const char *db, pm_write_fn write,
                                void *write_data, pm_progress_fn progress, void *progress_data,
                                pm_error *err);
/* To a file ("-": standard output). */
PM_EXTERN int pm_wrapper_export_file(pm_wrapper *wrapper, const char *db, const char *path,
                                     pm_progress_fn progress, void *progress_data, pm_error *err);

/* Imports into `db`. options_json (or NULL): {batchSize: 1000, stopOnError: false}. Indexes are
 * created after each collection's documents. The report (free with pm_free; report may be
 * NULL) is JSON: {database, lines, documents, failures, collections: [{name, documents,
 * indexes, failures, errors}], stopped?, error?, ok}. A malformed or truncated record fails with
 * PM_EINVAL and a message naming its line; everything before it has been written and is in
 * the report. Documents the server refused (e.g. duplicate keys) are counted as failures:
 * PM_EWRITE when there were any. */
PM_EXTERN int pm_wrapper_import(pm_wrapper *wrapper, const char *db, pm_read_fn read,
                                void *read_data, const char *options_json,
                                pm_progress_fn progress, void *progress_data, char **report,
                                pm_error *err);
PM_EXTERN int pm_wrapper_import_file(pm_wrapper *wrapper, const char *db, const char *path,
                                     const char *options_json, pm_progress_fn progress,
                                     void *progress_data, char **report, pm_error *err);

/* Copies database `from` into `to` (which may be served by another pool or cluster), streaming
 * the export into the import. Same options and report as import. `to` must be named: NULL or
 * "" is PM_EDBNAME, never the default database; `from` may be "" (the default). */
PM_EXTERN int pm_wrapper_copy_database(pm_wrapper *wrapper, const char *from, const char *to,
                                       const char *options_json, pm_progress_fn progress,
                                       void *progress_data, char **report, pm_error *err);

/* In memory: {database, exportedAt, collections: {name: {options, indexes, documents}}}, and
 * back. */
PM_EXTERN int pm_wrapper_export_document(pm_wrapper *wrapper, const char *db, pm_buf *out,
                                         pm_error *err);
PM_EXTERN int pm_wrapper_import_document(pm_wrapper *wrapper, const char *db, const void *doc,
                                         size_t doc_len, const char *options_json, char **report,
                                         pm_error *err);

/* Drops the database, and forgets what models applied there (their indexes are created again
 * on next use). The database must be named: NULL or "" is PM_EDBNAME, never the default
 * database (no destructive call falls back to it). */
PM_EXTERN int pm_wrapper_drop_database(pm_wrapper *wrapper, const char *db, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_BULK_H */
