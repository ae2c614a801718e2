#include "config/options.hpp"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <set>

#include "base/db_name.hpp"
#include "base/error.hpp"
#include "observe/log.hpp"
#include "base/redact.hpp"

namespace pm::core {

namespace {

struct JsonDeleter {
  void operator()(cJSON *j) const { cJSON_Delete(j); }
};

[[noreturn]] void bad(const std::string &message) { fail(Code::invalid_argument, message); }

void check_keys(const cJSON *object, const std::string &where,
                std::initializer_list<const char *> known) {
  for (const cJSON *item = object->child; item != nullptr; item = item->next) {
    bool ok = false;
    for (const char *k : known) ok = ok || std::strcmp(item->string, k) == 0;
    if (!ok) bad(where + "unknown option '" + item->string + "'");
  }
}

int64_t integer(const cJSON *item, const std::string &name, int64_t min, int64_t max) {
  if (!cJSON_IsNumber(item)) bad(name + " must be a number");
  double d = item->valuedouble;
  if (!std::isfinite(d) || std::floor(d) != d) bad(name + " must be an integer");
  if (d < static_cast<double>(min)) bad(name + " must be >= " + std::to_string(min));
  if (d > static_cast<double>(max)) bad(name + " must be <= " + std::to_string(max));
  return static_cast<int64_t>(d);
}

bool boolean(const cJSON *item, const std::string &name) {
  if (!cJSON_IsBool(item)) bad(name + " must be true or false");
  return cJSON_IsTrue(item);
}

std::string string(const cJSON *item, const std::string &name) {
  if (!cJSON_IsString(item)) bad(name + " must be a string");
  return item->valuestring;
}

constexpr int64_t kMaxPool = 100000;
constexpr int64_t kMaxMs = std::numeric_limits<int32_t>::max();

TenantLimits tenant_limits_of(const cJSON *o, const std::string &ow) {
  if (!cJSON_IsObject(o)) bad(ow + " must be an object");
  check_keys(o, ow + ": ", {"maxConcurrent", "ratePerSecond", "burst", "onLimit", "maxWaitMS"});
  TenantLimits t;
  auto positive = [&](const cJSON *v, const std::string &name) {
    if (!cJSON_IsNumber(v) || !std::isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1e9)
      bad(name + " must be a number from 0 to 1e9");
    return v->valuedouble;
  };
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "maxConcurrent"))
    t.max_concurrent = static_cast<int>(integer(v, ow + ".maxConcurrent", 0, kMaxPool));
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "ratePerSecond"))
    t.rate_per_second = positive(v, ow + ".ratePerSecond");
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "burst")) {
    t.burst = positive(v, ow + ".burst");
    if (t.burst < 1) bad(ow + ".burst must be >= 1");
    if (t.rate_per_second == 0) bad(ow + ".burst needs ratePerSecond");
  }
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "onLimit")) {
    std::string mode = string(v, ow + ".onLimit");
    if (mode != "wait" && mode != "fail") bad(ow + ".onLimit must be \"wait\" or \"fail\"");
    t.fail_fast = mode == "fail";
  }
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "maxWaitMS")) t.max_wait_ms = integer(v, ow + ".maxWaitMS", 0, kMaxMs);
  return t;
}

void parse_spec_options(const cJSON *o, const std::string &ow, PoolSpec &spec) {
  if (!cJSON_IsObject(o)) bad(ow + " must be an object");
  check_keys(o, ow + ": ", {"maxConnections", "coldStart", "autoClose", "ttl", "tenantLimits"});
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "tenantLimits"))
    spec.tenant_limits = tenant_limits_of(v, ow + ".tenantLimits");
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "maxConnections"))
    spec.max_connections = static_cast<int>(integer(v, ow + ".maxConnections", 1, kMaxPool));
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "coldStart"))
    spec.cold_start = boolean(v, ow + ".coldStart");
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "autoClose"))
    spec.auto_close = boolean(v, ow + ".autoClose");
  if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "ttl")) spec.ttl_ms = integer(v, ow + ".ttl", 0, kMaxMs);
  if (spec.auto_close && spec.ttl_ms == 0) bad(ow + ".ttl must be > 0 when autoClose is true");
}

