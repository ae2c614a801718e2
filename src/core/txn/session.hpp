// Sessions: native transactions on one cluster (libmongoc client sessions). A native session
// checks one client out of the pool serving its database and keeps it (the pool is pinned)
// until the session is freed; every operation made through a db bound to the session runs on
// that client with the session's id.
#pragma once

#include <mongoc/mongoc.h>

#include <functional>
#include <memory>
#include <string>

#include "base/doc.hpp"
#include "pool/pool.hpp"

namespace pm::core {

class Wrapper;

class Session {
 public:
  // Checks out a client from the pool serving `db` and starts a client session on it.
  // `opts`: {causalConsistency?, readConcern?, writeConcern?, readPreference?, maxCommitTimeMS?}
  // — the last four are the default transaction options.
  Session(std::shared_ptr<Wrapper> wrapper, const std::string &db, DocView opts);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // Fails with Error(not_supported) before anything is written when the server cannot run
  // multi-document transactions (a standalone, or a server that does not claim them).
  void start_transaction(DocView opts);
  void commit();
  void abort();
  bool in_transaction() const;

  // The drivers' with-transaction: runs `body` in a transaction and commits, retrying the
  // whole transaction on TransientTransactionError and the commit on
  // UnknownTransactionCommitResult, within `timeout_ms`. `body` returns false to abort.
  // Returns false when the body asked to abort.
  bool with_transaction(const std::function<bool()> &body, DocView opts, int64_t timeout_ms);

  // Adds this session's id to operation options.
  void append_to(bson_t *opts) const;
  // The session's client; Error closed once the wrapper is closed (pm_wrapper_close): the
  // session keeps its lease, so the pool's shutdown alone would not stop it.
  mongoc_client_t *client() const;
  const std::shared_ptr<Pool> &pool() const { return pool_; }

  // The error the last failed operation on this session reported (for with_transaction).
  void note_error(const Error &e);

 private:
  void check_transactions_supported();

  std::shared_ptr<Wrapper> wrapper_;
  std::shared_ptr<Pool> pool_;
  Lease lease_;
  mongoc_client_session_t *session_ = nullptr;
  bool supported_checked_ = false;
  bool last_transient_ = false;
};

}  // namespace pm::core
