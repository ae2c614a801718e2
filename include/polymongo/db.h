/**
 * @file polymongo/db.h
 * Operations on a model bound to one database.
 *
 * Every document parameter is a pair (const void *doc, size_t len): BSON bytes, or, with
 * len == #PM_JSON, a NUL-terminated Extended JSON string (see @ref pm_documents). A NULL filter
 * matches everything; NULL options mean none. Options are the driver's: for find, e.g.
 * projection, sort, skip, limit, batchSize, hint, collation, maxTimeMS, comment; for writes,
 * e.g. ordered, upsert, arrayFilters, collation, hint, writeConcern, bypassDocumentValidation.
 *
 * Every operation goes through the wrapper's router: the database's dedicated pool when it has
 * one, else the shared pool. Calls block for at most the configured timeouts.
 *
 * @anchor pm_db_writes
 * <b>Writes</b> fill `*out` (when `out` is not NULL) with a #pm_result the caller frees with
 * pm_result_free(), also when some writes failed: the call then returns #PM_EDUPKEY when every
 * failure is a duplicate key, else #PM_EWRITE, and the result tells which writes failed.
 * In a compensating session (see session.h) only the inserts, updates, replaces and deletes
 * are allowed; bulk writes, find-and-modify, index and collection changes and commands fail
 * there with #PM_ENOTSUP.
 *
 * <b>Thread-safety</b>: a #pm_db is immutable and thread-safe: every function here may be
 * called on one db from many threads at once, except on a db bound to a native session
 * (pm_db_with_session()), which is for one thread at a time, with its session.
 */
#ifndef POLYMONGO_DB_H
#define POLYMONGO_DB_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Releases the caller's reference to a db; cursors and streams made from it keep what they
 * need alive.
 * @param db The db, or NULL (nothing happens).
 * @par Thread-safety
 * Thread-safe, once no other thread uses this pointer.
 */
PM_EXTERN void pm_db_free(pm_db *db); /* NULL-safe */

/**
 * The database's name.
 * @param db The db.
 * @return The name (NULL when `db` is NULL). Borrowed: valid while the db lives.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN const char *pm_db_name(const pm_db *db);
/**
 * The collection's name (the model's).
 * @param db The db.
 * @return The name (NULL when `db` is NULL). Borrowed: valid while the db lives.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN const char *pm_db_collection(const pm_db *db);
/**
 * The wrapper a db belongs to, as a new handle (e.g. to submit operations on the db with
 * pm_async_submit() when only the db is at hand). No I/O.
 * @param db The db.
 * @param out Receives the wrapper, owned by the caller: free it with pm_wrapper_free() (the
 *        wrapper itself lives on while other handles keep it).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when `db` or `out` is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_db_wrapper(const pm_db *db, pm_wrapper **out, pm_error *err);

/* ---- writes: each fills *out (may be NULL) with a pm_result ----------------------------- */
/**
 * Inserts one document (an _id is added when it has none).
 * @param db The db.
 * @param doc The document.
 * @param doc_len Its length (or #PM_JSON).
 * @param opts Options (e.g. writeConcern, bypassDocumentValidation), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EDUPKEY or #PM_EWRITE when the server refused the document; #PM_EINVAL;
 *         the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_insert_one(pm_db *db, const void *doc, size_t doc_len, const void *opts,
                               size_t opts_len, pm_result **out, pm_error *err);

/**
 * Inserts documents, in order unless opts say {"ordered": false}.
 * @param db The db.
 * @param docs The documents: docs[0..n).
 * @param lens Their lengths (lens[i] may be #PM_JSON).
 * @param n How many (at least 1).
 * @param opts Options (ordered, writeConcern, bypassDocumentValidation), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY or #PM_EWRITE when some documents were refused; #PM_EINVAL (also
 *         for n == 0); the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_insert_many(pm_db *db, const void *const *docs, const size_t *lens,
                                size_t n, const void *opts, size_t opts_len, pm_result **out,
                                pm_error *err);

/**
 * Updates the first document that matches.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param update The update: operators ({"$set": ...}) or a pipeline.
 * @param update_len Its length (or #PM_JSON).
 * @param opts Options (upsert, arrayFilters, collation, hint, writeConcern, ...), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY or #PM_EWRITE; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_update_one(pm_db *db, const void *filter, size_t filter_len,
                               const void *update, size_t update_len, const void *opts,
                               size_t opts_len, pm_result **out, pm_error *err);
/**
 * Updates every document that matches.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param update The update: operators ({"$set": ...}) or a pipeline.
 * @param update_len Its length (or #PM_JSON).
 * @param opts Options (upsert, arrayFilters, collation, hint, writeConcern, ...), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY or #PM_EWRITE; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_update_many(pm_db *db, const void *filter, size_t filter_len,
                                const void *update, size_t update_len, const void *opts,
                                size_t opts_len, pm_result **out, pm_error *err);
/**
 * Replaces the first document that matches.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param replacement The new document (no $-operators).
 * @param replacement_len Its length (or #PM_JSON).
 * @param opts Options (upsert, collation, hint, writeConcern, ...), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY or #PM_EWRITE; #PM_EINVAL (also for a replacement with
 *         $-operators); the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_replace_one(pm_db *db, const void *filter, size_t filter_len,
                                const void *replacement, size_t replacement_len,
                                const void *opts, size_t opts_len, pm_result **out,
                                pm_error *err);
/**
 * Deletes the first document that matches.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts Options (collation, hint, writeConcern), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EWRITE; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_delete_one(pm_db *db, const void *filter, size_t filter_len,
                               const void *opts, size_t opts_len, pm_result **out,
                               pm_error *err);
/**
 * Deletes every document that matches.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts Options (collation, hint, writeConcern), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EWRITE; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_delete_many(pm_db *db, const void *filter, size_t filter_len,
                                const void *opts, size_t opts_len, pm_result **out,
                                pm_error *err);

/**
 * Runs a list of write models in one bulk operation. Each is a document with one key:
 * `{insertOne: {document}}`, `{updateOne|updateMany: {filter, update, upsert?, arrayFilters?,
 * collation?, hint?}}`, `{replaceOne: {filter, replacement, upsert?, collation?, hint?}}`,
 * `{deleteOne|deleteMany: {filter, collation?, hint?}}`.
 * @param db The db.
 * @param ops The write models: ops[0..n).
 * @param lens Their lengths (lens[i] may be #PM_JSON).
 * @param n How many (at least 1).
 * @param opts {ordered: true (default) | false, writeConcern?, bypassDocumentValidation?}, or
 *        NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the result, owned by the caller (free with pm_result_free()), or NULL
 *        (see @ref pm_db_writes "writes").
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY or #PM_EWRITE; #PM_EINVAL for a malformed write model (or
 *         n == 0); #PM_ENOTSUP in a compensating session; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_bulk_write(pm_db *db, const void *const *ops, const size_t *lens, size_t n,
                               const void *opts, size_t opts_len, pm_result **out,
                               pm_error *err);

/* ---- reads --------------------------------------------------------------------------------- */
/**
 * Finds the documents that match. The first batch is fetched here, so a bad filter or an
 * unreachable server fails this call.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts Options (projection, sort, skip, limit, batchSize, hint, collation, maxTimeMS,
 *        comment, ...), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the cursor, owned by the caller: free it with pm_cursor_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL (also for an option of the wrong type, such as limit: "5"); the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes); the cursor is for one thread at a time.
 */
