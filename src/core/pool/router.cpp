#include "pool/router.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "base/db_name.hpp"
#include "base/error.hpp"
#include "observe/log.hpp"

namespace pm::core {

Router::Router(const Options &options, std::shared_ptr<const Log> log, std::shared_ptr<Events> events,
               std::shared_ptr<Usage> usage)
    : options_(options), log_(std::move(log)), events_(std::move(events)), usage_(std::move(usage)),
      tenants_(options, usage_), turnover_at_(static_cast<size_t>(std::max<int64_t>(1, options.max_tracked_databases / 2))) {
  PoolConfig shared{"shared", options.mongo_uri, options.max_pool_size, options.min_free_connections};
  shared.idle_timeout_ms = options.idle_timeout_ms;
  shared.sizing = options.pool_sizing;
  shared.fair = options.fair_queueing;
  shared.max_connecting = options.max_connecting;
  shared.budget = budget_for(shared.uri);
  shared_ = Pool::create(shared, log_, events_, usage_);
  if (options.idle_timeout_ms > 0) maintain_every(options.idle_timeout_ms);
  if (options.pool_sizing.enabled) maintain_every(options.pool_sizing.interval_ms);
  for (const DedicatedPoolOptions &d : options.db_specific) {
    exact_[d.db_name] = d.spec;
    routed_[d.db_name] = make_pool(d.db_name, d.spec);
    maintain_for(d.spec);
  }
  for (const RouteOptions &r : options.routes) {
    rules_.push_back(Rule{r, nullptr});
    maintain_for(r.spec);
  }
  routing_ = !exact_.empty() || !rules_.empty();
}

std::shared_ptr<ClusterBudget> Router::budget_for(const std::string &uri) const {
  if (options_.max_connections_per_cluster <= 0) return nullptr;
  std::string cluster = ClusterBudget::cluster_of(uri);
  std::lock_guard<std::mutex> lock(budgets_mu_);
  auto &budget = budgets_[cluster];
  if (!budget)
    budget = std::make_shared<ClusterBudget>(cluster, options_.max_connections_per_cluster, options_.budget_wait_ms,
                                             events_, log_);
  return budget;
}

std::vector<std::shared_ptr<ClusterBudget>> Router::budgets() const {
  std::lock_guard<std::mutex> lock(budgets_mu_);
  std::vector<std::shared_ptr<ClusterBudget>> out;
  for (const auto &[name, b] : budgets_) out.push_back(b);
  return out;
}

void Router::maintain_every(int64_t ms) {
  int64_t period = std::clamp<int64_t>(ms / 4, 50, 1000);
  int64_t now = period_ms_.load();
  while (period < now && !period_ms_.compare_exchange_weak(now, period)) {
  }
}

std::shared_ptr<Pool> Router::make_pool(const std::string &label, const PoolSpec &spec) const {
  PoolConfig c{label, spec.mongo_uri.empty() ? options_.mongo_uri : spec.mongo_uri,
               spec.max_connections, 0};
  c.dedicated = true;
  c.auto_close = spec.auto_close;
  c.ttl_ms = spec.ttl_ms;
  c.idle_timeout_ms = options_.idle_timeout_ms;
  c.fair = options_.fair_queueing;
  c.max_connecting = options_.max_connecting;
  c.budget = budget_for(c.uri);
  c.tenant_limits = spec.tenant_limits;
  auto pool = Pool::create(c, log_, events_, usage_);
  if (shut_down_) pool->shut_down();  // callers hold mu_, which guards shut_down_
  return pool;
}

void Router::shut_down() {
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    shut_down_ = true;  // pools made from now on are born shut down (make_pool)
  }
  for (auto &pool : pools()) pool->shut_down();  // every pool made before is in the tables
}

void Router::connect_eager() {
  if (!options_.cold_start) shared_->connect();
  for (const DedicatedPoolOptions &d : options_.db_specific)
    if (!d.spec.cold_start) route(d.db_name)->connect();
}

