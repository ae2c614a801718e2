// Native transactions on one cluster (libmongoc client sessions), one implementation of
// Session (ops/session.hpp). A native session checks one client out of the pool serving its
// database and keeps it (the pool is pinned) until the session is freed; every operation made
// through a db bound to the session runs on that client with the session's id.
#pragma once

#include <mongoc/mongoc.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "base/doc.hpp"
#include "ops/session.hpp"
#include "pool/pool.hpp"
#include "pool/router.hpp"

namespace pm::core {

class NativeSession final : public Session {
 public:
  // Checks out a client from the pool `router` serves `db` from and starts a client session
  // on it. `opts`: {causalConsistency?, readConcern?, writeConcern?, readPreference?,
  // maxCommitTimeMS?} — the last four are the default transaction options.
  NativeSession(Router &router, const std::string &db, DocView opts);
  ~NativeSession() override;
  NativeSession(const NativeSession &) = delete;
  NativeSession &operator=(const NativeSession &) = delete;

  // Fails with Error(not_supported) before anything is written when the server cannot run
  // multi-document transactions (a standalone, or a server that does not claim them).
  void start_transaction(DocView opts) override;
  void commit() override;
  void abort() override;
  bool in_transaction() const override;

  // The drivers' with-transaction: runs `body` in a transaction and commits, retrying the
  // whole transaction on TransientTransactionError and the commit on
  // UnknownTransactionCommitResult, within `timeout_ms`. `body` returns false to abort.
  // Returns false when the body asked to abort.
  bool with_transaction(const std::function<bool()> &body, DocView opts, int64_t timeout_ms) override;

  Pool *pinned_pool() const override { return pool_.get(); }
  // Error closed once the wrapper is closed (pm_wrapper_close): the session keeps its lease, so
  // the pools' shutdown alone would not stop it.
  mongoc_client_t *pinned_client() const override;
  // Adds this session's id to operation options.
  void append_to(bson_t *opts) const override;
  // The error the last failed operation on this session reported (for with_transaction).
  void note_error(const Error &e) override;
  int transaction_labels() const override { return labels_.load(std::memory_order_acquire); }

 private:
  void check_open() const;
  void check_transactions_supported();

  std::shared_ptr<Pool> pool_;
  Lease lease_;
  mongoc_client_session_t *session_ = nullptr;
  bool supported_checked_ = false;
  // kTransientTransaction: an operation of the transaction, or its commit, failed with
  // TransientTransactionError (cleared when a transaction starts); kUnknownCommitResult: the
  // last commit failed with UnknownTransactionCommitResult (cleared by the next commit or
  // start). Atomic: read by pm_session_transaction_labels() from any thread.
  std::atomic<int> labels_{0};
};

}  // namespace pm::core