void parse_spec_uri(const cJSON *entry, const std::string &where, PoolSpec &spec) {
  if (const cJSON *uri = cJSON_GetObjectItemCaseSensitive(entry, "mongoURI")) {
    spec.mongo_uri = string(uri, where + ".mongoURI");
    check_mongo_uri(spec.mongo_uri, where + ".mongoURI");
  }
}

DedicatedPoolOptions parse_dedicated(const cJSON *entry, size_t index, bool allow_system) {
  std::string where = "dbSpecific[" + std::to_string(index) + "]";
  if (!cJSON_IsObject(entry)) bad(where + " must be an object");
  check_keys(entry, where + ": ", {"dbName", "mongoURI", "options"});
  DedicatedPoolOptions d;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "dbName");
  if (name == nullptr) bad(where + ".dbName is required");
  d.db_name = string(name, where + ".dbName");
  if (auto why = db_name_problem(d.db_name, allow_system)) bad(where + ".dbName: " + *why);
  parse_spec_uri(entry, where, d.spec);
  if (const cJSON *o = cJSON_GetObjectItemCaseSensitive(entry, "options"))
    parse_spec_options(o, where + ".options", d.spec);
  return d;
}

RouteOptions parse_route_item(const cJSON *entry, const std::string &where) {
  if (!cJSON_IsObject(entry)) bad(where + " must be an object");
  check_keys(entry, where + ": ", {"match", "mongoURI", "options", "sharedPool"});
  RouteOptions r;
  const cJSON *match = cJSON_GetObjectItemCaseSensitive(entry, "match");
  if (match == nullptr) bad(where + ".match is required");
  r.pattern = string(match, where + ".match");
  if (r.pattern.empty()) bad(where + ".match is empty");
  parse_spec_uri(entry, where, r.spec);
  if (const cJSON *o = cJSON_GetObjectItemCaseSensitive(entry, "options"))
    parse_spec_options(o, where + ".options", r.spec);
  if (const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, "sharedPool"))
    r.shared_pool = boolean(v, where + ".sharedPool");
  return r;
}

std::unique_ptr<cJSON, JsonDeleter> parse_object(const char *json, const std::string &where) {
  if (json == nullptr) bad(where + ": NULL (expected a JSON object)");
  std::unique_ptr<cJSON, JsonDeleter> root(cJSON_Parse(json));
  if (!root) bad(where + ": malformed JSON");
  if (!cJSON_IsObject(root.get())) bad(where + ": expected a JSON object");
  return root;
}

// The maxPoolSize option of a URI that check_mongo_uri accepted, when it has one.
std::optional<int> uri_max_pool_size(const std::string &uri) {
  bson_error_t error;
  mongoc_uri_t *parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
  if (parsed == nullptr) return std::nullopt;
  std::optional<int> n;
  if (mongoc_uri_has_option(parsed, MONGOC_URI_MAXPOOLSIZE))
    n = mongoc_uri_get_option_as_int32(parsed, MONGOC_URI_MAXPOOLSIZE, 0);
  mongoc_uri_destroy(parsed);
  if (n && (*n < 1 || *n > kMaxPool))
    bad("mongoURI: maxPoolSize=" + std::to_string(*n) + " must be from 1 to " + std::to_string(kMaxPool));
  return n;
}

