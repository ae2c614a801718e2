// The slow-operation log: operations that took at least slowOperationMS are logged (warn) with
// their database, collection, kind, duration and the redacted shape of their filter, counted
// (polymongo_slow_operations_total) and kept, the last 100, for the admin endpoint. The check
// on an operation's path is one comparison with a constant; nothing is shared until an
// operation is slow.
#pragma once

#include <bson/bson.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pm::core {

class Log;

struct SlowOperation {
  std::string db, collection, kind, shape;
  double duration_ms = 0;
  bool failed = false;
  int64_t timestamp_ms = 0;
};

class SlowOps {
 public:
  // threshold_ms < 0: off.
  SlowOps(int64_t threshold_ms, std::shared_ptr<const Log> log);

  // Whether an operation of `us` microseconds is slow: the one check on the hot path.
  bool is_slow(uint64_t us) const { return us >= threshold_us_; }
  void report(const std::string &db, const std::string &collection, const char *kind, const bson_t *filter,
              uint64_t us, bool failed);

  int64_t threshold_ms() const { return threshold_ms_; }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::vector<SlowOperation> recent() const;  // oldest first

 private:
  static constexpr size_t kKept = 100;
  const int64_t threshold_ms_;
  const uint64_t threshold_us_;
  std::shared_ptr<const Log> log_;
  std::atomic<uint64_t> count_{0};
  mutable std::mutex mu_;
  std::deque<SlowOperation> recent_;
};

}  // namespace pm::core
