/**
 * @file polymongo/session.h
 * Transactions: native ones on one cluster, and compensating ones across any pools and
 * clusters. Both are a #pm_session; dbs bound to it with pm_db_with_session() run every
 * operation in it.
 *
 * A native session checks out one connection from the pool serving its database and keeps it
 * (the pool is pinned) until pm_session_free(). Every operation on its dbs must be served by
 * the session's pool (one cluster). On a server that cannot run multi-document transactions (a
 * standalone; FerretDB) starting a transaction fails with #PM_ENOTSUP before anything is
 * written.
 *
 * @anchor pm_compensating
 * A compensating session (pm_wrapper_start_compensating()) records the exact undo of every
 * write made through dbs bound to it: inserted ids; the pre-images of exactly the documents
 * changed (single-document writes capture them atomically with find-and-modify; multi-document
 * writes read the matching documents and change exactly those ids); ids of documents created by
 * upserts (assigned in advance). pm_session_start_transaction() begins, pm_session_commit()
 * keeps the writes, pm_session_abort() undoes them newest first; pm_session_with_transaction()
 * commits when the callback returns PM_OK and undoes otherwise, returning the callback's value
 * and error (the original error is never replaced by an undo failure).
 * pm_session_rollback_report() tells what each undo step did. Supported writes: insert
 * one/many, update one/many, replace one, delete one/many; other writes fail with #PM_ENOTSUP
 * inside such a session. What it does not guarantee: isolation. Other clients see the writes
 * before commit, and an undo restores pre-images over anything they wrote to those documents in
 * between.
 *
 * Thread-safety: a session, and the dbs bound to a native one, are for one thread at a time.
 */
#ifndef POLYMONGO_SESSION_H
#define POLYMONGO_SESSION_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A transaction session, native or compensating. One thread at a time. */
typedef struct pm_session pm_session;

/**
 * Starts a native session on the pool serving a database.
 * @param wrapper The wrapper.
 * @param db The database whose pool serves the session, or NULL or "" for the default.
 * @param opts `{causalConsistency?, readConcern?: {level}, writeConcern?: {w, wtimeout, j},
 *        readPreference?: "primary"|..., maxCommitTimeMS?}` (the last four are the defaults of
 *        its transactions), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the session, owned by the caller: free it with pm_session_free().
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL for invalid options; the
 *         @ref pm_io_errors "I/O errors" (#PM_ENOTSUP for a server without sessions).
 * @par Thread-safety
 * Thread-safe; the session is for one thread at a time.
 */
PM_EXTERN int pm_wrapper_start_session(pm_wrapper *wrapper, const char *db, const void *opts,
                                       size_t opts_len, pm_session **out, pm_error *err);

/**
 * Starts a transaction (the explicit form; see also pm_session_with_transaction()).
 * @param session The session.
 * @param opts For a native session, the transaction's options as for
 *        pm_wrapper_start_session() (overriding the session's defaults); a compensating one
 *        takes none. Or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_ENOTSUP when the server cannot run multi-document transactions
 *         (nothing was written); #PM_EINVAL (also when a compensating transaction is already
 *         open); the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_session_start_transaction(pm_session *session, const void *opts, size_t opts_len,
                                           pm_error *err);
/**
 * Commits the open transaction; a compensating one keeps its writes and drops its journal.
 * @param session The session.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL when no transaction is open; the @ref pm_io_errors "I/O errors"
 *         (a native commit whose outcome is unknown may be retried).
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_session_commit(pm_session *session, pm_error *err);
/**
 * Aborts the open transaction: a native one is rolled back by the server; a compensating one
 * undoes its writes newest first (see pm_session_rollback_report() for what each step did; a
 * failed undo step keeps its journal for pm_wrapper_recover()).
 * @param session The session.
 * @param err Receives the error, or NULL.
 * @return #PM_OK (a compensating rollback also when some undo steps failed: see the report);
 *         #PM_EINVAL when no transaction is open; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_session_abort(pm_session *session, pm_error *err);
/**
 * Whether a transaction is open.
 * @param session The session.
 * @return 1 when a transaction is open, else 0 (also when `session` is NULL).
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_session_in_transaction(const pm_session *session); /* 1 or 0 */

/** The body of a transaction (pm_session_with_transaction()): runs operations on dbs bound to
 *  `session` and returns PM_OK to commit, or anything else to abort. */
typedef int (*pm_transaction_fn)(pm_session *session, void *user_data);
/**
 * Runs a transaction with the drivers' with-transaction semantics: starts a transaction, runs
 * `fn`, and commits when it returns PM_OK. On a native session, an operation that failed with
 * the TransientTransactionError label makes the whole transaction run again (after an
 * exponential backoff with jitter, 5 ms doubling to 500 ms), and a commit that failed with
 * UnknownTransactionCommitResult is retried, both within timeout_ms. Any other return value
 * from `fn` aborts the transaction and is returned. A compensating session runs `fn` once and
 * undoes its writes unless it returns PM_OK.
 * @param session The session.
 * @param fn The transaction's body; it runs on the calling thread.
 * @param user_data Passed to `fn`.
 * @param opts The transaction's options as for pm_session_start_transaction(), or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param timeout_ms The time allowed for retries, in milliseconds (<= 0: 120000).
 * @param err Receives the error, or NULL: when `fn` failed with a negative pm_code, the error
 *        of the operation that failed (never replaced by an undo failure).
 * @return #PM_OK when committed; `fn`'s own value when it aborted (a negative pm_code from a
 *         failed operation, or a positive value of the callback's choosing); otherwise the
 *         codes of pm_session_start_transaction() and pm_session_commit().
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_session_with_transaction(pm_session *session, pm_transaction_fn fn,
                                          void *user_data, const void *opts, size_t opts_len,
                                          int64_t timeout_ms, pm_error *err);

/** pm_session_transaction_labels(): an operation of the current transaction, or its commit,
 *  failed with the TransientTransactionError label (run the whole transaction again). */
