// How every operation of a Db runs (included by the ops/db_*.cpp files only): the options it
// sends, the client and collection it runs on, and Db::run, the loop that routes, checks out,
// applies the model's setup, runs the operation, records its outcome and retries it.
#pragma once

#include <chrono>
#include <thread>
#include <type_traits>

#include "ops/db.hpp"

namespace pm::core {

// Operation options plus the session id when the db is bound to a session. Not movable.
class OpOpts {
 public:
  OpOpts(const bson_t *user, const Session *session) : user_(user) {
    if (session == nullptr) return;
    bson_init(&copy_);
    copied_ = true;
    if (user != nullptr) bson_concat(&copy_, user);
    session->append_to(&copy_);
  }
  ~OpOpts() {
    if (copied_) bson_destroy(&copy_);
  }
  OpOpts(const OpOpts &) = delete;
  OpOpts &operator=(const OpOpts &) = delete;
  const bson_t *get() const { return copied_ ? &copy_ : user_; }

 private:
  const bson_t *user_;
  bson_t copy_;
  bool copied_ = false;
};

struct BsonGuard {
  bson_t *b;
  ~BsonGuard() { bson_destroy(b); }
};

struct Db::Target {
  Permit permit;                    // the database's tenantLimits slot, given back after the lease
  Lease lease;                      // empty when the db is bound to a session
  mongoc_client_t *client = nullptr;
  mongoc_collection_t *coll = nullptr;
  ~Target() {
    if (coll != nullptr) mongoc_collection_destroy(coll);
  }
};

// Exponential backoff with jitter before retry `attempt` + 1 (ops/retry.cpp).
std::chrono::milliseconds backoff(const RetryOptions &r, int attempt);

// Routes, checks out, applies the model's setup, runs `body`, and records the outcome on the
// pool. Connection failures are retried by the wrapper's policy when that cannot apply a write
// twice: failures before anything was sent, and reads. Authentication errors never are.
template <class F>
auto Db::run(Op op, F &&body) const {
  const bool is_write = op.is_write;
  const OpsContext &ctx = model_->context();
  const RetryOptions &retry = ctx.retry;
  // A native session pins every operation to its client; a compensating one does not.
  const Session *pinned = this->pinned();
  for (int attempt = 1;; ++attempt) {
    if (is_write && !pinned) ctx.router.hold_writes(name_);  // a move's fence (fleet/)
    std::shared_ptr<Pool> routed = ctx.router.route(name_);
    Pool *pool = pinned ? pinned->pinned_pool() : routed.get();
    if (pool != routed.get())
      fail(Code::invalid_argument, "database " + name_ + " is served by another pool than the session's: " +
                                       "a native transaction spans one pool; use a compensating transaction");
    if (!pinned) ctx.pauses.wait(name_, pool->label());  // one relaxed load unless something is paused
    auto started = std::chrono::steady_clock::now();
    auto elapsed_us = [&](bool failed = false) {
      auto us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count());
      if (ctx.slow.is_slow(us)) ctx.slow.report(name_, collection(), op.kind, op.filter, us, failed);
      return us;
    };
    try {
      Target t;
      if (pinned) {
        t.client = pinned->pinned_client();
      } else {
        t.permit = ctx.router.admit(name_, *routed);
        t.lease = ctx.router.checkout(routed, name_);
        t.client = t.lease.client();
      }
      model_->ensure(t.client, name_);
      t.coll = mongoc_client_get_collection(t.client, name_.c_str(), collection().c_str());
      if constexpr (std::is_void_v<decltype(body(t))>) {
        body(t);
        pool->record_success(name_, elapsed_us());
        return;
      } else {
        auto result = body(t);
        if constexpr (std::is_same_v<decltype(result), WriteOutcome>) {
          if (result.error) {
            pool->record_failure(name_, *result.error, elapsed_us(true));
            if (pinned) session_->note_error(*result.error);
            return result;
          }
        }
        pool->record_success(name_, elapsed_us());
        return result;
      }
    } catch (const Error &e) {
      pool->record_failure(name_, e, elapsed_us(true));
      if (pinned) {
        session_->note_error(e);
        throw;  // inside a session the caller decides (with_transaction retries whole transactions)
      }
      bool retryable = e.code() == Code::connection && (e.before_send() || !is_write);
      if (!retryable || attempt >= retry.attempts) throw;
      ctx.log.warn("retrying on " + name_ + " after: " + e.what() + " (attempt " +
                   std::to_string(attempt + 1) + " of " + std::to_string(retry.attempts) + ")");
      std::this_thread::sleep_for(backoff(retry, attempt));
    }
  }
}

}  // namespace pm::core
