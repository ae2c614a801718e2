#include "observe/usage.hpp"
#include "base/hot.hpp"

#include <algorithm>
#include <atomic>

#include "base/clock.hpp"
#include "observe/events.hpp"

namespace pm::core {

DbUsage Usage::Entry::report() const {
  DbUsage u;
  u.db = db;
  u.operations = operations;
  u.errors = errors;
  u.last_used_ms = last_used_ms;
  u.total_latency_us = total_latency_us;
  return u;
}

Usage::PoolUse &Usage::Entry::use_by(uint64_t pool_id) {
  if (pool.pool_id == pool_id) return pool;
  if (pool.pool_id == 0) {
    pool.pool_id = pool_id;
    return pool;
  }
  for (PoolUse &p : other_pools)
    if (p.pool_id == pool_id) return p;
  return other_pools.emplace_back(PoolUse{pool_id, 0, false});
}

Usage::Entry *Usage::Shard::find(const std::string &db, size_t hash) const {
  size_t mask = slots.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot &s = slots[i];
    if (s.entry == nullptr) return nullptr;
    if (s.hash == hash && s.entry->db == db) return s.entry;
  }
}

Usage::Entry &Usage::Shard::find_or_add(const std::string &db, size_t hash) {
  if (Entry *e = find(db, hash)) return *e;
  if ((entries.size() + 1) * 2 > slots.size()) {  // grow first: probes always meet an empty slot
    std::vector<Slot> grown(slots.size() * 2);
    size_t mask = grown.size() - 1;
    for (const Slot &s : slots) {
      if (s.entry == nullptr) continue;
      size_t i = s.hash & mask;
      while (grown[i].entry != nullptr) i = (i + 1) & mask;
      grown[i] = s;
    }
    slots.swap(grown);
  }
  entries.push_back(std::make_unique<Entry>());
  Entry *e = entries.back().get();
  e->db = db;
  e->hash = hash;
  size_t mask = slots.size() - 1;
  size_t i = hash & mask;
  while (slots[i].entry != nullptr) i = (i + 1) & mask;
  slots[i] = Slot{hash, e};
  return *e;
}

void Usage::Shard::reindex() {
  std::fill(slots.begin(), slots.end(), Slot{});
  size_t mask = slots.size() - 1;
  for (const auto &e : entries) {
    size_t i = e->hash & mask;
    while (slots[i].entry != nullptr) i = (i + 1) & mask;
    slots[i] = Slot{e->hash, e.get()};
  }
}

void Usage::add_pool(uint64_t pool_id, const std::string &label) {
  std::lock_guard<std::mutex> lock(pools_mu_);
  pools_.push_back(PoolInfo{pool_id, label, {}});
}

void Usage::remove_pool(uint64_t pool_id) {
  flush();  // its pending connect events go out while it still has a name
  std::lock_guard<std::mutex> lock(pools_mu_);
  pools_.erase(std::remove_if(pools_.begin(), pools_.end(), [&](const PoolInfo &p) { return p.id == pool_id; }),
               pools_.end());
}

Usage::PoolInfo *Usage::pool_locked(uint64_t pool_id) {
  for (PoolInfo &p : pools_)
    if (p.id == pool_id) return &p;
  return nullptr;
}

// Each thread keeps to one log, so that its records stay in its own cache.
PM_HOT Usage::Log &Usage::this_thread_log() {
  static std::atomic<size_t> next{0};
  thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return logs_[mine % kLogs];
}

PM_HOT void Usage::record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id,
                   uint64_t epoch) {
  if (db.empty()) return;
  Log &log = this_thread_log();
  std::lock_guard<std::mutex> lock(log.mu);
  Record &r = log.records[log.size++];
  r.db.assign(db);
  r.latency_us = latency_us;
  r.pool_id = pool_id;
  r.epoch = ok ? epoch : 0;
  r.at_ms = coarse_wall_ms();
  r.ok = ok;
  if (log.size == kLogCapacity) merge_locked(log);
}

PM_HOT void Usage::record_command(uint64_t pool_id, int64_t duration_us, bool ok) {
  Log &log = this_thread_log();
  std::lock_guard<std::mutex> lock(log.mu);
  Record &r = log.records[log.size++];
  r.db.clear();
  r.latency_us = static_cast<uint64_t>(std::max<int64_t>(0, duration_us));
  r.pool_id = pool_id;
  r.ok = ok;
  if (log.size == kLogCapacity) merge_locked(log);
}

