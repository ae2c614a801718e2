// Database name -> pool. Precedence: the tenant directory's entry (when a directory is set),
// a database's own pool (dbSpecific, set_db/connect_db), the routing rules in the order they
// were added (first match wins), the directory's placement of a new database, the shared pool.
// Also enforces the cap on open dedicated pools (least recently used idle pool evicted first)
// and runs the periodic closing of idle pools.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.hpp"
#include "config/options.hpp"
#include "pool/budget.hpp"
#include "pool/pool.hpp"
#include "pool/tenants.hpp"

namespace pm::core {

class Log;
class Events;
class Usage;

// Where the tenant directory (fleet/, which implements this) puts a database.
struct TenantPlacement {
  std::string cluster;  // a name of the directory's clusters
  std::string uri;
  std::optional<PoolSpec> spec;  // the entry's own pool settings: a pool for this database alone
  int64_t version = 0;
};
class TenantDirectory {
 public:
  virtual ~TenantDirectory() = default;
  // The entry of `db` this process knows (no I/O).
  virtual std::optional<TenantPlacement> cached(const std::string &db) const = 0;
  // Places `db`, which has no entry, by the placement policy (I/O: the catalog decides between
  // processes); nullopt when no policy places it.
  virtual std::optional<TenantPlacement> place(const std::string &db) = 0;
  // A write to `db` waits while a move fences it: until the fence lifts, or a bound, then Error
  // moving (nothing was sent). Cheap while no database is fenced.
  virtual void hold_writes(const std::string &db) const = 0;
};

class Router {
 public:
  Router(const Options &options, std::shared_ptr<const Log> log, std::shared_ptr<Events> events,
         std::shared_ptr<Usage> usage);

  // Connects the pools that are not cold-started. Throws on the first failure.
  void connect_eager();

  // The pool serving `db`. No I/O: a dedicated pool is opened by its first checkout.
  std::shared_ptr<Pool> route(const std::string &db);

  // Called before a checkout from `pool`: when opening it would pass maxOpenPools, closes the
  // least recently used idle dedicated pool first. Pools with clients out are never evicted.
  void make_room_for(const std::shared_ptr<Pool> &pool);

  // A client from `pool` (default: the pool serving `db`), after making room for it; `db`
  // names the database it serves, for the pool's fair queue.
  Lease checkout(const std::shared_ptr<Pool> &pool, const std::string &db = std::string()) {
    make_room_for(pool);
    return pool->checkout(db);
  }
  Lease checkout(const std::string &db) { return checkout(route(db), db); }
  // checkout(db), and a failure to get a connection counted as the database's failure (for
  // callers outside the operations' retry loop: ping, statistics).
  Lease checkout_recorded(const std::string &db) {
    std::shared_ptr<Pool> pool = route(db);
    try {
      return checkout(pool, db);
    } catch (const Error &e) {
      pool->record_failure(db, e);
      throw;
    }
  }

  // Admits an operation on `db` (served by `pool`) under its tenantLimits; throws Error
  // throttled. An empty permit, at the cost of one flag read, while no limit is set anywhere.
  Permit admit(const std::string &db, const Pool &pool) {
    if (!tenants_.active()) return Permit();
    return tenants_.admit(db, pool.config().tenant_limits);
  }
  // pm_wrapper_set_tenant_limits: `db` nullptr for the default.
  void set_tenant_limits(const std::string *db, const std::optional<TenantLimits> &limits) {
    tenants_.set(db, limits);
  }

  // pm_wrapper_close: every pool, and every pool made later, is shut down for good.
  void shut_down();

  // PolyMongo's scale.setDB (connect now only when !spec.cold_start) and scale.connectDB.
  std::vector<std::shared_ptr<Pool>> set_db(const std::vector<std::string> &names, const PoolSpec &spec);
  void add_route(RouteOptions route);

  // Why `db` goes where it goes (no I/O, no pool made): its own pool ("exact"), the first
  // routing rule it matches ("rule"), or the shared pool ("shared").
  struct Explanation {
    std::string reason;     // "directory", "exact", "rule" or "shared"
    std::string cluster;    // "directory": the cluster's name
    int64_t version = 0;    // "directory": the entry's version
    std::string pool;       // the pool's label: "shared", the database, or a sharedPool rule's pattern
    std::string uri;        // the cluster, with credentials (redact before showing)
    std::string rule;       // "rule": the pattern
    int rule_index = -1;    // "rule": its position among the rules
    bool shared_pool = false;  // "rule": one pool for all its databases
    int rules = 0;          // how many rules there are
    bool pool_exists = false, pool_open = false;
  };
  Explanation explain(const std::string &db) const;
  // Replaces the routing rules (reload). Databases with their own pool keep it; names routed by
  // the old rules are routed again on their next use (a pool of an old rule serves the clients
  // it has out and closes with the last one).
  void replace_routes(std::vector<RouteOptions> routes);
  std::vector<RouteOptions> routes() const;

