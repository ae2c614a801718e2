// Per-database usage analytics: operations, errors, last use and latency of every database the
// wrapper served, whichever pool served it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pm::core {

// A database's usage, as statistics report it.
struct DbUsage {
  std::string db;
  uint64_t operations = 0;
  uint64_t errors = 0;
  int64_t last_used_ms = 0;  // wall clock
  uint64_t total_latency_us = 0;
  uint64_t throttled = 0;  // refused or outwaited by its tenantLimits
  uint64_t queued = 0;     // waited: for its tenantLimits, or in its saturated pool's queue
  double mean_latency_ms() const {
    return operations ? static_cast<double>(total_latency_us) / 1000.0 / static_cast<double>(operations) : 0.0;
  }
};

class Events;

// One hash table behind one mutex: an operation holds it for one lookup and a few additions
// (a fraction of a microsecond against operations of tens of microseconds), so shards would
// not pay. An entry keeps the pool that serves its database inline: one table node is all an
// operation touches, which counts more than instructions when caches are cold between the
// server's answers.
//
// The table also tells when a database first succeeds in a pool's opening (its epoch) and
// emits the connect event then, under the lock; a pool closing takes the lock to find its
// connected databases, so its disconnects always come after the connects it caused.
//
// The table is bounded, for processes whose tenants come and go: beyond `max_databases`
// entries, the least recently used quarter is forgotten (a pass over the table, once every
// max_databases / 4 new databases). Their counts are kept as one aggregate (Forgotten), so that
// totals still add up; a database that comes back starts a new entry. One still connected in
// its pool's opening gets its `disconnect` (reason "forgotten") then, so that every `connect`
// has one, and its next success raises `connect` again.
class Usage {
 public:
  explicit Usage(std::shared_ptr<Events> events, size_t max_databases = 10000)
      : events_(std::move(events)), max_databases_(max_databases < 4 ? 4 : max_databases) {}
  Usage(const Usage &) = delete;
  Usage &operator=(const Usage &) = delete;

  // One operation on db by the pool `pool_id` (labelled `pool` in events) in its opening
  // `epoch` (0 for failures).
  void record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id, const std::string &pool,
              uint64_t epoch);

  // An operation on db that its limits refused (throttled) or that had to wait (queued).
  enum class Counter { throttled, queued };
  void count(const std::string &db, Counter counter);

  // The databases pool `pool_id` has served, sorted.
  std::vector<std::string> served_by(uint64_t pool_id);
  // The databases that succeeded in pool `pool_id`'s opening `epoch` (its connected ones),
  // which are connected no more: the pool calls this when that opening closes.
  std::vector<std::string> disconnect_all(uint64_t pool_id, uint64_t epoch);
  // The databases forgotten so far (each time one was), and what they had counted.
  struct Forgotten {
    uint64_t databases = 0, operations = 0, errors = 0, total_latency_us = 0;
  };
  // Most operations first; n == 0: all. `forgotten` (when given) is read at the same moment,
  // so that the two add up to every operation recorded.
  std::vector<DbUsage> top(size_t n, Forgotten *forgotten = nullptr);
  bool find(const std::string &db, DbUsage *out);
  size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  struct PoolUse {
    uint64_t pool_id = 0;
    std::string pool;    // its label, for the disconnect when forgotten
    uint64_t epoch = 0;  // the pool's opening of the database's last success through it
    bool connected = false;  // its connect raised, its disconnect not yet
  };
  struct Entry {
    uint64_t operations = 0, errors = 0, total_latency_us = 0;
    uint64_t throttled = 0, queued = 0;
    int64_t last_used_ms = 0;
    PoolUse pool;                 // the first pool that served it (pool_id 0: none yet)
    std::vector<PoolUse> others;  // any other: a database moved between pools, rarely
    PoolUse &use_by(uint64_t pool_id, const std::string &label);  // added when new
    template <class F>
    void for_each_pool(F &&f) {
      if (pool.pool_id != 0) f(pool);
      for (PoolUse &p : others) f(p);
    }
    DbUsage report(const std::string &db) const;
  };
  template <class F>
  void update(const std::string &db, F &&change);
  void forget_oldest_locked();  // back to 3/4 of max_databases_

  std::shared_ptr<Events> events_;
  const size_t max_databases_;
  std::atomic<size_t> size_{0};  // entries, read without the lock by size()
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  Forgotten forgotten_;
};

}  // namespace pm::core
