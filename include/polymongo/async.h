/**
 * @file polymongo/async.h
 * Operations that complete later: submit without blocking, receive the outcome afterwards.
 *
 * <b>One submission form.</b> An operation is described by a #pm_op: its kind (#pm_op_kind),
 * the handle it works on and its arguments, the same ones as the blocking function of the
 * same name (e.g. #PM_OP_INSERT_ONE is pm_db_insert_one()). pm_async_submit() copies what
 * it needs (documents, strings; it takes its own reference to a #pm_db, so the caller may
 * free everything right after the call) and returns at once with the operation's id.
 *
 * <b>Where it runs.</b> On the wrapper's executor: a bounded set of library threads, started
 * on the first submissions, never one per operation. Operations on no cursor, stream or
 * session use at most C threads at once, C being the connections the pools may hold (the
 * shared pool's maxPoolSize plus every dedicated pool's maxConnections, between 1 and 32:
 * more could only wait for a connection); as many threads again are kept for operations on
 * cursors, streams and sessions, which hold a connection already and go first, so that new
 * work waiting for a connection never holds up the work that would give one back. Each
 * operation runs the blocking function, so it has the same timeouts (waitQueueTimeoutMS for a
 * pooled connection, the socket and server timeouts, maxTimeMS). Operations on one
 * #pm_cursor, #pm_stream or #pm_session (or a db bound to a session) run one at a time in the
 * order they were submitted (so submitting several #PM_OP_CURSOR_NEXT returns the documents in
 * order); others run in any order. Queries (#PM_OP_FIND, #PM_OP_AGGREGATE,
 * #PM_OP_LIST_INDEXES) with `number` > 0 also read up to that many documents in the same
 * operation, so a result that fits gives its connection back at once. A change stream's
 * #PM_OP_STREAM_NEXT occupies a thread for up to its timeout: keep it short (e.g. 200 ms) and
 * submit the next one when it completes.
 *
 * <b>How it completes.</b> Exactly once per accepted submission, by one of:
 *  - a callback (#pm_completion_fn), called on a library thread (or, for an operation
 *    cancelled or ended by pm_wrapper_close(), on the thread that cancelled or closed);
 *  - a completion queue (#pm_cq): the completion waits there until pm_cq_poll() takes it;
 *    pm_cq_fd() is a file descriptor (an eventfd) that is readable exactly while the queue
 *    holds completions, so an event loop waits on it (epoll, asyncio's add_reader) and no
 *    thread of the caller's is ever called from the library.
 *
 * <b>Outcome.</b> A #pm_completion carries the code the blocking function returned (for
 * #PM_OP_CURSOR_NEXT and #PM_OP_STREAM_NEXT: the number of documents, 0 at the end or when
 * none came in time), its #pm_error, and what it produced (a result, a cursor, a stream, a
 * session, a document, a count, a string), each owned by whoever holds the completion: take
 * what you keep by setting its field to NULL (or zero), then release the rest with
 * pm_completion_clear(). An operation that never ran completes with #PM_ECANCELED
 * (pm_async_cancel(), or the wrapper closed while it was queued) or #PM_ETIMEOUT (it waited
 * in the queue longer than pm_op::queue_timeout_ms). Closing the wrapper (pm_wrapper_close())
 * completes every queued operation with #PM_ECANCELED and waits for the running ones, which
 * end with #PM_ECLOSED once they need the closed wrapper.
 *
 * The blocking API stays: both may be used on one wrapper.
 */
#ifndef POLYMONGO_ASYNC_H
#define POLYMONGO_ASYNC_H

#include "common.h"
#include "session.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a #pm_op does: each kind runs the blocking function it names, with the pm_op fields
 *  listed (handle; documents; strings; number). What it produces is in the completion's
 *  field given after the arrow. */
