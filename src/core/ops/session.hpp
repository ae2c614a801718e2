// A session, as the operations see it: one interface, two implementations in txn/.
//   NativeSession       a libmongoc client session on one pool: a bound db's operations run on
//                       the client it holds, with its id, inside its server-side transaction.
//   CompensatingSession writes of a bound db record their exact undo (any pools, any
//                       clusters); rolling back replays the undos newest first.
// Declared here so that a Db can be bound to either without knowing which (ops is below txn).
#pragma once

#include <mongoc/mongoc.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "ops/target.hpp"
#include "pool/pool.hpp"

namespace pm::core {

// The writes a compensating session makes itself, on `plain` (the same collection without the
// session), recording each one's undo before returning.
class WriteRecorder {
 public:
  virtual ~WriteRecorder() = default;
  virtual WriteOutcome insert_many(const CollectionTarget &plain, const std::vector<DocView> &docs,
                                   DocView opts) = 0;
  virtual WriteOutcome update(const CollectionTarget &plain, DocView filter, DocView change,
                              DocView opts, bool many, bool replace) = 0;
  virtual WriteOutcome remove(const CollectionTarget &plain, DocView filter, DocView opts,
                              bool many) = 0;
};

class Session {
 public:
  virtual ~Session() = default;

  // ---- the transaction (pm_session_*)
  virtual void start_transaction(DocView opts) = 0;
  virtual void commit() = 0;
  virtual void abort() = 0;  // a compensating session rolls back (and keeps the report)
  virtual bool in_transaction() const = 0;
  // Starts a transaction, runs `body`, and commits when it returns true; aborts (rolls back)
  // when it returns false or throws (and rethrows). A native session retries the whole
  // transaction on TransientTransactionError and the commit on UnknownTransactionCommitResult
  // within `timeout_ms` (<= 0: 120 s), like the drivers' withTransaction. Returns whether the
  // transaction was committed.
  virtual bool with_transaction(const std::function<bool()> &body, DocView opts, int64_t timeout_ms) = 0;
  // The report (JSON) of the last rollback; nullopt when this kind of session makes none.
  virtual std::optional<std::string> rollback_report() const { return std::nullopt; }

  // ---- how the operations of a db bound to this session run
  // A native session pins them to the client it holds, from this pool; nullptr: operations
  // route and check out as usual.
  virtual Pool *pinned_pool() const { return nullptr; }
  virtual mongoc_client_t *pinned_client() const { return nullptr; }
  // Adds the session id to an operation's options (pinned sessions only).
  virtual void append_to(bson_t *opts) const { (void)opts; }
  // The error an operation on the session failed with (with_transaction retries on some).
  virtual void note_error(const Error &e) { (void)e; }
  // What with_transaction's retries go by, for a caller that runs the body itself
  // (pm_session_transaction_labels): kTransientTransaction | kUnknownCommitResult.
  static constexpr int kTransientTransaction = 1;
  static constexpr int kUnknownCommitResult = 2;
  virtual int transaction_labels() const { return 0; }
  // A compensating session makes a bound db's writes itself; nullptr: writes run as usual.
  virtual WriteRecorder *recorder() { return nullptr; }
};

}  // namespace pm::core
