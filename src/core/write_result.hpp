// The outcome of a write, normalised from libmongoc's bulk reply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "doc.hpp"

namespace pm::core {

struct WriteError {
  size_t index;
  int32_t code;
  std::string message;
};

class WriteResult {
 public:
  // `reply`: libmongoc's bulk reply. `inserted`: (request index, _id) of every insert sent.
  // `ordered` and `failed` decide which inserts are reported as applied.
  WriteResult(const bson_t *reply, const std::vector<std::pair<size_t, BsonPtr>> &inserted,
              bool ordered, bool failed);

  int64_t inserted_count = 0, matched_count = 0, modified_count = 0, deleted_count = 0,
          upserted_count = 0;
  std::vector<WriteError> write_errors;
  bool has_write_concern_error = false;
  const bson_t *document() const { return doc_.get(); }  // see include/polymongo/result.h

 private:
  BsonPtr doc_;
};

}  // namespace pm::core
