/**
 * @file polymongo/result.h
 * The outcome of a write.
 *
 * A write returns a result even when some of its writes failed (the call then returns
 * #PM_EWRITE, or #PM_EDUPKEY when every failure is a duplicate key), so that the caller sees
 * what was applied. A result is immutable: every function here is thread-safe.
 */
#ifndef POLYMONGO_RESULT_H
#define POLYMONGO_RESULT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The number of documents inserted.
 * @param r The result.
 * @return The count (0 when `r` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int64_t pm_result_inserted_count(const pm_result *r);
/**
 * The number of documents the filters matched.
 * @param r The result.
 * @return The count (0 when `r` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int64_t pm_result_matched_count(const pm_result *r);
/**
 * The number of documents modified.
 * @param r The result.
 * @return The count (0 when `r` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int64_t pm_result_modified_count(const pm_result *r);
/**
 * The number of documents deleted.
 * @param r The result.
 * @return The count (0 when `r` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int64_t pm_result_deleted_count(const pm_result *r);
/**
 * The number of documents created by upserts.
 * @param r The result.
 * @return The count (0 when `r` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int64_t pm_result_upserted_count(const pm_result *r);

/**
 * The number of write errors (see pm_result_write_error()).
 * @param r The result.
 * @return The count (0 when `r` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN size_t pm_result_write_error_count(const pm_result *r);

/**
 * The i-th write error.
 * @param r The result.
 * @param i Which error: 0 to pm_result_write_error_count() - 1.
 * @param index Receives the index of the failed operation in the request, or NULL.
 * @param server_code Receives the server's error code, or NULL.
 * @param message Receives the server's message, or NULL. Borrowed: valid while the result
 *        lives.
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when `r` is NULL or `i` is out of range.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_result_write_error(const pm_result *r, size_t i, size_t *index,
                                    int32_t *server_code, const char **message,
                                    pm_error *err);

/**
 * The whole result as a BSON document:
 * `{insertedCount, matchedCount, modifiedCount, deletedCount, upsertedCount,
 * insertedIds: {"<index>": id, ...}, upsertedIds: {"<index>": id, ...},
 * writeErrors: [{index, code, errmsg}], writeConcernErrors: [...]}`.
 * @param r The result.
 * @param data Receives the document's bytes (NULL when `r` is NULL). Borrowed: valid while the
 *        result lives.
 * @param len Receives their length.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN void pm_result_bson(const pm_result *r, const uint8_t **data, size_t *len);

/**
 * The whole result (see pm_result_bson()) as Extended JSON.
 * @param r The result.
 * @param mode Relaxed or canonical Extended JSON.
 * @return A string the caller frees with pm_free(), or NULL when `r` is NULL or memory ran
 *         out.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN char *pm_result_json(const pm_result *r, pm_json_mode mode);

/**
 * Frees a result; pointers borrowed from it become invalid.
 * @param r The result, or NULL (nothing happens).
 * @par Thread-safety
 * Thread-safe, once no other thread uses this pointer.
 */
PM_EXTERN void pm_result_free(pm_result *r); /* NULL-safe */

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_RESULT_H */
