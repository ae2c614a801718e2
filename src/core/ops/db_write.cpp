// A Db's writes: inserts, updates, replacements, deletes and bulk writes, each planned and
// checked (ops/bulk_plan.hpp) before it runs (ops/db_run.hpp).
#include "ops/bulk_plan.hpp"
#include "ops/db_run.hpp"

namespace pm::core {

WriteOutcome Db::run_bulk(BulkPlan &plan) const {
  return run(Op{plan.kind_name(), true, plan.filter()}, [&](Target &t) {
  mongoc_bulk_operation_t *bulk =
      mongoc_collection_create_bulk_operation_with_opts(t.coll, OpOpts(plan.opts.get(), pinned()).get());
  bson_error_t error;
  for (const BulkPlan::Write &w : plan.writes) {
    bool ok = false;
    const bson_t *opts = w.opts.get();
    switch (w.kind) {
      case BulkPlan::Kind::insert:
        ok = mongoc_bulk_operation_insert_with_opts(bulk, w.target(), opts ? opts : driver_skips_validation(), &error);
        break;
      case BulkPlan::Kind::update_one:
        ok = mongoc_bulk_operation_update_one_with_opts(bulk, w.target(), w.second->get(), opts, &error);
        break;
      case BulkPlan::Kind::update_many:
        ok = mongoc_bulk_operation_update_many_with_opts(bulk, w.target(), w.second->get(), opts, &error);
        break;
      case BulkPlan::Kind::replace_one:
        ok = mongoc_bulk_operation_replace_one_with_opts(bulk, w.target(), w.second->get(), opts, &error);
        break;
      case BulkPlan::Kind::delete_one:
        ok = mongoc_bulk_operation_remove_one_with_opts(bulk, w.target(), opts, &error);
        break;
      case BulkPlan::Kind::delete_many:
        ok = mongoc_bulk_operation_remove_many_with_opts(bulk, w.target(), opts, &error);
        break;
    }
    if (!ok) {
      mongoc_bulk_operation_destroy(bulk);
      throw Error::from_driver(error, "write to " + where());
    }
  }
  bson_t reply;
  bool ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;
  mongoc_bulk_operation_destroy(bulk);
  return write_outcome(ok, &reply, error, plan.inserted, plan.ordered, plan.want_result, name_, collection());
  });
}

// One document with no options, the commonest write of all: no plan is built, and libmongoc's
// insert_one sends the same insert command as a bulk of one without a bulk operation's set-up.
WriteOutcome Db::insert_one(DocView doc, bool want_result) const {
  Doc d(doc, "document");
  auto inserted = want_result ? std::make_shared<InsertedIds>() : nullptr;
  bson_t with_id = BSON_INITIALIZER;
  BsonGuard with_id_guard{&with_id};
  const bson_t *target = d.get();
  if (!note_id(d.get(), inserted.get(), 0)) {
    prepend_new_id(d.get(), &with_id, inserted.get(), 0);
    target = &with_id;
  }
  return run(Op{"insert", true}, [&](Target &t) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_insert_one(t.coll, target, OpOpts(driver_skips_validation(), pinned()).get(), &reply, &error);
  return write_outcome(ok, &reply, error, inserted, true, want_result, name_, collection());
  });
}

void Db::refuse_in_compensation(const char *what) const {
  if (recorder() != nullptr)
    fail(Code::not_supported, std::string(what) +
                                  " is not supported in a compensating transaction (its undo could not be "
                                  "recorded exactly); use insert, update, replace or delete");
}

WriteOutcome Db::insert_many(const std::vector<DocView> &docs, DocView opts, bool want_result) const {
  if (WriteRecorder *r = recorder()) return r->insert_many(*plain(), docs, opts);
  if (docs.empty()) fail(Code::invalid_argument, "insert: no documents given");
  for (const DocView &d : docs)
    if (d.data == nullptr) fail(Code::invalid_argument, "insert: a document is NULL");
  Doc o(opts, "options");
  if (docs.size() == 1 && bson_empty(o.get())) return insert_one(docs.front(), want_result);
  BulkPlan plan;
  plan.want_result = want_result;
  plan.set_bulk_options(o.get());
  for (const DocView &d : docs) plan.add_insert(d);
  return run_bulk(plan);
}

namespace {
// One update, replace or delete as a bulk of one: options that belong to the write go with it,
// the rest (writeConcern, bypassDocumentValidation, ...) to the bulk.
void plan_single(BulkPlan &plan, BulkPlan::Kind kind, DocView filter, DocView change, DocView opts) {
  Doc o(opts, "options");
  BsonPtr per_write = make_bson(), per_bulk = make_bson();
  split_write_options(o.get(), per_write.get(), per_bulk.get());
  plan.set_bulk_options(per_bulk.get());
  plan.add(kind, filter, change, per_write.get());
}
}  // namespace

WriteOutcome Db::update(DocView filter, DocView change, DocView opts, bool many) const {
  if (WriteRecorder *r = recorder()) return r->update(*plain(), filter, change, opts, many, false);
  if (change.data == nullptr) fail(Code::invalid_argument, "update: the update is NULL");
  BulkPlan plan;
  plan_single(plan, many ? BulkPlan::Kind::update_many : BulkPlan::Kind::update_one, filter, change, opts);
  return run_bulk(plan);
}

WriteOutcome Db::replace_one(DocView filter, DocView replacement, DocView opts) const {
  if (WriteRecorder *r = recorder()) return r->update(*plain(), filter, replacement, opts, false, true);
  if (replacement.data == nullptr) fail(Code::invalid_argument, "replace: the replacement is NULL");
  BulkPlan plan;
  plan_single(plan, BulkPlan::Kind::replace_one, filter, replacement, opts);
  return run_bulk(plan);
}

WriteOutcome Db::remove(DocView filter, DocView opts, bool many) const {
  if (WriteRecorder *r = recorder()) return r->remove(*plain(), filter, opts, many);
  BulkPlan plan;
  plan_single(plan, many ? BulkPlan::Kind::delete_many : BulkPlan::Kind::delete_one, filter, {}, opts);
  return run_bulk(plan);
}

WriteOutcome Db::bulk_write(const std::vector<DocView> &ops, DocView opts) const {
  refuse_in_compensation("bulk write");
  if (ops.empty()) fail(Code::invalid_argument, "bulk write: no writes given");
  BulkPlan plan;
  Doc o(opts, "options");
  plan.set_bulk_options(o.get());
  std::vector<std::unique_ptr<Doc>> models;  // the parsed models own what the plan points into
  for (size_t i = 0; i < ops.size(); ++i) {
    models.push_back(std::make_unique<Doc>(ops[i], "write model"));
    plan.add_model(models.back()->get(), i);
  }
  return run_bulk(plan);
}

}  // namespace pm::core
