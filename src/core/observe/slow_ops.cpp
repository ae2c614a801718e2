#include "observe/slow_ops.hpp"

#include <cstdio>

#include "base/clock.hpp"
#include "base/redact.hpp"
#include "observe/log.hpp"

namespace pm::core {

SlowOps::SlowOps(int64_t threshold_ms, std::shared_ptr<const Log> log)
    : threshold_ms_(threshold_ms),
      threshold_us_(threshold_ms < 0 ? std::numeric_limits<uint64_t>::max()
                                     : static_cast<uint64_t>(threshold_ms) * 1000),
      log_(std::move(log)) {}

void SlowOps::report(const std::string &db, const std::string &collection, const char *kind,
                     const bson_t *filter, uint64_t us, bool failed) {
  SlowOperation op{db, collection, kind, redact_shape(filter), static_cast<double>(us) / 1000.0, failed,
                   now_wall_ms()};
  count_.fetch_add(1, std::memory_order_relaxed);
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", op.duration_ms);
  log_->warn("slow operation: " + op.kind + " on " + db + "." + collection + " took " + ms + " ms" +
             (failed ? " (failed)" : "") + ", filter " + op.shape);
  std::lock_guard<std::mutex> lock(mu_);
  recent_.push_back(std::move(op));
  if (recent_.size() > kKept) recent_.pop_front();
}

std::vector<SlowOperation> SlowOps::recent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {recent_.begin(), recent_.end()};
}

}  // namespace pm::core