AdminOptions parse_admin(const cJSON *v) {
  if (!cJSON_IsObject(v)) bad("admin must be an object");
  check_keys(v, "admin: ", {"listen", "token", "allowRemote"});
  AdminOptions a;
  a.enabled = true;
  if (auto *x = cJSON_GetObjectItemCaseSensitive(v, "allowRemote")) a.allow_remote = boolean(x, "admin.allowRemote");
  if (auto *x = cJSON_GetObjectItemCaseSensitive(v, "token")) {
    a.token = string(x, "admin.token");
    if (!a.token.empty() && a.token.size() < 16) bad("admin.token must be at least 16 characters");
  }
  if (auto *x = cJSON_GetObjectItemCaseSensitive(v, "listen")) {
    std::string listen = string(x, "admin.listen");
    // host:port, [v6]:port
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
      bad("admin.listen must be host:port (for example \"127.0.0.1:9400\"), got \"" + listen + "\"");
    a.host = listen.substr(0, colon);
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
    std::string port = listen.substr(colon + 1);
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
      bad("admin.listen: the port must be a number from 0 to 65535, got \"" + port + "\"");
    a.port = std::stoi(port);
  }
  if (!a.allow_remote && !is_loopback_host(a.host))
    bad("admin.listen: " + a.host + " is not a loopback address; the admin endpoint binds to loopback "
        "unless admin.allowRemote is true");
  return a;
}

DirectoryOptions parse_directory(const cJSON *v) {
  if (!cJSON_IsObject(v)) bad("directory must be an object");
  check_keys(v, "directory: ", {"mongoURI", "db", "collection", "clusters", "refreshMS", "moveLeaseMS", "placement"});
  DirectoryOptions d;
  d.enabled = true;
  auto get = [&](const char *key) { return cJSON_GetObjectItemCaseSensitive(v, key); };
  const cJSON *uri = get("mongoURI");
  if (uri == nullptr) bad("directory.mongoURI is required");
  d.mongo_uri = string(uri, "directory.mongoURI");
  check_mongo_uri(d.mongo_uri, "directory.mongoURI");
  if (auto *x = get("db")) d.db = string(x, "directory.db");
  if (auto why = db_name_problem(d.db, false)) bad("directory.db: " + *why);
  if (auto *x = get("collection")) d.collection = string(x, "directory.collection");
  if (d.collection.empty() || d.collection.find('$') != std::string::npos) bad("directory.collection must be a collection name");
  const cJSON *clusters = get("clusters");
  if (!cJSON_IsObject(clusters) || clusters->child == nullptr)
    bad("directory.clusters must be an object of at least one {name: mongoURI}");
  for (const cJSON *c = clusters->child; c != nullptr; c = c->next) {
    std::string where = std::string("directory.clusters.") + c->string;
    if (c->string[0] == '\0' || std::strlen(c->string) > 64) bad("directory.clusters: a name must be 1 to 64 characters");
    d.clusters.emplace_back(c->string, string(c, where));
    check_mongo_uri(d.clusters.back().second, where);
  }
  if (auto *x = get("refreshMS")) d.refresh_ms = integer(x, "directory.refreshMS", 10, 600000);
  if (auto *x = get("moveLeaseMS")) d.move_lease_ms = integer(x, "directory.moveLeaseMS", 300, 600000);
  if (auto *p = get("placement")) {
    if (!cJSON_IsObject(p)) bad("directory.placement must be an object");
    check_keys(p, "directory.placement: ", {"policy", "cluster", "match"});
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(p, "policy");
    if (policy == nullptr) bad("directory.placement.policy is required");
    d.placement = string(policy, "directory.placement.policy");
    if (d.placement != "fixed" && d.placement != "fewest" && d.placement != "leastData" && d.placement != "callback")
      bad("directory.placement.policy must be \"fixed\", \"fewest\", \"leastData\" or \"callback\"");
    if (auto *x = cJSON_GetObjectItemCaseSensitive(p, "cluster")) d.place_on = string(x, "directory.placement.cluster");
    if ((d.placement == "fixed") != !d.place_on.empty())
      bad("directory.placement.cluster is required by policy \"fixed\" and only by it");
    if (!d.place_on.empty() && d.cluster_uri(d.place_on) == nullptr)
      bad("directory.placement.cluster '" + d.place_on + "' is not one of directory.clusters");
    if (auto *x = cJSON_GetObjectItemCaseSensitive(p, "match")) d.place_match = string(x, "directory.placement.match");
    if (d.place_match.empty()) bad("directory.placement.match is empty");
  }
  return d;
}

}  // namespace

bool is_loopback_host(const std::string &host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, as a dotted literal (not a name that merely starts with "127.")
  return host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos &&
         std::count(host.begin(), host.end(), '.') == 3;
}