Usage::Entry *Usage::Shard::candidate(size_t hash) const {
  size_t mask = slots.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot &s = slots[i];
    if (s.entry == nullptr || s.hash == hash) return s.entry;
  }
}

// The table's lines are cold when a log is merged (perf: a miss on the slot, then one on the
// entry, one after the other for every record, most of the merge's time with 1,000 databases),
// so the records go through in passes whose misses overlap: hashes, the slots' lines, the
// entries' lines, then the updates, with every shard the batch touches locked throughout.
void Usage::merge_locked(Log &log) {
  struct Connect {
    std::string db;
    uint64_t pool_id;
  };
  std::vector<Connect> connects;
  bool commands = false;
  size_t hashes[kLogCapacity];
  Entry *found[kLogCapacity];
  uint32_t touched = 0;  // a bit per shard
  for (size_t k = 0; k < log.size; ++k) {
    const Record &r = log.records[k];
    if (r.db.empty()) {
      commands = true;  // below, under pools_mu_
      continue;
    }
    hashes[k] = hash_of(r.db);
    touched |= 1u << shard_index(hashes[k]);
  }
  // In index order: every other holder takes one shard lock at a time.
  std::unique_lock<std::mutex> locks[kShards];
  for (size_t i = 0; i < kShards; ++i)
    if (touched & (1u << i)) locks[i] = std::unique_lock<std::mutex>(shards_[i].mu);
  for (size_t k = 0; k < log.size; ++k) {
    if (log.records[k].db.empty()) continue;
    const Shard &s = shards_[shard_index(hashes[k])];
    __builtin_prefetch(&s.slots[hashes[k] & (s.slots.size() - 1)]);
  }
  for (size_t k = 0; k < log.size; ++k) {
    if (log.records[k].db.empty()) continue;
    found[k] = shards_[shard_index(hashes[k])].candidate(hashes[k]);
    if (found[k] != nullptr) {
      __builtin_prefetch(found[k]);
      __builtin_prefetch(reinterpret_cast<const char *>(found[k]) + 64);
    }
  }
  for (size_t k = 0; k < log.size; ++k) {
    const Record &r = log.records[k];
    if (r.db.empty()) continue;
    Entry *u_ptr = found[k];
    if (u_ptr == nullptr || u_ptr->db != r.db) {
      Shard &s = shards_[shard_index(hashes[k])];
      size_t before = s.entries.size();
      u_ptr = &s.find_or_add(r.db, hashes[k]);
      if (s.entries.size() != before) size_.fetch_add(1, std::memory_order_relaxed);
    }
    Entry &u = *u_ptr;
    ++u.operations;
    if (!r.ok) ++u.errors;
    u.total_latency_us += r.latency_us;
    u.last_used_ms = std::max(u.last_used_ms, r.at_ms);
    if (r.pool_id == 0) continue;
    PoolUse &use = u.use_by(r.pool_id);
    if (r.ok && r.epoch != 0 && use.epoch != r.epoch) {
      use.epoch = r.epoch;  // its first success since the pool opened
      use.connected = true;
      connects.push_back(Connect{r.db, r.pool_id});
    }
  }
  for (auto &lock : locks)
    if (lock.owns_lock()) lock.unlock();
  if (commands || !connects.empty()) {
    std::lock_guard<std::mutex> lock(pools_mu_);
    PoolInfo *pool = nullptr;
    for (size_t k = 0; commands && k < log.size; ++k) {
      const Record &r = log.records[k];
      if (!r.db.empty()) continue;
      if (pool == nullptr || pool->id != r.pool_id) pool = pool_locked(r.pool_id);
      if (pool == nullptr) continue;  // a pool already gone
      Commands &c = pool->commands;
      ++c.commands;
      if (!r.ok) ++c.failed;
      c.total_us += r.latency_us;
      if (c.samples_us.size() < kCommandSamples) c.samples_us.push_back(static_cast<int64_t>(r.latency_us));
      else c.samples_us[c.next] = static_cast<int64_t>(r.latency_us);
      c.next = (c.next + 1) % kCommandSamples;
    }
    for (Connect &c : connects)
      if (PoolInfo *p = pool_locked(c.pool_id)) events_->emit(Event{EventType::connect, std::move(c.db), p->label});
  }
  log.size = 0;
  if (size_.load(std::memory_order_relaxed) > max_databases_) forget_oldest();
}

