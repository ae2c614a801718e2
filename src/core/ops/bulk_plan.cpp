#include "ops/bulk_plan.hpp"

#include <cstring>
#include <string>

#include "base/error.hpp"

namespace pm::core {

// Parses one write model of pm_db_bulk_write: {insertOne: {document}}, {updateOne: {...}}...
void BulkPlan::add_model(const bson_t *model, size_t index) {
  std::string where = "bulk write " + std::to_string(index);
  bson_iter_t it;
  if (!bson_iter_init(&it, model) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_DOCUMENT(&it))
    fail(Code::invalid_argument, where + ": expected {insertOne|updateOne|updateMany|"
                                         "replaceOne|deleteOne|deleteMany: {...}}");
  std::string name = bson_iter_key(&it);
  DocView body = sub_document(&it);
  if (bson_iter_next(&it)) fail(Code::invalid_argument, where + ": one write model per entry");
  bson_t spec;
  bson_init_static(&spec, static_cast<const uint8_t *>(body.data), body.len);
  DocView filter{}, change{}, document{};
  bool has_filter = false, has_change = false, has_document = false;
  BsonPtr write_opts = make_bson();
  bson_iter_t f;
  bson_iter_init(&f, &spec);
  while (bson_iter_next(&f)) {
    const char *key = bson_iter_key(&f);
    if (std::strcmp(key, "filter") == 0) {
      filter = sub_document(&f);
      // Not a document: refused, or its NULL view would become the empty filter, and
      // {deleteMany: {filter: 5}} would delete every document.
      if (filter.data == nullptr) fail(Code::invalid_argument, where + ": filter must be a document");
      has_filter = true;
    } else if (std::strcmp(key, "update") == 0 || std::strcmp(key, "replacement") == 0) {
      change = sub_document(&f);
      has_change = change.data != nullptr;
    } else if (std::strcmp(key, "document") == 0) {
      document = sub_document(&f);
      has_document = document.data != nullptr;
    } else if (is_per_write_option(key)) {
      bson_append_iter(write_opts.get(), key, -1, &f);
    } else {
      fail(Code::invalid_argument, where + ": unknown field '" + key + "' in " + name);
    }
  }
  if (name == "insertOne") {
    if (!has_document) fail(Code::invalid_argument, where + ": insertOne needs a document");
    add_insert(document);
    return;
  }
  if (!has_filter) fail(Code::invalid_argument, where + ": " + name + " needs a filter");
  if (name == "updateOne" || name == "updateMany" || name == "replaceOne") {
    if (!has_change) fail(Code::invalid_argument, where + ": " + name + " needs an update or replacement");
    add(name == "updateOne" ? Kind::update_one
                            : name == "updateMany" ? Kind::update_many : Kind::replace_one,
        filter, change, write_opts.get());
  } else if (name == "deleteOne" || name == "deleteMany") {
    add(name == "deleteOne" ? Kind::delete_one : Kind::delete_many, filter, {}, write_opts.get());
  } else {
    fail(Code::invalid_argument, where + ": unknown write model '" + name + "'");
  }
}

}  // namespace pm::core
