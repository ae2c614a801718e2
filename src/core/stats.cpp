#include "stats.hpp"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include <cmath>
#include <memory>
#include <sstream>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "ops/model.hpp"
#include "wrapper.hpp"

namespace pm::core {

namespace {

struct JsonDeleter {
  void operator()(cJSON *j) const { cJSON_Delete(j); }
};
using Json = std::unique_ptr<cJSON, JsonDeleter>;

std::string print(cJSON *j) {
  char *text = cJSON_PrintUnformatted(j);
  if (text == nullptr) throw Error(Code::internal, "cannot render statistics");
  std::string out(text);
  cJSON_free(text);
  return out;
}

const char *state_name(PoolState s) {
  switch (s) {
    case PoolState::not_initialized: return "not initialized";
    case PoolState::connecting: return "connecting";
    case PoolState::connected: return "connected";
    case PoolState::disconnecting: return "disconnecting";
    case PoolState::disconnected: return "disconnected";
  }
  return "unknown";
}

double mb(double bytes) { return std::round(bytes / 1048576.0 * 1000.0) / 1000.0; }

cJSON *pool_json(const PoolSnapshot &p) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", p.label.c_str());
  cJSON_AddStringToObject(o, "uri", p.uri.c_str());
  cJSON_AddBoolToObject(o, "dedicated", p.dedicated);
  cJSON_AddStringToObject(o, "state", state_name(p.state));
  cJSON_AddBoolToObject(o, "open", p.open);
  cJSON_AddBoolToObject(o, "ready", p.ready);
  cJSON_AddNumberToObject(o, "maxSize", p.max_size);
  cJSON_AddNumberToObject(o, "minSize", p.min_size);
  cJSON_AddNumberToObject(o, "sizeLimit", p.limit);
  cJSON *c = cJSON_AddObjectToObject(o, "connections");
  cJSON_AddNumberToObject(c, "open", p.open_connections);
  cJSON_AddNumberToObject(c, "inUse", p.in_use);
  cJSON_AddNumberToObject(c, "idle", p.idle);
  cJSON_AddNumberToObject(c, "waiting", p.waiting);
  cJSON *pinned = cJSON_AddObjectToObject(o, "pinned");
  cJSON_AddNumberToObject(pinned, "cursors", p.pinned_cursors);
  cJSON_AddNumberToObject(pinned, "sessions", p.pinned_sessions);
  cJSON_AddNumberToObject(pinned, "streams", p.pinned_streams);
  cJSON_AddNumberToObject(o, "errors", static_cast<double>(p.errors));
  if (p.last_error.empty()) cJSON_AddNullToObject(o, "lastError");
  else cJSON_AddStringToObject(o, "lastError", p.last_error.c_str());
  cJSON_AddNumberToObject(o, "serverErrors", static_cast<double>(p.server_errors));
  if (p.last_server_error.empty()) cJSON_AddNullToObject(o, "lastServerError");
  else cJSON_AddStringToObject(o, "lastServerError", p.last_server_error.c_str());
  cJSON *rt = cJSON_AddObjectToObject(o, "responseTimeMs");
  cJSON_AddNumberToObject(rt, "commands", static_cast<double>(p.commands));
  cJSON_AddNumberToObject(rt, "failed", static_cast<double>(p.failed_commands));
  cJSON_AddNumberToObject(rt, "mean", p.mean_ms);
  cJSON_AddNumberToObject(rt, "p50", p.p50_ms);
  cJSON_AddNumberToObject(rt, "p99", p.p99_ms);
  cJSON_AddNumberToObject(o, "createdMs", static_cast<double>(p.created_ms));
  if (p.last_used_ms == 0) cJSON_AddNullToObject(o, "lastUsedMs");
  else cJSON_AddNumberToObject(o, "lastUsedMs", static_cast<double>(p.last_used_ms));
  cJSON *dbs = cJSON_AddArrayToObject(o, "databases");
  for (const auto &d : p.databases) cJSON_AddItemToArray(dbs, cJSON_CreateString(d.c_str()));
  return o;
}

// A command reply: libmongoc initialises it, we destroy it. Not movable (bson_t).
struct Reply {
  bson_t doc;
  ~Reply() { bson_destroy(&doc); }
  const bson_t *get() const { return &doc; }
};

// Runs a read command on `db` through the pool that serves it.
std::unique_ptr<Reply> run_command(Wrapper &w, const std::string &db, const bson_t *cmd) {
  Lease lease = w.router().checkout(db);
  Pool *pool = lease.pool();
  auto reply = std::make_unique<Reply>();
  bson_error_t error;
  bool ok = mongoc_client_read_command_with_opts(lease.client(), db.c_str(), cmd, nullptr, nullptr,
                                                 &reply->doc, &error);
  if (!ok) {
    Error e = Error::from_driver(error, "statistics of " + db);
    pool->record_failure(db, e);
    throw e;
  }
  pool->record_success(db);
  return reply;
}

double number(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)
             ? static_cast<double>(bson_iter_as_double(&it))
             : 0.0;
}

}  // namespace

