// The wrapper's options, parsed and validated from PolyMongo-style JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pm::core {

// Dynamic sizing (the connection-factory note): the pool's size limit moves between min and
// max by utilisation (peak connections in use / limit) measured over each interval.
struct PoolSizing {
  bool enabled = false;
  int min = 1;
  int max = 10;
  double scale_up_at = 0.8;
  double scale_down_at = 0.3;
  int64_t interval_ms = 1000;
};

// A database's share of its pool (tenantLimits): at most max_concurrent operations at once
// (0: no cap) and, when rate_per_second > 0, a token bucket of `burst` tokens refilled at that
// rate. Over a limit an operation waits up to max_wait_ms (on_limit "wait") or fails at once
// ("fail"), with Code::throttled either way.
struct TenantLimits {
  int max_concurrent = 0;
  double rate_per_second = 0;
  double burst = 0;  // 0: max(1, rate_per_second)
  bool fail_fast = false;
  int64_t max_wait_ms = 1000;
  bool any() const { return max_concurrent > 0 || rate_per_second > 0; }
};

// How a dedicated pool is made: PolyMongo's per-database options, plus its own cluster.
struct PoolSpec {
  std::string mongo_uri;  // empty: the wrapper's mongoURI
  int max_connections = 10;
  bool cold_start = true;
  bool auto_close = false;
  int64_t ttl_ms = 0;
  std::optional<TenantLimits> tenant_limits;  // for each database this spec serves
};

// A dedicated pool for one database (PolyMongo's dbSpecific entry).
struct DedicatedPoolOptions {
  std::string db_name;
  PoolSpec spec;
};

// A routing rule: databases whose name matches `pattern` (a glob: *, ?, [...]) get a
// dedicated pool made from `spec`, one each, or one for all of them when `shared_pool`.
struct RouteOptions {
  std::string pattern;
  PoolSpec spec;
  bool shared_pool = false;
};

// Retries of operations that failed before reaching a server (and of reads whose connection
// broke), with exponential backoff, half of each delay fixed and half random ("equal jitter").
// attempts == 1: no retry.
struct RetryOptions {
  int attempts = 1;
  int64_t initial_delay_ms = 100;
  int64_t max_delay_ms = 5000;
};

// The admin endpoint (src/core/admin): off unless `admin` is given. It binds to a loopback
// address unless allow_remote; actions need the token, and none is possible without one.
struct AdminOptions {
  bool enabled = false;
  std::string host = "127.0.0.1";
  int port = 9400;  // 0: any free port (see pm_wrapper_admin_url)
  std::string token;  // empty: read-only endpoint, every action refused
  bool allow_remote = false;
};

// The shared tenant directory (docs/fleet.md): a catalog collection on `mongo_uri` mapping a
// database to one of the named `clusters`, which every process caches and follows (a change
// stream where the server has them, else polling every refresh_ms). `placement`: how a
// database with no entry, no dbSpecific pool and no matching rule is placed on first use
// ("" none: such a database goes to the shared pool; "fixed" on `place_on`; "fewest" tenants;
// "leastData"; "callback", set at run time), when its name matches `place_match`.
struct DirectoryOptions {
  bool enabled = false;
  std::string mongo_uri, db = "polymongo_fleet", collection = "tenants";
  std::vector<std::pair<std::string, std::string>> clusters;  // name -> URI, in the given order
  int64_t refresh_ms = 1000;
  int64_t move_lease_ms = 10000;  // a mover's lease on its move, renewed every third of it
  std::string placement, place_on, place_match = "*";
  const std::string *cluster_uri(const std::string &name) const {
    for (const auto &[n, uri] : clusters)
      if (n == name) return &uri;
    return nullptr;
  }
};

// The databases a fleet schema operation covers (fleet/schema.hpp), and how.
struct FleetTarget {
  std::string match = "*";  // a glob over database names
  bool tenants = false;     // true: the directory's entries; false: every database of its clusters
  int concurrency = 4;      // 1 .. 64
  std::string job;          // sync: the job's name ("" : derived from the model and the target)
};
// Parses {match?, tenants?, concurrency?, job?}; NULL: the defaults.
FleetTarget parse_fleet_target(const char *json);

// Whether `host` (a literal address or "localhost") is a loopback one.
bool is_loopback_host(const std::string &host);

struct Options {
  std::string mongo_uri;
  std::optional<std::string> default_db;  // unset: NULL/"" names no database
  int max_pool_size = 10;
  int min_free_connections = 0;
  int64_t idle_timeout_ms = 0;
  bool cold_start = true;
  RetryOptions retry;
  bool debug = false;
  std::string log_path;
  std::string log_level = "info";
  std::vector<DedicatedPoolOptions> db_specific;
  std::vector<RouteOptions> routes;
  int max_open_pools = 0;  // 0: no cap on open dedicated pools
  // Databases each per-database table (routing, usage, a model's setup) remembers at most;
  // the least recently used are forgotten first (see Router, Usage, Model).
  int64_t max_tracked_databases = 10000;
  PoolSizing pool_sizing;  // dynamic sizing of the shared pool
  // Waiting checkouts of a saturated pool are served a database at a time, in turn (false:
  // first come, first served).
  bool fair_queueing = true;
  int max_connecting = 2;               // per pool: connections in their handshake at once
  int max_connections_per_cluster = 0;  // 0: no budget; else every pool on a cluster together
  int64_t budget_wait_ms = 10000;       // a connection over the budget waits this long (0: fails at once)
  TenantLimits tenant_limits;  // every database's, unless its pool spec or pm_wrapper_set_tenant_limits says otherwise
  bool allow_system_databases = false;
  bool recover_on_start = false;               // roll back journals crashed processes left
  std::string journal_db = "polymongo_journal";
  AdminOptions admin;
  DirectoryOptions directory;
  int64_t slow_operation_ms = -1;  // -1: no slow-operation log; 0 logs every operation
  int64_t pause_timeout_ms = 10000;  // how long an operation waits on a paused database or pool

  // Throws Error(invalid_argument) with a message naming the offending option.
  static Options parse(const char *json);
};

// Parses {mongoURI?, maxConnections?, coldStart?, autoClose?, ttl?} (the run-time form used by
// pm_wrapper_set_db) or, when `nested`, {mongoURI?, options: {...}} (the dbSpecific form).
PoolSpec parse_pool_spec(const char *json, const std::string &where);

// Parses {maxConcurrent?, ratePerSecond?, burst?, onLimit?: "wait"|"fail", maxWaitMS?}.
TenantLimits parse_tenant_limits(const char *json, const std::string &where);

// Parses one routing rule {match, mongoURI?, options?, sharedPool?}.
RouteOptions parse_route(const char *json);
// Parses a JSON array of routing rules (the routes option; a reload).
std::vector<RouteOptions> parse_routes(const char *json);

// Parses a MongoDB URI with libmongoc's parser; throws naming `option` on failure.
// Returns the database named in the URI's path ("" when none).
std::string check_mongo_uri(const std::string &uri, const std::string &option);


}  // namespace pm::core