PM_EXTERN int pm_db_find(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                         size_t opts_len, pm_cursor **out, pm_error *err);

/**
 * Finds the first document that matches.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts Options as for pm_db_find(), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the document, owned by the caller (free with pm_buf_free()), or an
 *        empty buffer (data NULL) when none matches.
 * @param err Receives the error, or NULL.
 * @return #PM_OK (also when nothing matches); #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_find_one(pm_db *db, const void *filter, size_t filter_len,
                             const void *opts, size_t opts_len, pm_buf *out, pm_error *err);

/**
 * Finds one document and updates it, atomically (find-and-modify).
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param update The update: operators or a pipeline.
 * @param update_len Its length (or #PM_JSON).
 * @param opts sort, projection, upsert, returnDocument ("before" (default) or "after"),
 *        arrayFilters, collation, hint, maxTimeMS, writeConcern; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the document before or after the change, owned by the caller (free with
 *        pm_buf_free()), or an empty buffer when nothing matched.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY; #PM_EINVAL; #PM_ENOTSUP in a compensating session; the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_find_one_and_update(pm_db *db, const void *filter, size_t filter_len,
                                        const void *update, size_t update_len,
                                        const void *opts, size_t opts_len, pm_buf *out,
                                        pm_error *err);
/**
 * Finds one document and replaces it, atomically (find-and-modify).
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param replacement The new document (no $-operators).
 * @param replacement_len Its length (or #PM_JSON).
 * @param opts As for pm_db_find_one_and_update() (without arrayFilters), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the document before or after the change, owned by the caller (free with
 *        pm_buf_free()), or an empty buffer when nothing matched.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDUPKEY; #PM_EINVAL; #PM_ENOTSUP in a compensating session; the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_find_one_and_replace(pm_db *db, const void *filter, size_t filter_len,
                                         const void *replacement, size_t replacement_len,
                                         const void *opts, size_t opts_len, pm_buf *out,
                                         pm_error *err);
/**
 * Finds one document and deletes it, atomically (find-and-modify).
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts sort, projection, collation, hint, maxTimeMS, writeConcern; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the deleted document, owned by the caller (free with pm_buf_free()), or
 *        an empty buffer when nothing matched.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; #PM_ENOTSUP in a compensating session; the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_find_one_and_delete(pm_db *db, const void *filter, size_t filter_len,
                                        const void *opts, size_t opts_len, pm_buf *out,
                                        pm_error *err);

/**
 * Counts the matching documents exactly.
 * @param db The db.
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts skip, limit, hint, collation, maxTimeMS; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the count.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_count(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                          size_t opts_len, int64_t *out, pm_error *err);

/**
 * Counts the collection's documents fast, from its metadata.
 * @param db The db.
 * @param opts maxTimeMS, ...; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the count.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_estimated_count(pm_db *db, const void *opts, size_t opts_len,
                                    int64_t *out, pm_error *err);

/**
 * The distinct values of a field among the matching documents.
 * @param db The db.
 * @param field The field's name (dotted paths allowed; not empty).
 * @param filter The filter, or NULL for all documents.
 * @param filter_len Its length (or #PM_JSON).
 * @param opts collation, maxTimeMS, ...; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives {"values": [...]}, owned by the caller (free with pm_buf_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_distinct(pm_db *db, const char *field, const void *filter,
                             size_t filter_len, const void *opts, size_t opts_len, pm_buf *out,
                             pm_error *err);

/**
 * Runs an aggregation pipeline on the collection.
 * @param db The db.
 * @param pipeline The stages: an array (as BSON, a document keyed "0", "1", ...; or a JSON
 *        array), or a document {"pipeline": [...]}.
 * @param pipeline_len Its length (or #PM_JSON).
 * @param opts allowDiskUse, batchSize, maxTimeMS, ...; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the cursor, owned by the caller: free it with pm_cursor_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes); the cursor is for one thread at a time.
 */