std::string general_stats_json(Wrapper &w) {
  Json root(cJSON_CreateObject());
  cJSON *pools = cJSON_AddArrayToObject(root.get(), "pools");
  int open = 0, connections = 0, in_use = 0, waiting = 0;
  uint64_t errors = 0, server_errors = 0;
  for (auto &pool : w.router().pools()) {
    PoolSnapshot s = pool->snapshot();
    open += s.open ? 1 : 0;
    connections += s.open_connections;
    in_use += s.in_use;
    waiting += s.waiting;
    errors += s.errors;
    server_errors += s.server_errors;
    cJSON_AddItemToArray(pools, pool_json(s));
  }
  cJSON *shared_dbs = cJSON_AddArrayToObject(root.get(), "sharedDatabases");
  for (const auto &d : w.router().shared_pool()->snapshot().databases)
    cJSON_AddItemToArray(shared_dbs, cJSON_CreateString(d.c_str()));
  cJSON *totals = cJSON_AddObjectToObject(root.get(), "totals");
  cJSON_AddNumberToObject(totals, "pools", cJSON_GetArraySize(pools));
  cJSON_AddNumberToObject(totals, "openPools", open);
  cJSON_AddNumberToObject(totals, "connections", connections);
  cJSON_AddNumberToObject(totals, "inUse", in_use);
  cJSON_AddNumberToObject(totals, "waiting", waiting);
  // Pools the router let go of (closed, held by no one) took their failures along.
  Router::Table routes = w.router().table();
  cJSON_AddNumberToObject(totals, "errors", static_cast<double>(errors + routes.dropped_pool_errors));
  cJSON_AddNumberToObject(totals, "serverErrors",
                          static_cast<double>(server_errors + routes.dropped_pool_server_errors));
  cJSON_AddNumberToObject(totals, "evictions", static_cast<double>(w.router().evictions()));
  cJSON_AddNumberToObject(totals, "streams", static_cast<double>(w.streams().count(nullptr)));
  // The per-database tables, bounded by maxTrackedDatabases: what each holds now, and what
  // the databases they forgot had counted (so that per-database figures plus these add up).
  Usage::Forgotten forgotten;
  size_t usage_size = w.usage().top(0, &forgotten).size();
  size_t ready = 0;
  for (const auto &model : w.models()) ready += model->ready_count();
  cJSON *tables = cJSON_AddObjectToObject(root.get(), "databaseTables");
  cJSON_AddNumberToObject(tables, "maxTracked", static_cast<double>(w.options().max_tracked_databases));
  cJSON_AddNumberToObject(tables, "routed", static_cast<double>(routes.databases));
  cJSON_AddNumberToObject(tables, "routedForgotten", static_cast<double>(routes.forgotten));
  cJSON_AddNumberToObject(tables, "usage", static_cast<double>(usage_size));
  cJSON_AddNumberToObject(tables, "modelsReady", static_cast<double>(ready));
  cJSON *gone = cJSON_AddObjectToObject(tables, "usageForgotten");
  cJSON_AddNumberToObject(gone, "databases", static_cast<double>(forgotten.databases));
  cJSON_AddNumberToObject(gone, "operations", static_cast<double>(forgotten.operations));
  cJSON_AddNumberToObject(gone, "errors", static_cast<double>(forgotten.errors));
  cJSON_AddStringToObject(root.get(), "state", state_name(w.state()));
  return print(root.get());
}

