#include "router.hpp"

namespace pm::core {

Router::Router(const Options &options, std::shared_ptr<const Log> log) {
  shared_ = Pool::create(
      PoolConfig{"shared", options.mongo_uri, options.max_pool_size, options.min_free_connections},
      log);
  for (const DedicatedPoolOptions &d : options.db_specific) {
    std::string uri = d.mongo_uri.empty() ? options.mongo_uri : d.mongo_uri;
    dedicated_.emplace(d.db_name, Pool::create(PoolConfig{d.db_name, uri, d.max_connections, 0}, log));
  }
}

void Router::connect_eager(const Options &options) {
  if (!options.cold_start) shared_->connect();
  for (const DedicatedPoolOptions &d : options.db_specific)
    if (!d.cold_start) dedicated_.at(d.db_name)->connect();
}

const std::shared_ptr<Pool> &Router::route(const std::string &db_name) const {
  if (!dedicated_.empty()) {
    auto it = dedicated_.find(db_name);
    if (it != dedicated_.end()) return it->second;
  }
  return shared_;
}

}  // namespace pm::core
