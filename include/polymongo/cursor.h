/**
 * @file polymongo/cursor.h
 * Iterating query results.
 *
 * A cursor holds one pooled connection from its first batch until it is exhausted or freed;
 * freeing it before the end kills the server-side cursor. It keeps its database, model and
 * wrapper alive. Thread-safety: one thread at a time.
 */
#ifndef POLYMONGO_CURSOR_H
#define POLYMONGO_CURSOR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Advances to the next document, fetching the next batch from the server when needed.
 * @param cursor The cursor.
 * @param data Receives the document's BSON bytes (NULL at the end), or NULL. Borrowed: valid
 *        until the next call on this cursor.
 * @param len Receives their length (0 at the end), or NULL.
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return 1 with a document, 0 at the end, or a negative pm_code: the
 *         @ref pm_io_errors "I/O errors" (#PM_ECLOSED when its pool was force-closed or the
 *         wrapper closed), #PM_EINVAL when `cursor` is NULL.
 * @par Thread-safety
 * One thread at a time per cursor.
 */
PM_EXTERN int pm_cursor_next(pm_cursor *cursor, const uint8_t **data, size_t *len,
                             pm_error *err);

/**
 * Like pm_cursor_next(), yielding Extended JSON.
 * @param cursor The cursor.
 * @param mode Relaxed or canonical Extended JSON.
 * @param json Receives the document as JSON (NULL at the end), or NULL. Borrowed: valid until
 *        the next call on this cursor.
 * @param err Receives the error, or NULL.
 * @return As pm_cursor_next(): 1, 0 at the end, or a negative pm_code.
 * @par Thread-safety
 * One thread at a time per cursor.
 */
PM_EXTERN int pm_cursor_next_json(pm_cursor *cursor, pm_json_mode mode, const char **json,
                                  pm_error *err);

/**
 * The server-side cursor id.
 * @param cursor The cursor.
 * @return The id: 0 once the server has no more results for it (or `cursor` is NULL).
 * @par Thread-safety
 * One thread at a time per cursor.
 */
PM_EXTERN int64_t pm_cursor_id(const pm_cursor *cursor);

/**
 * Frees a cursor, killing its server-side cursor when it is still open and giving its
 * connection back to the pool.
 * @param cursor The cursor, or NULL (nothing happens).
 * @par Thread-safety
 * From the thread that uses the cursor (or once none does).
 */
PM_EXTERN void pm_cursor_free(pm_cursor *cursor); /* NULL-safe; kills an open server cursor */

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_CURSOR_H */
