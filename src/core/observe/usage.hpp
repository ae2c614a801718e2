// Per-database usage analytics: operations, errors, last use and latency of every database the
// wrapper served, whichever pool served it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
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

class Events;

// Every operation records here, so recording is built for that. An operation appends to its
// thread's log (a buffer that stays in that thread's cache); logs are merged into the table when
// full, by the maintenance thread, and before anything reads the table, so readers see every
// operation that finished before they asked. Touching the table from the operation itself cost
// a shard lock other threads wrote to and the lines of a random database's entry, each a miss
// once the thread had waited for the server (perf: 0.4 us of a 50 us operation); merged in a
// batch, they are touched off the operation's path.
//
// The merge also tells when a database first succeeds in a pool's opening (its epoch) and
// emits the connect event then; it holds the log while it emits, so that a pool closing (which
// merges first) emits its disconnects after every connect it has caused.
//
// The table is bounded, for processes whose tenants come and go: beyond `max_databases`
// entries, the least recently used quarter is forgotten (a pass over the table, once every
// max_databases / 4 new databases). Their counts are kept as one aggregate (forgotten()), so
// that totals still add up; a database that comes back starts a new entry. One still connected
// in its pool's opening gets its `disconnect` (reason "forgotten") then, so that every
// `connect` has one, and its next success raises `connect` again.
class Usage {
 public:
  explicit Usage(std::shared_ptr<Events> events, size_t max_databases = 10000)
      : events_(std::move(events)), max_databases_(max_databases < 4 ? 4 : max_databases) {}
  Usage(const Usage &) = delete;
  Usage &operator=(const Usage &) = delete;

  // Pools name themselves for the connect events, and keep their command figures here.
  void add_pool(uint64_t pool_id, const std::string &label);
  void remove_pool(uint64_t pool_id);

  // One operation on db by pool `pool_id` in its opening `epoch` (0 for failures).
  void record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id, uint64_t epoch);
  // One command a client of pool `pool_id` ran (libmongoc's command monitoring), in the same
  // logs: counters every thread incremented were cache lines every command pulled across cores.
  void record_command(uint64_t pool_id, int64_t duration_us, bool ok);

  // A pool's commands: counts, and the response times of the last kCommandSamples.
  static constexpr size_t kCommandSamples = 1024;
  struct Commands {
    uint64_t commands = 0, failed = 0, total_us = 0;
    std::vector<int64_t> samples_us;  // a ring once full
    size_t next = 0;
  };
  Commands commands_of(uint64_t pool_id);
  // Merges every log into the table.
  void flush();

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
  size_t size();  // databases in the table

 private:
  struct PoolUse {
    uint64_t pool_id = 0;
    uint64_t epoch = 0;  // the pool's opening of the database's last success through it
    bool connected = false;  // its connect raised, its disconnect not yet
  };
  // 128 bytes, aligned: the two lines a merge touches are fetched as one pair.
  struct alignas(128) Entry {
    std::string db;
    size_t hash = 0;
    uint64_t operations = 0, errors = 0, total_latency_us = 0;
    int64_t last_used_ms = 0;
    PoolUse pool;                      // the first pool that served it (most have one)
    std::vector<PoolUse> other_pools;  // any others
    PoolUse &use_by(uint64_t pool_id);  // added when new
    template <class F>
    void for_each_pool(F &&visit) const {
      if (pool.pool_id != 0) visit(pool);
      for (const PoolUse &p : other_pools) visit(p);
    }
    DbUsage report() const;
  };
  // Open addressing with linear probing over (hash, entry) pairs; at most half full.
  struct Slot {
    size_t hash = 0;
    Entry *entry = nullptr;
  };
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::vector<Slot> slots = std::vector<Slot>(64);  // a power of two
    std::vector<std::unique_ptr<Entry>> entries;      // owns them, at stable addresses
    Entry *find(const std::string &db, size_t hash) const;
    Entry *candidate(size_t hash) const;  // the first entry with this hash, if any
    Entry &find_or_add(const std::string &db, size_t hash);
    void reindex();  // the slots again, from the entries (after some were removed)
  };
  struct Record {
    std::string db;  // assigned in place: its buffer is reused; empty for a command
    uint64_t latency_us, pool_id, epoch;
    int64_t at_ms;
    bool ok;
  };
  struct PoolInfo {
    uint64_t id;
    std::string label;
    Commands commands;
  };
  static constexpr size_t kLogs = 16;          // threads share them beyond that
  static constexpr size_t kLogCapacity = 64;   // records merged at once
  struct alignas(64) Log {
    std::mutex mu;
    std::vector<Record> records = std::vector<Record>(kLogCapacity);
    size_t size = 0;
  };
  Log &this_thread_log();
  void merge_locked(Log &log);  // log.mu held
  void forget_oldest();  // log.mu held: back to 3/4 of max_databases_
  PoolInfo *pool_locked(uint64_t pool_id);  // pools_mu_ held
  template <class F>
  void for_each(F &&visit);  // every entry after a flush, every shard locked
  void lock_all(std::unique_lock<std::mutex> (&locks)[kShards]);  // in index order
  static size_t hash_of(const std::string &db) { return std::hash<std::string>{}(db); }
  static size_t shard_index(size_t hash) { return (hash >> 56) % kShards; }
  Shard &shard_of(size_t hash) { return shards_[shard_index(hash)]; }

  std::shared_ptr<Events> events_;
  const size_t max_databases_;
  std::atomic<size_t> size_{0};  // entries, in every shard
  Forgotten forgotten_;          // under every shard's lock
  std::mutex pools_mu_;
  std::vector<PoolInfo> pools_;
  Shard shards_[kShards];
  Log logs_[kLogs];
};

}  // namespace pm::core
