#include "admin/api.hpp"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "admin/feed.hpp"
#include "base/error.hpp"
#include "base/json_writer.hpp"
#include "base/redact.hpp"
#include <pm_dashboard_html.hpp>  // generated from dashboard.html (CMake, in the build tree)
#include "stats.hpp"
#include "wrapper.hpp"

namespace pm::core {

namespace {

struct JsonDeleter {
  void operator()(cJSON *j) const { cJSON_Delete(j); }
};

AdminResponse json(int status, std::string body) { return AdminResponse{status, "application/json", std::move(body)}; }

AdminResponse problem(int status, const std::string &message) {
  JsonWriter j;
  j.begin_object().key("error").value(redact_text(message)).end_object();
  return json(status, j.take());
}

// A non-negative integer parameter, `fallback` when absent; nullopt when malformed.
bool count_param(const AdminRequest &r, const char *name, uint64_t max, uint64_t &out) {
  auto it = r.params.find(name);
  if (it == r.params.end()) return true;
  const std::string &v = it->second;
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::min<uint64_t>(std::stoull(v), max);
  return true;
}

const cJSON *string_field(const cJSON *body, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
  return cJSON_IsString(v) && v->valuestring != nullptr ? v : nullptr;
}

int status_of(Code code) {
  switch (code) {
    case Code::invalid_argument:
    case Code::invalid_db_name: return 400;
    case Code::closed: return 503;
    case Code::timeout: return 504;
    default: return 500;
  }
}

}  // namespace

bool same_token(const std::string &presented, const std::string &expected) {
  if (expected.empty()) return false;
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i)
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i % expected.size()]);
  return diff == 0 && !presented.empty();
}

const std::string &dashboard_html() {
  static const std::string page(kDashboardHtml);
  return page;
}

AdminResponse AdminApi::handle(const AdminRequest &request) const {
  try {
    return route(request);
  } catch (const Error &e) {
    return problem(status_of(e.code()), e.what());
  } catch (const std::bad_alloc &) {
    return problem(503, "out of memory");
  } catch (const std::exception &e) {
    return problem(500, e.what());
  }
}

AdminResponse AdminApi::route(const AdminRequest &r) const {
  const std::string &p = r.path;
  bool get = r.method == "GET" || r.method == "HEAD";
  if (p.rfind("/api/", 0) == 0 && r.method == "POST") return action(r);
  if (!get) return problem(405, "method " + r.method.substr(0, 16) + " is not allowed on " + p.substr(0, 64));
  if (p == "/" || p == "/dashboard") return page();
  if (p == "/metrics") return AdminResponse{200, "text/plain; version=0.0.4", prometheus_text(wrapper_)};
  if (p == "/healthz") {
    bool ok = !wrapper_.is_closed();
    JsonWriter j;
    j.begin_object().key("status").value(ok ? "ok" : "closed").end_object();
    return json(ok ? 200 : 503, j.take());
  }
  if (p == "/readyz") {
    // Ready once the shared pool is warm (connected); a coldStart wrapper becomes ready with its
    // first operation.
    PoolState s = wrapper_.state();
    bool ready = !wrapper_.is_closed() && s == PoolState::connected;
    JsonWriter j;
    j.begin_object().key("ready").value(ready)
        .key("state").value(s == PoolState::connected ? "connected" : s == PoolState::connecting ? "connecting"
                            : s == PoolState::not_initialized ? "not initialized" : "disconnected")
        .end_object();
    return json(ready ? 200 : 503, j.take());
  }
  if (p == "/api/overview") return overview();
  if (p == "/api/pools") return json(200, general_stats_json(wrapper_));
  if (p == "/api/databases") return databases(r);
  if (p == "/api/latency") return latency();
  if (p == "/api/events") {
    uint64_t since = 0, max = 100;
    if (!count_param(r, "since", UINT64_MAX, since) || !count_param(r, "max", 500, max))
      return problem(400, "since and max must be non-negative integers");
    return events(since, max);
  }
  if (p == "/api/slow") {
    const SlowOps &slow = wrapper_.slow_ops();
    JsonWriter j;
    j.begin_object().key("thresholdMS").value(slow.threshold_ms()).key("count").value(slow.count())
        .key("recent").begin_array();
    for (const SlowOperation &o : slow.recent())
      j.begin_object().key("db").value(o.db).key("collection").value(o.collection).key("kind").value(o.kind)
          .key("durationMs").value(o.duration_ms).key("failed").value(o.failed).key("filter").raw(o.shape)
          .key("timestampMs").value(o.timestamp_ms).end_object();
    j.end_array().end_object();
    return json(200, j.take());
  }
  return problem(404, "no such endpoint: " + p.substr(0, 64));
}