PoolSpec parse_pool_spec(const char *json, const std::string &where) {
  PoolSpec spec;
  if (json == nullptr) return spec;
  auto root = parse_object(json, where);
  check_keys(root.get(), where + ": ", {"mongoURI", "maxConnections", "coldStart", "autoClose", "ttl", "tenantLimits"});
  parse_spec_uri(root.get(), where, spec);
  cJSON *uri = cJSON_DetachItemFromObjectCaseSensitive(root.get(), "mongoURI");
  cJSON_Delete(uri);
  parse_spec_options(root.get(), where, spec);
  return spec;
}

TenantLimits parse_tenant_limits(const char *json, const std::string &where) {
  auto root = parse_object(json, where);
  return tenant_limits_of(root.get(), where);
}

FleetTarget parse_fleet_target(const char *json) {
  FleetTarget t;
  if (json == nullptr) return t;
  auto root = parse_object(json, "fleet target");
  check_keys(root.get(), "fleet target: ", {"match", "tenants", "concurrency", "job"});
  auto get = [&](const char *key) { return cJSON_GetObjectItemCaseSensitive(root.get(), key); };
  if (auto *v = get("match")) t.match = string(v, "match");
  if (t.match.empty()) bad("match is empty");
  if (auto *v = get("tenants")) t.tenants = boolean(v, "tenants");
  if (auto *v = get("concurrency")) t.concurrency = static_cast<int>(integer(v, "concurrency", 1, 64));
  if (auto *v = get("job")) t.job = string(v, "job");
  return t;
}

RouteOptions parse_route(const char *json) {
  auto root = parse_object(json, "route");
  return parse_route_item(root.get(), "route");
}

std::vector<RouteOptions> parse_routes(const char *json) {
  if (json == nullptr) bad("routes: NULL (expected a JSON array of rules)");
  std::unique_ptr<cJSON, JsonDeleter> root(cJSON_Parse(json));
  if (!root) bad("routes: malformed JSON");
  if (!cJSON_IsArray(root.get())) bad("routes must be an array");
  std::vector<RouteOptions> out;
  size_t i = 0;
  for (const cJSON *entry = root->child; entry != nullptr; entry = entry->next, ++i)
    out.push_back(parse_route_item(entry, "routes[" + std::to_string(i) + "]"));
  return out;
}

std::string check_mongo_uri(const std::string &uri, const std::string &option) {
  bson_error_t error;
  mongoc_uri_t *parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
  if (parsed == nullptr) {
    // libmongoc's messages describe the problem without echoing credentials.
    bad(option + " is not a valid MongoDB URI (mongodb:// or mongodb+srv://): " + error.message);
  }
  const char *db = mongoc_uri_get_database(parsed);
  std::string name = db != nullptr ? db : "";
  mongoc_uri_destroy(parsed);
  return name;
}