void Usage::lock_all(std::unique_lock<std::mutex> (&locks)[kShards]) {
  for (size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock<std::mutex>(shards_[i].mu);
}

// Least recently used first. Plain: one pass that sorts the table by last use, every
// max_databases_ / 4 new databases, so each new database pays for about four entries' worth.
void Usage::forget_oldest() {
  struct Gone {
    std::string db;
    uint64_t pool_id;
  };
  std::vector<Gone> disconnects;
  {
    std::unique_lock<std::mutex> locks[kShards];
    lock_all(locks);
    size_t size = size_.load(std::memory_order_relaxed);
    if (size <= max_databases_) return;
    std::vector<Entry *> all;
    all.reserve(size);
    for (Shard &s : shards_)
      for (auto &e : s.entries) all.push_back(e.get());
    size_t drop = all.size() - max_databases_ * 3 / 4;
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(drop), all.end(),
                     [](const Entry *a, const Entry *b) { return a->last_used_ms < b->last_used_ms; });
    for (size_t i = 0; i < drop; ++i) {
      Entry &e = *all[i];
      ++forgotten_.databases;
      forgotten_.operations += e.operations;
      forgotten_.errors += e.errors;
      forgotten_.total_latency_us += e.total_latency_us;
      e.for_each_pool([&](const PoolUse &p) {
        if (p.connected) disconnects.push_back(Gone{e.db, p.pool_id});
      });
      e.db.clear();  // the mark: removed below (no database has an empty name)
    }
    for (Shard &s : shards_) {
      size_t before = s.entries.size();
      s.entries.erase(std::remove_if(s.entries.begin(), s.entries.end(), [](const auto &e) { return e->db.empty(); }),
                      s.entries.end());
      if (s.entries.size() != before) s.reindex();
    }
    size_.fetch_sub(drop, std::memory_order_relaxed);
  }
  if (disconnects.empty()) return;
  std::lock_guard<std::mutex> lock(pools_mu_);
  for (Gone &g : disconnects)
    if (PoolInfo *p = pool_locked(g.pool_id))
      events_->emit(Event{EventType::disconnect, std::move(g.db), p->label, "forgotten"});
}

Usage::Commands Usage::commands_of(uint64_t pool_id) {
  flush();
  std::lock_guard<std::mutex> lock(pools_mu_);
  PoolInfo *p = pool_locked(pool_id);
  return p ? p->commands : Commands{};
}

void Usage::flush() {
  for (Log &log : logs_) {
    std::lock_guard<std::mutex> lock(log.mu);
    if (log.size > 0) merge_locked(log);
  }
}

template <class F>
void Usage::for_each(F &&visit) {
  flush();
  std::unique_lock<std::mutex> locks[kShards];
  lock_all(locks);
  for (Shard &s : shards_)
    for (auto &u : s.entries) visit(*u);
}

std::vector<std::string> Usage::served_by(uint64_t pool_id) {
  std::vector<std::string> out;
  for_each([&](const Entry &u) {
    u.for_each_pool([&](const PoolUse &p) {
      if (p.pool_id == pool_id) out.push_back(u.db);
    });
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Usage::disconnect_all(uint64_t pool_id, uint64_t epoch) {
  std::vector<std::string> out;
  if (epoch == 0) return out;
  for_each([&](Entry &u) {
    PoolUse *use = u.pool.pool_id == pool_id ? &u.pool : nullptr;
    for (PoolUse &p : u.other_pools)
      if (p.pool_id == pool_id) use = &p;
    if (use != nullptr && use->epoch == epoch && use->connected) {
      use->connected = false;  // forgetting it later raises no second disconnect
      out.push_back(u.db);
    }
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DbUsage> Usage::top(size_t n, Forgotten *forgotten) {
  std::vector<DbUsage> all;
  flush();
  {
    std::unique_lock<std::mutex> locks[kShards];
    lock_all(locks);
    for (const Shard &s : shards_)
      for (const auto &u : s.entries) all.push_back(u->report());
    if (forgotten != nullptr) *forgotten = forgotten_;
  }
  std::sort(all.begin(), all.end(), [](const DbUsage &a, const DbUsage &b) {
    return a.operations != b.operations ? a.operations > b.operations : a.db < b.db;
  });
  if (n > 0 && all.size() > n) all.resize(n);
  return all;
}

size_t Usage::size() {
  flush();
  return size_.load(std::memory_order_relaxed);
}

bool Usage::find(const std::string &db, DbUsage *out) {
  flush();
  size_t hash = hash_of(db);
  Shard &s = shard_of(hash);
  std::lock_guard<std::mutex> lock(s.mu);
  const Entry *u = s.find(db, hash);
  if (u == nullptr) return false;
  *out = u->report();
  return true;
}

}  // namespace pm::core
