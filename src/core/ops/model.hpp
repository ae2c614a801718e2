// A collection definition: its name, and an optional validator and indexes that are applied
// once per database, on the first operation there.
#pragma once

#include <mongoc/mongoc.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "base/doc.hpp"
#include "ops/context.hpp"

namespace pm::core {

class Model {
 public:
  // `opts`: {validator?, validationLevel?, validationAction?, indexes?: [{key, ...}]}.
  // `context`: what the model's dbs use; holding it keeps what it refers to alive.
  Model(std::shared_ptr<const OpsContext> context, std::string collection, DocView opts);

  const std::string &collection() const { return collection_; }
  const OpsContext &context() const { return *context_; }

  // Applies the validator and indexes in `db` through `client` the first time it is called
  // for that database. Failures propagate and leave the database to be tried again.
  void ensure(mongoc_client_t *client, const std::string &db) const;
  // After the collection was dropped in `db`: apply the setup again on next use there.
  void forget(const std::string &db) const;
  // Databases whose setup is remembered as done (statistics).
  size_t ready_count() const;

  // Applies the validator and indexes in `db` now (idempotent), whether done before or not.
  void apply(mongoc_client_t *client, const std::string &db) const;
  // The setup: {validator?, validationLevel?, validationAction?} and the createIndexes array
  // (every index named).
  const bson_t *create_options() const { return create_options_.get(); }
  const bson_t *indexes() const { return indexes_.get(); }

 private:
  void turn_over_locked() const;  // mu_ held

  std::shared_ptr<const OpsContext> context_;
  std::string collection_;
  BsonPtr create_options_;  // validator, validationLevel, validationAction
  BsonPtr indexes_;         // the createIndexes "indexes" array, names filled in
  bool has_setup_ = false;

  // The databases set up, bounded like the router's table: those used since the last turnover
  // in ready_, the others in older_; once ready_ holds half of maxTrackedDatabases, older_ is
  // forgotten and ready_ becomes older_. A forgotten database is set up again on its next use
  // (the setup is idempotent: one more round trip). A hit in ready_ costs the lock and one
  // lookup (a shared lock measured the same: bench_tenants --model indexed).
  mutable std::mutex mu_;
  mutable std::unordered_set<std::string> ready_, older_;
  size_t turnover_at_;
};

}  // namespace pm::core