Options Options::parse(const char *json) {
  if (json == nullptr) bad("options: NULL options (expected a JSON object with mongoURI)");
  std::unique_ptr<cJSON, JsonDeleter> root(cJSON_Parse(json));
  if (!root) {
    const char *where = cJSON_GetErrorPtr();
    size_t at = where != nullptr && where >= json ? static_cast<size_t>(where - json) : 0;
    bad("options: malformed JSON near offset " + std::to_string(at));
  }
  if (!cJSON_IsObject(root.get())) bad("options: expected a JSON object");
  check_keys(root.get(), "options: ",
             {"mongoURI", "defaultDB", "maxPoolSize", "minFreeConnections", "idleTimeoutMS",
              "coldStart", "retry", "debug", "logPath", "logLevel", "dbSpecific", "routes",
              "maxOpenPools", "poolSizing", "allowSystemDatabases", "recoverOnStart", "journalDb",
              "maxTrackedDatabases", "fairQueueing", "tenantLimits", "admin", "slowOperationMS",
              "pauseTimeoutMS", "maxConnecting", "maxConnectionsPerCluster", "budgetWaitMS", "directory"});

  Options o;
  auto get = [&](const char *key) { return cJSON_GetObjectItemCaseSensitive(root.get(), key); };

  if (auto *v = get("allowSystemDatabases"))
    o.allow_system_databases = boolean(v, "allowSystemDatabases");

  const cJSON *uri = get("mongoURI");
  if (uri == nullptr) bad("mongoURI is required");
  o.mongo_uri = string(uri, "mongoURI");
  std::string uri_db = check_mongo_uri(o.mongo_uri, "mongoURI");

  if (auto *v = get("defaultDB")) {
    o.default_db = string(v, "defaultDB");
    if (auto why = db_name_problem(*o.default_db, o.allow_system_databases))
      bad("defaultDB: " + *why);
  } else if (!uri_db.empty()) {
    if (auto why = db_name_problem(uri_db, o.allow_system_databases))
      bad("mongoURI: the database in its path: " + *why);
    o.default_db = uri_db;
  }

  // The URI's own maxPoolSize counts when the option is absent; both given must agree.
  std::optional<int> uri_max = uri_max_pool_size(o.mongo_uri);
  if (auto *v = get("maxPoolSize")) {
    o.max_pool_size = static_cast<int>(integer(v, "maxPoolSize", 1, kMaxPool));
    if (uri_max && *uri_max != o.max_pool_size)
      bad("maxPoolSize (" + std::to_string(o.max_pool_size) + ") conflicts with the mongoURI's maxPoolSize=" +
          std::to_string(*uri_max) + ": give one, or the same value in both");
  } else if (uri_max) {
    o.max_pool_size = *uri_max;
  }
  if (auto *v = get("minFreeConnections"))
    o.min_free_connections = static_cast<int>(integer(v, "minFreeConnections", 0, kMaxPool));
  if (o.min_free_connections > o.max_pool_size)
    bad("minFreeConnections (" + std::to_string(o.min_free_connections) +
        ") must be <= maxPoolSize (" + std::to_string(o.max_pool_size) + ")");
  if (auto *v = get("idleTimeoutMS")) o.idle_timeout_ms = integer(v, "idleTimeoutMS", 0, kMaxMs);
  if (auto *v = get("coldStart")) o.cold_start = boolean(v, "coldStart");
  if (auto *v = get("retry")) {
    // PolyMongo's form is a number (the delay); ours also takes the whole policy.
    if (cJSON_IsObject(v)) {
      check_keys(v, "retry: ", {"attempts", "initialDelayMS", "maxDelayMS"});
      if (auto *a = cJSON_GetObjectItemCaseSensitive(v, "attempts"))
        o.retry.attempts = static_cast<int>(integer(a, "retry.attempts", 1, 100));
      if (auto *d = cJSON_GetObjectItemCaseSensitive(v, "initialDelayMS"))
        o.retry.initial_delay_ms = integer(d, "retry.initialDelayMS", 0, kMaxMs);
      if (auto *m = cJSON_GetObjectItemCaseSensitive(v, "maxDelayMS"))
        o.retry.max_delay_ms = integer(m, "retry.maxDelayMS", 0, kMaxMs);
      if (o.retry.max_delay_ms < o.retry.initial_delay_ms)
        bad("retry.maxDelayMS must be >= retry.initialDelayMS");
    } else {
      int64_t delay = integer(v, "retry", 0, kMaxMs);
      if (delay > 0) o.retry = RetryOptions{3, delay, delay * 8};
    }
  }
  if (auto *v = get("logLevel")) {
    o.log_level = string(v, "logLevel");
    parse_log_level(o.log_level);
  }
  if (auto *v = get("recoverOnStart")) o.recover_on_start = boolean(v, "recoverOnStart");
  if (auto *v = get("journalDb")) {
    o.journal_db = string(v, "journalDb");
    if (auto why = db_name_problem(o.journal_db, false)) bad("journalDb: " + *why);
  }
  if (auto *v = get("poolSizing")) {
    if (!cJSON_IsObject(v)) bad("poolSizing must be an object");
    check_keys(v, "poolSizing: ", {"min", "max", "scaleUpAt", "scaleDownAt", "intervalMS"});
    PoolSizing &z = o.pool_sizing;
    z.enabled = true;
    auto ratio = [&](const char *key, double fallback) {
      const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, key);
      if (!r) return fallback;
      if (!cJSON_IsNumber(r) || r->valuedouble <= 0 || r->valuedouble > 1)
        bad(std::string("poolSizing.") + key + " must be a number in (0, 1]");
      return r->valuedouble;
    };
    if (auto *x = cJSON_GetObjectItemCaseSensitive(v, "min")) z.min = static_cast<int>(integer(x, "poolSizing.min", 1, kMaxPool));
    z.max = o.max_pool_size;
    if (auto *x = cJSON_GetObjectItemCaseSensitive(v, "max")) z.max = static_cast<int>(integer(x, "poolSizing.max", 1, kMaxPool));
    if (z.min > z.max) bad("poolSizing.min must be <= poolSizing.max");
    z.scale_up_at = ratio("scaleUpAt", 0.8);
    z.scale_down_at = ratio("scaleDownAt", 0.3);
    if (z.scale_down_at >= z.scale_up_at) bad("poolSizing.scaleDownAt must be < poolSizing.scaleUpAt");
    if (auto *x = cJSON_GetObjectItemCaseSensitive(v, "intervalMS")) z.interval_ms = integer(x, "poolSizing.intervalMS", 10, kMaxMs);
  }
  if (auto *v = get("maxOpenPools")) o.max_open_pools = static_cast<int>(integer(v, "maxOpenPools", 0, kMaxPool));
  if (auto *v = get("maxTrackedDatabases"))
    o.max_tracked_databases = integer(v, "maxTrackedDatabases", 16, 100000000);
  if (auto *v = get("routes")) {
    if (!cJSON_IsArray(v)) bad("routes must be an array");
    size_t i = 0;
    for (const cJSON *entry = v->child; entry != nullptr; entry = entry->next, ++i)
      o.routes.push_back(parse_route_item(entry, "routes[" + std::to_string(i) + "]"));
  }
  if (auto *v = get("fairQueueing")) o.fair_queueing = boolean(v, "fairQueueing");
  if (auto *v = get("maxConnecting")) o.max_connecting = static_cast<int>(integer(v, "maxConnecting", 1, kMaxPool));
  if (auto *v = get("maxConnectionsPerCluster"))
    o.max_connections_per_cluster = static_cast<int>(integer(v, "maxConnectionsPerCluster", 0, 1000000));
  if (o.max_connections_per_cluster == 1) bad("maxConnectionsPerCluster must be 0 (no budget) or at least 2 (a monitor and a connection)");
  if (auto *v = get("budgetWaitMS")) o.budget_wait_ms = integer(v, "budgetWaitMS", 0, kMaxMs);
  if (auto *v = get("tenantLimits")) o.tenant_limits = tenant_limits_of(v, "tenantLimits");
  if (auto *v = get("admin")) o.admin = parse_admin(v);
  if (auto *v = get("directory")) o.directory = parse_directory(v);
  if (auto *v = get("slowOperationMS")) o.slow_operation_ms = integer(v, "slowOperationMS", -1, kMaxMs);
  if (auto *v = get("pauseTimeoutMS")) o.pause_timeout_ms = integer(v, "pauseTimeoutMS", 0, kMaxMs);
  if (auto *v = get("debug")) o.debug = boolean(v, "debug");
  if (auto *v = get("logPath")) o.log_path = string(v, "logPath");

  if (auto *v = get("dbSpecific")) {
    if (!cJSON_IsArray(v)) bad("dbSpecific must be an array");
    std::set<std::string> seen;
    size_t i = 0;
    for (const cJSON *entry = v->child; entry != nullptr; entry = entry->next, ++i) {
      DedicatedPoolOptions d = parse_dedicated(entry, i, o.allow_system_databases);
      if (!seen.insert(d.db_name).second)
        bad("dbSpecific[" + std::to_string(i) + "].dbName '" + d.db_name + "' is listed twice");
      o.db_specific.push_back(std::move(d));
    }
  }
  return o;
}

}  // namespace pm::core