std::string db_stats_json(Wrapper &w, const std::string &db) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "dbStats", 1);
  auto db_stats = run_command(w, db, &cmd);
  bson_destroy(&cmd);

  Json root(cJSON_CreateObject());
  cJSON_AddStringToObject(root.get(), "db", db.c_str());
  cJSON_AddNumberToObject(root.get(), "sizeMb", mb(number(db_stats->get(), "dataSize")));
  cJSON_AddNumberToObject(root.get(), "storageSizeMb", mb(number(db_stats->get(), "storageSize")));
  cJSON *collections = cJSON_AddArrayToObject(root.get(), "collections");

  bson_t list = BSON_INITIALIZER;
  BSON_APPEND_INT32(&list, "listCollections", 1);
  BSON_APPEND_BOOL(&list, "nameOnly", true);
  auto listed = run_command(w, db, &list);
  bson_destroy(&list);
  bson_iter_t it, batch;
  std::vector<std::string> names;
  if (bson_iter_init(&it, listed->get()) && bson_iter_find_descendant(&it, "cursor.firstBatch", &batch) &&
      BSON_ITER_HOLDS_ARRAY(&batch)) {
    bson_iter_t entry;
    bson_iter_recurse(&batch, &entry);
    while (bson_iter_next(&entry)) {
      bson_iter_t name;
      if (BSON_ITER_HOLDS_DOCUMENT(&entry) && bson_iter_recurse(&entry, &name) &&
          bson_iter_find(&name, "name") && BSON_ITER_HOLDS_UTF8(&name))
        names.emplace_back(bson_iter_utf8(&name, nullptr));
    }
  }
  for (const std::string &name : names) {
    bson_t cs = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cs, "collStats", name.c_str());
    auto stats = run_command(w, db, &cs);
    bson_destroy(&cs);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", name.c_str());
    cJSON_AddNumberToObject(c, "documents", number(stats->get(), "count"));
    cJSON_AddNumberToObject(c, "sizeMb", mb(number(stats->get(), "size")));
    cJSON_AddNumberToObject(c, "indexes", number(stats->get(), "nindexes"));
    cJSON_AddItemToArray(collections, c);
  }
  cJSON_AddNumberToObject(root.get(), "numCollections", static_cast<double>(names.size()));
  DbUsage u;
  if (w.usage().find(db, &u)) cJSON_AddNumberToObject(root.get(), "lastUsedMs", static_cast<double>(u.last_used_ms));
  else cJSON_AddNullToObject(root.get(), "lastUsedMs");
  cJSON_AddItemToObject(root.get(), "pool", pool_json(w.router().route(db)->snapshot()));
  return print(root.get());
}

std::string list_databases_json(Wrapper &w) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "listDatabases", 1);
  // listDatabases runs on admin, through the shared pool, whatever allowSystemDatabases says.
  std::shared_ptr<Pool> pool = w.router().shared_pool();
  Lease lease = pool->checkout();
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_client_read_command_with_opts(lease.client(), "admin", &cmd, nullptr, nullptr, &reply, &error);
  bson_destroy(&cmd);
  if (!ok) {
    bson_destroy(&reply);
    throw Error::from_driver(error, "listDatabases");
  }
  Json root(cJSON_CreateArray());
  bson_iter_t it, dbs;
  if (bson_iter_init_find(&it, &reply, "databases") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &dbs)) {
    while (bson_iter_next(&dbs)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&dbs)) continue;
      uint32_t len;
      const uint8_t *data;
      bson_iter_document(&dbs, &len, &data);
      bson_t entry;
      bson_init_static(&entry, data, len);
      bson_iter_t f;
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "name", bson_iter_init_find(&f, &entry, "name") ? bson_iter_utf8(&f, nullptr) : "");
      cJSON_AddNumberToObject(o, "sizeMb", mb(number(&entry, "sizeOnDisk")));
      cJSON_AddBoolToObject(o, "empty", bson_iter_init_find(&f, &entry, "empty") && bson_iter_as_bool(&f));
      cJSON_AddItemToArray(root.get(), o);
    }
  }
  bson_destroy(&reply);
  return print(root.get());
}

std::string usage_json(Wrapper &w, size_t top_n) {
  Json root(cJSON_CreateArray());
  for (const DbUsage &u : w.usage().top(top_n)) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "db", u.db.c_str());
    cJSON_AddNumberToObject(o, "operations", static_cast<double>(u.operations));
    cJSON_AddNumberToObject(o, "errors", static_cast<double>(u.errors));
    cJSON_AddNumberToObject(o, "lastUsedMs", static_cast<double>(u.last_used_ms));
    cJSON_AddNumberToObject(o, "meanLatencyMs", u.mean_latency_ms());
    cJSON_AddItemToArray(root.get(), o);
  }
  return print(root.get());
}

