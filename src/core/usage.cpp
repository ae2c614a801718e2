#include "usage.hpp"

#include <algorithm>

#include "clock.hpp"

namespace pm::core {

bool Usage::record(const std::string &db, bool ok, uint64_t latency_us, uint64_t pool_id,
                   uint64_t epoch) {
  if (db.empty()) return false;
  int64_t now = coarse_wall_ms();
  Shard &s = shard(db);
  std::lock_guard<std::mutex> lock(s.mu);
  DbUsage &u = s.by_db[db];
  if (u.db.empty()) u.db = db;
  ++u.operations;
  if (!ok) ++u.errors;
  u.last_used_ms = now;
  u.total_latency_us += latency_us;
  if (pool_id != 0 && std::find(u.pools.begin(), u.pools.end(), pool_id) == u.pools.end())
    u.pools.push_back(pool_id);
  if (!ok || epoch == 0 || u.connected_epoch == epoch) return false;
  u.connected_epoch = epoch;
  return true;
}

template <class F>
void Usage::for_each(F &&visit) const {
  for (const Shard &s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto &[db, u] : s.by_db) visit(u);
  }
}

std::vector<std::string> Usage::served_by(uint64_t pool_id) const {
  std::vector<std::string> out;
  for_each([&](const DbUsage &u) {
    if (std::find(u.pools.begin(), u.pools.end(), pool_id) != u.pools.end()) out.push_back(u.db);
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DbUsage> Usage::top(size_t n) const {
  std::vector<DbUsage> all;
  for_each([&](const DbUsage &u) { all.push_back(u); });
  std::sort(all.begin(), all.end(), [](const DbUsage &a, const DbUsage &b) {
    return a.operations != b.operations ? a.operations > b.operations : a.db < b.db;
  });
  if (n > 0 && all.size() > n) all.resize(n);
  return all;
}

bool Usage::find(const std::string &db, DbUsage *out) const {
  const Shard &s = shard(db);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.by_db.find(db);
  if (it == s.by_db.end()) return false;
  *out = it->second;
  return true;
}

}  // namespace pm::core
