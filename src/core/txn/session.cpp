#include "txn/session.hpp"

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "base/error.hpp"

namespace pm::core {

namespace {

// Transaction options from {readConcern: {level}, writeConcern: {w, wtimeout, j},
// readPreference: "primary"|..., maxCommitTimeMS}.
mongoc_transaction_opt_t *transaction_options(const bson_t *opts) {
  mongoc_transaction_opt_t *t = mongoc_transaction_opts_new();
  struct Free {
    mongoc_transaction_opt_t *&t;
    bool armed = true;
    ~Free() {
      if (armed) mongoc_transaction_opts_destroy(t);
    }
  } guard{t};
  bson_iter_t it;
  bson_iter_init(&it, opts);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "readConcern") == 0) {
      bson_iter_t level;
      if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &level) || !bson_iter_find(&level, "level") ||
          !BSON_ITER_HOLDS_UTF8(&level))
        fail(Code::invalid_argument, "readConcern must be {\"level\": \"...\"}");
      mongoc_read_concern_t *rc = mongoc_read_concern_new();
      mongoc_read_concern_set_level(rc, bson_iter_utf8(&level, nullptr));
      mongoc_transaction_opts_set_read_concern(t, rc);
      mongoc_read_concern_destroy(rc);
    } else if (std::strcmp(key, "writeConcern") == 0) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&it)) fail(Code::invalid_argument, "writeConcern must be a document");
      mongoc_write_concern_t *wc = mongoc_write_concern_new();
      bson_iter_t f;
      bson_iter_recurse(&it, &f);
      while (bson_iter_next(&f)) {
        const char *k = bson_iter_key(&f);
        if (std::strcmp(k, "w") == 0 && BSON_ITER_HOLDS_UTF8(&f) && std::strcmp(bson_iter_utf8(&f, nullptr), "majority") == 0)
          mongoc_write_concern_set_wmajority(wc, 0);
        else if (std::strcmp(k, "w") == 0 && BSON_ITER_HOLDS_NUMBER(&f))
          mongoc_write_concern_set_w(wc, static_cast<int32_t>(bson_iter_as_int64(&f)));
        else if (std::strcmp(k, "wtimeout") == 0 && BSON_ITER_HOLDS_NUMBER(&f))
          mongoc_write_concern_set_wtimeout_int64(wc, bson_iter_as_int64(&f));
        else if (std::strcmp(k, "j") == 0)
          mongoc_write_concern_set_journal(wc, bson_iter_as_bool(&f));
        else {
          mongoc_write_concern_destroy(wc);
          fail(Code::invalid_argument, std::string("writeConcern: unsupported field '") + k + "'");
        }
      }
      mongoc_transaction_opts_set_write_concern(t, wc);
      mongoc_write_concern_destroy(wc);
    } else if (std::strcmp(key, "readPreference") == 0) {
      const char *mode = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
      mongoc_read_mode_t m;
      if (std::strcmp(mode, "primary") == 0) m = MONGOC_READ_PRIMARY;
      else if (std::strcmp(mode, "primaryPreferred") == 0) m = MONGOC_READ_PRIMARY_PREFERRED;
      else if (std::strcmp(mode, "secondary") == 0) m = MONGOC_READ_SECONDARY;
      else if (std::strcmp(mode, "secondaryPreferred") == 0) m = MONGOC_READ_SECONDARY_PREFERRED;
      else if (std::strcmp(mode, "nearest") == 0) m = MONGOC_READ_NEAREST;
      else fail(Code::invalid_argument, "readPreference must be primary, primaryPreferred, secondary, secondaryPreferred or nearest");
      mongoc_read_prefs_t *rp = mongoc_read_prefs_new(m);
      mongoc_transaction_opts_set_read_prefs(t, rp);
      mongoc_read_prefs_destroy(rp);
    } else if (std::strcmp(key, "maxCommitTimeMS") == 0) {
      if (!BSON_ITER_HOLDS_NUMBER(&it) || bson_iter_as_int64(&it) < 0)
        fail(Code::invalid_argument, "maxCommitTimeMS must be a number >= 0");
      mongoc_transaction_opts_set_max_commit_time_ms(t, bson_iter_as_int64(&it));
    } else {
      fail(Code::invalid_argument, std::string("transaction options: unknown option '") + key + "'");
    }
  }
  guard.armed = false;
  return t;
}

}  // namespace

void NativeSession::check_open() const {
  if (pool_->is_shut_down()) throw Error(Code::closed, "the wrapper is closed (pm_wrapper_close)");
}

mongoc_client_t *NativeSession::pinned_client() const {
  check_open();
  return lease_.client();
}

NativeSession::NativeSession(Router &router, const std::string &db, DocView opts) {
  Doc o(opts, "session options");
  bson_t txn = BSON_INITIALIZER;
  bool causal = true;
  bson_iter_t it;
  bson_iter_init(&it, o.get());
  while (bson_iter_next(&it)) {
    if (std::strcmp(bson_iter_key(&it), "causalConsistency") == 0) causal = bson_iter_as_bool(&it);
    else bson_append_iter(&txn, bson_iter_key(&it), -1, &it);
  }
  mongoc_transaction_opt_t *defaults;
  try {
    defaults = transaction_options(&txn);
  } catch (...) {
    bson_destroy(&txn);
    throw;
  }
  bson_destroy(&txn);
  mongoc_session_opt_t *sopts = mongoc_session_opts_new();
  mongoc_session_opts_set_causal_consistency(sopts, causal);
  mongoc_session_opts_set_default_transaction_opts(sopts, defaults);
  mongoc_transaction_opts_destroy(defaults);

  pool_ = router.route(db);
  try {
    lease_ = router.checkout(pool_);
  } catch (...) {
    mongoc_session_opts_destroy(sopts);
    throw;
  }
  bson_error_t error;
  session_ = mongoc_client_start_session(lease_.client(), sopts, &error);
  mongoc_session_opts_destroy(sopts);
  if (session_ == nullptr) throw Error::from_driver(error, "start a session");
  pool_->pin(PinKind::session, +1);
}

