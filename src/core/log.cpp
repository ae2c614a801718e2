#include "log.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <vector>

#include "error.hpp"

namespace pm::core {

namespace {
constexpr size_t kFileBytes = 5 * 1024 * 1024;
constexpr size_t kFiles = 5;
}  // namespace

Log::Log(bool debug, const std::string &log_path) {
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
  logger_->set_level(spdlog::level::info);
  logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [polymongo] %v");
  logger_->flush_on(spdlog::level::warn);
}

Log::~Log() {
  if (logger_) logger_->flush();
}

void Log::info(const std::string &message) const {
  if (logger_) logger_->info(message);
}
void Log::warn(const std::string &message) const {
  if (logger_) logger_->warn(message);
}
void Log::error(const std::string &message) const {
  if (logger_) logger_->error(message);
}

}  // namespace pm::core
