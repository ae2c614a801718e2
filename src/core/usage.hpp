// Per-database usage analytics: operations, errors, last use and latency of every database the
// wrapper served, whichever pool served it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pm::core {

struct DbUsage {
  std::string db;
  uint64_t operations = 0;
  uint64_t errors = 0;
  int64_t last_used_ms = 0;  // wall clock
  uint64_t total_latency_us = 0;
  // Bookkeeping of the pools that served it, kept here so that an operation costs one lookup
  // of its database name, not one per table (see Pool::record_success).
  std::vector<uint64_t> pools;    // ids of the pools that served it
  uint64_t connected_epoch = 0;   // the pool opening (Pool epoch) of its last success
  double mean_latency_ms() const {
    return operations ? static_cast<double>(total_latency_us) / 1000.0 / static_cast<double>(operations) : 0.0;
  }
};

// Sharded by the database's name: every operation records here, and one lock for all of them
// is a cache line every thread writes to.
class Usage {
 public:
  // One operation on db by pool `pool_id`. `epoch` identifies the pool's current opening: true
  // when this is db's first success since then (a success in another epoch came before).
  bool record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id = 0,
              uint64_t epoch = 0);
  // The databases pool `pool_id` has served, sorted.
  std::vector<std::string> served_by(uint64_t pool_id) const;
  std::vector<DbUsage> top(size_t n) const;  // most operations first; n == 0: all
  bool find(const std::string &db, DbUsage *out) const;

 private:
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, DbUsage> by_db;
  };
  Shard &shard(const std::string &db) { return shards_[std::hash<std::string>{}(db) % kShards]; }
  const Shard &shard(const std::string &db) const {
    return shards_[std::hash<std::string>{}(db) % kShards];
  }
  template <class F>
  void for_each(F &&visit) const;  // every entry, one shard locked at a time

  Shard shards_[kShards];
};

}  // namespace pm::core
