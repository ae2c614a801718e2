/**
 * @file polymongo/bulk.h
 * Export, import, copy and drop of whole databases.
 *
 * The export format is NDJSON, one record per line:
 *
 *     {"type":"meta","format":"polymongo-export","version":1,"database":...,"exportedAt":...}
 *     {"type":"collection","name":...,"options":{...}}
 *     {"type":"index","collection":...,"spec":{...}}
 *     {"type":"document","collection":...,"doc":{...}}
 *     {"type":"collectionEnd","collection":...,"documents":N}
 *
 * Documents are canonical Extended JSON: every BSON type round-trips exactly. Export streams
 * from a cursor and import inserts in unordered batches, so memory does not grow with the
 * database. Callbacks run on the calling thread, during the call.
 *
 * @anchor pm_import_report
 * <b>Imports</b> (pm_wrapper_import(), pm_wrapper_import_file(), pm_wrapper_copy_database(),
 * pm_wrapper_import_document()) take `options_json` (or NULL): `{batchSize: 1000,
 * stopOnError: false}`, create each collection's indexes after its documents, and give a
 * report (free with pm_free(); `report` may be NULL) as JSON: `{database, lines, documents,
 * failures, collections: [{name, documents, indexes, failures, errors}], stopped?, error?,
 * ok}`. Documents the server refused (e.g. duplicate keys) are counted as failures: the call
 * then returns #PM_EWRITE, with the report. A malformed or truncated record fails with
 * #PM_EINVAL and a message naming its line; everything before it has been written and is in
 * the report, which is given too.
 *
 * Thread-safety: every function here is thread-safe (the wrapper is); the callbacks run on the
 * calling thread.
 */
#ifndef POLYMONGO_BULK_H
#define POLYMONGO_BULK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Progress: documents and bytes (BSON) so far; called every 1,000 documents and at the end,
 *  with the `progress_data` given. */
typedef void (*pm_progress_fn)(uint64_t documents, uint64_t bytes, void *user_data);
/** Receives one NDJSON line (no newline; not NUL-terminated; valid during the call) and the
 *  `write_data` given. Return 0 to go on, anything else to stop the export. */
typedef int (*pm_write_fn)(const char *line, size_t len, void *user_data);
/** Fills buf with up to cap bytes of NDJSON (with `read_data` as given); returns how many, 0 at
 *  the end, < 0 on error. */
typedef long (*pm_read_fn)(char *buf, size_t cap, void *user_data);

/**
 * Exports a database as NDJSON lines, given one by one to a callback.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param write Receives each line.
 * @param write_data Passed to `write`.
 * @param progress Called with the progress, or NULL.
 * @param progress_data Passed to `progress`.
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL; #PM_EINTERNAL when `write` stopped the export; the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe; the callbacks run on the calling thread.
 */
PM_EXTERN int pm_wrapper_export(pm_wrapper *wrapper, const char *db, pm_write_fn write,
                                void *write_data, pm_progress_fn progress, void *progress_data,
                                pm_error *err);
/**
 * Exports a database as NDJSON to a file.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param path The file to write (created or truncated), or "-" for standard output.
 * @param progress Called with the progress, or NULL.
 * @param progress_data Passed to `progress`.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL when the file cannot be opened; #PM_EINTERNAL when
 *         writing it fails; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe; the callback runs on the calling thread.
 */
PM_EXTERN int pm_wrapper_export_file(pm_wrapper *wrapper, const char *db, const char *path,
                                     pm_progress_fn progress, void *progress_data, pm_error *err);

/**
 * Imports NDJSON (as written by pm_wrapper_export()) into a database; see
 * @ref pm_import_report "imports" for the options and the report.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param read Gives the NDJSON text, piece by piece.
 * @param read_data Passed to `read`.
 * @param options_json The import options as JSON, or NULL.
 * @param progress Called with the progress, or NULL.
 * @param progress_data Passed to `progress`.
 * @param report Receives the report, owned by the caller (free with pm_free()), or NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EWRITE when documents were refused; #PM_EINVAL for a malformed record
 *         or invalid options; #PM_EDBNAME; #PM_EINTERNAL when `read` failed; the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe; the callbacks run on the calling thread.
 */
PM_EXTERN int pm_wrapper_import(pm_wrapper *wrapper, const char *db, pm_read_fn read,
                                void *read_data, const char *options_json,
                                pm_progress_fn progress, void *progress_data, char **report,
                                pm_error *err);
/**
 * Imports an NDJSON file into a database; see @ref pm_import_report "imports".
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param path The file to read, or "-" for standard input.
 * @param options_json The import options as JSON, or NULL.
 * @param progress Called with the progress, or NULL.
 * @param progress_data Passed to `progress`.
 * @param report Receives the report, owned by the caller (free with pm_free()), or NULL.
 * @param err Receives the error, or NULL.
 * @return As pm_wrapper_import(); #PM_EINVAL also when the file cannot be opened.
 * @par Thread-safety
 * Thread-safe; the callback runs on the calling thread.
 */
PM_EXTERN int pm_wrapper_import_file(pm_wrapper *wrapper, const char *db, const char *path,
                                     const char *options_json, pm_progress_fn progress,
                                     void *progress_data, char **report, pm_error *err);

/**
 * Copies a database into another (which may be served by another pool or cluster), streaming
 * the export into the import; see @ref pm_import_report "imports".
 * @param wrapper The wrapper.
 * @param from The source database, or "" for the default database.
 * @param to The target database: it must be named (NULL or "" is #PM_EDBNAME, never the
 *        default database).
 * @param options_json The import options as JSON, or NULL.
 * @param progress Called with the progress, or NULL.
 * @param progress_data Passed to `progress`.
 * @param report Receives the report, owned by the caller (free with pm_free()), or NULL.
 * @param err Receives the error, or NULL.
 * @return As pm_wrapper_import(); #PM_EINVAL also when `from` and `to` are the same.
 * @par Thread-safety
 * Thread-safe; the callback runs on the calling thread.
 */
PM_EXTERN int pm_wrapper_copy_database(pm_wrapper *wrapper, const char *from, const char *to,
                                       const char *options_json, pm_progress_fn progress,
                                       void *progress_data, char **report, pm_error *err);

/**
 * Exports a database into one BSON document, in memory: `{database, exportedAt, collections:
 * {name: {options, indexes, documents}}}`.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param out Receives the document, owned by the caller (free with pm_buf_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_export_document(pm_wrapper *wrapper, const char *db, pm_buf *out,
                                         pm_error *err);
/**
 * Imports a document made by pm_wrapper_export_document() into a database; see
 * @ref pm_import_report "imports".
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param doc The document.
 * @param doc_len Its length (or #PM_JSON).
 * @param options_json The import options as JSON, or NULL.
 * @param report Receives the report, owned by the caller (free with pm_free()), or NULL.
 * @param err Receives the error, or NULL.
 * @return As pm_wrapper_import().
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_import_document(pm_wrapper *wrapper, const char *db, const void *doc,
                                         size_t doc_len, const char *options_json, char **report,
                                         pm_error *err);

/**
 * Drops a database, and forgets what models applied there (their indexes are created again
 * on next use); its open change streams are closed.
 * @param wrapper The wrapper.
 * @param db The database: it must be named (NULL or "" is #PM_EDBNAME, never the default
 *        database: no destructive call falls back to it).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_drop_database(pm_wrapper *wrapper, const char *db, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_BULK_H */
