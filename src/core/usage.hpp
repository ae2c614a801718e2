// Per-database usage analytics: operations, errors, last use and latency of every database the
// wrapper served, whichever pool served it.
#pragma once

#include <cstdint>
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
  double mean_latency_ms() const {
    return operations ? static_cast<double>(total_latency_us) / 1000.0 / static_cast<double>(operations) : 0.0;
  }
};

// Every operation records here, so the table is built for that: sharded by the database's name
// (one lock for all is a cache line every thread writes to), and an entry holds only what an
// operation updates, its first pool inline (one database, one pool is the common case).
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
  struct Entry {
    uint64_t operations = 0, errors = 0, total_latency_us = 0;
    int64_t last_used_ms = 0;
    uint64_t connected_epoch = 0;  // the pool opening (Pool epoch) of its last success
    uint64_t first_pool = 0;       // the id of the first pool that served it
    std::vector<uint64_t> other_pools;
    bool served_by(uint64_t pool_id) const;
    DbUsage report(const std::string &db) const;
  };
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> by_db;
  };
  // Chosen from a few bytes of the name, not its full hash: the map hashes it again anyway.
  static size_t shard_of(const std::string &db) {
    return db.empty() ? 0 : (db.size() * 131 + static_cast<unsigned char>(db.back()) * 31 +
                             static_cast<unsigned char>(db[db.size() / 2])) % kShards;
  }
  template <class F>
  void for_each(F &&visit) const;  // every entry, one shard locked at a time

  Shard shards_[kShards];
};

}  // namespace pm::core
