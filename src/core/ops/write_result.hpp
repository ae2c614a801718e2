// The outcome of a write, normalised from libmongoc's bulk reply.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"

namespace pm::core {

struct WriteError {
  size_t index;
  int32_t code;
  std::string message;
};

// The _id of one insert: a copy of the value, not a document holding it (a document is a
// 128-byte-aligned allocation per insert, a measurable part of a single insert's CPU).
struct InsertedId {
  size_t index;  // in the request
  bson_value_t id;
  InsertedId(size_t i, const bson_value_t *v) : index(i) { bson_value_copy(v, &id); }
  ~InsertedId() { bson_value_destroy(&id); }
  InsertedId(const InsertedId &) = delete;
  InsertedId &operator=(const InsertedId &) = delete;
  InsertedId(InsertedId &&o) noexcept : index(o.index), id(o.id) { o.id.value_type = BSON_TYPE_NULL; }
  InsertedId &operator=(InsertedId &&) = delete;
};
// Every insert of a bulk, shared by the plan and its results.
using InsertedIds = std::vector<InsertedId>;

class WriteResult {
 public:
  // `reply`: libmongoc's bulk reply, taken over (it is left empty). `inserted`: every insert
  // sent (may be null). `ordered` and `failed` decide which inserts are reported as applied.
  WriteResult(bson_t *reply, std::shared_ptr<const InsertedIds> inserted, bool ordered,
              bool failed);
  ~WriteResult() { bson_destroy(&reply_); }
  WriteResult(const WriteResult &) = delete;
  WriteResult &operator=(const WriteResult &) = delete;

  int64_t inserted_count = 0, matched_count = 0, modified_count = 0, deleted_count = 0,
          upserted_count = 0;
  std::vector<WriteError> write_errors;
  bool has_write_concern_error = false;
  // See include/polymongo/result.h. Built on first use: most callers of a single write never
  // ask for it, and building it costs as much as the rest of the result.
  const bson_t *document() const;

 private:
  void build() const;
  bson_t reply_;  // held inline and moved in, not copied to a second allocation
  std::shared_ptr<const InsertedIds> inserted_;
  bool ordered_, failed_;
  mutable std::once_flag built_;
  mutable BsonPtr doc_;
};

// A write's result (when the server reported one) and its error (when it failed).
struct WriteOutcome {
  std::shared_ptr<WriteResult> result;
  std::optional<Error> error;
};

// Normalises libmongoc's reply to a write (`reply`, destroyed here) into a result and, when it
// failed, an error naming `db`.`coll`: duplicate_key when every write error is one, write
// otherwise. A failure before anything was sent throws instead (the caller may retry it).
WriteOutcome write_outcome(bool ok, bson_t *reply, const bson_error_t &error,
                           const std::shared_ptr<const InsertedIds> &inserted, bool ordered,
                           bool want_result, const std::string &db, const std::string &coll);

}  // namespace pm::core
