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

 private:
  void apply(mongoc_client_t *client, const std::string &db) const;

  std::shared_ptr<const OpsContext> context_;
  std::string collection_;
  BsonPtr create_options_;  // validator, validationLevel, validationAction
  BsonPtr indexes_;         // the createIndexes "indexes" array, names filled in
  bool has_setup_ = false;

  mutable std::mutex mu_;
  mutable std::unordered_set<std::string> ready_;
};

}  // namespace pm::core
