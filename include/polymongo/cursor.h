/* polymongo/cursor.h: iterating query results. */
#ifndef POLYMONGO_CURSOR_H
#define POLYMONGO_CURSOR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A cursor holds one pooled connection from its first batch until it is exhausted or freed;
 * freeing it before the end kills the server-side cursor. It keeps its database, model and
 * wrapper alive. Thread-safety: one thread at a time.
 *
 * pm_cursor_next returns 1 and points *data and *len at the next document (borrowed: valid until
 * the next call on this cursor), 0 at the end, or a negative pm_code on error. */
PM_EXTERN int pm_cursor_next(pm_cursor *cursor, const uint8_t **data, size_t *len,
                             pm_error *err);

/* Like pm_cursor_next, yielding Extended JSON (borrowed: valid until the next call). */
PM_EXTERN int pm_cursor_next_json(pm_cursor *cursor, pm_json_mode mode, const char **json,
                                  pm_error *err);

/* The server-side cursor id: 0 once the server has no more results for it. */
PM_EXTERN int64_t pm_cursor_id(const pm_cursor *cursor);

PM_EXTERN void pm_cursor_free(pm_cursor *cursor); /* NULL-safe; kills an open server cursor */

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_CURSOR_H */
