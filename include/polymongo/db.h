/* polymongo/db.h: operations on a model bound to one database.
 *
 * Every document parameter is a pair (const void *doc, size_t len): BSON bytes, or, with
 * len == PM_JSON, a NUL-terminated Extended JSON string. A NULL filter matches everything;
 * NULL options mean none. Options are the driver's: for find, e.g. projection, sort, skip,
 * limit, batchSize, hint, collation, maxTimeMS, comment; for writes, e.g. ordered, upsert,
 * arrayFilters, collation, hint, writeConcern, bypassDocumentValidation.
 *
 * Every operation goes through the wrapper's router: the database's dedicated pool when it has
 * one, else the shared pool. A pm_db is immutable and thread-safe; it does no I/O until an
 * operation runs. Calls block for at most the configured timeouts. */
#ifndef POLYMONGO_DB_H
#define POLYMONGO_DB_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

PM_EXTERN void pm_db_free(pm_db *db); /* NULL-safe */

/* Borrowed: valid while the db lives. */
PM_EXTERN const char *pm_db_name(const pm_db *db);
PM_EXTERN const char *pm_db_collection(const pm_db *db);

/* ---- writes: each fills *out (may be NULL) with a pm_result ----------------------------- */
PM_EXTERN int pm_db_insert_one(pm_db *db, const void *doc, size_t doc_len, const void *opts,
                               size_t opts_len, pm_result **out, pm_error *err);

/* Inserts docs[0..n) (lens[i] may be PM_JSON). Ordered unless opts say {"ordered": false}. */
PM_EXTERN int pm_db_insert_many(pm_db *db, const void *const *docs, const size_t *lens,
                                size_t n, const void *opts, size_t opts_len, pm_result **out,
                                pm_error *err);

PM_EXTERN int pm_db_update_one(pm_db *db, const void *filter, size_t filter_len,
                               const void *update, size_t update_len, const void *opts,
                               size_t opts_len, pm_result **out, pm_error *err);
PM_EXTERN int pm_db_update_many(pm_db *db, const void *filter, size_t filter_len,
                                const void *update, size_t update_len, const void *opts,
                                size_t opts_len, pm_result **out, pm_error *err);
PM_EXTERN int pm_db_replace_one(pm_db *db, const void *filter, size_t filter_len,
                                const void *replacement, size_t replacement_len,
                                const void *opts, size_t opts_len, pm_result **out,
                                pm_error *err);
PM_EXTERN int pm_db_delete_one(pm_db *db, const void *filter, size_t filter_len,
                               const void *opts, size_t opts_len, pm_result **out,
                               pm_error *err);
PM_EXTERN int pm_db_delete_many(pm_db *db, const void *filter, size_t filter_len,
                                const void *opts, size_t opts_len, pm_result **out,
                                pm_error *err);

/* Runs a list of write models in one bulk operation. Each is a document with one key:
 *   {insertOne: {document}}, {updateOne|updateMany: {filter, update, upsert?, arrayFilters?,
 *   collation?, hint?}}, {replaceOne: {filter, replacement, upsert?, collation?, hint?}},
 *   {deleteOne|deleteMany: {filter, collation?, hint?}}
 * opts: {ordered: true (default) | false, writeConcern?, bypassDocumentValidation?}. */
PM_EXTERN int pm_db_bulk_write(pm_db *db, const void *const *ops, const size_t *lens, size_t n,
                               const void *opts, size_t opts_len, pm_result **out,
                               pm_error *err);

/* ---- reads --------------------------------------------------------------------------------- */
PM_EXTERN int pm_db_find(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                         size_t opts_len, pm_cursor **out, pm_error *err);

/* The first matching document in *out, or an empty buffer (data NULL) when none matches. */
PM_EXTERN int pm_db_find_one(pm_db *db, const void *filter, size_t filter_len,
                             const void *opts, size_t opts_len, pm_buf *out, pm_error *err);

