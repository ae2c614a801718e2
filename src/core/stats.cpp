#include "stats.hpp"

#include <mongoc/mongoc.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <tuple>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "base/json_writer.hpp"
#include "ops/model.hpp"
#include "wrapper.hpp"

namespace pm::core {

namespace {

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

// A string, or null when empty.
void string_or_null(JsonWriter &j, const std::string &s) {
  if (s.empty()) j.null();
  else j.value(s);
}

void pool_json(JsonWriter &j, const PoolSnapshot &p) {
  j.begin_object()
      .key("name").value(p.label)
      .key("uri").value(p.uri)
      .key("dedicated").value(p.dedicated)
      .key("state").value(state_name(p.state))
      .key("open").value(p.open)
      .key("ready").value(p.ready)
      .key("maxSize").value(p.max_size)
      .key("minSize").value(p.min_size)
      .key("sizeLimit").value(p.limit);
  j.key("connections").begin_object()
      .key("open").value(p.open_connections)
      .key("inUse").value(p.in_use)
      .key("idle").value(p.idle)
      .key("waiting").value(p.waiting)
      .end_object();
  j.key("pinned").begin_object()
      .key("cursors").value(p.pinned_cursors)
      .key("sessions").value(p.pinned_sessions)
      .key("streams").value(p.pinned_streams)
      .end_object();
  j.key("errors").value(p.errors);
  j.key("lastError");
  string_or_null(j, p.last_error);
  j.key("serverErrors").value(p.server_errors);
  j.key("lastServerError");
  string_or_null(j, p.last_server_error);
  j.key("responseTimeMs").begin_object()
      .key("commands").value(p.commands)
      .key("failed").value(p.failed_commands)
      .key("mean").value(p.mean_ms)
      .key("p50").value(p.p50_ms)
      .key("p99").value(p.p99_ms)
      .end_object();
  j.key("createdMs").value(p.created_ms);
  j.key("lastUsedMs");
  if (p.last_used_ms == 0) j.null();
  else j.value(p.last_used_ms);
  j.key("databases").begin_array();
  for (const auto &d : p.databases) j.value(d);
  j.end_array().end_object();
}

// A command reply: libmongoc initialises it, we destroy it. Not movable (bson_t).
struct Reply {
  bson_t doc;
  ~Reply() { bson_destroy(&doc); }
  const bson_t *get() const { return &doc; }
};

// Runs a read command on `db` through the pool that serves it.
std::unique_ptr<Reply> run_command(Wrapper &w, const std::string &db, const bson_t *cmd) {
  Lease lease = w.router().checkout_recorded(db);
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
  JsonWriter j;
  j.begin_object().key("pools").begin_array();
  int count = 0, open = 0, connections = 0, in_use = 0, waiting = 0;
  uint64_t errors = 0, server_errors = 0;
  for (auto &pool : w.router().pools()) {
    PoolSnapshot s = pool->snapshot();
    open += s.open ? 1 : 0;
    connections += s.open_connections;
    in_use += s.in_use;
    waiting += s.waiting;
    errors += s.errors;
    server_errors += s.server_errors;
    ++count;
    pool_json(j, s);
  }
  j.end_array().key("budgets").begin_array();  // maxConnectionsPerCluster, per cluster
  for (const auto &b : w.router().budgets())
    j.begin_object()
        .key("cluster").value(b->cluster())
        .key("limit").value(b->limit())
        .key("used").value(b->used())
        .key("exhausted").value(b->exhausted())
        .end_object();
  j.end_array().key("sharedDatabases").begin_array();
  for (const auto &d : w.router().shared_pool()->snapshot().databases) j.value(d);
  j.end_array();
  // Pools the router let go of (closed, held by no one) took their failures along.
  Router::Table routes = w.router().table();
  j.key("totals").begin_object()
      .key("pools").value(count)
      .key("openPools").value(open)
      .key("connections").value(connections)
      .key("inUse").value(in_use)
      .key("waiting").value(waiting)
      .key("errors").value(errors + routes.dropped_pool_errors)
      .key("serverErrors").value(server_errors + routes.dropped_pool_server_errors)
      .key("evictions").value(w.router().evictions())
      .key("streams").value(w.streams().count(nullptr))
      .end_object();
  // The per-database tables, bounded by maxTrackedDatabases: what each holds now, and what
  // the databases they forgot had counted (so that per-database figures plus these add up).
  Usage::Forgotten forgotten;
  size_t usage_size = w.usage().top(0, &forgotten).size();
  size_t ready = 0;
  for (const auto &model : w.models()) ready += model->ready_count();
  j.key("databaseTables").begin_object()
      .key("maxTracked").value(w.options().max_tracked_databases)
      .key("routed").value(routes.databases)
      .key("routedForgotten").value(routes.forgotten)
      .key("usage").value(usage_size)
      .key("modelsReady").value(ready)
      .key("usageForgotten").begin_object()
          .key("databases").value(forgotten.databases)
          .key("operations").value(forgotten.operations)
          .key("errors").value(forgotten.errors)
          .end_object()
      .end_object();
  j.key("state").value(state_name(w.state())).end_object();
  return j.take();
}

std::string db_stats_json(Wrapper &w, const std::string &db) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "dbStats", 1);
  auto db_stats = run_command(w, db, &cmd);
  bson_destroy(&cmd);

