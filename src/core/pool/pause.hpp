// Pausing databases and pools (the admin actions pause and resume): an operation on a paused
// database, or on a database served by a paused pool, waits before it checks out a client,
// until the pause ends or pauseTimeoutMS passes (then Error timeout: nothing was sent). While
// nothing is paused the check is one relaxed atomic load.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace pm::core {

class PauseGate {
 public:
  explicit PauseGate(int64_t timeout_ms) : timeout_ms_(timeout_ms) {}

  // `name`: a database name or a pool's label ("shared", a dedicated pool's name). False when
  // it was paused (or not paused, for resume) already.
  bool pause(const std::string &name);
  bool resume(const std::string &name);
  std::vector<std::string> paused() const;

  // On an operation's path, before its checkout.
  void wait(const std::string &db, const std::string &pool_label) const {
    if (count_.load(std::memory_order_relaxed) != 0) wait_slow(db, pool_label);
  }
  uint64_t waited() const { return waited_.load(std::memory_order_relaxed); }
  uint64_t timed_out() const { return timed_out_.load(std::memory_order_relaxed); }

 private:
  void wait_slow(const std::string &db, const std::string &pool_label) const;

  const int64_t timeout_ms_;
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable resumed_;
  std::set<std::string> names_;
  mutable std::atomic<uint64_t> waited_{0}, timed_out_{0};
};

}  // namespace pm::core
