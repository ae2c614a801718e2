// The outcome of a write, normalised from libmongoc's bulk reply.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "doc.hpp"

namespace pm::core {

struct WriteError {
  size_t index;
  int32_t code;
  std::string message;
};

// (request index, _id) of every insert of a bulk, shared by the plan and its results.
using InsertedIds = std::vector<std::pair<size_t, BsonPtr>>;

class WriteResult {
 public:
  // `reply`: libmongoc's bulk reply. `inserted`: every insert sent (may be null).
  // `ordered` and `failed` decide which inserts are reported as applied.
  WriteResult(const bson_t *reply, std::shared_ptr<const InsertedIds> inserted, bool ordered,
              bool failed);

  int64_t inserted_count = 0, matched_count = 0, modified_count = 0, deleted_count = 0,
          upserted_count = 0;
  std::vector<WriteError> write_errors;
  bool has_write_concern_error = false;
  // See include/polymongo/result.h. Built on first use: most callers of a single write never
  // ask for it, and building it costs as much as the rest of the result.
  const bson_t *document() const;

 private:
  void build() const;
  BsonPtr reply_;
  std::shared_ptr<const InsertedIds> inserted_;
  bool ordered_, failed_;
  mutable std::once_flag built_;
  mutable BsonPtr doc_;
};

}  // namespace pm::core