  JsonWriter j;
  j.begin_object()
      .key("db").value(db)
      .key("sizeMb").value(mb(number(db_stats->get(), "dataSize")))
      .key("storageSizeMb").value(mb(number(db_stats->get(), "storageSize")))
      .key("collections").begin_array();

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
    j.begin_object()
        .key("name").value(name)
        .key("documents").value(number(stats->get(), "count"))
        .key("sizeMb").value(mb(number(stats->get(), "size")))
        .key("indexes").value(number(stats->get(), "nindexes"))
        .end_object();
  }
  j.end_array().key("numCollections").value(names.size());
  DbUsage u;
  j.key("lastUsedMs");
  if (w.usage().find(db, &u)) j.value(u.last_used_ms);
  else j.null();
  j.key("pool");
  pool_json(j, w.router().route(db)->snapshot());
  j.end_object();
  return j.take();
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
  JsonWriter j;
  j.begin_array();
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
      j.begin_object()
          .key("name").value(bson_iter_init_find(&f, &entry, "name") && BSON_ITER_HOLDS_UTF8(&f) ? bson_iter_utf8(&f, nullptr) : "")
          .key("sizeMb").value(mb(number(&entry, "sizeOnDisk")))
          .key("empty").value(bson_iter_init_find(&f, &entry, "empty") && bson_iter_as_bool(&f))
          .end_object();
    }
  }
  bson_destroy(&reply);
  j.end_array();
  return j.take();
}

std::string usage_json(Wrapper &w, size_t top_n) {
  JsonWriter j;
  j.begin_array();
  for (const DbUsage &u : w.usage().top(top_n)) {
    j.begin_object()
        .key("db").value(u.db)
        .key("operations").value(u.operations)
        .key("errors").value(u.errors)
        .key("lastUsedMs").value(u.last_used_ms)
        .key("meanLatencyMs").value(u.mean_latency_ms())
        .key("throttled").value(u.throttled)
        .key("queued").value(u.queued)
        .end_object();
  }
  j.end_array();
  return j.take();
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

namespace {
// Databases that get their own series in the per-database metrics below; the rest are one
// `other` series (a label db_other="true", never a database name), so that a process with
// many tenants keeps a bounded exposition.
constexpr size_t kTopDatabases = 20;

void histogram(std::ostringstream &out, const char *name, const char *help, const std::vector<PoolSnapshot> &pools,
               Histogram PoolSnapshot::*field) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
  for (const auto &p : pools) {
    const Histogram &h = p.*field;
    std::string l = "pool_name=\"" + label(p.label) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kHistogramBuckets; ++i) {
      cumulative += h.buckets[i];
      out << name << "_bucket{" << l << ",le=\"";
      if (i + 1 < kHistogramBuckets) out << static_cast<double>(kHistogramBoundsUs[i]) / 1e6;
      else out << "+Inf";
      out << "\"} " << cumulative << '\n';
    }
    out << name << "_sum{" << l << "} " << static_cast<double>(h.sum_us) / 1e6 << '\n'
        << name << "_count{" << l << "} " << h.count << '\n';
  }
}

