// The plan of a write: every document and option parsed and checked before a client is
// checked out, then sent as one libmongoc bulk operation (Db::run_bulk). Also the _ids of
// documents to insert, assigned here when missing.
#pragma once

#include <mongoc/mongoc.h>

#include <memory>
#include <vector>

#include "base/doc.hpp"
#include "ops/op_checks.hpp"
#include "ops/write_result.hpp"

namespace pm::core {

// Whether `doc` has an _id; if so, and `ids` is given, it is recorded there as write `index`'s.
inline bool note_id(const bson_t *doc, InsertedIds *ids, size_t index) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id")) return false;
  if (ids != nullptr) ids->emplace_back(index, bson_iter_value(&it));
  return true;
}

// Writes `doc` with a new ObjectId _id in front into `out` (initialised), and records the id.
inline void prepend_new_id(const bson_t *doc, bson_t *out, InsertedIds *ids, size_t index) {
  bson_value_t id;
  id.value_type = BSON_TYPE_OID;
  bson_oid_init(&id.value.v_oid, nullptr);
  BSON_APPEND_OID(out, "_id", &id.value.v_oid);
  bson_concat(out, doc);
  if (ids != nullptr) ids->emplace_back(index, &id);
}


// The plan of a bulk write, validated before any client is checked out.
struct BulkPlan {
  enum class Kind { insert, update_one, update_many, replace_one, delete_one, delete_many };
  struct Write {
    Kind kind;
    std::unique_ptr<Doc> first;  // document to insert, or filter
    BsonPtr with_id;             // an insert given without _id, with a generated one
    std::unique_ptr<Doc> second;  // update or replacement
    BsonPtr opts;                 // the write's own options, if any
    const bson_t *target() const { return with_id ? with_id.get() : first->get(); }
  };
  std::vector<Write> writes;
  BsonPtr opts;  // the bulk's options, if any (most single writes have none)
  bool ordered = true;
  bool want_result = true;                 // false: a successful write builds no result
  std::shared_ptr<InsertedIds> inserted;   // every insert's _id, when a result is wanted

  // For the slow-operation log: a single write's kind and filter; "bulkWrite" and none otherwise.
  const char *kind_name() const {
    if (writes.size() != 1) return "bulkWrite";
    switch (writes[0].kind) {
      case Kind::insert: return "insert";
      case Kind::update_one: return "updateOne";
      case Kind::update_many: return "updateMany";
      case Kind::replace_one: return "replaceOne";
      case Kind::delete_one: return "deleteOne";
      case Kind::delete_many: return "deleteMany";
    }
    return "bulkWrite";
  }
  const bson_t *filter() const {
    return writes.size() == 1 && writes[0].kind != Kind::insert ? writes[0].first->get() : nullptr;
  }

  void add_insert(DocView doc) {
    Write w{Kind::insert, std::make_unique<Doc>(doc, "document"), nullptr, nullptr};
    if (want_result && !inserted) inserted = std::make_shared<InsertedIds>();
    InsertedIds *ids = want_result ? inserted.get() : nullptr;
    if (!note_id(w.first->get(), ids, writes.size())) {
      w.with_id = make_bson();
      prepend_new_id(w.first->get(), w.with_id.get(), ids, writes.size());
    }
    writes.push_back(std::move(w));
    // The analyzer of clang 14 loses track of unique_ptr members moved into the vector.
  }  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks)

  void add(Kind kind, DocView filter, DocView change, const bson_t *write_opts) {
    Write w{kind, std::make_unique<Doc>(filter, "filter"), nullptr, nullptr};
    if (kind == Kind::update_one || kind == Kind::update_many) {
      w.second = std::make_unique<Doc>(change, "update", Doc::Accept::pipeline);
      check_update(w.second->get(), "update");
    } else if (kind == Kind::replace_one) {
      w.second = std::make_unique<Doc>(change, "replacement");
      check_replacement(w.second->get(), "replacement");
    }
    if (write_opts != nullptr && !bson_empty(write_opts)) w.opts.reset(bson_copy(write_opts));
    writes.push_back(std::move(w));
  }  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks): as above

  void set_bulk_options(const bson_t *bulk_opts) {
    if (!bson_empty(bulk_opts)) opts.reset(bson_copy(bulk_opts));
    ordered = option_bool(bulk_opts, "ordered", true);
  }

  // Parses one write model of pm_db_bulk_write: {insertOne: {document}}, {updateOne: {...}}...
  void add_model(const bson_t *model, size_t index);
};

}  // namespace pm::core
