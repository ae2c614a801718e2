#include "pool/pause.hpp"

#include <chrono>

#include "base/error.hpp"

namespace pm::core {

bool PauseGate::pause(const std::string &name) {
  std::lock_guard<std::mutex> lock(mu_);
  bool added = names_.insert(name).second;
  count_.store(static_cast<int>(names_.size()), std::memory_order_relaxed);
  return added;
}

bool PauseGate::resume(const std::string &name) {
  bool removed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    removed = names_.erase(name) != 0;
    count_.store(static_cast<int>(names_.size()), std::memory_order_relaxed);
  }
  resumed_.notify_all();
  return removed;
}

std::vector<std::string> PauseGate::paused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {names_.begin(), names_.end()};
}

void PauseGate::wait_slow(const std::string &db, const std::string &pool_label) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto blocked = [&] { return names_.count(db) != 0 || names_.count(pool_label) != 0; };
  if (!blocked()) return;
  waited_.fetch_add(1, std::memory_order_relaxed);
  if (!resumed_.wait_for(lock, std::chrono::milliseconds(timeout_ms_), [&] { return !blocked(); })) {
    timed_out_.fetch_add(1, std::memory_order_relaxed);
    throw Error(Code::timeout, "database " + db + " (pool " + pool_label + ") is paused: waited " +
                                   std::to_string(timeout_ms_) + " ms (pauseTimeoutMS) for a resume");
  }
}

}  // namespace pm::core
