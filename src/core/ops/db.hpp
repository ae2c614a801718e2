// A model bound to one database, and every collection operation on it. Each operation routes
// the database to its pool, checks out a client for the duration of the call (or, for
// cursors, until the cursor ends), and applies the model's setup on first use.
//
// A db may be bound to a session (with_session): a native session pins its operations to the
// session's client; a compensating session makes its writes itself, recording their undo.
//
// The operations live in files by concern: ops/db_write.cpp (inserts, updates, deletes, bulk
// writes), ops/db_read.cpp (find, count, distinct, aggregate), ops/db_modify.cpp
// (find-and-modify), ops/db_admin.cpp (indexes, dropping the collection, commands); the loop
// they all run in is ops/db_run.hpp, the parsing of bulk writes ops/bulk_plan.*.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "ops/cursor.hpp"
#include "ops/model.hpp"
#include "ops/session.hpp"
#include "ops/target.hpp"
#include "ops/write_result.hpp"

namespace pm::core {

class Db final : public CollectionTarget, public std::enable_shared_from_this<Db> {
 public:
  // `by_default`: the name was not given, the wrapper's default was used; destructive calls
  // (drop collection, drop index) then refuse (refuse_default_for).
  Db(std::shared_ptr<const Model> model, std::string name, bool by_default = false)
      : model_(std::move(model)), name_(std::move(name)), by_default_(by_default) {}

  // The same database and model, with every operation in `session`.
  std::shared_ptr<Db> with_session(std::shared_ptr<Session> session) const {
    auto d = std::make_shared<Db>(model_, name_, by_default_);
    d->session_ = std::move(session);
    return d;
  }
  const std::shared_ptr<const Model> &model() const { return model_; }
  // The session this db is bound to, or nullptr (its operations then run one at a time).
  const Session *session() const { return session_.get(); }

  const std::string &name() const override { return name_; }
  const std::string &collection() const override { return model_->collection(); }

  // want_result false: the caller only needs to know whether it worked, so a successful
  // write builds no result (and records no _ids for one).
  WriteOutcome insert_many(const std::vector<DocView> &docs, DocView opts,
                           bool want_result = true) const override;
  WriteOutcome update(DocView filter, DocView update, DocView opts, bool many) const override;
  WriteOutcome replace_one(DocView filter, DocView replacement, DocView opts) const;
  WriteOutcome remove(DocView filter, DocView opts, bool many) const override;
  WriteOutcome bulk_write(const std::vector<DocView> &ops, DocView opts) const;

  std::unique_ptr<Cursor> find(DocView filter, DocView opts) const override;
  std::optional<Bytes> find_one(DocView filter, DocView opts) const;
  std::optional<Bytes> find_one_and_modify(Modify kind, DocView filter, DocView change,
                                           DocView opts) const override;
  int64_t count(DocView filter, DocView opts) const;
  int64_t estimated_count(DocView opts) const;
  Bytes distinct(const std::string &field, DocView filter, DocView opts) const;
  std::unique_ptr<Cursor> aggregate(DocView pipeline, DocView opts) const;

  std::string create_index(DocView keys, DocView opts) const;
  std::unique_ptr<Cursor> list_indexes() const;
  void drop_index(const std::string &name) const;
  void drop_collection() const;
  Bytes command(DocView command) const;

 private:
  struct Target;  // a leased client and the collection on it
  // What an operation is, for the slow-operation log: its kind ("find", "insert", ...),
  // whether it writes (retries depend on it) and its filter (only its shape is logged).
  struct Op {
    const char *kind;
    bool is_write;
    const bson_t *filter = nullptr;
  };
  template <class F>
  auto run(Op op, F &&body) const;
  std::string where() const { return name_ + "." + model_->collection(); }
  WriteOutcome run_bulk(struct BulkPlan &plan) const;
  WriteOutcome insert_one(DocView doc, bool want_result) const;

  // The session every operation runs in (a native one), or nullptr.
  const Session *pinned() const {
    return session_ && session_->pinned_client() != nullptr ? session_.get() : nullptr;
  }
  // The compensating session that makes this db's writes, or nullptr.
  WriteRecorder *recorder() const { return session_ ? session_->recorder() : nullptr; }
  // The same db bound to no session: where a compensating session makes the writes.
  std::shared_ptr<Db> plain() const { return std::make_shared<Db>(model_, name_); }
  void refuse_in_compensation(const char *what) const;

  std::shared_ptr<const Model> model_;
  std::string name_;
  std::shared_ptr<Session> session_;  // nullptr: bound to no session
  bool by_default_ = false;
};

}  // namespace pm::core