// The OpenTelemetry database-client metrics (semantic conventions' db.client.connection.* and
// db.client.operation.duration), by pool; seconds.
void otel_metrics(std::ostringstream &out, const std::vector<PoolSnapshot> &pools, const std::vector<DbUsage> &usage) {
  auto per_pool = [&](const char *name, const char *help, const char *type, auto value_of) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    for (const auto &p : pools) value_of(p, "pool_name=\"" + label(p.label) + "\"");
  };
  per_pool("db_client_connection_count", "Connections the pool holds, by state", "gauge",
           [&](const PoolSnapshot &p, const std::string &l) {
             out << "db_client_connection_count{" << l << ",state=\"idle\"} " << p.idle << '\n'
                 << "db_client_connection_count{" << l << ",state=\"used\"} " << p.in_use << '\n';
           });
  per_pool("db_client_connection_max", "The most connections the pool may hold (its size limit)", "gauge",
           [&](const PoolSnapshot &p, const std::string &l) {
             out << "db_client_connection_max{" << l << "} " << p.limit << '\n';
           });
  per_pool("db_client_connection_pending_requests", "Checkouts waiting for a connection", "gauge",
           [&](const PoolSnapshot &p, const std::string &l) {
             out << "db_client_connection_pending_requests{" << l << "} " << p.waiting << '\n';
           });
  per_pool("db_client_connection_timeouts_total", "Checkouts that timed out waiting for a connection", "counter",
           [&](const PoolSnapshot &p, const std::string &l) {
             out << "db_client_connection_timeouts_total{" << l << "} " << p.timeouts << '\n';
           });
  histogram(out, "db_client_connection_wait_time", "Time to obtain a connection from the pool, seconds", pools,
            &PoolSnapshot::wait_time);
  histogram(out, "db_client_operation_duration", "Server round trips of the pool's commands, seconds", pools,
            &PoolSnapshot::command_time);
  // Per database: the most used kTopDatabases, then the rest as one series.
  for (auto [name, help, field] : {std::tuple{"polymongo_database_throttled_total", "Operations refused by tenantLimits",
                                              &DbUsage::throttled},
                                   std::tuple{"polymongo_database_queued_total",
                                              "Operations that waited (tenantLimits or a saturated pool)",
                                              &DbUsage::queued}}) {
    out << "# HELP " << name << ' ' << help << " (top " << kTopDatabases << " databases by operations, then other)\n"
        << "# TYPE " << name << " counter\n";
    uint64_t rest = 0;
    for (size_t i = 0; i < usage.size(); ++i) {
      if (i < kTopDatabases) out << name << "{db=\"" << label(usage[i].db) << "\"} " << usage[i].*field << '\n';
      else rest += usage[i].*field;
    }
    if (usage.size() > kTopDatabases) out << name << "{db_other=\"true\"} " << rest << '\n';
  }
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
  otel_metrics(out, pools, usage);
  out << "# HELP polymongo_pool_evictions_total Pools closed to respect maxOpenPools\n"
         "# TYPE polymongo_pool_evictions_total counter\n"
      << "polymongo_pool_evictions_total " << w.router().evictions() << '\n';
  out << "# HELP polymongo_slow_operations_total Operations that took at least slowOperationMS\n"
         "# TYPE polymongo_slow_operations_total counter\n"
      << "polymongo_slow_operations_total " << w.slow_ops().count() << '\n'
      << "# HELP polymongo_paused Databases and pools paused now (admin action pause)\n"
         "# TYPE polymongo_paused gauge\n"
      << "polymongo_paused " << w.pauses().paused().size() << '\n'
      << "# HELP polymongo_pause_waits_total Operations that waited on a pause\n"
         "# TYPE polymongo_pause_waits_total counter\n"
      << "polymongo_pause_waits_total " << w.pauses().waited() << '\n'
      << "# HELP polymongo_pause_timeouts_total Operations that waited pauseTimeoutMS on a pause and failed\n"
         "# TYPE polymongo_pause_timeouts_total counter\n"
      << "polymongo_pause_timeouts_total " << w.pauses().timed_out() << '\n';
  return out.str();
}

}  // namespace pm::core
