#include "usage.hpp"

#include <algorithm>

#include "clock.hpp"

namespace pm::core {

bool Usage::Entry::served_by(uint64_t pool_id) const {
  return first_pool == pool_id ||
         std::find(other_pools.begin(), other_pools.end(), pool_id) != other_pools.end();
}

DbUsage Usage::Entry::report(const std::string &db) const {
  DbUsage u;
  u.db = db;
  u.operations = operations;
  u.errors = errors;
  u.last_used_ms = last_used_ms;
  u.total_latency_us = total_latency_us;
  return u;
}

bool Usage::record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id,
                   uint64_t epoch) {
  if (db.empty()) return false;
  int64_t now = coarse_wall_ms();
  Shard &s = shards_[shard_of(db)];
  std::lock_guard<std::mutex> lock(s.mu);
  Entry &u = s.by_db[db];
  ++u.operations;
  if (!ok) ++u.errors;
  u.last_used_ms = now;
  u.total_latency_us += latency_us;
  if (pool_id != 0 && !u.served_by(pool_id)) {
    if (u.first_pool == 0) u.first_pool = pool_id;
    else u.other_pools.push_back(pool_id);
  }
  if (!ok || epoch == 0 || u.connected_epoch == epoch) return false;
  u.connected_epoch = epoch;
  return true;
}

template <class F>
void Usage::for_each(F &&visit) const {
  for (const Shard &s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto &[db, u] : s.by_db) visit(db, u);
  }
}

std::vector<std::string> Usage::served_by(uint64_t pool_id) const {
  std::vector<std::string> out;
  for_each([&](const std::string &db, const Entry &u) {
    if (u.served_by(pool_id)) out.push_back(db);
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DbUsage> Usage::top(size_t n) const {
  std::vector<DbUsage> all;
  for_each([&](const std::string &db, const Entry &u) { all.push_back(u.report(db)); });
  std::sort(all.begin(), all.end(), [](const DbUsage &a, const DbUsage &b) {
    return a.operations != b.operations ? a.operations > b.operations : a.db < b.db;
  });
  if (n > 0 && all.size() > n) all.resize(n);
  return all;
}

bool Usage::find(const std::string &db, DbUsage *out) const {
  const Shard &s = shards_[shard_of(db)];
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.by_db.find(db);
  if (it == s.by_db.end()) return false;
  *out = it->second.report(db);
  return true;
}

}  // namespace pm::core