typedef enum pm_op_kind {
  PM_OP_INSERT_ONE = 1,        /**< pm_db_insert_one(): db; doc, opts -> result          */
  PM_OP_INSERT_MANY = 2,       /**< pm_db_insert_many(): db; docs/lens/n, opts -> result */
  PM_OP_UPDATE_ONE = 3,        /**< pm_db_update_one(): db; doc (filter), doc2 (update), opts -> result */
  PM_OP_UPDATE_MANY = 4,       /**< pm_db_update_many(): as #PM_OP_UPDATE_ONE           */
  PM_OP_REPLACE_ONE = 5,       /**< pm_db_replace_one(): db; doc (filter), doc2 (replacement), opts -> result */
  PM_OP_DELETE_ONE = 6,        /**< pm_db_delete_one(): db; doc (filter), opts -> result */
  PM_OP_DELETE_MANY = 7,       /**< pm_db_delete_many(): as #PM_OP_DELETE_ONE           */
  PM_OP_BULK_WRITE = 8,        /**< pm_db_bulk_write(): db; docs/lens/n (the operations), opts -> result */
  PM_OP_FIND = 9,              /**< pm_db_find(): db; doc (filter), opts; number -> cursor, and
                                    with number > 0 up to that many documents as for
                                    #PM_OP_CURSOR_NEXT (doc, count) */
  PM_OP_FIND_ONE = 10,         /**< pm_db_find_one(): db; doc (filter), opts -> doc (empty when none) */
  PM_OP_FIND_ONE_AND_UPDATE = 11,  /**< pm_db_find_one_and_update(): db; doc, doc2, opts -> doc */
  PM_OP_FIND_ONE_AND_REPLACE = 12, /**< pm_db_find_one_and_replace(): db; doc, doc2, opts -> doc */
  PM_OP_FIND_ONE_AND_DELETE = 13,  /**< pm_db_find_one_and_delete(): db; doc, opts -> doc */
  PM_OP_COUNT = 14,            /**< pm_db_count(): db; doc (filter), opts -> count       */
  PM_OP_ESTIMATED_COUNT = 15,  /**< pm_db_estimated_count(): db; opts -> count           */
  PM_OP_DISTINCT = 16,         /**< pm_db_distinct(): db; name (field), doc (filter), opts -> doc */
  PM_OP_AGGREGATE = 17,        /**< pm_db_aggregate(): db; doc (pipeline), opts; number -> cursor (as #PM_OP_FIND) */
  PM_OP_CREATE_INDEX = 18,     /**< pm_db_create_index(): db; doc (keys), opts -> text (the name) */
  PM_OP_LIST_INDEXES = 19,     /**< pm_db_list_indexes(): db; number -> cursor (as #PM_OP_FIND) */
  PM_OP_DROP_INDEX = 20,       /**< pm_db_drop_index(): db; name                         */
  PM_OP_DROP_COLLECTION = 21,  /**< pm_db_drop_collection(): db                          */
  PM_OP_COMMAND = 22,          /**< pm_db_command(): db; doc (command) -> doc (reply)    */
  PM_OP_WATCH = 23,            /**< pm_db_watch(): db; doc (pipeline), opts -> stream    */
  PM_OP_CURSOR_NEXT = 24,      /**< pm_cursor_next(), up to `number` times (at least once): cursor
                                    -> doc: the documents one after the other (each BSON
                                    document starts with its length), count: how many; the
                                    code is that count too, 0 at the end */
  PM_OP_STREAM_NEXT = 25,      /**< pm_stream_next(): stream; number (timeout_ms) -> doc: the
                                    event; code 1, or 0 when none came in time */
  PM_OP_START_SESSION = 26,    /**< pm_wrapper_start_session(): name (database), opts -> session */
  PM_OP_START_TRANSACTION = 27, /**< pm_session_start_transaction(): session; opts       */
  PM_OP_COMMIT = 28,           /**< pm_session_commit(): session                         */
  PM_OP_ABORT = 29,            /**< pm_session_abort(): session                          */
  PM_OP_PING = 30,             /**< pm_wrapper_ping(): name (database) -> latency_ms     */
  PM_OP_DROP_DATABASE = 31,    /**< pm_wrapper_drop_database(): name                     */
  PM_OP_WATCH_DATABASE = 32,   /**< pm_wrapper_watch_database(): name; doc (pipeline), opts -> stream */
  PM_OP_WATCH_CLUSTER = 33,    /**< pm_wrapper_watch_cluster(): doc (pipeline), opts -> stream */
  PM_OP_EXPORT_FILE = 34,      /**< pm_wrapper_export_file(): name (database), path      */
  PM_OP_IMPORT_FILE = 35,      /**< pm_wrapper_import_file(): name, path, json (options) -> text (report) */
  PM_OP_EXPORT_DOCUMENT = 36,  /**< pm_wrapper_export_document(): name -> doc            */
  PM_OP_IMPORT_DOCUMENT = 37,  /**< pm_wrapper_import_document(): name; doc; json (options) -> text (report) */
  PM_OP_COPY_DATABASE = 38,    /**< pm_wrapper_copy_database(): name (from), path (to), json (options) -> text */
  PM_OP_LIST_DATABASES = 39,   /**< pm_wrapper_list_databases() -> text (JSON)           */
  PM_OP_CLOSE_ALL = 40,        /**< pm_wrapper_close_all(): number (timeout_ms)          */
  PM_OP_START_COMPENSATING = 41, /**< pm_wrapper_start_compensating(): opts -> session   */
  PM_OP_RECOVER = 42           /**< pm_wrapper_recover(): number (older_than_ms) -> text (report) */
} pm_op_kind;

