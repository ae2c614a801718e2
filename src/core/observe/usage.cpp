#include "observe/usage.hpp"

#include <algorithm>

#include "base/clock.hpp"
#include "observe/events.hpp"

namespace pm::core {

DbUsage Usage::Entry::report(const std::string &db) const {
  DbUsage u;
  u.db = db;
  u.operations = operations;
  u.errors = errors;
  u.last_used_ms = last_used_ms;
  u.total_latency_us = total_latency_us;
  u.throttled = throttled;
  u.queued = queued;
  return u;
}

// Finds or adds db's entry under its shard's lock, marks it used now and lets `change` update
// it; forgets the oldest entries once an addition takes the table past its bound.
template <class F>
void Usage::update(const std::string &db, F &&change) {
  if (db.empty()) return;
  bool added = false;
  {
    Shard &s = shard_of(db);
    std::lock_guard<std::mutex> lock(s.mu);
    auto [it, is_new] = s.entries.try_emplace(db);
    added = is_new;
    it->second.last_used_ms = std::max(it->second.last_used_ms, coarse_wall_ms());
    change(it->second);
  }
  if (added && size_.fetch_add(1, std::memory_order_relaxed) + 1 > max_databases_) forget_oldest();
}

void Usage::count(const std::string &db, Counter counter) {
  update(db, [&](Entry &u) { ++(counter == Counter::throttled ? u.throttled : u.queued); });
}

Usage::PoolUse &Usage::Entry::use_by(uint64_t pool_id, const std::string &pool) {
  for (PoolUse &p : pools)
    if (p.pool_id == pool_id) return p;
  return pools.emplace_back(PoolUse{pool_id, pool, 0, false});
}

void Usage::record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id, const std::string &pool,
                   uint64_t epoch) {
  update(db, [&](Entry &u) {
    ++u.operations;
    if (!ok) ++u.errors;
    u.total_latency_us += latency_us;
    if (pool_id == 0) return;
    PoolUse &use = u.use_by(pool_id, pool);
    if (ok && epoch != 0 && use.epoch != epoch) {
      use.epoch = epoch;  // its first success since the pool opened
      use.connected = true;
      events_->emit(Event{EventType::connect, db, pool});
    }
  });
}

void Usage::lock_all(AllLocks &locks) {
  for (size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock<std::mutex>(shards_[i].mu);
}

// Least recently used first: one pass that sorts the table by last use, every
// max_databases_ / 4 new databases, so each new database pays for about four entries' worth.
void Usage::forget_oldest() {
  AllLocks locks;
  lock_all(locks);
  size_t size = size_.load(std::memory_order_relaxed);
  if (size <= max_databases_) return;  // another thread forgot them first
  using Item = std::pair<Shard *, std::unordered_map<std::string, Entry>::iterator>;
  std::vector<Item> all;
  all.reserve(size);
  for (Shard &s : shards_)
    for (auto it = s.entries.begin(); it != s.entries.end(); ++it) all.emplace_back(&s, it);
  size_t drop = all.size() - max_databases_ * 3 / 4;
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(drop), all.end(),
                   [](const Item &a, const Item &b) { return a.second->second.last_used_ms < b.second->second.last_used_ms; });
  for (size_t i = 0; i < drop; ++i) {
    auto [shard, it] = all[i];
    const Entry &e = it->second;
    ++forgotten_.databases;
    forgotten_.operations += e.operations;
    forgotten_.errors += e.errors;
    forgotten_.total_latency_us += e.total_latency_us;
    for (const PoolUse &p : e.pools)
      if (p.connected) events_->emit(Event{EventType::disconnect, it->first, p.pool, "forgotten"});
    shard->entries.erase(it);
  }
  size_.fetch_sub(drop, std::memory_order_relaxed);
}

std::vector<std::string> Usage::served_by(uint64_t pool_id) {
  std::vector<std::string> out;
  AllLocks locks;
  lock_all(locks);
  for (const Shard &s : shards_)
    for (const auto &[db, u] : s.entries)
      for (const PoolUse &p : u.pools)
        if (p.pool_id == pool_id) out.push_back(db);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Usage::disconnect_all(uint64_t pool_id, uint64_t epoch) {
  std::vector<std::string> out;
  if (epoch == 0) return out;
  AllLocks locks;
  lock_all(locks);
  for (Shard &s : shards_)
    for (auto &[db, u] : s.entries)
      for (PoolUse &p : u.pools)
        if (p.pool_id == pool_id && p.epoch == epoch && p.connected) {
          p.connected = false;  // forgetting it later raises no second disconnect
          out.push_back(db);
        }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DbUsage> Usage::top(size_t n, Forgotten *forgotten) {
  std::vector<DbUsage> all;
  {
    AllLocks locks;
    lock_all(locks);
    for (const Shard &s : shards_)
      for (const auto &[db, u] : s.entries) all.push_back(u.report(db));
    if (forgotten != nullptr) *forgotten = forgotten_;
  }
  std::sort(all.begin(), all.end(), [](const DbUsage &a, const DbUsage &b) {
    return a.operations != b.operations ? a.operations > b.operations : a.db < b.db;
  });
  if (n > 0 && all.size() > n) all.resize(n);
  return all;
}

bool Usage::find(const std::string &db, DbUsage *out) {
  Shard &s = shard_of(db);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.entries.find(db);
  if (it == s.entries.end()) return false;
  *out = it->second.report(db);
  return true;
}

}  // namespace pm::core
