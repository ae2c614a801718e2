#include "observe/events.hpp"

#include <cxxabi.h>

#include <chrono>

#include "base/fork.hpp"
#include "base/thread_name.hpp"

namespace pm::core {

namespace {
// A stuck subscriber must not make memory grow without bound: past this, the oldest events
// are dropped and counted.
constexpr size_t kMaxQueued = 100000;
}  // namespace

const char *event_type_name(EventType type) {
  switch (type) {
    case EventType::connect: return "connect";
    case EventType::disconnect: return "disconnect";
    case EventType::error: return "error";
    case EventType::pool_opened: return "poolOpened";
    case EventType::pool_closed: return "poolClosed";
    case EventType::pool_resized: return "poolResized";
    case EventType::log: return "log";
    case EventType::pool_ready: return "poolReady";
    case EventType::pool_cleared: return "poolCleared";
    case EventType::connection_created: return "connectionCreated";
    case EventType::connection_ready: return "connectionReady";
    case EventType::connection_closed: return "connectionClosed";
    case EventType::checkout_started: return "checkoutStarted";
    case EventType::checkout_failed: return "checkoutFailed";
    case EventType::checked_out: return "checkedOut";
    case EventType::checked_in: return "checkedIn";
    case EventType::budget_exhausted: return "budgetExhausted";
  }
  return "unknown";
}

Events::~Events() {
  if (thread_.joinable() && thread_fork_ != fork_generation()) {  // a forked child: the thread is the parent's
    thread_.detach();
    renew_after_fork(wake_);
    renew_after_fork(drained_);
    renew_after_fork(callback_done_);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    // The last reference may be dropped by a subscriber running on the dispatcher itself.
    if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
    else join_or_forget(thread_, thread_fork_);
  }
}

void Events::recompute_mask_locked() {
  uint32_t m = 0;
  for (const auto &s : subs_) m |= s->mask;
  mask_ = m;
}

uint64_t Events::subscribe(uint32_t mask, std::vector<std::string> dbs, Callback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  auto sub = std::make_shared<Subscription>(
      Subscription{next_id_++, mask, {dbs.begin(), dbs.end()}, std::move(callback)});
  subs_.push_back(sub);
  recompute_mask_locked();
  start_locked();
  return sub->id;
}

void Events::start_locked() {
  if (thread_.joinable() && thread_fork_ == fork_generation()) return;
  // In a child process the parent's dispatcher does not run: start this process's own.
  if (thread_.joinable()) {
    thread_.detach();
    renew_after_fork(wake_);
    renew_after_fork(drained_);
    renew_after_fork(callback_done_);
  }
  running_ = 0;
  thread_fork_ = fork_generation();
  thread_ = std::thread([this] {
    name_this_thread("pm-events");
    run();
  });
}

bool Events::unsubscribe(uint64_t id) {
  std::shared_ptr<const Subscription> removed;  // released outside the lock
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (auto it = subs_.begin(); it != subs_.end(); ++it) {
      if ((*it)->id == id) {
        removed = *it;
        subs_.erase(it);
        recompute_mask_locked();
        break;
      }
    }
    if (removed && std::this_thread::get_id() != thread_.get_id())
      callback_done_.wait(lock, [&] { return running_ != id; });
  }
  return removed != nullptr;
}

void Events::emit(Event event) {
  if (!wants(event.type)) return;
  if (event.timestamp_ms == 0) event.timestamp_ms = now_wall_ms();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_fork_ != fork_generation()) start_locked();
    if (queue_.size() >= kMaxQueued) {
      queue_.pop_front();
      ++dropped_;
      ++delivered_;
    }
    queue_.push_back(std::move(event));
    ++queued_;
  }
  wake_.notify_one();
}

bool Events::flush(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable()) return true;
  uint64_t target = queued_;
  return drained_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return delivered_ >= target; });
}

void Events::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Event event = std::move(queue_.front());
    queue_.pop_front();
    auto subs = subs_;  // a snapshot: subscribers may (un)subscribe from a callback
    lock.unlock();
    for (const auto &s : subs) {
      if ((s->mask & static_cast<uint32_t>(event.type)) == 0) continue;
      if (!s->dbs.empty() && s->dbs.count(event.db) == 0) continue;
      {
        std::lock_guard<std::mutex> guard(mu_);
        bool still_subscribed = false;
        for (const auto &live : subs_) still_subscribed = still_subscribed || live->id == s->id;
        if (!still_subscribed) continue;
        running_ = s->id;
      }
      try {
        s->callback(event);
      } catch (abi::__forced_unwind &) {
        throw;  // thread cancellation (e.g. an interpreter shutting down) must unwind
      } catch (...) {
        ++hook_failures_;  // a failing hook is counted, never propagated into the pools
      }
      {
        std::lock_guard<std::mutex> guard(mu_);
        running_ = 0;
      }
      callback_done_.notify_all();
    }
    subs.clear();
    lock.lock();
    ++delivered_;
    drained_.notify_all();
  }
}

}  // namespace pm::core