  // Before a write to `db`: waits while a move fences it (TenantDirectory::hold_writes).
  void hold_writes(const std::string &db) const {
    if (directory_) directory_->hold_writes(db);
  }
  // The tenant directory, consulted first from now on (set once, before any operation).
  void set_directory(std::shared_ptr<TenantDirectory> directory);
  // `db`'s entry changed: it is routed again on its next use (a pool it had serves the clients
  // it has out and closes with the last one).
  // `update` runs under the router's lock first (the directory changes its cache there, so that
  // no route() sees the new entry and the old pool).
  void forget(const std::string &db, const std::function<void()> &update = nullptr);
  // The pool of a directory cluster (one per cluster, made on first use).
  std::shared_ptr<Pool> cluster_pool(const std::string &name, const std::string &uri);

  // One maintenance pass: TTL and idle closing, dynamic sizing.
  void maintain();
  // How often maintain() must run for what is configured: a quarter of the shortest TTL, idle
  // timeout or sizing interval, between 50 ms and 1 s (1 s when none is set). Each wake-up of
  // the maintenance thread costs the operations' CPU too (perf: at 20 a second, 2% of theirs).
  int64_t maintenance_period_ms() const { return period_ms_.load(std::memory_order_relaxed); }

  std::vector<std::shared_ptr<Pool>> pools() const;  // shared first, then dedicated, unique
  const std::shared_ptr<Pool> &shared_pool() const { return shared_; }
  uint64_t evictions() const { return evictions_.load(); }

  // The routing table, for statistics: names it holds now, names it forgot (each time one
  // was), and the failures counted by the dedicated pools it let go of.
  struct Table {
    size_t databases = 0;
    uint64_t forgotten = 0;
    uint64_t dropped_pool_errors = 0, dropped_pool_server_errors = 0;
  };
  Table table() const;

  // maxConnectionsPerCluster: the budgets, one per cluster that has a pool (none when off).
  std::vector<std::shared_ptr<ClusterBudget>> budgets() const;

 private:
  std::shared_ptr<Pool> make_pool(const std::string &label, const PoolSpec &spec) const;
  std::shared_ptr<Pool> resolve_locked(const std::string &db, const std::optional<TenantPlacement> &placed);
  bool routed_statically_locked(const std::string &db) const;
  std::shared_ptr<Pool> cluster_pool_locked(const std::string &name, const std::string &uri);
  void drop_locked(std::unordered_map<std::string, std::shared_ptr<Pool>>::iterator it,
                   std::unordered_map<std::string, std::shared_ptr<Pool>> &table);
  void turn_over_locked();
  bool must_keep_locked(const std::string &db, const std::shared_ptr<Pool> &pool) const;
  std::shared_ptr<ClusterBudget> budget_for(const std::string &uri) const;  // null when off
  void maintain_every(int64_t ms);  // shortens the period for a timed duty of `ms`
  void maintain_for(const PoolSpec &spec) {
    if (spec.auto_close) maintain_every(spec.ttl_ms);
  }

  const Options &options_;
  std::shared_ptr<const Log> log_;
  std::shared_ptr<Events> events_;
  std::shared_ptr<Usage> usage_;
  std::shared_ptr<Pool> shared_;
  Tenants tenants_;
  mutable std::mutex budgets_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<ClusterBudget>> budgets_;  // by cluster

  mutable std::shared_mutex mu_;
  bool shut_down_ = false;  // under mu_
  // False while no database has its own pool or rule: every name is the shared pool's, and
  // route() answers without taking mu_ (whose reader count every operation would write to).
  std::atomic<bool> routing_{false};
  std::unordered_map<std::string, PoolSpec> exact_;
  struct Rule {
    RouteOptions options;
    std::shared_ptr<Pool> pool;  // sharedPool rules: the one pool of all their databases
  };
  std::vector<Rule> rules_;
  std::shared_ptr<TenantDirectory> directory_;  // set once, before any operation
  std::unordered_map<std::string, std::shared_ptr<Pool>> clusters_;  // the directory's, by name
  // Routed databases, to their pools (the shared one included, so that a name is matched
  // against the rules once, not on every operation). Bounded for processes whose tenants come
  // and go: names used since the last turnover are in routed_, the others in older_; once
  // routed_ holds half of maxTrackedDatabases names, older_ is forgotten and routed_ becomes
  // older_ (a name found in older_ moves back to routed_). A forgotten name is matched against
  // the rules again when it comes back, and the rules only grow at the end, so it gets the same
  // outcome: the shared pool, a sharedPool rule's pool, or a new pool of the same rule. What is
  // more than a cache entry is kept (must_keep_locked): a database's own pool (exact_), and a
  // rule's per-database pool that is open or held by anyone.
  std::unordered_map<std::string, std::shared_ptr<Pool>> routed_, older_;
  size_t turnover_at_;
  uint64_t forgotten_ = 0;                 // under mu_
  uint64_t dropped_errors_ = 0;            // under mu_: errors of the pools let go of
  uint64_t dropped_server_errors_ = 0;     // under mu_
  std::atomic<uint64_t> evictions_{0};
  std::atomic<int64_t> period_ms_{1000};
};

}  // namespace pm::core
