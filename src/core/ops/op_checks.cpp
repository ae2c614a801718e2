#include "ops/op_checks.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "base/error.hpp"

namespace pm::core {

bool first_key_is_operator(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

// An update pipeline arrives as an array, which in BSON bytes is a document keyed "0", "1"...
bool looks_like_pipeline(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && bson_iter_next(&it) && std::strcmp(bson_iter_key(&it), "0") == 0;
}

void check_update(const bson_t *update, const char *what) {
  if (bson_empty(update) || !(first_key_is_operator(update) || looks_like_pipeline(update)))
    fail(Code::invalid_argument,
         std::string(what) + ": an update needs $-operators (e.g. {\"$set\": {...}}) or a pipeline");
}

void check_replacement(const bson_t *replacement, const char *what) {
  if (first_key_is_operator(replacement))
    fail(Code::invalid_argument, std::string(what) + ": a replacement may not contain $-operators");
}

bool is_one_of(const char *key, std::initializer_list<const char *> keys) {
  for (const char *k : keys)
    if (std::strcmp(key, k) == 0) return true;
  return false;
}

bool is_per_write_option(const char *key) {
  return is_one_of(key, {"upsert", "arrayFilters", "collation", "hint"});
}

void split_write_options(const bson_t *opts, bson_t *per_write, bson_t *per_bulk) {
  bson_iter_t it;
  bson_iter_init(&it, opts);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bson_append_iter(is_per_write_option(key) ? per_write : per_bulk, key, -1, &it);
  }
}

bool option_bool(const bson_t *opts, const char *key, bool fallback) {
  bson_iter_t it;
  return bson_iter_init_find(&it, opts, key) ? bson_iter_as_bool(&it) : fallback;
}

namespace {

const char *type_name(bson_type_t t) {
  switch (t) {
    case BSON_TYPE_DOUBLE: return "a double";
    case BSON_TYPE_UTF8: return "a string";
    case BSON_TYPE_DOCUMENT: return "a document";
    case BSON_TYPE_ARRAY: return "an array";
    case BSON_TYPE_BOOL: return "a boolean";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64: return "an integer";
    case BSON_TYPE_DECIMAL128: return "a Decimal128";
    default: return "another BSON type";
  }
}

}  // namespace

// The types of the read options polymongo knows, checked before anything is sent: the driver
// passes most of them through as given, and a string limit reached the server. `what` names
// the operation in the message. Options not listed are the driver's to check.
void check_read_options(const bson_t *opts, const char *what) {
  bson_iter_t it;
  if (opts == nullptr || !bson_iter_init(&it, opts)) return;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bson_type_t type = bson_iter_type(&it);
    auto bad = [&](const char *expected) {
      fail(Code::invalid_argument, std::string(what) + ": option '" + key + "' must be " + expected +
                                       " (got " + type_name(type) + ")");
    };
    bool integer_key = is_one_of(key, {"skip", "limit", "batchSize", "maxTimeMS", "maxAwaitTimeMS"});
    if (integer_key) {
      int64_t v = 0;
      if (type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64) {
        v = bson_iter_as_int64(&it);
      } else if (type == BSON_TYPE_DOUBLE) {
        double d = bson_iter_double(&it);
        if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e15) bad("an integer");
        v = static_cast<int64_t>(d);
      } else {
        bad("an integer");
      }
      if (v < 0) {  // servers refuse them (for one batch, say singleBatch: true)
        fail(Code::invalid_argument, std::string(what) + ": option '" + key + "' must be >= 0 (got " +
                                         std::to_string(v) + ")");
      }
    } else if (is_one_of(key, {"sort", "projection", "collation", "min", "max", "let"})) {
      if (type != BSON_TYPE_DOCUMENT) bad("a document");
    } else if (std::strcmp(key, "hint") == 0) {
      if (type != BSON_TYPE_DOCUMENT && type != BSON_TYPE_UTF8) bad("a document or an index name");
    } else if (is_one_of(key, {"singleBatch", "allowDiskUse", "noCursorTimeout", "returnKey", "showRecordId",
                               "allowPartialResults", "tailable", "awaitData"})) {
      if (type != BSON_TYPE_BOOL) bad("true or false");
    }
  }
}

DocView sub_document(const bson_iter_t *it) {
  uint32_t len = 0;
  const uint8_t *data = nullptr;
  if (BSON_ITER_HOLDS_DOCUMENT(it)) bson_iter_document(it, &len, &data);
  else if (BSON_ITER_HOLDS_ARRAY(it)) bson_iter_array(it, &len, &data);
  return DocView{data, len};
}


std::optional<std::string> default_index_name(const bson_t *keys) {
  char *generated = mongoc_collection_keys_to_index_string(keys);
  if (generated == nullptr) return std::nullopt;
  std::string name = generated;
  bson_free(generated);
  return name;
}

}  // namespace pm::core