std::shared_ptr<Pool> Router::route(const std::string &db) {
  if (!routing_.load(std::memory_order_acquire)) return shared_;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = routed_.find(db);
    if (it != routed_.end()) return it->second;
    if (!directory_ && exact_.empty() && rules_.empty()) return shared_;
  }
  std::optional<TenantPlacement> placed;
  if (directory_ && !directory_->cached(db)) {
    bool statically = false;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      statically = routed_statically_locked(db);
    }
    if (!statically) placed = directory_->place(db);  // I/O, outside the lock
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  return resolve_locked(db, placed);
}

bool Router::routed_statically_locked(const std::string &db) const {
  if (exact_.count(db) != 0) return true;
  for (const Rule &rule : rules_)
    if (fnmatch(rule.options.pattern.c_str(), db.c_str(), 0) == 0) return true;
  return false;
}

std::shared_ptr<Pool> Router::cluster_pool_locked(const std::string &name, const std::string &uri) {
  std::shared_ptr<Pool> &pool = clusters_[name];
  if (!pool || pool->config().uri != uri) {
    PoolConfig c{"cluster:" + name, uri, options_.max_pool_size, 0};
    c.idle_timeout_ms = options_.idle_timeout_ms;
    c.fair = options_.fair_queueing;
    pool = Pool::create(c, log_, events_, usage_);
    if (shut_down_) pool->shut_down();
  }
  return pool;
}

std::shared_ptr<Pool> Router::cluster_pool(const std::string &name, const std::string &uri) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  return cluster_pool_locked(name, uri);
}

std::shared_ptr<Pool> Router::resolve_locked(const std::string &db, const std::optional<TenantPlacement> &placed) {
  auto it = routed_.find(db);
  if (it != routed_.end()) return it->second;
  if (auto node = older_.extract(db)) {  // used again: back to the recent names, no allocation
    std::shared_ptr<Pool> pool = node.mapped();
    routed_.insert(std::move(node));
    if (routed_.size() >= turnover_at_) turn_over_locked();
    return pool;
  }
  // Read again under the lock: an entry that changes now is forgotten (forget) after the
  // directory's cache has it, so what is routed here is never older than the cache.
  std::optional<TenantPlacement> entry = directory_ ? directory_->cached(db) : std::nullopt;
  if (!entry) entry = placed;
  std::shared_ptr<Pool> pool = shared_;
  if (entry) {
    if (entry->spec) {
      PoolSpec spec = *entry->spec;
      spec.mongo_uri = entry->uri;
      pool = make_pool(db, spec);
    } else {
      pool = cluster_pool_locked(entry->cluster, entry->uri);
    }
  } else if (auto e = exact_.find(db); e != exact_.end()) {
    pool = make_pool(db, e->second);
  } else {
    for (Rule &rule : rules_) {
      if (fnmatch(rule.options.pattern.c_str(), db.c_str(), 0) != 0) continue;
      if (rule.options.shared_pool) {
        if (!rule.pool) rule.pool = make_pool(rule.options.pattern, rule.options.spec);
        pool = rule.pool;
      } else {
        pool = make_pool(db, rule.options.spec);
      }
      break;
    }
  }
  routed_[db] = pool;
  if (routed_.size() >= turnover_at_) turn_over_locked();
  return pool;
}

void Router::set_directory(std::shared_ptr<TenantDirectory> directory) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  directory_ = std::move(directory);
  routing_ = true;
  routed_.clear();  // nothing was routed yet (set before any operation); for certainty
  older_.clear();
}

void Router::drop_locked(std::unordered_map<std::string, std::shared_ptr<Pool>>::iterator it,
                         std::unordered_map<std::string, std::shared_ptr<Pool>> &table) {
  if (it->second != shared_ && it->second.use_count() == 1) {  // a pool let go of: its counts stay
    dropped_errors_ += it->second->errors();
    dropped_server_errors_ += it->second->server_errors();
  }
  table.erase(it);
}

void Router::forget(const std::string &db, const std::function<void()> &update) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (update) update();
  for (auto *table : {&routed_, &older_})
    if (auto it = table->find(db); it != table->end()) drop_locked(it, *table);
}