NativeSession::~NativeSession() {
  // Destroying a session with a transaction in progress aborts it on the server.
  if (session_ != nullptr) {
    mongoc_client_session_destroy(session_);
    pool_->pin(PinKind::session, -1);
  }
}

void NativeSession::check_transactions_supported() {
  if (supported_checked_) return;
  bson_t cmd = BSON_INITIALIZER, reply;
  BSON_APPEND_INT32(&cmd, "hello", 1);
  bson_error_t error;
  bool ok = mongoc_client_command_simple(lease_.client(), "admin", &cmd, nullptr, &reply, &error);
  bson_destroy(&cmd);
  if (!ok) {
    bson_destroy(&reply);
    throw Error::from_driver(error, "check the server for transactions");
  }
  bson_iter_t it;
  bool replica_set = bson_iter_init_find(&it, &reply, "setName");
  bool mongos = bson_iter_init_find(&it, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&it) &&
                std::strcmp(bson_iter_utf8(&it, nullptr), "isdbgrid") == 0;
  bool sessions = bson_iter_init_find(&it, &reply, "logicalSessionTimeoutMinutes");
  bson_destroy(&reply);
  if (!(replica_set || mongos) || !sessions)
    throw Error(Code::not_supported,
                "this server cannot run multi-document transactions (it is not a replica set or "
                "sharded cluster); nothing was written. Use a compensating transaction instead");
  supported_checked_ = true;
}

void NativeSession::start_transaction(DocView opts) {
  check_open();
  check_transactions_supported();
  Doc o(opts, "transaction options");
  mongoc_transaction_opt_t *t = o.empty() ? nullptr : transaction_options(o.get());
  bson_error_t error;
  bool ok = mongoc_client_session_start_transaction(session_, t, &error);
  if (t) mongoc_transaction_opts_destroy(t);
  if (!ok) throw Error::from_driver(error, "start a transaction");
  labels_.store(0, std::memory_order_release);
}

void NativeSession::commit() {
  check_open();
  labels_.fetch_and(~kUnknownCommitResult, std::memory_order_acq_rel);
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_client_session_commit_transaction(session_, &reply, &error);
  Error e = ok ? Error(Code::ok, "") : Error::from_driver(error, "commit", &reply);
  bson_destroy(&reply);
  if (!ok) {
    // 50 (MaxTimeMSExpired): the commit's own time limit ran out; trying again cannot help.
    int labels = (e.transient_transaction_error() ? kTransientTransaction : 0) |
                 (e.unknown_commit_result() && e.server_code() != 50 ? kUnknownCommitResult : 0);
    labels_.fetch_or(labels, std::memory_order_acq_rel);
    throw e;
  }
}

void NativeSession::abort() {
  check_open();
  bson_error_t error;
  if (!mongoc_client_session_abort_transaction(session_, &error))
    throw Error::from_driver(error, "abort");
}

bool NativeSession::in_transaction() const { return mongoc_client_session_in_transaction(session_); }

void NativeSession::append_to(bson_t *opts) const {
  bson_error_t error;
  if (!mongoc_client_session_append(session_, opts, &error)) throw Error::from_driver(error, "session");
}

void NativeSession::note_error(const Error &e) {
  if (e.transient_transaction_error()) labels_.fetch_or(kTransientTransaction, std::memory_order_acq_rel);
}

bool NativeSession::with_transaction(const std::function<bool()> &body, DocView opts, int64_t timeout_ms) {
  if (timeout_ms <= 0) timeout_ms = 120000;  // the drivers' default
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto time_left = [&] { return std::chrono::steady_clock::now() < deadline; };
  // Before running the transaction again after a transient error: exponential backoff with
  // jitter (5 ms doubling up to 500 ms), so that conflicting transactions do not spin.
  int attempt = 0;
  thread_local std::mt19937 rng{std::random_device{}()};
  auto backoff = [&] {
    int64_t cap = std::min<int64_t>(500, int64_t{5} << std::min(attempt, 7));
    ++attempt;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(cap / 2, cap)(rng)));
  };
  for (bool first = true;; first = false) {
    if (!first) backoff();
    start_transaction(opts);
    bool keep;
    try {
      keep = body();
    } catch (const Error &e) {
      bool transient = e.transient_transaction_error() || (transaction_labels() & kTransientTransaction) != 0;
      if (in_transaction()) {
        try {
          abort();
        } catch (const Error &) {
        }
      }
      if (transient && time_left()) continue;
      throw;
    }
    if (!keep) {
      bool transient = (transaction_labels() & kTransientTransaction) != 0;
      if (in_transaction()) abort();
      if (transient && time_left()) continue;  // the body failed on a transient error
      return false;
    }
    if (!in_transaction()) return true;  // the body committed or aborted itself
    for (;;) {
      try {
        commit();
        return true;
      } catch (const Error &e) {
        if (e.unknown_commit_result() && e.server_code() != 50 && time_left()) continue;
        if (e.transient_transaction_error() && time_left()) break;  // retry the whole transaction
        throw;
      }
    }
  }
}

}  // namespace pm::core
