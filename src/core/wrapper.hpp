// The wrapper: options, logging and the router that owns every pool.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "log.hpp"
#include "options.hpp"
#include "router.hpp"

namespace pm::core {

class Wrapper {
 public:
  // Parses and validates the options; connects eagerly unless coldStart.
  static std::shared_ptr<Wrapper> create(const char *options_json);

  const Options &options() const { return options_; }
  const Router &router() const { return router_; }
  const Log &log() const { return *log_; }

  // The default database, or nullptr when neither defaultDB nor the URI names one.
  const std::string *default_db() const {
    return options_.default_db ? &*options_.default_db : nullptr;
  }

  // Throws Error(invalid_db_name) unless `name` may be used.
  void check_db_name(std::string_view name) const;

  // Resolves NULL/"" to the default database and validates the name.
  std::string resolve_db_name(const char *name) const;

 private:
  explicit Wrapper(Options options);

  Options options_;
  std::shared_ptr<const Log> log_;
  Router router_;
};

}  // namespace pm::core