namespace {
// Label values escape backslash, double quote and newline (exposition format 0.0.4).
std::string label(const std::string &v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::string prometheus_text(Wrapper &w) {
  std::ostringstream out;
  std::vector<PoolSnapshot> pools;
  for (auto &p : w.router().pools()) pools.push_back(p->snapshot());
  auto gauge = [&](const char *name, const char *help, const char *type, auto value_of) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    for (const auto &p : pools) out << name << "{pool=\"" << label(p.label) << "\"} " << value_of(p) << '\n';
  };
  gauge("polymongo_pool_open", "1 when the pool is open", "gauge", [](const PoolSnapshot &p) { return p.open ? 1 : 0; });
  gauge("polymongo_pool_max_connections", "Size limit of the pool", "gauge", [](const PoolSnapshot &p) { return p.limit; });
  gauge("polymongo_pool_connections", "Connections the pool holds", "gauge",
        [](const PoolSnapshot &p) { return p.open_connections; });
  gauge("polymongo_pool_connections_in_use", "Connections checked out", "gauge", [](const PoolSnapshot &p) { return p.in_use; });
  gauge("polymongo_pool_waiting", "Callers waiting for a connection", "gauge", [](const PoolSnapshot &p) { return p.waiting; });
  gauge("polymongo_pool_errors_total", "Operations that failed at the connection or pool level", "counter",
        [](const PoolSnapshot &p) { return p.errors; });
  gauge("polymongo_pool_server_errors_total",
        "Operations the server refused (duplicate keys, write errors, other server errors)", "counter",
        [](const PoolSnapshot &p) { return p.server_errors; });
  out << "# HELP polymongo_pool_command_duration_seconds Server round trips (libmongoc command monitoring)\n"
         "# TYPE polymongo_pool_command_duration_seconds summary\n";
  for (const auto &p : pools) {
    std::string l = "pool=\"" + label(p.label) + "\"";
    out << "polymongo_pool_command_duration_seconds{" << l << ",quantile=\"0.5\"} " << p.p50_ms / 1000.0 << '\n'
        << "polymongo_pool_command_duration_seconds{" << l << ",quantile=\"0.99\"} " << p.p99_ms / 1000.0 << '\n'
        << "polymongo_pool_command_duration_seconds_sum{" << l << "} " << p.mean_ms * static_cast<double>(p.commands) / 1000.0 << '\n'
        << "polymongo_pool_command_duration_seconds_count{" << l << "} " << p.commands << '\n';
  }
  Usage::Forgotten forgotten;
  std::vector<DbUsage> usage = w.usage().top(0, &forgotten);
  // The databases the usage table forgot (maxTrackedDatabases) are one series, db="" (no
  // database has that name), so that summing over db still gives every operation.
  out << "# HELP polymongo_database_operations_total Operations per database\n"
         "# TYPE polymongo_database_operations_total counter\n";
  for (const auto &u : usage) out << "polymongo_database_operations_total{db=\"" << label(u.db) << "\"} " << u.operations << '\n';
  if (forgotten.databases > 0) out << "polymongo_database_operations_total{db=\"\"} " << forgotten.operations << '\n';
  out << "# HELP polymongo_database_errors_total Failed operations per database\n"
         "# TYPE polymongo_database_errors_total counter\n";
  for (const auto &u : usage) out << "polymongo_database_errors_total{db=\"" << label(u.db) << "\"} " << u.errors << '\n';
  if (forgotten.databases > 0) out << "polymongo_database_errors_total{db=\"\"} " << forgotten.errors << '\n';
  out << "# HELP polymongo_databases_tracked Databases in the usage table (at most maxTrackedDatabases)\n"
         "# TYPE polymongo_databases_tracked gauge\n"
      << "polymongo_databases_tracked " << usage.size() << '\n'
      << "# HELP polymongo_databases_forgotten_total Databases the usage table forgot, least recently used first\n"
         "# TYPE polymongo_databases_forgotten_total counter\n"
      << "polymongo_databases_forgotten_total " << forgotten.databases << '\n';
  out << "# HELP polymongo_pool_evictions_total Pools closed to respect maxOpenPools\n"
         "# TYPE polymongo_pool_evictions_total counter\n"
      << "polymongo_pool_evictions_total " << w.router().evictions() << '\n';
  return out.str();
}

}  // namespace pm::core