bool Router::must_keep_locked(const std::string &db, const std::shared_ptr<Pool> &pool) const {
  if (pool == shared_ || !pool->config().dedicated) return false;
  if (exact_.count(db) != 0) return true;  // the database's own pool: configured, not cached
  for (const auto &[name, p] : clusters_)
    if (p == pool) return false;  // a directory cluster's: the router keeps it
  for (const Rule &rule : rules_)
    if (rule.pool == pool) return false;  // a sharedPool rule's: the rule keeps it
  // A rule's pool of this database alone. Forgetting it closes nothing: it is let go of only
  // when closed and held by no one else (an operation, a cursor, a snapshot), which cannot
  // change meanwhile since only route() hands it out, under mu_.
  return pool->is_open() || pool.use_count() > 1;
}

// older_'s names are forgotten, but for those must_keep_locked keeps; routed_ becomes older_.
void Router::turn_over_locked() {
  for (auto it = older_.begin(); it != older_.end();) {
    if (must_keep_locked(it->first, it->second)) {
      auto next = std::next(it);
      routed_.insert(older_.extract(it));
      it = next;
      continue;
    }
    ++forgotten_;
    if (it->second != shared_ && it->second.use_count() == 1) {  // a pool let go of: its counts stay
      dropped_errors_ += it->second->errors();
      dropped_server_errors_ += it->second->server_errors();
    }
    it = older_.erase(it);
  }
  older_.swap(routed_);
  routed_.clear();
}

Router::Table Router::table() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return Table{routed_.size() + older_.size(), forgotten_, dropped_errors_, dropped_server_errors_};
}

std::vector<std::shared_ptr<Pool>> Router::set_db(const std::vector<std::string> &names,
                                                  const PoolSpec &spec) {
  for (const std::string &name : names)
    if (auto why = db_name_problem(name, options_.allow_system_databases))
      throw Error(Code::invalid_db_name, "invalid database name: " + *why);
  std::vector<std::shared_ptr<Pool>> made;
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (const std::string &name : names) {
    exact_[name] = spec;
    // A pool replaced here keeps serving the clients it has out and closes with the last one.
    older_.erase(name);
    routed_[name] = make_pool(name, spec);
    made.push_back(routed_[name]);
  }
  maintain_for(spec);
  tenants_.note(spec.tenant_limits);
  routing_ = true;
  return made;
}

void Router::add_route(RouteOptions route) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  maintain_for(route.spec);
  tenants_.note(route.spec.tenant_limits);
  rules_.push_back(Rule{std::move(route), nullptr});
  routing_ = true;
  // Names routed to the shared pool so far may match the new rule.
  for (auto *table : {&routed_, &older_})
    for (auto it = table->begin(); it != table->end();)
      it = it->second == shared_ ? table->erase(it) : std::next(it);
}

Router::Explanation Router::explain(const std::string &db) const {
  Explanation e;
  std::shared_lock<std::shared_mutex> lock(mu_);
  e.rules = static_cast<int>(rules_.size());
  e.reason = "shared";
  e.pool = "shared";
  e.uri = options_.mongo_uri;
  std::optional<TenantPlacement> entry = directory_ ? directory_->cached(db) : std::nullopt;
  if (entry) {
    e.reason = "directory";
    e.cluster = entry->cluster;
    e.version = entry->version;
    e.pool = entry->spec ? db : "cluster:" + entry->cluster;
    e.uri = entry->uri;
  } else if (auto x = exact_.find(db); x != exact_.end()) {
    e.reason = "exact";
    e.pool = db;
    if (!x->second.mongo_uri.empty()) e.uri = x->second.mongo_uri;
  } else {
    for (size_t i = 0; i < rules_.size(); ++i) {
      const Rule &rule = rules_[i];
      if (fnmatch(rule.options.pattern.c_str(), db.c_str(), 0) != 0) continue;
      e.reason = "rule";
      e.rule = rule.options.pattern;
      e.rule_index = static_cast<int>(i);
      e.shared_pool = rule.options.shared_pool;
      e.pool = rule.options.shared_pool ? rule.options.pattern : db;
      if (!rule.options.spec.mongo_uri.empty()) e.uri = rule.options.spec.mongo_uri;
      break;
    }
  }
  const Pool *pool = nullptr;
  if (e.reason == "shared") pool = shared_.get();
  if (auto c = clusters_.find(e.cluster); entry && !entry->spec && c != clusters_.end()) pool = c->second.get();
  for (const auto *table : {&routed_, &older_})
    if (auto it = table->find(db); pool == nullptr && it != table->end()) pool = it->second.get();
  if (pool != nullptr && pool->label() == e.pool) {
    e.pool_exists = true;
    e.pool_open = pool->is_open();
  }
  return e;
}