AdminResponse AdminApi::latency() const {
  static const double kEdges[] = {0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
  constexpr size_t kBuckets = sizeof kEdges / sizeof kEdges[0];
  uint64_t counts[kBuckets + 1] = {};
  for (const DbUsage &u : wrapper_.usage().top(0)) {
    if (u.operations == 0) continue;
    double ms = u.mean_latency_ms();
    size_t b = 0;
    while (b < kBuckets && ms > kEdges[b]) ++b;
    ++counts[b];
  }
  JsonWriter j;
  j.begin_object().key("of").value("mean latency per database, ms").key("buckets").begin_array();
  for (size_t b = 0; b <= kBuckets; ++b) {
    j.begin_object().key("le");
    if (b < kBuckets) j.value(kEdges[b]);
    else j.value("+Inf");
    j.key("databases").value(counts[b]).end_object();
  }
  j.end_array().end_object();
  return json(200, j.take());
}

AdminResponse AdminApi::events(uint64_t since, uint64_t max) const {
  JsonWriter j;
  j.begin_object().key("last").value(feed_.last_seq()).key("events").begin_array();
  for (const auto &e : feed_.since(since, max)) j.raw(e.json);
  j.end_array().end_object();
  return json(200, j.take());
}

// The page, with a first snapshot of every panel's data in it: it renders at once (no request
// needed for the first frame), then refreshes itself from /api/*.
AdminResponse AdminApi::page() const {
  AdminRequest top10;
  top10.params["top"] = "10";
  JsonWriter j;
  j.begin_object()
      .key("overview").raw(overview().body)
      .key("pools").raw(general_stats_json(wrapper_))
      .key("databases").raw(databases(top10).body)
      .key("latency").raw(latency().body)
      .key("events").raw(events(0, 50).body)
      .end_object();
  std::string data = j.take();
  // Inside <script>, "</" or "<!--" would change how the page is parsed: every "<" (which JSON
  // has only inside strings) becomes the escape \u003c.
  std::string safe;
  safe.reserve(data.size());
  for (char c : data) {
    if (c == '<') safe += "\\u003c";
    else safe += c;
  }
  data.swap(safe);
  std::string html = dashboard_html();
  static const std::string kMarker = "<script id=\"initial\" type=\"application/json\"></script>";
  size_t at = html.find(kMarker);
  if (at != std::string::npos)
    html.replace(at, kMarker.size(), "<script id=\"initial\" type=\"application/json\">" + data + "</script>");
  return AdminResponse{200, "text/html; charset=utf-8", std::move(html)};
}

AdminResponse AdminApi::overview() const {
  JsonWriter j;
  PoolState s = wrapper_.state();
  j.begin_object().key("state").value(s == PoolState::connected ? "connected" : "not connected")
      .key("closed").value(wrapper_.is_closed())
      .key("actions").value(!options_.token.empty())
      .key("paused").begin_array();
  for (const auto &name : wrapper_.pauses().paused()) j.value(name);
  j.end_array()
      .key("pauseWaits").value(wrapper_.pauses().waited())
      .key("slowOperationMS").value(wrapper_.slow_ops().threshold_ms())
      .key("slowOperations").value(wrapper_.slow_ops().count())
      .key("evictions").value(wrapper_.router().evictions());
  j.key("counts").begin_object();
  for (const auto &[name, n] : feed_.counts()) j.key(name).value(n);
  j.end_object().key("lastEvent").value(feed_.last_seq()).end_object();
  return json(200, j.take());
}

AdminResponse AdminApi::databases(const AdminRequest &r) const {
  uint64_t top = 20;
  if (!count_param(r, "top", 100000, top)) return problem(400, "top must be a non-negative integer");
  std::string by = "operations";
  if (auto it = r.params.find("by"); it != r.params.end()) by = it->second;
  if (by != "operations" && by != "errors" && by != "latency")
    return problem(400, "by must be operations, errors or latency");
  std::vector<DbUsage> all = wrapper_.usage().top(0);
  auto key = [&](const DbUsage &u) {
    return by == "errors" ? static_cast<double>(u.errors)
           : by == "latency" ? u.mean_latency_ms() : static_cast<double>(u.operations);
  };
  std::stable_sort(all.begin(), all.end(), [&](const DbUsage &a, const DbUsage &b) { return key(a) > key(b); });
  if (top != 0 && all.size() > top) all.resize(top);
  JsonWriter j;
  j.begin_object().key("by").value(by).key("databases").begin_array();
  for (const DbUsage &u : all) {
    Router::Explanation e = wrapper_.router().explain(u.db);
    j.begin_object().key("db").value(u.db).key("pool").value(e.pool).key("operations").value(u.operations)
        .key("errors").value(u.errors).key("meanLatencyMs").value(u.mean_latency_ms())
        .key("lastUsedMs").value(u.last_used_ms).end_object();
  }
  j.end_array().end_object();
  return json(200, j.take());
}

AdminResponse AdminApi::action(const AdminRequest &r) const {
  if (options_.token.empty())
    return problem(403, "admin actions are disabled: no admin.token is configured");
  static const std::string kBearer = "Bearer ";
  std::string presented = r.authorization.rfind(kBearer, 0) == 0 ? r.authorization.substr(kBearer.size()) : "";
  if (!same_token(presented, options_.token)) return problem(401, "a valid admin token is required (Authorization: Bearer <token>)");
  std::unique_ptr<cJSON, JsonDeleter> body(cJSON_ParseWithLength(r.body.data(), r.body.size()));
  if (!body || !cJSON_IsObject(body.get())) return problem(400, "the body must be a JSON object");
  const std::string &p = r.path;
  JsonWriter j;
  if (p == "/api/pause" || p == "/api/resume") {
    const cJSON *name = string_field(body.get(), "name");
    if (name == nullptr) return problem(400, "name (a database or a pool) is required");
    bool pause = p == "/api/pause";
    bool changed = pause ? wrapper_.pause(name->valuestring) : wrapper_.resume(name->valuestring);
    j.begin_object().key("name").value(name->valuestring).key("paused").value(pause).key("changed").value(changed).end_object();
    return json(200, j.take());
  }
  if (p == "/api/drain") {
    const cJSON *pool = string_field(body.get(), "pool");
    if (pool == nullptr) return problem(400, "pool (a pool's name) is required");
    int64_t timeout = 5000;
    if (const cJSON *t = cJSON_GetObjectItemCaseSensitive(body.get(), "timeoutMS")) {
      if (!cJSON_IsNumber(t) || !std::isfinite(t->valuedouble) || t->valuedouble < 0 || t->valuedouble > 600000)
        return problem(400, "timeoutMS must be a number from 0 to 600000");
      timeout = static_cast<int64_t>(t->valuedouble);
    }
    bool drained = wrapper_.drain_pool(pool->valuestring, timeout);
    j.begin_object().key("pool").value(pool->valuestring).key("drained").value(drained).end_object();
    return json(200, j.take());
  }
  if (p == "/api/explain") {
    const cJSON *db = string_field(body.get(), "db");
    if (db == nullptr) return problem(400, "db is required");
    return json(200, wrapper_.explain_route(db->valuestring));
  }
  if (p == "/api/reload") {
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(body.get(), "routes");
    if (!cJSON_IsArray(routes)) return problem(400, "routes (an array of routing rules) is required");
    std::unique_ptr<char, decltype(&cJSON_free)> text(cJSON_PrintUnformatted(routes), &cJSON_free);
    if (!text) return problem(503, "out of memory");
    wrapper_.reload_routes(text.get());
    j.begin_object().key("rules").value(static_cast<int64_t>(wrapper_.router().routes().size())).end_object();
    return json(200, j.take());
  }
  return problem(404, "no such action: " + p.substr(0, 64));
}

}  // namespace pm::core
