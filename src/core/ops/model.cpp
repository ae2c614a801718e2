#include "ops/model.hpp"

#include <algorithm>
#include <cstring>

#include "base/db_name.hpp"
#include "base/error.hpp"
#include "ops/op_checks.hpp"

namespace pm::core {

namespace {

void check_collection_name(const std::string &name) {
  if (name.empty()) fail(Code::invalid_argument, "collection name is empty");
  if (name.find('\0') != std::string::npos || name.find('$') != std::string::npos)
    fail(Code::invalid_argument, "collection name '" + name + "' contains '$' or NUL");
  if (name.rfind("system.", 0) == 0)
    fail(Code::invalid_argument, "collection name '" + name + "' is reserved (system.)");
  if (name.size() > 120) fail(Code::invalid_argument, "collection name is longer than 120 bytes");
  if (!is_valid_utf8(name)) fail(Code::invalid_argument, "collection name is not valid UTF-8");
}

// Copies one index specification, adding the driver's default name when it has none.
void append_index(bson_t *array, uint32_t i, const bson_t *spec) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, spec, "key") || !BSON_ITER_HOLDS_DOCUMENT(&it))
    fail(Code::invalid_argument, "indexes[" + std::to_string(i) + "]: needs a 'key' document");
  uint32_t len;
  const uint8_t *data;
  bson_iter_document(&it, &len, &data);
  bson_t key;
  bson_init_static(&key, data, len);
  if (bson_empty(&key))
    fail(Code::invalid_argument, "indexes[" + std::to_string(i) + "]: 'key' is empty");

  std::string name;  // the driver's default, when the spec has none
  if (!bson_has_field(spec, "name")) {
    std::optional<std::string> generated = default_index_name(&key);
    if (!generated)
      fail(Code::invalid_argument, "indexes[" + std::to_string(i) + "]: key values must be integers "
                                   "(1, -1) or index type strings (\"text\" ...), or give a name");
    name = std::move(*generated);
  }

  char idx[16];
  const char *idx_key;
  bson_uint32_to_string(i, &idx_key, idx, sizeof idx);
  bson_t out;
  bson_append_document_begin(array, idx_key, -1, &out);
  bson_concat(&out, spec);
  if (!name.empty()) BSON_APPEND_UTF8(&out, "name", name.c_str());
  bson_append_document_end(array, &out);
}

}  // namespace

Model::Model(std::shared_ptr<const OpsContext> context, std::string collection, DocView opts)
    : context_(std::move(context)), collection_(std::move(collection)),
      create_options_(make_bson()), indexes_(make_bson()),
      turnover_at_(static_cast<size_t>(std::max<int64_t>(1, context_->max_tracked_databases / 2))) {
  check_collection_name(collection_);
  Doc o(opts, "model options");
  bson_iter_t it;
  bson_iter_init(&it, o.get());
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "validator") == 0) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&it)) fail(Code::invalid_argument, "validator must be a document");
      bson_append_iter(create_options_.get(), key, -1, &it);
    } else if (std::strcmp(key, "validationLevel") == 0 ||
               std::strcmp(key, "validationAction") == 0) {
      if (!BSON_ITER_HOLDS_UTF8(&it)) fail(Code::invalid_argument, std::string(key) + " must be a string");
      bson_append_iter(create_options_.get(), key, -1, &it);
    } else if (std::strcmp(key, "indexes") == 0) {
      if (!BSON_ITER_HOLDS_ARRAY(&it)) fail(Code::invalid_argument, "indexes must be an array");
      bson_iter_t child;
      bson_iter_recurse(&it, &child);
      uint32_t i = 0;
      while (bson_iter_next(&child)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&child))
          fail(Code::invalid_argument, "indexes[" + std::to_string(i) + "] must be a document");
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&child, &len, &data);
        bson_t spec;
        bson_init_static(&spec, data, len);
        append_index(indexes_.get(), i++, &spec);
      }
    } else {
      fail(Code::invalid_argument, std::string("model options: unknown option '") + key + "'");
    }
  }
  has_setup_ = !bson_empty(create_options_.get()) || !bson_empty(indexes_.get());
}

void Model::ensure(mongoc_client_t *client, const std::string &db) const {
  if (!has_setup_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ready_.count(db) != 0) return;
    if (auto node = older_.extract(db)) {  // used again: back to the recent ones, no allocation
      ready_.insert(std::move(node));
      if (ready_.size() >= turnover_at_) turn_over_locked();
      return;
    }
  }
  // Applying twice (two threads racing on a new database) is harmless: both steps are
  // idempotent, so no lock is held during I/O.
  apply(client, db);
  std::lock_guard<std::mutex> lock(mu_);
  ready_.insert(db);
  if (ready_.size() >= turnover_at_) turn_over_locked();
}

void Model::turn_over_locked() const {
  older_.swap(ready_);
  ready_.clear();  // the older names go; the buckets stay
}

void Model::forget(const std::string &db) const {
  std::lock_guard<std::mutex> lock(mu_);
  ready_.erase(db);
  older_.erase(db);
}

size_t Model::ready_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.size() + older_.size();
}

void Model::apply(mongoc_client_t *client, const std::string &db) const {
  bson_error_t error;
  if (!bson_empty(create_options_.get())) {
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "create", collection_.c_str());
    bson_concat(&cmd, create_options_.get());
    bool ok = mongoc_client_write_command_with_opts(client, db.c_str(), &cmd, nullptr, nullptr, &error);
    bson_destroy(&cmd);
    if (!ok && error.code == 48) {  // NamespaceExists: set the validator on it instead
      bson_t mod = BSON_INITIALIZER;
      BSON_APPEND_UTF8(&mod, "collMod", collection_.c_str());
      bson_concat(&mod, create_options_.get());
      ok = mongoc_client_write_command_with_opts(client, db.c_str(), &mod, nullptr, nullptr, &error);
      bson_destroy(&mod);
    }
    if (!ok) throw Error::from_driver(error, "apply the validator of " + db + "." + collection_);
  }
  if (!bson_empty(indexes_.get())) {
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "createIndexes", collection_.c_str());
    BSON_APPEND_ARRAY(&cmd, "indexes", indexes_.get());
    bool ok = mongoc_client_write_command_with_opts(client, db.c_str(), &cmd, nullptr, nullptr, &error);
    bson_destroy(&cmd);
    if (!ok) throw Error::from_driver(error, "create the indexes of " + db + "." + collection_);
  }
}

}  // namespace pm::core
