#include "pool/budget.hpp"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>

#include "base/error.hpp"
#include "base/fork.hpp"
#include "observe/events.hpp"
#include "observe/log.hpp"
#include "pool/pool.hpp"

namespace pm::core {

ClusterBudget::ClusterBudget(std::string cluster, int limit, int64_t wait_ms, std::shared_ptr<Events> events,
                             std::shared_ptr<const Log> log)
    : cluster_(std::move(cluster)), limit_(limit), wait_ms_(wait_ms), events_(std::move(events)), log_(std::move(log)),
      fork_(fork_generation()) {}

namespace {
std::vector<std::string> hosts_of(const std::string &uri) {
  std::vector<std::string> out;
  mongoc_uri_t *u = mongoc_uri_new_with_error(uri.c_str(), nullptr);
  if (u == nullptr) return out;
  if (const char *srv = mongoc_uri_get_srv_hostname(u)) {
    out.emplace_back(std::string("srv:") + srv);
  } else {
    for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(u); h != nullptr; h = h->next)
      out.emplace_back(h->host_and_port);
  }
  mongoc_uri_destroy(u);
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::string ClusterBudget::cluster_of(const std::string &uri) {
  std::string name;
  for (const std::string &h : hosts_of(uri)) name += (name.empty() ? "" : ",") + h;
  return name;
}

int ClusterBudget::monitors_of(const std::string &uri) {
  return std::max<int>(1, static_cast<int>(hosts_of(uri).size()));
}

void ClusterBudget::add_pool(const std::shared_ptr<Pool> &pool) {
  std::lock_guard<std::mutex> lock(mu_);
  pools_.erase(std::remove_if(pools_.begin(), pools_.end(), [](const auto &w) { return w.expired(); }),
               pools_.end());
  pools_.push_back(pool);
}

int ClusterBudget::used() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}

uint64_t ClusterBudget::exhausted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exhausted_;
}

void ClusterBudget::release(int n) {
  if (n <= 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    forget_parent_locked();
    used_ = std::max(0, used_ - n);
  }
  freed_.notify_all();
}

void ClusterBudget::forget_parent_locked() {
  if (fork_ == fork_generation()) return;
  fork_ = fork_generation();
  used_ = 0;
}

void ClusterBudget::acquire(int n, const Pool *requester) {
  if (n <= 0) return;
  if (n > limit_)
    throw Error(Code::throttled, "a pool on cluster " + cluster_ + " needs " + std::to_string(n) +
                                     " sockets at once, more than maxConnectionsPerCluster (" +
                                     std::to_string(limit_) + ")", 0, true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms_);
  bool reported = false;
  for (;;) {
    std::vector<std::shared_ptr<Pool>> others;
    {
      std::lock_guard<std::mutex> lock(mu_);
      forget_parent_locked();
      if (used_ + n <= limit_) {
        used_ += n;
        return;
      }
      for (const auto &w : pools_)
        if (auto p = w.lock(); p && p.get() != requester) others.push_back(std::move(p));
    }
    // Make room: close the least recently used idle pool of the cluster (never one with work
    // in progress: close_if_idle refuses those), then look again.
    std::sort(others.begin(), others.end(),
              [](const auto &a, const auto &b) { return a->last_used_ms() < b->last_used_ms(); });
    bool closed = false;
    for (auto &p : others)
      if (p->close_if_idle(CloseReason::budget, 0)) {
        closed = true;
        break;
      }
    others.clear();  // the last reference to a pool may go here, never under mu_
    if (closed) continue;
    std::unique_lock<std::mutex> lock(mu_);
    if (used_ + n <= limit_) continue;
    if (!reported) {
      reported = true;
      ++exhausted_;
      lock.unlock();
      std::string message = "cluster " + cluster_ + ": maxConnectionsPerCluster (" + std::to_string(limit_) +
                            ") reached and no idle pool to close";
      log_->warn(message);
      events_->emit(Event{EventType::budget_exhausted, "", "", "", message, limit_});
      lock.lock();
      if (used_ + n <= limit_) continue;
    }
    // Woken by a release, or every 50 ms to look for a pool that became idle.
    auto wake = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(Code::throttled, "cluster " + cluster_ + ": maxConnectionsPerCluster (" + std::to_string(limit_) +
                                       ") reached; no pool became idle within " + std::to_string(wait_ms_) + " ms", 0, true);
    freed_.wait_until(lock, wake);
  }
}

}  // namespace pm::core