void Router::replace_routes(std::vector<RouteOptions> routes) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  std::vector<Rule> old;
  old.swap(rules_);
  for (RouteOptions &r : routes) {
    maintain_for(r.spec);
    rules_.push_back(Rule{std::move(r), nullptr});
  }
  routing_ = directory_ || !exact_.empty() || !rules_.empty();
  for (auto *table : {&routed_, &older_})
    for (auto it = table->begin(); it != table->end();) {
      if (exact_.count(it->first) != 0) {
        ++it;
        continue;
      }
      if (it->second != shared_ && it->second.use_count() == 1) {  // a pool let go of: its counts stay
        dropped_errors_ += it->second->errors();
        dropped_server_errors_ += it->second->server_errors();
      }
      it = table->erase(it);
    }
  log_->info("routing rules reloaded: " + std::to_string(rules_.size()) + " rule(s), " +
             std::to_string(old.size()) + " before");
}

std::vector<RouteOptions> Router::routes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<RouteOptions> out;
  for (const Rule &r : rules_) out.push_back(r.options);
  return out;
}

std::vector<std::shared_ptr<Pool>> Router::pools() const {
  std::vector<std::shared_ptr<Pool>> out{shared_};
  std::unordered_set<const Pool *> seen{shared_.get()};
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto *table : {&routed_, &older_})
    for (const auto &[name, pool] : *table)
      if (seen.insert(pool.get()).second) out.push_back(pool);
  for (const Rule &rule : rules_)
    if (rule.pool && seen.insert(rule.pool.get()).second) out.push_back(rule.pool);
  for (const auto &[name, pool] : clusters_)
    if (seen.insert(pool.get()).second) out.push_back(pool);
  return out;
}

void Router::make_room_for(const std::shared_ptr<Pool> &pool) {
  if (options_.max_open_pools <= 0 || !pool->config().dedicated || pool->is_open()) return;
  std::vector<std::shared_ptr<Pool>> open;
  for (auto &p : pools())
    if (p->config().dedicated && p != pool && p->is_open()) open.push_back(p);
  if (static_cast<int>(open.size()) < options_.max_open_pools) return;
  std::sort(open.begin(), open.end(), [](const auto &a, const auto &b) {
    return a->last_used_ms() < b->last_used_ms();
  });
  size_t excess = open.size() - static_cast<size_t>(options_.max_open_pools) + 1;
  for (auto &candidate : open) {
    if (excess == 0) break;
    if (candidate->close_if_idle(CloseReason::evicted, 0)) {
      ++evictions_;
      --excess;
    }
  }
  if (excess > 0)
    log_->warn("maxOpenPools (" + std::to_string(options_.max_open_pools) +
               ") exceeded: every other open pool has connections checked out");
}

void Router::maintain() {
  for (auto &pool : pools()) {
    const PoolConfig &c = pool->config();
    if (c.auto_close && c.ttl_ms > 0) pool->close_if_idle(CloseReason::ttl, c.ttl_ms);
    if (c.idle_timeout_ms > 0 && c.min_free == 0) pool->close_if_idle(CloseReason::idle, c.idle_timeout_ms);
    pool->evaluate_sizing();
  }
}

}  // namespace pm::core
