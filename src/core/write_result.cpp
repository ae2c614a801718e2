#include "write_result.hpp"

#include <algorithm>
#include <limits>

namespace pm::core {

namespace {

int64_t count(const bson_t *reply, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, reply, key) ? bson_iter_as_int64(&it) : 0;
}

void index_key(size_t i, const char **key, char *buf, size_t size) {
  bson_uint32_to_string(static_cast<uint32_t>(i), key, buf, size);
}

}  // namespace

WriteResult::WriteResult(const bson_t *reply,
                         const std::vector<std::pair<size_t, BsonPtr>> &inserted, bool ordered,
                         bool failed)
    : doc_(make_bson()) {
  inserted_count = count(reply, "nInserted");
  matched_count = count(reply, "nMatched");
  modified_count = count(reply, "nModified");
  deleted_count = count(reply, "nRemoved");
  upserted_count = count(reply, "nUpserted");

  bson_iter_t it, child;
  if (bson_iter_init_find(&it, reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &child)) {
    while (bson_iter_next(&child)) {
      bson_iter_t f;
      WriteError e{0, 0, ""};
      if (bson_iter_recurse(&child, &f)) {
        while (bson_iter_next(&f)) {
          std::string k = bson_iter_key(&f);
          if (k == "index") e.index = static_cast<size_t>(bson_iter_as_int64(&f));
          else if (k == "code") e.code = static_cast<int32_t>(bson_iter_as_int64(&f));
          else if (k == "errmsg" && BSON_ITER_HOLDS_UTF8(&f)) e.message = bson_iter_utf8(&f, nullptr);
        }
      }
      write_errors.push_back(std::move(e));
    }
  }
  has_write_concern_error = bson_iter_init_find(&it, reply, "writeConcernErrors") &&
                            BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child) &&
                            bson_iter_next(&child);

  // Which inserts were applied: all but the failed ones; with ordered writes none after the
  // first failure; and when the batch failed for another reason (e.g. the connection broke)
  // only as many, in order, as the server counted.
  size_t first_error = std::numeric_limits<size_t>::max();
  for (const WriteError &e : write_errors) first_error = std::min(first_error, e.index);
  bson_t *d = doc_.get();
  BSON_APPEND_INT64(d, "insertedCount", inserted_count);
  BSON_APPEND_INT64(d, "matchedCount", matched_count);
  BSON_APPEND_INT64(d, "modifiedCount", modified_count);
  BSON_APPEND_INT64(d, "deletedCount", deleted_count);
  BSON_APPEND_INT64(d, "upsertedCount", upserted_count);

  bson_t ids;
  char buf[16];
  const char *key;
  BSON_APPEND_DOCUMENT_BEGIN(d, "insertedIds", &ids);
  int64_t reported = 0;
  for (const auto &[index, id] : inserted) {
    bool errored = std::any_of(write_errors.begin(), write_errors.end(),
                               [&](const WriteError &e) { return e.index == index; });
    if (errored || (ordered && index > first_error)) continue;
    if (failed && write_errors.empty() && reported >= inserted_count) break;
    bson_iter_t idit;
    if (!bson_iter_init_find(&idit, id.get(), "_id")) continue;
    index_key(index, &key, buf, sizeof buf);
    bson_append_value(&ids, key, -1, bson_iter_value(&idit));
    ++reported;
  }
  bson_append_document_end(d, &ids);

  bson_t upserted;
  BSON_APPEND_DOCUMENT_BEGIN(d, "upsertedIds", &upserted);
  if (bson_iter_init_find(&it, reply, "upserted") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &child)) {
    while (bson_iter_next(&child)) {
      bson_iter_t idx, id;
      if (bson_iter_recurse(&child, &idx) && bson_iter_find(&idx, "index") &&
          bson_iter_recurse(&child, &id) && bson_iter_find(&id, "_id")) {
        index_key(static_cast<size_t>(bson_iter_as_int64(&idx)), &key, buf, sizeof buf);
        bson_append_value(&upserted, key, -1, bson_iter_value(&id));
      }
    }
  }
  bson_append_document_end(d, &upserted);

  bson_t errors;
  BSON_APPEND_ARRAY_BEGIN(d, "writeErrors", &errors);
  for (size_t i = 0; i < write_errors.size(); ++i) {
    bson_t e;
    index_key(i, &key, buf, sizeof buf);
    bson_append_document_begin(&errors, key, -1, &e);
    BSON_APPEND_INT64(&e, "index", static_cast<int64_t>(write_errors[i].index));
    BSON_APPEND_INT32(&e, "code", write_errors[i].code);
    BSON_APPEND_UTF8(&e, "errmsg", write_errors[i].message.c_str());
    bson_append_document_end(&errors, &e);
  }
  bson_append_array_end(d, &errors);

  if (bson_iter_init_find(&it, reply, "writeConcernErrors"))
    bson_append_iter(d, "writeConcernErrors", -1, &it);
}

}  // namespace pm::core