PM_EXTERN int pm_db_aggregate(pm_db *db, const void *pipeline, size_t pipeline_len,
                              const void *opts, size_t opts_len, pm_cursor **out,
                              pm_error *err);

/* ---- indexes and the collection ------------------------------------------------------------ */

/**
 * Creates one index.
 * @param db The db.
 * @param keys The keys, e.g. {"email": 1} (values 1, -1 or an index type such as "text").
 * @param keys_len Their length (or #PM_JSON).
 * @param opts name, unique, sparse, expireAfterSeconds, partialFilterExpression, ...; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param name_out Receives the index name, owned by the caller (free with pm_free()), or NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; #PM_ENOTSUP in a compensating session; the
 *         @ref pm_io_errors "I/O errors" (#PM_EDUPKEY for a unique index over duplicates).
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_create_index(pm_db *db, const void *keys, size_t keys_len,
                                 const void *opts, size_t opts_len, char **name_out,
                                 pm_error *err);
/**
 * Lists the collection's indexes, one specification document each.
 * @param db The db.
 * @param out Receives the cursor, owned by the caller: free it with pm_cursor_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes); the cursor is for one thread at a time.
 */
PM_EXTERN int pm_db_list_indexes(pm_db *db, pm_cursor **out, pm_error *err);
/**
 * Drops one index by name. Destructive calls (drop index, drop collection) on a db bound to
 * the default database (pm_model_db() with NULL or "") fail with #PM_EDBNAME: bind the
 * database by name to drop.
 * @param db The db.
 * @param name The index name (not empty).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME on a db bound to the default database; #PM_EINVAL;
 *         #PM_ENOTSUP in a compensating session; the @ref pm_io_errors "I/O errors" (#PM_ESERVER
 *         when there is no such index).
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_drop_index(pm_db *db, const char *name, pm_error *err);

/**
 * The name the server gives an index on `keys` when none is given (libmongoc's rule, e.g.
 * {"a": 1, "b": -1} gives "a_1_b_-1"): what pm_db_create_index() and a model's indexes use, so
 * a binding that drops an index by its keys computes the same name. No I/O.
 * @param keys The index keys: BSON, or Extended JSON when keys_len is #PM_JSON.
 * @param keys_len The length of `keys` in bytes, or #PM_JSON.
 * @param name Receives the name, owned by the caller: free it with pm_free(); NULL on failure.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when keys is NULL, empty or malformed, or has values other than
 *         integers and index type strings.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_index_name(const void *keys, size_t keys_len, char **name, pm_error *err);

/**
 * Drops the collection in this database. Dropping a collection that does not exist is OK.
 * @param db The db, bound to a named database.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME on a db bound to the default database (see pm_db_drop_index());
 *         #PM_ENOTSUP in a compensating session; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_drop_collection(pm_db *db, pm_error *err);

/**
 * Runs a command on this database, through the pool that serves it.
 * @param db The db (its collection plays no part).
 * @param command The command document, e.g. {"ping": 1} (not empty).
 * @param command_len Its length (or #PM_JSON).
 * @param reply Receives the server's reply, owned by the caller (free with pm_buf_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; #PM_ENOTSUP in a compensating session; the
 *         @ref pm_io_errors "I/O errors" (a command the server refuses: its code).
 * @par Thread-safety
 * Thread-safe (see the file's notes).
 */
PM_EXTERN int pm_db_command(pm_db *db, const void *command, size_t command_len, pm_buf *reply,
                            pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_DB_H */
