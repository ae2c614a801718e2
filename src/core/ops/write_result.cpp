#include "ops/write_result.hpp"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace pm::core {

namespace {

void read_write_errors(bson_iter_t *array, std::vector<WriteError> *out) {
  while (bson_iter_next(array)) {
    bson_iter_t f;
    WriteError e{0, 0, ""};
    if (bson_iter_recurse(array, &f)) {
      while (bson_iter_next(&f)) {
        const char *k = bson_iter_key(&f);
        if (std::strcmp(k, "index") == 0) e.index = static_cast<size_t>(bson_iter_as_int64(&f));
        else if (std::strcmp(k, "code") == 0) e.code = static_cast<int32_t>(bson_iter_as_int64(&f));
        else if (std::strcmp(k, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&f)) e.message = bson_iter_utf8(&f, nullptr);
      }
    }
    out->push_back(std::move(e));
  }
}

void index_key(size_t i, const char **key, char *buf, size_t size) {
  bson_uint32_to_string(static_cast<uint32_t>(i), key, buf, size);
}

}  // namespace

WriteResult::WriteResult(bson_t *reply, std::shared_ptr<const InsertedIds> inserted,
                         bool ordered, bool failed)
    : inserted_(std::move(inserted)), ordered_(ordered), failed_(failed) {
  bson_steal(&reply_, reply);
  bson_init(reply);  // the caller still destroys its reply
  reply = &reply_;   // read below from where it now lives
  // One pass over the reply's fields: finding each by name would walk it once per field.
  bson_iter_t it, child, concern_it;
  bool has_concern = false;
  if (bson_iter_init(&it, reply)) {
    while (bson_iter_next(&it)) {
      const char *k = bson_iter_key(&it);
      // nInserted from a bulk, insertedCount from insert_one
      if (std::strcmp(k, "nInserted") == 0 || std::strcmp(k, "insertedCount") == 0)
        inserted_count = bson_iter_as_int64(&it);
      else if (std::strcmp(k, "nMatched") == 0) matched_count = bson_iter_as_int64(&it);
      else if (std::strcmp(k, "nModified") == 0) modified_count = bson_iter_as_int64(&it);
      else if (std::strcmp(k, "nRemoved") == 0) deleted_count = bson_iter_as_int64(&it);
      else if (std::strcmp(k, "nUpserted") == 0) upserted_count = bson_iter_as_int64(&it);
      else if (std::strcmp(k, "writeConcernErrors") == 0) concern_it = it, has_concern = true;
      else if (std::strcmp(k, "writeErrors") == 0 && BSON_ITER_HOLDS_ARRAY(&it) &&
               bson_iter_recurse(&it, &child))
        read_write_errors(&child, &write_errors);
    }
  }
  has_write_concern_error = has_concern && BSON_ITER_HOLDS_ARRAY(&concern_it) &&
                            bson_iter_recurse(&concern_it, &child) && bson_iter_next(&child);
}

const bson_t *WriteResult::document() const {
  std::call_once(built_, [this] { build(); });
  return doc_.get();
}

void WriteResult::build() const {
  doc_ = make_bson();
  const bool ordered = ordered_, failed = failed_;
  static const InsertedIds none;
  const InsertedIds &inserted = inserted_ ? *inserted_ : none;
  bson_iter_t child, upserted_it, concern_it;
  bool has_upserted = bson_iter_init_find(&upserted_it, &reply_, "upserted");
  bool has_concern = bson_iter_init_find(&concern_it, &reply_, "writeConcernErrors");

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
  for (const InsertedId &one : inserted) {
    const size_t index = one.index;
    bool errored = std::any_of(write_errors.begin(), write_errors.end(),
                               [&](const WriteError &e) { return e.index == index; });
    if (errored || (ordered && index > first_error)) continue;
    if (failed && write_errors.empty() && reported >= inserted_count) break;
    index_key(index, &key, buf, sizeof buf);
    bson_append_value(&ids, key, -1, &one.id);
    ++reported;
  }
  bson_append_document_end(d, &ids);

  bson_t upserted;
  BSON_APPEND_DOCUMENT_BEGIN(d, "upsertedIds", &upserted);
  if (has_upserted && BSON_ITER_HOLDS_ARRAY(&upserted_it) && bson_iter_recurse(&upserted_it, &child)) {
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

  if (has_concern) bson_append_iter(d, "writeConcernErrors", -1, &concern_it);
}

// Normalises a write's reply (destroyed here) into a result and, when it failed, an error.
WriteOutcome write_outcome(bool ok, bson_t *reply, const bson_error_t &error,
                                  const std::shared_ptr<const InsertedIds> &inserted, bool ordered,
                                  bool want_result, const std::string &db, const std::string &coll) {
  WriteOutcome out;
  if (ok) {
    if (want_result) out.result = std::make_shared<WriteResult>(reply, inserted, ordered, false);
    bson_destroy(reply);
    return out;
  }
  // The reply carries the transaction labels (TransientTransactionError ...); read them before
  // the result takes the reply over.
  Error driver_error = Error::from_driver(error, "write to " + (db + "." + coll), reply);
  bool transient = mongoc_error_has_label(reply, "TransientTransactionError");
  out.result = std::make_shared<WriteResult>(reply, inserted, ordered, true);
  bson_destroy(reply);

  const auto &errors = out.result->write_errors;
  if (errors.empty()) {
    Error e = driver_error;
    if (e.before_send()) throw e;  // nothing was applied: the caller may retry
    out.error = e;
    return out;
  }
  bool all_duplicates = true;
  for (const WriteError &e : errors) all_duplicates = all_duplicates && is_duplicate_key_code(e.code);
  const WriteError &first = errors.front();
  out.error = Error(all_duplicates ? Code::duplicate_key : Code::write,
                    "write to " + (db + "." + coll) + ": " + std::to_string(errors.size()) +
                        " write error(s); first at index " + std::to_string(first.index) +
                        ": " + first.message + " (code " + std::to_string(first.code) + ")",
                    first.code);
  out.error->set_labels(transient, false);
  return out;
}

}  // namespace pm::core
