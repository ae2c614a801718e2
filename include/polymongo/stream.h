/**
 * @file polymongo/stream.h
 * Change streams, tracked per database, and shared streams.
 *
 * A stream holds one pooled connection (so its pool is never closed by TTL or eviction while
 * it is open) and keeps the wrapper alive. libmongoc resumes it after resumable errors.
 * Thread-safety: one thread at a time, except that pm_wrapper_close_streams(),
 * pm_wrapper_drop_database() and pm_wrapper_close() may close it from another thread (its next
 * call then returns #PM_ECLOSED). Needs a server with change streams (a replica set);
 * elsewhere opening one fails with the server's error (#PM_ENOTSUP on FerretDB).
 */
#ifndef POLYMONGO_STREAM_H
#define POLYMONGO_STREAM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A change stream, or a subscriber to a shared one. One thread at a time. */
typedef struct pm_stream pm_stream;

/**
 * Watches the model's collection in db's database.
 * @param db The db.
 * @param pipeline The stages to filter or shape events: an array or {"pipeline": [...]}, or
 *        NULL.
 * @param pipeline_len Its length (or #PM_JSON).
 * @param opts fullDocument ("updateLookup", ...), fullDocumentBeforeChange, resumeAfter,
 *        startAfter, startAtOperationTime, maxAwaitTimeMS (default 200: how long one server
 *        round trip waits), batchSize; or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the stream, owned by the caller: free it with pm_stream_free().
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors" (#PM_ENOTSUP without change
 *         streams).
 * @par Thread-safety
 * Thread-safe; the stream is for one thread at a time.
 */
PM_EXTERN int pm_db_watch(pm_db *db, const void *pipeline, size_t pipeline_len, const void *opts,
                          size_t opts_len, pm_stream **out, pm_error *err);
/**
 * Watches a whole database.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param pipeline As for pm_db_watch(), or NULL.
 * @param pipeline_len Its length (or #PM_JSON).
 * @param opts As for pm_db_watch(), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the stream, owned by the caller: free it with pm_stream_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe; the stream is for one thread at a time.
 */
PM_EXTERN int pm_wrapper_watch_database(pm_wrapper *wrapper, const char *db, const void *pipeline,
                                        size_t pipeline_len, const void *opts, size_t opts_len,
                                        pm_stream **out, pm_error *err);
/**
 * Watches every database of a cluster: the one the admin database is routed to (normally the
 * shared pool's).
 * @param wrapper The wrapper.
 * @param pipeline As for pm_db_watch(), or NULL.
 * @param pipeline_len Its length (or #PM_JSON).
 * @param opts As for pm_db_watch(), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the stream, owned by the caller: free it with pm_stream_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe; the stream is for one thread at a time.
 */
PM_EXTERN int pm_wrapper_watch_cluster(pm_wrapper *wrapper, const void *pipeline,
                                       size_t pipeline_len, const void *opts, size_t opts_len,
                                       pm_stream **out, pm_error *err);

/**
 * Subscribes to the shared stream of a database or of one collection: all subscribers of the
 * same target share one server-side stream and one pooled client; each gets every event from
 * when it subscribed, once, in order, and may leave (pm_stream_free()) without disturbing the
 * others. A subscriber more than 100,000 events behind is ended with an error rather than
 * silently losing events.
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param collection One collection, or NULL for the whole database.
 * @param out Receives the subscriber, owned by the caller: free it with pm_stream_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL for an invalid collection name; the
 *         @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe; the subscriber is for one thread at a time.
 */
PM_EXTERN int pm_wrapper_subscribe_stream(pm_wrapper *wrapper, const char *db,
                                          const char *collection, pm_stream **out, pm_error *err);

/**
 * Waits for the next event.
 * @param stream The stream.
 * @param timeout_ms The longest wait, in milliseconds.
 * @param data Receives the event's BSON bytes (NULL when none came), or NULL. Borrowed: valid
 *        until the next call on this stream.
 * @param len Receives their length, or NULL.
 * @param err Receives the error, or NULL.
 * @return 1 with an event, 0 when none came in time, or a negative pm_code: #PM_ECLOSED once
 *         the stream was closed; the @ref pm_io_errors "I/O errors" it could not resume from.
 * @par Thread-safety
 * One thread at a time per stream.
 */
PM_EXTERN int pm_stream_next(pm_stream *stream, int64_t timeout_ms, const uint8_t **data,
                             size_t *len, pm_error *err);
/**
 * Like pm_stream_next(), yielding Extended JSON.
 * @param stream The stream.
 * @param timeout_ms The longest wait, in milliseconds.
 * @param mode Relaxed or canonical Extended JSON.
 * @param json Receives the event as JSON (NULL when none came), or NULL. Borrowed: valid until
 *        the next call on this stream.
 * @param err Receives the error, or NULL.
 * @return As pm_stream_next(): 1, 0, or a negative pm_code.
 * @par Thread-safety
 * One thread at a time per stream.
 */
PM_EXTERN int pm_stream_next_json(pm_stream *stream, int64_t timeout_ms, pm_json_mode mode,
                                  const char **json, pm_error *err);

/**
 * The token to resume after the last event returned (for the resumeAfter and startAfter
 * options).
 * @param stream The stream.
 * @param out Receives the token document, owned by the caller (free with pm_buf_free()).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_ECLOSED once the stream was closed; #PM_EINVAL.
 * @par Thread-safety
 * One thread at a time per stream.
 */
PM_EXTERN int pm_stream_resume_token(pm_stream *stream, pm_buf *out, pm_error *err);

/**
 * Closes and frees a stream (a subscriber leaves its shared stream).
 * @param stream The stream, or NULL (nothing happens).
 * @par Thread-safety
 * From the thread that uses the stream (or once none does).
 */
PM_EXTERN void pm_stream_free(pm_stream *stream); /* NULL-safe; closes the stream */

/**
 * Closes the open streams of one database, or all of them: their next call returns
 * #PM_ECLOSED (each is still freed with pm_stream_free()).
 * @param wrapper The wrapper.
 * @param db The database, or NULL for every stream ("" is the default database).
 * @param closed Receives how many were closed, or NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL.
 * @par Thread-safety
 * Thread-safe, also while the streams are in use on other threads.
 */
PM_EXTERN int pm_wrapper_close_streams(pm_wrapper *wrapper, const char *db, size_t *closed,
                                       pm_error *err);
/**
 * The number of open streams (subscribers included) of one database, or of all.
 * @param wrapper The wrapper.
 * @param db The database, or NULL for all.
 * @return The count (0 when `wrapper` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN size_t pm_wrapper_stream_count(pm_wrapper *wrapper, const char *db);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_STREAM_H */