#define PM_TXN_TRANSIENT 1
/** pm_session_transaction_labels(): the last commit failed with the
 *  UnknownTransactionCommitResult label (commit again; never set for MaxTimeMSExpired). */
#define PM_TXN_UNKNOWN_COMMIT 2

/**
 * The labels pm_session_with_transaction() retries by, for a binding that runs the
 * transaction's body itself (an async body, with pm_async_submit()): after the body or the
 * commit failed, #PM_TXN_TRANSIENT says to run the whole transaction again (abort first, then
 * start a new one, with a backoff) and #PM_TXN_UNKNOWN_COMMIT to call pm_session_commit()
 * again, both within the caller's time limit. #PM_TXN_TRANSIENT is cleared when a transaction
 * starts, #PM_TXN_UNKNOWN_COMMIT when a commit or a transaction starts. No I/O.
 * @param session The session.
 * @return A combination of #PM_TXN_TRANSIENT and #PM_TXN_UNKNOWN_COMMIT; 0 for none, for a
 *         compensating session (which never retries) and when `session` is NULL.
 * @par Thread-safety
 * Thread-safe (also while an operation of the session runs on another thread). The session
 * stays owned by the caller.
 */
PM_EXTERN int pm_session_transaction_labels(const pm_session *session);

/* ---- compensating transactions, across any pools and clusters ------------------------------- */

/**
 * Starts a compensating session (see @ref pm_compensating "above"). With the journal, each
 * undo record is written before its write to `<journalDb>.polymongo_journal` on the same
 * cluster, updated with the exact pre-image after it, and removed when the transaction ends;
 * pm_wrapper_recover() (or the wrapper option recoverOnStart) rolls back what a crashed process
 * left open. No I/O happens here.
 * @param wrapper The wrapper.
 * @param opts `{journal?: false, journalDb?: "polymongo_journal"}`, or NULL.
 * @param opts_len Their length (or #PM_JSON).
 * @param out Receives the session, owned by the caller: free it with pm_session_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL for invalid options; #PM_EDBNAME for an invalid journalDb.
 * @par Thread-safety
 * Thread-safe; the session is for one thread at a time.
 */
PM_EXTERN int pm_wrapper_start_compensating(pm_wrapper *wrapper, const void *opts, size_t opts_len,
                                            pm_session **out, pm_error *err);

/**
 * The report of the last rollback of a compensating session: `{txn, steps: [{seq, db,
 * collection, undo, documents, ok, error?}], failedSteps}`. No I/O.
 * @param session A compensating session.
 * @param json Receives the report as JSON, owned by the caller (free with pm_free()), or NULL
 *        when there was no rollback yet.
 * @return #PM_OK; #PM_EINVAL when an argument is NULL or the session is native;
 *         #PM_EINTERNAL when memory ran out. (No pm_error: nothing else can fail.)
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_session_rollback_report(const pm_session *session, char **json);

/**
 * Rolls back the compensating transactions that crashed processes left open in the journals
 * (journalDb wrapper option, default "polymongo_journal") of every cluster this wrapper knows,
 * if they are older than older_than_ms. Transactions of a process still alive on this host are
 * never touched; for other hosts, older_than_ms is what tells a crashed process from a slow one
 * (recoverOnStart uses 0: give each host its own journalDb, or pass a margin).
 * @param wrapper The wrapper.
 * @param older_than_ms Only transactions opened at least this long ago, in milliseconds.
 * @param report_json Receives `{recovered: [{txn, cluster, undone, failed}]}`, owned by the
 *        caller (free with pm_free()), or NULL.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_recover(pm_wrapper *wrapper, int64_t older_than_ms, char **report_json,
                                 pm_error *err);

/**
 * The same database and model as `db`, with every operation in `session`. Unlike other dbs, a
 * db bound to a native session shares the session's one connection: it and its cursors are
 * for one thread at a time, with the session. The session ends (aborting an open transaction)
 * when pm_session_free() has been called and the last db bound to it is freed. No I/O.
 * @param db The db to bind; it is left unchanged.
 * @param session The session; the new db keeps it alive.
 * @param out Receives the new db, owned by the caller: free it with pm_db_free().
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when an argument is NULL. (A db served by another pool than a
 *         native session's fails its operations with #PM_EINVAL.)
 * @par Thread-safety
 * One thread at a time per session.
 */
PM_EXTERN int pm_db_with_session(const pm_db *db, pm_session *session, pm_db **out,
                                 pm_error *err);

/**
 * Releases the caller's reference to a session. A native session ends (aborting an open
 * transaction, giving its connection back) once no db bound to it remains. An open
 * compensating transaction is abandoned: its writes stay (with the journal,
 * pm_wrapper_recover() can undo them later).
 * @param session The session, or NULL (nothing happens).
 * @par Thread-safety
 * From the thread that uses the session (or once none does).
 */
PM_EXTERN void pm_session_free(pm_session *session); /* NULL-safe; aborts an open transaction */

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_SESSION_H */
