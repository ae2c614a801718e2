// Query results. A cursor holds its pooled client (lease) until exhausted or destroyed;
// destroying it early kills the server-side cursor.
#pragma once

#include <mongoc/mongoc.h>

#include <memory>
#include <string>

#include "pool.hpp"

namespace pm::core {

class Cursor {
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
  int64_t id() const { return cursor_ != nullptr ? mongoc_cursor_get_id(cursor_) : 0; }

  // Storage for the JSON form of the current document (see pm_cursor_next_json).
  std::string json;

 private:
  const bson_t *advance();
  void close() noexcept;

  std::shared_ptr<const void> owner_;  // keeps the db (and so model and wrapper) alive
  Lease lease_;
  mongoc_collection_t *collection_;
  mongoc_cursor_t *cursor_;
  std::string context_;
  const bson_t *primed_ = nullptr;
  bool primed_valid_ = false;
  bool pinned_ = false;
};

}  // namespace pm::core
