/* polymongo/stream.h: change streams, tracked per database, and shared streams.
 *
 * A stream holds one pooled connection (so its pool is never closed by TTL or eviction while
 * it is open) and keeps the wrapper alive. libmongoc resumes it after resumable errors.
 * Thread-safety: one thread at a time, except that pm_wrapper_close_streams and
 * pm_wrapper_drop_database may close it from another thread (its next call then returns
 * PM_ECLOSED). Needs a server with change streams (a replica set); elsewhere opening one fails
 * with the server's error (PM_ENOTSUP on FerretDB). */
#ifndef POLYMONGO_STREAM_H
#define POLYMONGO_STREAM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pm_stream pm_stream;

/* Watches the model's collection in db's database (pipeline: an array of stages or
 * {"pipeline": [...]}, or NULL). opts: fullDocument ("updateLookup"...),
 * fullDocumentBeforeChange, resumeAfter, startAfter, startAtOperationTime, maxAwaitTimeMS
 * (default 200: how long one server round trip waits), batchSize. */
PM_EXTERN int pm_db_watch(pm_db *db, const void *pipeline, size_t pipeline_len, const void *opts,
                          size_t opts_len, pm_stream **out, pm_error *err);
/* Watches a whole database (NULL or "": the default) or the whole cluster. */
PM_EXTERN int pm_wrapper_watch_database(pm_wrapper *wrapper, const char *db, const void *pipeline,
                                        size_t pipeline_len, const void *opts, size_t opts_len,
                                        pm_stream **out, pm_error *err);
PM_EXTERN int pm_wrapper_watch_cluster(pm_wrapper *wrapper, const void *pipeline,
                                       size_t pipeline_len, const void *opts, size_t opts_len,
                                       pm_stream **out, pm_error *err);

/* A subscriber to the shared stream of a database (collection NULL) or of one collection: all
 * subscribers of the same target share one server-side stream and one pooled client; each gets
 * every event from when it subscribed, once, in order, and may leave (pm_stream_free) without
 * disturbing the others. A subscriber more than 100,000 events behind is ended with an error
 * rather than silently losing events. */
PM_EXTERN int pm_wrapper_subscribe_stream(pm_wrapper *wrapper, const char *db,
                                          const char *collection, pm_stream **out, pm_error *err);

/* Waits up to timeout_ms for the next event: 1 and the event in *data, *len (borrowed: valid
 * until the next call on this stream), 0 when none came in time, or a negative pm_code. */
PM_EXTERN int pm_stream_next(pm_stream *stream, int64_t timeout_ms, const uint8_t **data,
                             size_t *len, pm_error *err);
PM_EXTERN int pm_stream_next_json(pm_stream *stream, int64_t timeout_ms, pm_json_mode mode,
                                  const char **json, pm_error *err);

/* The token to resume after the last event returned (for resumeAfter/startAfter). */
PM_EXTERN int pm_stream_resume_token(pm_stream *stream, pm_buf *out, pm_error *err);

PM_EXTERN void pm_stream_free(pm_stream *stream); /* NULL-safe; closes the stream */

/* Closes the open streams of one database (db NULL: all of them); the count goes to *closed. */
PM_EXTERN int pm_wrapper_close_streams(pm_wrapper *wrapper, const char *db, size_t *closed,
                                       pm_error *err);
/* Open streams (subscribers included) of one database, or of all (db NULL). */
PM_EXTERN size_t pm_wrapper_stream_count(pm_wrapper *wrapper, const char *db);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_STREAM_H */
