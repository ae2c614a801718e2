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

// Finds or adds db's entry under the lock, marks it used now and lets `change` update it;
// forgets the oldest entries once an addition takes the table past its bound.
template <class F>
void Usage::update(const std::string &db, F &&change) {
  if (db.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = entries_.try_emplace(db);
  it->second.last_used_ms = std::max(it->second.last_used_ms, coarse_wall_ms());
  change(it->second);
  if (added && size_.fetch_add(1, std::memory_order_relaxed) + 1 > max_databases_) forget_oldest_locked();
}

void Usage::count(const std::string &db, Counter counter) {
  update(db, [&](Entry &u) { ++(counter == Counter::throttled ? u.throttled : u.queued); });
}

Usage::PoolUse &Usage::Entry::use_by(uint64_t pool_id, const std::string &label) {
  if (pool.pool_id == pool_id) return pool;
  if (pool.pool_id == 0) {
    pool = PoolUse{pool_id, label, 0, false};
    return pool;
  }
  for (PoolUse &p : others)
    if (p.pool_id == pool_id) return p;
  return others.emplace_back(PoolUse{pool_id, label, 0, false});
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

// Least recently used first: one pass that sorts the table by last use, every
// max_databases_ / 4 new databases, so each new database pays for about four entries' worth.
void Usage::forget_oldest_locked() {
  using Item = std::unordered_map<std::string, Entry>::iterator;
  std::vector<Item> all;
  all.reserve(entries_.size());
  for (auto it = entries_.begin(); it != entries_.end(); ++it) all.push_back(it);
  size_t drop = all.size() - max_databases_ * 3 / 4;
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(drop), all.end(),
                   [](const Item &a, const Item &b) { return a->second.last_used_ms < b->second.last_used_ms; });
  for (size_t i = 0; i < drop; ++i) {
    Item it = all[i];
    Entry &e = it->second;
    ++forgotten_.databases;
    forgotten_.operations += e.operations;
    forgotten_.errors += e.errors;
    forgotten_.total_latency_us += e.total_latency_us;
    e.for_each_pool([&](const PoolUse &p) {
      if (p.connected) events_->emit(Event{EventType::disconnect, it->first, p.pool, "forgotten"});
    });
    entries_.erase(it);
  }
  size_.fetch_sub(drop, std::memory_order_relaxed);
}

std::vector<std::string> Usage::served_by(uint64_t pool_id) {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &[db, u] : entries_)
      u.for_each_pool([&, &name = db](const PoolUse &p) {
        if (p.pool_id == pool_id) out.push_back(name);
      });
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Usage::disconnect_all(uint64_t pool_id, uint64_t epoch) {
  std::vector<std::string> out;
  if (epoch == 0) return out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &[db, u] : entries_)
      u.for_each_pool([&, &name = db](PoolUse &p) {
        if (p.pool_id == pool_id && p.epoch == epoch && p.connected) {
          p.connected = false;  // forgetting it later raises no second disconnect
          out.push_back(name);
        }
      });
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DbUsage> Usage::top(size_t n, Forgotten *forgotten) {
  std::vector<DbUsage> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.reserve(entries_.size());
    for (const auto &[db, u] : entries_) all.push_back(u.report(db));
    if (forgotten != nullptr) *forgotten = forgotten_;
  }
  std::sort(all.begin(), all.end(), [](const DbUsage &a, const DbUsage &b) {
    return a.operations != b.operations ? a.operations > b.operations : a.db < b.db;
  });
  if (n > 0 && all.size() > n) all.resize(n);
  return all;
}

bool Usage::find(const std::string &db, DbUsage *out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(db);
  if (it == entries_.end()) return false;
  *out = it->second.report(db);
  return true;
}

}  // namespace pm::core
