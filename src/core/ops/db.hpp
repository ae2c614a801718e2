// A model bound to one database, and every collection operation on it. Each operation routes
// the database to its pool, checks out a client for the duration of the call (or, for
// cursors, until the cursor ends), and applies the model's setup on first use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ops/cursor.hpp"
#include "base/doc.hpp"
#include "base/error.hpp"
#include "ops/model.hpp"
#include "txn/compensation.hpp"
#include "txn/session.hpp"
#include "ops/write_result.hpp"

namespace pm::core {

// A write's result (when the server reported one) and its error (when it failed).
struct WriteOutcome {
  std::shared_ptr<WriteResult> result;
  std::optional<Error> error;
};

class Db : public std::enable_shared_from_this<Db> {
 public:
  Db(std::shared_ptr<const Model> model, std::string name, std::shared_ptr<Session> session = nullptr)
      : model_(std::move(model)), name_(std::move(name)), session_(std::move(session)) {}
  // `by_default`: the name was not given, the wrapper's default was used; destructive calls
  // (drop collection, drop index) then refuse (Wrapper::refuse_default_for).
  Db(std::shared_ptr<const Model> model, std::string name, bool by_default)
      : model_(std::move(model)), name_(std::move(name)), by_default_(by_default) {}

  // The same database and model, with every operation in `session`.
  std::shared_ptr<Db> with_session(std::shared_ptr<Session> session) const {
    auto d = std::make_shared<Db>(model_, name_, std::move(session));
    d->by_default_ = by_default_;
    return d;
  }
  // The same database and model, with every write recorded by a compensating transaction.
  std::shared_ptr<Db> with_compensation(std::shared_ptr<Compensation> comp) const {
    auto d = std::make_shared<Db>(model_, name_);
    d->comp_ = std::move(comp);
    d->by_default_ = by_default_;
    return d;
  }
  const std::shared_ptr<const Model> &model() const { return model_; }

  const std::string &name() const { return name_; }
  const std::string &collection() const { return model_->collection(); }

  // want_result false: the caller only needs to know whether it worked, so a successful
  // write builds no result (and records no _ids for one).
  WriteOutcome insert_many(const std::vector<DocView> &docs, DocView opts, bool want_result = true) const;
  WriteOutcome update(DocView filter, DocView update, DocView opts, bool many) const;
  WriteOutcome replace_one(DocView filter, DocView replacement, DocView opts) const;
  WriteOutcome remove(DocView filter, DocView opts, bool many) const;
  WriteOutcome bulk_write(const std::vector<DocView> &ops, DocView opts) const;

  std::unique_ptr<Cursor> find(DocView filter, DocView opts) const;
  std::optional<Bytes> find_one(DocView filter, DocView opts) const;
  enum class Modify { update, replace, remove };
  std::optional<Bytes> find_one_and_modify(Modify kind, DocView filter, DocView change,
                                           DocView opts) const;
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
  template <class F>
  auto run(bool is_write, F &&body) const;
  std::string where() const { return name_ + "." + model_->collection(); }
  WriteOutcome run_bulk(struct BulkPlan &plan) const;
  WriteOutcome insert_one(DocView doc, bool want_result) const;
  WriteOutcome outcome(bool ok, bson_t *reply, const bson_error_t &error,
                       const std::shared_ptr<const InsertedIds> &inserted, bool ordered,
                       bool want_result) const;

  std::shared_ptr<const Model> model_;
  std::string name_;
  std::shared_ptr<Session> session_;
  std::shared_ptr<Compensation> comp_;
  bool by_default_ = false;
  std::shared_ptr<Db> plain() const { return std::make_shared<Db>(model_, name_); }
  void refuse_in_compensation(const char *what) const;
};

}  // namespace pm::core
