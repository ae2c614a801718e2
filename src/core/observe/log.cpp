#include "observe/log.hpp"

#include <mongoc/mongoc.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <vector>

#include "base/error.hpp"
#include "observe/events.hpp"
#include "base/redact.hpp"

namespace pm::core {

namespace {

constexpr size_t kFileBytes = size_t{5} * 1024 * 1024;
constexpr size_t kFiles = 5;

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    default: return spdlog::level::off;
  }
}

// libmongoc has one process-wide log handler; polymongo's forwards to every live wrapper.
struct DriverLogRouter {
  std::mutex mu;
  std::vector<std::weak_ptr<const Log>> logs;

  static DriverLogRouter &instance() {
    static DriverLogRouter *router = new DriverLogRouter();  // never destroyed: threads may log late
    return *router;
  }

  static void handler(mongoc_log_level_t level, const char *domain, const char *message, void *) {
    if (level == MONGOC_LOG_LEVEL_TRACE) return;
    LogLevel l = level <= MONGOC_LOG_LEVEL_CRITICAL ? LogLevel::error
                 : level == MONGOC_LOG_LEVEL_WARNING ? LogLevel::warn
                 : level == MONGOC_LOG_LEVEL_DEBUG ? LogLevel::debug
                                                   : LogLevel::info;
    std::string line = std::string("libmongoc ") + domain + ": " + message;
    std::vector<std::shared_ptr<const Log>> live;
    {
      DriverLogRouter &r = instance();
      std::lock_guard<std::mutex> lock(r.mu);
      r.logs.erase(std::remove_if(r.logs.begin(), r.logs.end(),
                                  [](const std::weak_ptr<const Log> &w) { return w.expired(); }),
                   r.logs.end());
      for (auto &w : r.logs)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto &log : live) log->write(l, line);
  }

  void add(std::weak_ptr<const Log> log) {
    static std::once_flag once;
    std::call_once(once, [] { mongoc_log_set_handler(&DriverLogRouter::handler, nullptr); });
    std::lock_guard<std::mutex> lock(mu);
    // Freed wrappers' entries are dropped here too, not only when libmongoc logs (which it may
    // never do): each keeps its Log's make_shared block allocated, so a process creating
    // wrappers in a loop would otherwise grow without bound.
    logs.erase(std::remove_if(logs.begin(), logs.end(),
                              [](const std::weak_ptr<const Log> &w) { return w.expired(); }),
               logs.end());
    logs.push_back(std::move(log));
  }
};

}  // namespace

LogLevel parse_log_level(const std::string &name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  if (name == "off") return LogLevel::off;
  fail(Code::invalid_argument, "logLevel must be one of debug, info, warn, error, off");
}

Log::Log(bool debug, const std::string &log_path, LogLevel level, std::shared_ptr<Events> events)
    : level_(level), events_(std::move(events)) {
  std::vector<spdlog::sink_ptr> sinks;
  if (debug) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!log_path.empty()) {
    try {
      std::filesystem::create_directories(log_path);
      auto dir = std::filesystem::path(log_path);
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          (dir / "polymongo.log").string(), kFileBytes, kFiles));
      auto errors = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          (dir / "errors.log").string(), kFileBytes, kFiles);
      errors->set_level(spdlog::level::err);
      sinks.push_back(errors);
    } catch (const std::exception &e) {
      fail(Code::invalid_argument, std::string("logPath: cannot write logs there: ") + e.what());
    }
  }
  if (sinks.empty()) return;
  // Not registered with spdlog's global registry: several wrappers may coexist.
  logger_ = std::make_shared<spdlog::logger>("polymongo", sinks.begin(), sinks.end());
  logger_->set_level(to_spdlog(level_));
  logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [polymongo] %v");
  logger_->flush_on(spdlog::level::warn);
}

Log::~Log() {
  if (logger_) logger_->flush();
}

void Log::attach_driver_log() { DriverLogRouter::instance().add(weak_from_this()); }

void Log::write(LogLevel level, const std::string &message) const {
  if (level < level_ || level_ == LogLevel::off) return;
  bool to_events = events_ && events_->wants(EventType::log);
  if (!logger_ && !to_events) return;
  std::string line = redact_text(message);
  if (logger_) logger_->log(to_spdlog(level), line);
  if (to_events) {
    Event e{EventType::log};
    e.message = std::move(line);
    e.code = static_cast<int32_t>(level);
    events_->emit(std::move(e));
  }
}

}  // namespace pm::core