/** An operation to submit (pm_async_submit()). Zero-initialise it, then set `kind` and the
 *  fields that kind uses (see #pm_op_kind); the others are ignored. Documents are pairs as
 *  everywhere (BSON, or Extended JSON with #PM_JSON). Nothing is kept after the call. */
typedef struct pm_op {
  int kind;              /**< a #pm_op_kind                                                  */
  pm_db *db;             /**< the db of the db operations                                    */
  pm_cursor *cursor;     /**< the cursor of #PM_OP_CURSOR_NEXT (not freed before it completes) */
  pm_stream *stream;     /**< the stream of #PM_OP_STREAM_NEXT (not freed before it completes) */
  pm_session *session;   /**< the session of the session operations (not freed before they complete) */
  const void *doc;       /**< the document, filter, pipeline, command or index keys, or NULL */
  size_t doc_len;        /**< its length, or #PM_JSON                                        */
  const void *doc2;      /**< the update or the replacement                                  */
  size_t doc2_len;       /**< its length, or #PM_JSON                                        */
  const void *opts;      /**< the options, or NULL                                           */
  size_t opts_len;       /**< their length, or #PM_JSON                                      */
  const void *const *docs; /**< the documents of #PM_OP_INSERT_MANY, the operations of #PM_OP_BULK_WRITE */
  const size_t *lens;    /**< their lengths (each may be #PM_JSON)                           */
  size_t n;              /**< how many                                                       */
  const char *name;      /**< a database (wrapper operations), a field (distinct) or an index name */
  const char *path;      /**< a file (export and import), or the target database of a copy    */
  const char *json;      /**< the JSON options of import and copy, or NULL                   */
  int64_t number;        /**< #PM_OP_CURSOR_NEXT: the most documents (0: 1); queries: the most
                              documents to read at once (0: none); #PM_OP_STREAM_NEXT and
                              #PM_OP_CLOSE_ALL: timeout_ms; #PM_OP_RECOVER: older_than_ms   */
  int64_t queue_timeout_ms; /**< > 0: complete with #PM_ETIMEOUT when not started within this
                                 time (all threads busy); 0: no bound on the queue wait      */
  uint64_t tag;          /**< the caller's value, given back in the completion               */
} pm_op;

/** What an operation produced: everything in it is owned by the holder of the completion
 *  (release with pm_completion_clear(); take a field by setting it to NULL or zero first). */
typedef struct pm_completion {
  uint64_t id;           /**< the id pm_async_submit() gave                                  */
  uint64_t tag;          /**< pm_op::tag                                                     */
  int kind;              /**< pm_op::kind                                                    */
  int code;              /**< what the blocking function returned (a pm_code, or a count of
                              documents for #PM_OP_CURSOR_NEXT and #PM_OP_STREAM_NEXT);
                              #PM_ECANCELED or #PM_ETIMEOUT for an operation that never ran */
  pm_error error;        /**< the error when code < 0                                        */
  pm_result *result;     /**< writes: the result (also when some writes failed), or NULL; free with pm_result_free() */
  pm_cursor *cursor;     /**< find, aggregate, list indexes: the cursor, or NULL; free with pm_cursor_free() */
  pm_stream *stream;     /**< watches: the stream, or NULL; free with pm_stream_free()       */
  pm_session *session;   /**< session starts: the session, or NULL; free with pm_session_free() */
  pm_buf doc;            /**< a document, a reply, documents in a row; free with pm_buf_free() */
  int64_t count;         /**< counts; documents in `doc` for #PM_OP_CURSOR_NEXT              */
  double latency_ms;     /**< #PM_OP_PING                                                    */
  char *text;            /**< an index name, a report, JSON; free with pm_free()             */
} pm_completion;

/**
 * Receives a completion on a library thread.
 * @param c The completion: what the callback leaves in it is released after the callback
 *        returns (take a field by setting it to NULL or zero).
 * @param user_data As given to pm_async_submit().
 */
