/* polymongo/session.h: native transactions on one cluster.
 *
 * A session checks out one connection from the pool serving its database and keeps it (the
 * pool is pinned) until pm_session_free. Bind databases to it with pm_db_with_session: every
 * operation on such a db runs in the session; all of them must be served by the session's pool
 * (one cluster). Thread-safety: one thread at a time. On a server that cannot run
 * multi-document transactions (a standalone; FerretDB) starting a transaction fails with
 * PM_ENOTSUP before anything is written. */
#ifndef POLYMONGO_SESSION_H
#define POLYMONGO_SESSION_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pm_session pm_session;

/* Starts a session on the pool serving `db` (NULL or "": the default database). `opts` (a
 * document, or NULL): {causalConsistency?, readConcern?: {level}, writeConcern?: {w, wtimeout,
 * j}, readPreference?: "primary"|..., maxCommitTimeMS?}; the last four are the defaults of its
 * transactions. */
PM_EXTERN int pm_wrapper_start_session(pm_wrapper *wrapper, const char *db, const void *opts,
                                       size_t opts_len, pm_session **out, pm_error *err);

/* The explicit form. `opts` as above (overriding the session's defaults), or NULL. */
PM_EXTERN int pm_session_start_transaction(pm_session *session, const void *opts, size_t opts_len,
                                           pm_error *err);
PM_EXTERN int pm_session_commit(pm_session *session, pm_error *err);
PM_EXTERN int pm_session_abort(pm_session *session, pm_error *err);
PM_EXTERN int pm_session_in_transaction(const pm_session *session); /* 1 or 0 */

/* The callback form, with the drivers' with-transaction semantics: starts a transaction, runs
 * `fn`, and commits when it returns PM_OK. An operation that failed with the
 * TransientTransactionError label makes the whole transaction run again (after an exponential
 * backoff with jitter, 5 ms doubling to 500 ms); a commit that failed with
 * UnknownTransactionCommitResult is retried; both within timeout_ms (<= 0: 120000).
 * Any other return value from `fn` aborts the transaction and is returned (a negative pm_code
 * from a failed operation keeps its pm_error; a positive value is the callback's own choice).
 * `fn` runs on the calling thread. */
typedef int (*pm_transaction_fn)(pm_session *session, void *user_data);
PM_EXTERN int pm_session_with_transaction(pm_session *session, pm_transaction_fn fn,
                                          void *user_data, const void *opts, size_t opts_len,
                                          int64_t timeout_ms, pm_error *err);

/* ---- compensating transactions, across any pools and clusters -------------------------------
 *
 * A compensating session records the exact undo of every write made through dbs bound to it
 * (pm_db_with_session): inserted ids; the pre-images of exactly the documents changed (single-
 * document writes capture them atomically with find-and-modify; multi-document writes read the
 * matching documents and change exactly those ids); ids of documents created by upserts
 * (assigned in advance). pm_session_start_transaction begins, pm_session_commit keeps the
 * writes, pm_session_abort undoes them newest first; pm_session_with_transaction commits when
 * the callback returns PM_OK and undoes otherwise, returning the callback's value and error
 * (the original error is never replaced by an undo failure). pm_session_rollback_report tells
 * what each undo step did. Supported writes: insert one/many, update one/many, replace one,
 * delete one/many; other writes fail with PM_ENOTSUP inside such a session.
 * What it does not guarantee: isolation. Other clients see the writes before commit, and an
 * undo restores pre-images over anything they wrote to those documents in between.
 *
 * opts: {journal?: false, journalDb?: "polymongo_journal"}. With the journal, each undo record
 * is written before its write to <journalDb>.polymongo_journal on the same cluster, updated
 * with the exact pre-image after it, and removed when the transaction ends; pm_wrapper_recover
 * (or the wrapper option recoverOnStart) rolls back what a crashed process left open. */
PM_EXTERN int pm_wrapper_start_compensating(pm_wrapper *wrapper, const void *opts, size_t opts_len,
                                            pm_session **out, pm_error *err);

/* The report of the last rollback as JSON {txn, steps: [{seq, db, collection, undo, documents,
 * ok, error?}], failedSteps}, or NULL in *json when there was none; free with pm_free. */
PM_EXTERN int pm_session_rollback_report(const pm_session *session, char **json);

/* Rolls back the compensating transactions that crashed processes left open in the journals
 * (journalDb wrapper option, default "polymongo_journal") of every cluster this wrapper knows,
 * if they are older than older_than_ms. Transactions of a process still alive on this host are
 * never touched; for other hosts, older_than_ms is what tells a crashed process from a slow one
 * (recoverOnStart uses 0: give each host its own journalDb, or pass a margin). The report goes to *report_json (free with pm_free;
 * may be NULL): {recovered: [{txn, cluster, undone, failed}]}. */
PM_EXTERN int pm_wrapper_recover(pm_wrapper *wrapper, int64_t older_than_ms, char **report_json,
                                 pm_error *err);

/* The same database and model as `db`, with every operation in `session`. Unlike other dbs, a
 * db bound to a native session shares the session's one connection: it and its cursors are
 * for one thread at a time, with the session. The session ends (aborting an open transaction)
 * when pm_session_free has been called and the last db bound to it is freed. */
PM_EXTERN int pm_db_with_session(const pm_db *db, pm_session *session, pm_db **out,
                                 pm_error *err);

PM_EXTERN void pm_session_free(pm_session *session); /* NULL-safe; aborts an open transaction */

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_SESSION_H */
