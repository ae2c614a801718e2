// Per-wrapper logging: standard error when `debug`, size-rotated files under `logPath`
// (polymongo.log, 5 MiB x 5, and errors.log for errors only). Callers pass redacted text only.
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace pm::core {

class Log {
 public:
  Log(bool debug, const std::string &log_path);  // throws Error(invalid_argument) on bad path
  ~Log();

  void info(const std::string &message) const;
  void warn(const std::string &message) const;
  void error(const std::string &message) const;
  bool enabled() const { return logger_ != nullptr; }

 private:
  std::shared_ptr<spdlog::logger> logger_;  // null when logging is off
};

}  // namespace pm::core