/* find-and-modify. opts: sort, projection, upsert, returnDocument ("before" (default) or
 * "after"), arrayFilters, collation, hint, maxTimeMS, writeConcern. *out receives the document
 * before or after the change, or an empty buffer when nothing matched. */
PM_EXTERN int pm_db_find_one_and_update(pm_db *db, const void *filter, size_t filter_len,
                                        const void *update, size_t update_len,
                                        const void *opts, size_t opts_len, pm_buf *out,
                                        pm_error *err);
PM_EXTERN int pm_db_find_one_and_replace(pm_db *db, const void *filter, size_t filter_len,
                                         const void *replacement, size_t replacement_len,
                                         const void *opts, size_t opts_len, pm_buf *out,
                                         pm_error *err);
PM_EXTERN int pm_db_find_one_and_delete(pm_db *db, const void *filter, size_t filter_len,
                                        const void *opts, size_t opts_len, pm_buf *out,
                                        pm_error *err);

/* Exact count of matching documents (opts: skip, limit, hint, collation, maxTimeMS). */
PM_EXTERN int pm_db_count(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                          size_t opts_len, int64_t *out, pm_error *err);

/* Fast count from collection metadata. */
PM_EXTERN int pm_db_estimated_count(pm_db *db, const void *opts, size_t opts_len,
                                    int64_t *out, pm_error *err);

/* Distinct values of `field` among matching documents, as {"values": [...]}. */
PM_EXTERN int pm_db_distinct(pm_db *db, const char *field, const void *filter,
                             size_t filter_len, const void *opts, size_t opts_len, pm_buf *out,
                             pm_error *err);

/* Runs an aggregation pipeline: an array (as BSON, a document keyed "0", "1", ...; or a JSON
 * array), or a document {"pipeline": [...]}. opts: allowDiskUse, batchSize, maxTimeMS, ... */
PM_EXTERN int pm_db_aggregate(pm_db *db, const void *pipeline, size_t pipeline_len,
                              const void *opts, size_t opts_len, pm_cursor **out,
                              pm_error *err);

/* ---- indexes and the collection ------------------------------------------------------------ */

/* Creates one index on `keys` (e.g. {"email": 1}). opts: name, unique, sparse,
 * expireAfterSeconds, partialFilterExpression, ... The index name goes to *name_out (free with
 * pm_free; may be NULL). */
PM_EXTERN int pm_db_create_index(pm_db *db, const void *keys, size_t keys_len,
                                 const void *opts, size_t opts_len, char **name_out,
                                 pm_error *err);
PM_EXTERN int pm_db_list_indexes(pm_db *db, pm_cursor **out, pm_error *err);
/* Destructive calls (drop index, drop collection) on a db bound to the default database
 * (pm_model_db with NULL or "") fail with PM_EDBNAME: bind the database by name to drop. */
PM_EXTERN int pm_db_drop_index(pm_db *db, const char *name, pm_error *err);

/* The name the server gives an index on `keys` when none is given (libmongoc's rule, e.g.
 * {"a": 1, "b": -1} -> "a_1_b_-1"): what pm_db_create_index and a model's indexes use, so a
 * binding that drops an index by its keys computes the same name. `keys`: BSON, or Extended
 * JSON with keys_len PM_JSON. On success *name is a string the caller frees with pm_free (NULL
 * on failure). PM_EINVAL when keys is NULL, empty, malformed, or has values other than
 * integers and index type strings. No I/O; thread-safe. */
PM_EXTERN int pm_index_name(const void *keys, size_t keys_len, char **name, pm_error *err);

/* Drops the collection in this database. Dropping a collection that does not exist is OK. */
PM_EXTERN int pm_db_drop_collection(pm_db *db, pm_error *err);

/* Runs a command on this database and returns the server's reply. */
PM_EXTERN int pm_db_command(pm_db *db, const void *command, size_t command_len, pm_buf *reply,
                            pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_DB_H */
