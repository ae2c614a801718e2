// Database name -> pool: a dedicated pool when the database has one, else the shared pool.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "options.hpp"
#include "pool.hpp"

namespace pm::core {

class Log;

class Router {
 public:
  Router(const Options &options, std::shared_ptr<const Log> log);

  // Connects the pools that are not cold-started. Throws on the first failure.
  void connect_eager(const Options &options);

  // Never does I/O: the pool is opened by its first checkout.
  const std::shared_ptr<Pool> &route(const std::string &db_name) const;

  const std::shared_ptr<Pool> &shared_pool() const { return shared_; }

 private:
  std::shared_ptr<Pool> shared_;
  std::unordered_map<std::string, std::shared_ptr<Pool>> dedicated_;
};

}  // namespace pm::core
