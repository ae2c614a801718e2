// maxConnectionsPerCluster: one budget of sockets shared by every pool on a cluster (the set of
// hosts of a URI): the shared pool, rule pools and dedicated pools. A pool takes from it before
// it opens (its monitoring sockets) and before each new connection, and gives back when it
// closes. Over the budget, the least recently used idle pool of the cluster is closed first;
// when none is idle the request waits up to waitMS, then fails with Error throttled.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pm::core {

class Events;
class Log;
class Pool;

class ClusterBudget {
 public:
  ClusterBudget(std::string cluster, int limit, int64_t wait_ms, std::shared_ptr<Events> events,
                std::shared_ptr<const Log> log);

  // The cluster's name: its hosts, sorted, comma-separated ("h1:27017,h2:27017").
  static std::string cluster_of(const std::string &uri);
  // Monitoring sockets a pool on `uri` keeps open (one per host).
  static int monitors_of(const std::string &uri);

  void add_pool(const std::shared_ptr<Pool> &pool);
  // Takes `n` sockets for `requester` (never with the requester's lock held): closes idle pools
  // of the cluster, least recently used first, to make room; then waits up to wait_ms for
  // room. Throws Error(throttled) when there is none (a budget-exhausted event first).
  void acquire(int n, const Pool *requester);
  void release(int n);

  const std::string &cluster() const { return cluster_; }
  int limit() const { return limit_; }
  int used() const;
  uint64_t exhausted() const;  // requests that found the budget full after evicting

 private:
  const std::string cluster_;
  const int limit_;
  const int64_t wait_ms_;
  std::shared_ptr<Events> events_;
  std::shared_ptr<const Log> log_;
  mutable std::mutex mu_;  // never held while calling into a Pool
  std::condition_variable freed_;
  int used_ = 0;
  uint64_t fork_ = 0;  // base/fork.hpp: in a forked child, what the parent used is not ours
  void forget_parent_locked();
  uint64_t exhausted_ = 0;
  std::vector<std::weak_ptr<Pool>> pools_;
};

}  // namespace pm::core
