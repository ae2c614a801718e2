// Query results. A cursor holds its pooled client (lease) until exhausted or destroyed;
// destroying it early kills the server-side cursor.
#pragma once

#include <mongoc/mongoc.h>

#include <memory>
#include <mutex>
#include <string>

#include "pool/pool.hpp"

namespace pm::core {

// Between calls a cursor is revocable: a forced close of its pool ends it at once (its client
// goes back and the closed pool's sockets close) and its next call fails with Error closed.
class Cursor final : public Revocable {
 public:
  // Takes ownership of `collection` and `cursor`; fetches the first batch now so that errors
  // (bad filter, unreachable server) surface from the call that made the cursor.
  Cursor(std::shared_ptr<const void> owner, Lease lease, mongoc_collection_t *collection,
         mongoc_cursor_t *cursor, const std::string &context);
  ~Cursor();
  Cursor(const Cursor &) = delete;
  Cursor &operator=(const Cursor &) = delete;

  // The next document (valid until the next call), or nullptr at the end. Throws on error.
  const bson_t *next();
  int64_t id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cursor_ != nullptr ? mongoc_cursor_get_id(cursor_) : 0;
  }
  void revoke() noexcept override;

 private:
  const bson_t *advance();
  // Gives everything back; `deregister` false when the pool already forgot this cursor.
  void close(bool deregister = true) noexcept;

  std::shared_ptr<const void> owner_;  // keeps the db (and so model and wrapper) alive
  Lease lease_;
  mongoc_collection_t *collection_;
  mongoc_cursor_t *cursor_;
  std::string context_;
  const bson_t *primed_ = nullptr;
  bool primed_valid_ = false;
  bool pinned_ = false;
  Pool *registered_ = nullptr;  // the pool that may revoke this cursor
  bool revoked_ = false;        // a forced close ended it, not reported yet
  // Held by each call and by a revocation, which skips a cursor in a call.
  mutable std::mutex mu_;
};

}  // namespace pm::core
