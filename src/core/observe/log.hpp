// Per-wrapper logging. Sinks: standard error when `debug`; under `logPath` a size-rotated
// polymongo.log (5 MiB x 5) and an errors-only errors.log; and `log` events for subscribers
// (delivered on the event dispatcher thread). libmongoc's own log is routed into every live
// wrapper's log. Every line is redacted before it reaches any sink.
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace pm::core {

class Events;

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// "debug" | "info" | "warn" | "error" | "off"; throws Error(invalid_argument) otherwise.
LogLevel parse_log_level(const std::string &name);

class Log : public std::enable_shared_from_this<Log> {
 public:
  // Throws Error(invalid_argument) when logPath cannot be written.
  Log(bool debug, const std::string &log_path, LogLevel level, std::shared_ptr<Events> events);
  ~Log();

  // Starts receiving libmongoc's log lines (call once the Log is owned by a shared_ptr).
  void attach_driver_log();

  void debug(const std::string &message) const { write(LogLevel::debug, message); }
  void info(const std::string &message) const { write(LogLevel::info, message); }
  void warn(const std::string &message) const { write(LogLevel::warn, message); }
  void error(const std::string &message) const { write(LogLevel::error, message); }
  void write(LogLevel level, const std::string &message) const;

 private:
  LogLevel level_;
  std::shared_ptr<spdlog::logger> logger_;  // null when no file or console sink
  std::shared_ptr<Events> events_;
};

}  // namespace pm::core
