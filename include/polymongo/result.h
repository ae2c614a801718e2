/* polymongo/result.h: the outcome of a write. */
#ifndef POLYMONGO_RESULT_H
#define POLYMONGO_RESULT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A write returns a result even when some of its writes failed (the call then returns
 * PM_EWRITE, or PM_EDUPKEY when every failure is a duplicate key), so that the caller sees
 * what was applied. Thread-safety: immutable. */
PM_EXTERN int64_t pm_result_inserted_count(const pm_result *r);
PM_EXTERN int64_t pm_result_matched_count(const pm_result *r);
PM_EXTERN int64_t pm_result_modified_count(const pm_result *r);
PM_EXTERN int64_t pm_result_deleted_count(const pm_result *r);
PM_EXTERN int64_t pm_result_upserted_count(const pm_result *r);

PM_EXTERN size_t pm_result_write_error_count(const pm_result *r);

/* The i-th write error: the index of the failed operation in the request, the server's
 * error code and message (borrowed: valid while the result lives). */
PM_EXTERN int pm_result_write_error(const pm_result *r, size_t i, size_t *index,
                                    int32_t *server_code, const char **message,
                                    pm_error *err);

/* The whole result as a BSON document (borrowed: valid while the result lives):
 *   {insertedCount, matchedCount, modifiedCount, deletedCount, upsertedCount,
 *    insertedIds: {"<index>": id, ...}, upsertedIds: {"<index>": id, ...},
 *    writeErrors: [{index, code, errmsg}], writeConcernErrors: [...]} */
PM_EXTERN void pm_result_bson(const pm_result *r, const uint8_t **data, size_t *len);

/* The same as Extended JSON; free with pm_free(). */
PM_EXTERN char *pm_result_json(const pm_result *r, pm_json_mode mode);

PM_EXTERN void pm_result_free(pm_result *r); /* NULL-safe */

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_RESULT_H */