typedef void (*pm_completion_fn)(pm_completion *c, void *user_data);

/** A completion queue with a file descriptor that is readable while it holds completions. */
typedef struct pm_cq pm_cq;

/**
 * Makes a completion queue.
 * @param out Receives the queue, owned by the caller: free it with pm_cq_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; #PM_EINTERNAL when no eventfd could be made.
 * @par Thread-safety
 * Thread-safe; the queue itself may be used from any number of threads.
 */
PM_EXTERN int pm_cq_new(pm_cq **out, pm_error *err);
/**
 * The queue's file descriptor: an eventfd, readable exactly while the queue holds completions
 * (pm_cq_poll() makes it unreadable again once it took the last). Wait on it for reading only;
 * never read, write or close it.
 * @param cq The queue.
 * @return The descriptor (borrowed: valid until pm_cq_free()), or -1 when `cq` is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_cq_fd(const pm_cq *cq);
/**
 * Takes completions from the queue.
 * @param cq The queue.
 * @param out Receives up to `max` completions; each is owned by the caller (release with
 *        pm_completion_clear()).
 * @param max How many `out` holds.
 * @param timeout_ms How long to wait for the first: 0 not at all (for an event loop whose
 *        descriptor became readable), < 0 as long as it takes.
 * @return How many were taken (0 when none came in time or `cq` or `out` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN size_t pm_cq_poll(pm_cq *cq, pm_completion *out, size_t max, int64_t timeout_ms);
/**
 * Frees a queue. Completions still in it are released; operations still running that
 * complete into it are released when they complete.
 * @param cq The queue, or NULL (nothing happens).
 * @par Thread-safety
 * Once no other thread uses the queue.
 */
PM_EXTERN void pm_cq_free(pm_cq *cq);

/**
 * Submits an operation to the wrapper's executor; it completes later, exactly once, into `cq`
 * or by calling `fn` (see the file's notes).
 * @param wrapper The wrapper whose executor runs it (the one the op's handles come from).
 * @param op The operation (copied).
 * @param cq The queue to complete into, or NULL to use `fn`.
 * @param fn The callback, when `cq` is NULL.
 * @param user_data Given to `fn`.
 * @param id Receives the operation's id (for pm_async_cancel()), or NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK when the operation was accepted (it completes later, also when it fails: a
 *         malformed document, for one, completes with #PM_EINVAL as the blocking call returns
 *         it); #PM_EINVAL for an unknown kind, a missing handle, a negative queue_timeout_ms, or
 *         neither or both of `cq` and `fn` (then nothing completes); #PM_ECLOSED once the
 *         wrapper was closed (nothing completes either).
 * @par Thread-safety
 * Thread-safe. Operations on one cursor, stream or session run in submission order.
 */
PM_EXTERN int pm_async_submit(pm_wrapper *wrapper, const pm_op *op, pm_cq *cq,
                              pm_completion_fn fn, void *user_data, uint64_t *id,
                              pm_error *err);
/**
 * Cancels an operation that has not started: it completes with #PM_ECANCELED before this call
 * returns (its callback runs on this thread). One that runs already finishes normally.
 * @param wrapper The wrapper it was submitted to.
 * @param id Its id.
 * @return 1 when it was cancelled, 0 when it had started or completed already (or is unknown).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_async_cancel(pm_wrapper *wrapper, uint64_t id);

/**
 * Releases what a completion holds (result, cursor, stream, session, document, text) and
 * zeroes those fields; fields set to NULL are left alone.
 * @param c The completion, or NULL (nothing happens).
 * @par Thread-safety
 * Thread-safe for distinct completions; a cursor, stream or session in it is released as by
 * its own free function.
 */
PM_EXTERN void pm_completion_clear(pm_completion *c);

/**
 * How many threads the wrapper's executor may run, how many of them new work may use, and how
 * many operations wait to start.
 * @param wrapper The wrapper.
 * @param max_threads Receives the bound, or NULL.
 * @param new_work_threads Receives how many threads operations on no cursor, stream or session
 *        may use at once (the others are kept for those), or NULL.
 * @param queued Receives the number of queued operations, or NULL.
 * @return #PM_OK; #PM_EINVAL when `wrapper` is NULL.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_async_stats(pm_wrapper *wrapper, int *max_threads, int *new_work_threads,
                             size_t *queued);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_ASYNC_H */
