// The admin endpoint (label dashboard): its options, every GET endpoint against the statistics
// API, every action with and without the token (HTTP and C API), pause and resume under load,
// route explanations, reload, the slow-operation log, the live feed, malformed requests, no
// credentials anywhere, and the dashboard rendered by headless Chromium.
#include <cjson/cJSON.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "support.hpp"

using namespace pmtest;

namespace {

const std::string kToken = "test-admin-token-0123456789";

struct Json {
  cJSON *root = nullptr;
  explicit Json(const std::string &text) { root = cJSON_Parse(text.c_str()); }
  Json(Json &&o) noexcept : root(o.root) { o.root = nullptr; }
  ~Json() { cJSON_Delete(root); }
  cJSON *operator[](const char *k) const { return cJSON_GetObjectItemCaseSensitive(root, k); }
};

std::string take(char *s) {
  std::string out = s ? s : "";
  pm_free(s);
  return out;
}

// A wrapper with the admin endpoint on a free loopback port.
struct Admin {
  Wrapper w;
  std::string url;
  std::unique_ptr<httplib::Client> client;
  explicit Admin(const std::string &extra = "", bool token = true, const std::string &uri = "") {
    std::string admin = "\"admin\": {\"listen\": \"127.0.0.1:0\"" +
                        (token ? ", \"token\": \"" + kToken + "\"" : std::string()) + "}";
    std::string o = uri.empty() ? options(admin + (extra.empty() ? "" : ", " + extra))
                                : "{\"mongoURI\": \"" + uri + "\", \"defaultDB\": \"pm_default\", " + admin +
                                      (extra.empty() ? "" : ", " + extra) + "}";
    pm_error err;
    EXPECT_EQ(pm_wrapper_new(o.c_str(), &w.w, &err), PM_OK) << err.message;
    if (!w.w) return;
    char *u = nullptr;
    EXPECT_EQ(pm_wrapper_admin_url(w.w, &u, &err), PM_OK);
    url = take(u);
    client = std::make_unique<httplib::Client>(url);
    client->set_read_timeout(30, 0);
  }
  httplib::Result get(const std::string &path) { return client->Get(path); }
  httplib::Result post(const std::string &path, const std::string &body, const std::string &token = kToken) {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return client->Post(path, h, body, "application/json");
  }
};

// Runs the command-line tool with `args`; its standard output, and its exit status in *status.
std::string run_cli(const std::string &args, int *status) {
  std::string cli = std::getenv("PM_CLI") ? std::getenv("PM_CLI") : PM_CLI_PATH;
  FILE *f = popen((cli + " " + args).c_str(), "r");
  if (f == nullptr) {
    *status = -1;
    return "";
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  *status = pclose(f);
  return out;
}

void insert_n(pm_db *db, int n) {
  pm_error err;
  for (int i = 0; i < n; ++i) ASSERT_EQ(pm_db_insert_one(db, "{\"x\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_OK) << err.message;
}

}  // namespace

TEST(Admin, OptionsAreValidatedAndTheEndpointIsOffByDefault) {
  pm_error err;
  pm_wrapper *w = nullptr;
  EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"listen\": \"0.0.0.0:0\"}").c_str(), &w, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("not a loopback address"), std::string::npos) << err.message;
  EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"listen\": \"127.evil.example:80\"}").c_str(), &w, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"listen\": \"127.0.0.1\"}").c_str(), &w, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("host:port"), std::string::npos) << err.message;
  EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"listen\": \"127.0.0.1:70000\"}").c_str(), &w, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"token\": \"short\"}").c_str(), &w, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"listn\": \"127.0.0.1:0\"}").c_str(), &w, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("unknown option 'listn'"), std::string::npos) << err.message;
  EXPECT_EQ(pm_wrapper_new(options("\"slowOperationMS\": -2").c_str(), &w, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_new(options("\"pauseTimeoutMS\": \"x\"").c_str(), &w, &err), PM_EINVAL);
  EXPECT_EQ(w, nullptr);

  {  // remote binding only when asked for
    Wrapper remote;
    ASSERT_EQ(pm_wrapper_new(options("\"admin\": {\"listen\": \"0.0.0.0:0\", \"allowRemote\": true}").c_str(),
                             &remote.w, &err), PM_OK) << err.message;
    char *u = nullptr;
    ASSERT_EQ(pm_wrapper_admin_url(remote.w, &u, &err), PM_OK);
    EXPECT_EQ(take(u).rfind("http://0.0.0.0:", 0), 0u);
  }
  {  // off by default
    Wrapper plain;
    plain.w = new_wrapper();
    char *u = nullptr;
    ASSERT_EQ(pm_wrapper_admin_url(plain.w, &u, &err), PM_OK);
    EXPECT_EQ(take(u), "");
  }
  {  // a port in use is a clear error
    Admin first;
    ASSERT_FALSE(first.url.empty());
    std::string port = first.url.substr(first.url.rfind(':') + 1);
    EXPECT_EQ(pm_wrapper_new(options("\"admin\": {\"listen\": \"127.0.0.1:" + port + "\"}").c_str(), &w, &err), PM_EINVAL);
    EXPECT_NE(std::string(err.message).find("cannot listen"), std::string::npos) << err.message;
  }
}

TEST(Admin, EndpointsAgreeWithTheStatisticsApi) {
  Admin a("\"coldStart\": true");
  ASSERT_TRUE(a.client);
  auto ready = a.get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << "a cold wrapper is not warm yet: " << ready->body;
  auto health = a.get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  Model m;
  m.m = new_model(a.w.w, "items");
  std::vector<std::string> names = {unique_db("adm_a"), unique_db("adm_b"), unique_db("adm_c")};
  for (size_t i = 0; i < names.size(); ++i) {
    Db d;
    d.d = bind_db(m.m, names[i]);
    insert_n(d.d, static_cast<int>(3 * (i + 1)));
  }
  EXPECT_EQ(a.get("/readyz")->status, 200);

  auto metrics = a.get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(metrics->body.find("polymongo_database_operations_total{db=\"" + names[2] + "\"} 9"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("polymongo_slow_operations_total 0"), std::string::npos);

  // Busiest first, as pm_wrapper_usage says.
  pm_error err;
  char *usage = nullptr;
  ASSERT_EQ(pm_wrapper_usage(a.w.w, 3, &usage, &err), PM_OK);
  Json expected(take(usage));
  auto dbs = a.get("/api/databases?top=3");
  ASSERT_EQ(dbs->status, 200);
  Json got(dbs->body);
  ASSERT_EQ(cJSON_GetArraySize(got["databases"]), 3);
  for (int i = 0; i < 3; ++i) {
    cJSON *e = cJSON_GetArrayItem(expected.root, i), *g = cJSON_GetArrayItem(got["databases"], i);
    EXPECT_STREQ(cJSON_GetObjectItem(e, "db")->valuestring, cJSON_GetObjectItem(g, "db")->valuestring);
    EXPECT_EQ(cJSON_GetObjectItem(e, "operations")->valuedouble, cJSON_GetObjectItem(g, "operations")->valuedouble);
    EXPECT_STREQ(cJSON_GetObjectItem(g, "pool")->valuestring, "shared");
  }
  EXPECT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(got["databases"], 0), "db")->valuestring, names[2].c_str());
  EXPECT_EQ(a.get("/api/databases?by=errors")->status, 200);
  EXPECT_EQ(a.get("/api/databases?by=latency")->status, 200);

  // Pools: the same sockets as pm_wrapper_stats, and as the OS counts.
  auto pools = a.get("/api/pools");
  ASSERT_EQ(pools->status, 200);
  Json p(pools->body);
  cJSON *shared = cJSON_GetArrayItem(p["pools"], 0);
  EXPECT_STREQ(cJSON_GetObjectItem(shared, "name")->valuestring, "shared");
  int open = cJSON_GetObjectItem(cJSON_GetObjectItem(shared, "connections"), "open")->valueint;
  EXPECT_GE(open, 1);
  EXPECT_LE(open, count_sockets_to_port(server_port()));

  auto hist = a.get("/api/latency");
  ASSERT_EQ(hist->status, 200);
  Json h(hist->body);
  double total = 0;
  cJSON *b;
  cJSON_ArrayForEach(b, h["buckets"]) total += cJSON_GetObjectItem(b, "databases")->valuedouble;
  EXPECT_GE(total, 3);

  auto page = a.get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<title>polymongo dashboard</title>"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  // No external request: nothing is loaded from elsewhere (the SVG namespace is a name, not a request).
  EXPECT_FALSE(std::regex_search(page->body, std::regex(R"((src|href)\s*=\s*["']?(https?:)?//)")));
  EXPECT_FALSE(std::regex_search(page->body, std::regex(R"((fetch|EventSource)\(\s*["'`]https?:)")));
  EXPECT_EQ(page->body.find("url(http"), std::string::npos);
  EXPECT_EQ(page->body.find("@import"), std::string::npos);
}

TEST(Admin, ActionsNeedTheTokenAndNoneExistWithoutOne) {
  Admin a;
  ASSERT_TRUE(a.client);
  const std::vector<std::pair<std::string, std::string>> actions = {
      {"/api/pause", "{\"name\": \"nobody_db\"}"},
      {"/api/resume", "{\"name\": \"nobody_db\"}"},
      {"/api/drain", "{\"pool\": \"shared\", \"timeoutMS\": 1000}"},
      {"/api/explain", "{\"db\": \"nobody_db\"}"},
      {"/api/reload", "{\"routes\": []}"}};
  for (const auto &[path, body] : actions) {
    auto none = a.post(path, body, "");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << path;
    auto wrong = a.post(path, body, kToken + "x");
    EXPECT_EQ(wrong->status, 401) << path;
    auto prefix = a.post(path, body, kToken.substr(0, kToken.size() - 1));
    EXPECT_EQ(prefix->status, 401) << path;
  }
  EXPECT_TRUE(pmtest::wait_until([] { return true; }, 1));
  // Nothing happened: not paused.
  Json o(a.get("/api/overview")->body);
  EXPECT_EQ(cJSON_GetArraySize(o["paused"]), 0);
  for (const auto &[path, body] : actions) {
    auto ok = a.post(path, body);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << path << ": " << ok->body;
  }
  EXPECT_EQ(a.post("/api/pause", "not json")->status, 400);
  EXPECT_EQ(a.post("/api/pause", "{}")->status, 400);
  EXPECT_EQ(a.post("/api/drain", "{\"pool\": \"no_such_pool\"}")->status, 400);
  EXPECT_EQ(a.post("/api/explain", "{\"db\": \"bad/name\"}")->status, 400);
  EXPECT_EQ(a.post("/api/reload", "{\"routes\": [{\"nomatch\": 1}]}")->status, 400);
  EXPECT_EQ(a.post("/api/nothing", "{}")->status, 404);

  // Without a configured token, no action at all.
  Admin ro("", false);
  ASSERT_TRUE(ro.client);
  for (const auto &[path, body] : actions) {
    EXPECT_EQ(ro.post(path, body)->status, 403) << path;
    EXPECT_EQ(ro.post(path, body, "")->status, 403) << path;
  }
  Json ro_overview(ro.get("/api/overview")->body);
  EXPECT_FALSE(cJSON_IsTrue(ro_overview["actions"]));
  EXPECT_EQ(cJSON_GetArraySize(ro_overview["paused"]), 0);
}

TEST(Admin, CApiActions) {
  Wrapper w;
  w.w = new_wrapper("\"pauseTimeoutMS\": 300");
  pm_error err;
  EXPECT_EQ(pm_wrapper_pause(w.w, "x_db", &err), 1);
  EXPECT_EQ(pm_wrapper_pause(w.w, "x_db", &err), 0);
  EXPECT_EQ(pm_wrapper_resume(w.w, "x_db", &err), 1);
  EXPECT_EQ(pm_wrapper_resume(w.w, "x_db", &err), 0);
  EXPECT_EQ(pm_wrapper_pause(w.w, "", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_pause(nullptr, "x", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_drain_pool(w.w, "nope", 100, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_drain_pool(w.w, "shared", 1000, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_wrapper_reload_routes(w.w, "{}", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_reload_routes(w.w, "[{\"match\": \"cx_*\"}]", &err), PM_OK) << err.message;
  char *json = nullptr;
  EXPECT_EQ(pm_wrapper_explain_route(w.w, "cx_1", &json, &err), PM_OK);
  Json e(take(json));
  EXPECT_STREQ(e["reason"]->valuestring, "rule");

  // A paused database's operations time out after pauseTimeoutMS having written nothing.
  std::string db = unique_db("adm_pt");
  Model m;
  m.m = new_model(w.w, "items");
  Db d;
  d.d = bind_db(m.m, db);
  ASSERT_EQ(pm_wrapper_pause(w.w, db.c_str(), &err), 1);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"x\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETIMEOUT);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, slow(3000));
  EXPECT_NE(std::string(err.message).find("paused"), std::string::npos) << err.message;
  Checker c;
  EXPECT_EQ(c.count(db, "items"), 0);
  ASSERT_EQ(pm_wrapper_resume(w.w, db.c_str(), &err), 1);
  insert_n(d.d, 1);
  EXPECT_EQ(c.count(db, "items"), 1);
}

TEST(Admin, PauseThenResumeUnderLoadLosesNothingAndWaitsAreBounded) {
  Admin a("\"maxPoolSize\": 4, \"pauseTimeoutMS\": 20000");
  ASSERT_TRUE(a.client);
  Model m;
  m.m = new_model(a.w.w, "load");
  std::string paused_db = unique_db("adm_pause"), other_db = unique_db("adm_free");
  std::atomic<bool> stop{false};
  std::atomic<int> ok_paused{0}, ok_other{0}, failed{0};
  std::atomic<int64_t> max_wait_ms{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      const std::string &name = t % 2 == 0 ? paused_db : other_db;
      pm_db *d = nullptr;
      pm_error err;
      if (pm_model_db(m.m, name.c_str(), &d, &err) != PM_OK) {
        ++failed;
        return;
      }
      while (!stop) {
        auto s = std::chrono::steady_clock::now();
        int rc = pm_db_insert_one(d, "{\"x\": 1}", PM_JSON, nullptr, 0, nullptr, &err);
        int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - s).count();
        int64_t cur = max_wait_ms;
        while (ms > cur && !max_wait_ms.compare_exchange_weak(cur, ms)) {
        }
        if (rc != PM_OK) ++failed;
        else (t % 2 == 0 ? ok_paused : ok_other)++;
      }
      pm_db_free(d);
    });
  }
  ASSERT_TRUE(wait_until([&] { return ok_paused > 20 && ok_other > 20; }, 10000));
  auto r = a.post("/api/pause", "{\"name\": \"" + paused_db + "\"}");
  ASSERT_EQ(r->status, 200) << r->body;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // operations in flight finish
  int frozen = ok_paused;
  int other_before = ok_other;
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(ok_paused.load(), frozen) << "no operation on a paused database runs";
  EXPECT_GT(ok_other.load(), other_before) << "other databases keep going";
  Json o(a.get("/api/overview")->body);
  EXPECT_STREQ(cJSON_GetArrayItem(o["paused"], 0)->valuestring, paused_db.c_str());
  r = a.post("/api/resume", "{\"name\": \"" + paused_db + "\"}");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(wait_until([&] { return ok_paused > frozen + 20; }, 10000));
  stop = true;
  for (auto &t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LT(max_wait_ms.load(), slow(5000)) << "waits are bounded by the pause";
  Checker c;
  EXPECT_EQ(c.count(paused_db, "load"), ok_paused.load()) << "every operation that returned OK is there, none lost";
  EXPECT_EQ(c.count(other_db, "load"), ok_other.load());
  auto metrics = a.get("/metrics");
  EXPECT_EQ(metrics->body.find("polymongo_pause_waits_total 0"), std::string::npos);

  // A paused pool holds every database it serves.
  ASSERT_EQ(a.post("/api/pause", "{\"name\": \"shared\"}")->status, 200);
  std::atomic<bool> done{false};
  std::thread one([&] {
    Db d;
    d.d = bind_db(m.m, other_db);
    insert_n(d.d, 1);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(done.load());
  ASSERT_EQ(a.post("/api/resume", "{\"name\": \"shared\"}")->status, 200);
  one.join();
  EXPECT_TRUE(done.load());
}

TEST(Admin, ExplainRouteForExactRuleAndSharedCasesAndReload) {
  std::string exact = unique_db("adm_exact");
  Admin a("\"dbSpecific\": [{\"dbName\": \"" + exact + "\", \"mongoURI\": \"" + second_uri() +
          "\"}], \"routes\": [{\"match\": \"adm_rule_*\", \"sharedPool\": true}]");
  ASSERT_TRUE(a.client);
  pm_error err;
  auto explain = [&](const std::string &db) {
    char *json = nullptr;
    EXPECT_EQ(pm_wrapper_explain_route(a.w.w, db.c_str(), &json, &err), PM_OK) << err.message;
    std::string s = take(json);
    auto r = a.post("/api/explain", "{\"db\": \"" + db + "\"}");
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, s) << "the endpoint and the C API agree";
    return Json(s);
  };
  Json e = explain(exact);
  EXPECT_STREQ(e["reason"]->valuestring, "exact");
  EXPECT_STREQ(e["pool"]->valuestring, exact.c_str());
  EXPECT_EQ(std::string(e["cluster"]->valuestring).find(std::to_string(port_of(second_uri()))) != std::string::npos, true);

  Json r = explain("adm_rule_42");
  EXPECT_STREQ(r["reason"]->valuestring, "rule");
  EXPECT_STREQ(r["rule"]->valuestring, "adm_rule_*");
  EXPECT_EQ(r["ruleIndex"]->valueint, 0);
  EXPECT_TRUE(cJSON_IsTrue(r["sharedPool"]));
  EXPECT_STREQ(r["pool"]->valuestring, "adm_rule_*");

  Json s = explain("adm_other_1");
  EXPECT_STREQ(s["reason"]->valuestring, "shared");
  EXPECT_STREQ(s["pool"]->valuestring, "shared");
  EXPECT_TRUE(cJSON_IsNull(s["rule"]));

  // Reload: the old rule goes, a new one routes adm_other_* to a pool per database, operations
  // follow it, and the exact database keeps its own pool.
  Model m;
  m.m = new_model(a.w.w, "items");
  {
    Db d;
    d.d = bind_db(m.m, "adm_rule_42");
    insert_n(d.d, 1);
  }
  auto rel = a.post("/api/reload", "{\"routes\": [{\"match\": \"adm_other_*\", \"options\": {\"maxConnections\": 2}}]}");
  ASSERT_EQ(rel->status, 200) << rel->body;
  Json after_rule = explain("adm_rule_42");
  EXPECT_STREQ(after_rule["reason"]->valuestring, "shared");
  Json after_other = explain("adm_other_1");
  EXPECT_STREQ(after_other["reason"]->valuestring, "rule");
  EXPECT_STREQ(after_other["pool"]->valuestring, "adm_other_1");
  EXPECT_STREQ(explain(exact)["reason"]->valuestring, "exact");
  std::string other = unique_db("adm_other_");
  {
    Db d;
    d.d = bind_db(m.m, other);
    insert_n(d.d, 2);
  }
  Json pools(a.get("/api/pools")->body);
  bool found = false;
  cJSON *p;
  cJSON_ArrayForEach(p, pools["pools"]) {
    if (std::string(cJSON_GetObjectItem(p, "name")->valuestring) == other) {
      found = true;
      EXPECT_EQ(cJSON_GetObjectItem(p, "sizeLimit")->valueint, 2);
    }
  }
  EXPECT_TRUE(found) << "the database routed by the reloaded rule has its own pool";
  Checker c;
  EXPECT_EQ(c.count(other, "items"), 2);

  // The CLI says the same.
  int status = 0;
  std::string out = run_cli("--uri '" + server_uri() + "' explain-route adm_eu_7 --routes '[{\"match\": \"adm_eu_*\"}]'", &status);
  EXPECT_EQ(status, 0) << out;
  Json cli_json(out);
  ASSERT_NE(cli_json.root, nullptr) << out;
  EXPECT_STREQ(cli_json["reason"]->valuestring, "rule");
  EXPECT_STREQ(cli_json["rule"]->valuestring, "adm_eu_*");
}

TEST(Admin, SlowOperationLogAtZeroAndAtALargeThreshold) {
  std::string log = ::testing::TempDir() + "/pm_admin_slow_" + std::to_string(getpid());  // a directory
  std::string db = unique_db("adm_slow");
  {
    Admin a("\"slowOperationMS\": 0, \"logPath\": \"" + log + "\"");
    ASSERT_TRUE(a.client);
    Model m;
    m.m = new_model(a.w.w, "people");
    Db d;
    d.d = bind_db(m.m, db);
    insert_n(d.d, 2);
    pm_error err;
    pm_cursor *cur = nullptr;
    ASSERT_EQ(pm_db_find(d.d, "{\"email\": \"very-private@example.com\", \"age\": {\"$gt\": 987654321}}", PM_JSON, nullptr, 0,
                         &cur, &err), PM_OK) << err.message;
    pm_cursor_free(cur);
    Json slow(a.get("/api/slow")->body);
    EXPECT_EQ(slow["thresholdMS"]->valueint, 0);
    EXPECT_GE(slow["count"]->valueint, 3);
    cJSON *last = cJSON_GetArrayItem(slow["recent"], cJSON_GetArraySize(slow["recent"]) - 1);
    EXPECT_STREQ(cJSON_GetObjectItem(last, "kind")->valuestring, "find");
    EXPECT_STREQ(cJSON_GetObjectItem(last, "db")->valuestring, db.c_str());
    EXPECT_STREQ(cJSON_GetObjectItem(last, "collection")->valuestring, "people");
    char *shape = cJSON_PrintUnformatted(cJSON_GetObjectItem(last, "filter"));
    EXPECT_STREQ(shape, "{\"email\":\"?\",\"age\":{\"$gt\":\"?\"}}");
    cJSON_free(shape);
    EXPECT_GE(cJSON_GetObjectItem(last, "durationMs")->valuedouble, 0);
    auto metrics = a.get("/metrics")->body;
    EXPECT_EQ(metrics.find("polymongo_slow_operations_total 0\n"), std::string::npos);
    std::string body = a.get("/api/slow")->body + a.get("/api/events?max=500")->body;
    EXPECT_EQ(body.find("very-private"), std::string::npos);
    EXPECT_EQ(body.find("987654321"), std::string::npos);
  }
  std::ifstream in(log + "/polymongo.log");
  std::stringstream all;
  all << in.rdbuf();
  EXPECT_NE(all.str().find("slow operation: find on " + db + ".people"), std::string::npos) << all.str();
  EXPECT_NE(all.str().find("filter {\"email\":\"?\",\"age\":{\"$gt\":\"?\"}}"), std::string::npos);
  EXPECT_EQ(all.str().find("very-private"), std::string::npos);
  std::system(("rm -rf '" + log + "'").c_str());

  Admin big("\"slowOperationMS\": 600000");
  ASSERT_TRUE(big.client);
  Model m;
  m.m = new_model(big.w.w, "people");
  Db d;
  d.d = bind_db(m.m, db);
  insert_n(d.d, 5);
  Json slow(big.get("/api/slow")->body);
  EXPECT_EQ(slow["count"]->valueint, 0);
  EXPECT_EQ(cJSON_GetArraySize(slow["recent"]), 0);
  EXPECT_NE(big.get("/metrics")->body.find("polymongo_slow_operations_total 0\n"), std::string::npos);
}

TEST(Admin, LiveFeedDeliversEvents) {
  Admin a;
  ASSERT_TRUE(a.client);
  httplib::Client c(a.url);
  c.set_read_timeout(10, 0);
  std::string received;
  std::atomic<bool> got{false};
  std::thread reader([&] {
    c.Get("/api/events/stream", [&](const char *data, size_t len) {
      received.append(data, len);
      if (received.find("\"adm_feed_marker\"") != std::string::npos || received.find("adm_feed_marker") != std::string::npos) {
        got = true;
        return false;
      }
      return true;
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // A pause logs a warning, which is an event. Through the C API: one HTTP client thread at a
  // time here, since cpp-httplib's client shares std::regex internals that ThreadSanitizer,
  // blind inside the uninstrumented libcpp-httplib, reports as a race between two clients.
  pm_error err;
  ASSERT_EQ(pm_wrapper_pause(a.w.w, "adm_feed_marker", &err), 1);
  EXPECT_TRUE(wait_until([&] { return got.load(); }, 10000)) << received;
  reader.join();
  EXPECT_NE(received.find("data: {"), std::string::npos);
  EXPECT_NE(received.find("id: "), std::string::npos);
  Json events(a.get("/api/events?since=0&max=500")->body);
  EXPECT_GE(cJSON_GetArraySize(events["events"]), 1);
}

TEST(Admin, MalformedRequestsGet4xxAndNeverCrash) {
  Admin a;
  ASSERT_TRUE(a.client);
  EXPECT_EQ(a.get("/nothing/here")->status, 404);
  EXPECT_EQ(a.get("/api/events?since=abc")->status, 400);
  EXPECT_EQ(a.get("/api/databases?top=-1")->status, 400);
  EXPECT_EQ(a.get("/api/databases?by=nonsense")->status, 400);
  EXPECT_EQ(a.client->Put("/api/pause", "{}", "application/json")->status, 405);
  EXPECT_EQ(a.client->Delete("/metrics")->status, 405);
  EXPECT_EQ(a.post("/api/reload", std::string(2 << 20, 'x'))->status, 413);
  int port = std::stoi(a.url.substr(a.url.rfind(':') + 1));
  const std::vector<std::string> raw = {
      "GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", std::string("\0\0\0\xff\xfe", 5),
      "POST /api/pause HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\n\r\n",
      "POST /api/pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET /api/events?since=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n"};
  for (const std::string &req : raw) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(s, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
    timeval tv{5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)!write(s, req.data(), req.size());
    shutdown(s, SHUT_WR);
    char buf[256] = {};
    ssize_t n = read(s, buf, sizeof buf - 1);
    close(s);
    if (n > 0) {
      std::string status(buf, static_cast<size_t>(n));
      // An answer, when there is one, is a client error (or 200 for a lenient parse of a GET).
      EXPECT_TRUE(status.rfind("HTTP/1.1 4", 0) == 0 || status.rfind("HTTP/1.1 200", 0) == 0) << status;
    }
  }
  auto health = a.get("/healthz");
  ASSERT_TRUE(health) << "the endpoint still serves";
  EXPECT_EQ(health->status, 200);
}

TEST(Admin, NoCredentialsInAnyPageAnswerEventOrLog) {
  std::string uri = with_secret(server_uri());
  if (uri.find(kSecret) == std::string::npos) GTEST_SKIP() << "PM_TEST_URI carries no password of ours";
  std::string log = ::testing::TempDir() + "/pm_admin_secret_" + std::to_string(getpid());  // a directory
  std::string all;
  {
    Admin a("\"slowOperationMS\": 0, \"logPath\": \"" + log + "\", \"dbSpecific\": [{\"dbName\": \"adm_sec_own\", \"mongoURI\": \"" +
                with_secret(second_uri()) + "\"}]",
            true, uri);
    ASSERT_TRUE(a.client);
    Model m;
    m.m = new_model(a.w.w, "items");
    for (const char *name : {"adm_sec_own", "adm_sec_shared"}) {
      Db d;
      d.d = bind_db(m.m, name);
      insert_n(d.d, 1);
    }
    ASSERT_EQ(a.post("/api/drain", "{\"pool\": \"adm_sec_own\", \"timeoutMS\": 2000}")->status, 200);
    for (const char *path : {"/", "/metrics", "/healthz", "/readyz", "/api/overview", "/api/pools", "/api/databases",
                             "/api/latency", "/api/events?max=500", "/api/slow"}) {
      auto r = a.get(path);
      ASSERT_TRUE(r) << path;
      all += r->body;
    }
    for (const char *db : {"adm_sec_own", "adm_sec_shared"}) all += a.post("/api/explain", std::string("{\"db\": \"") + db + "\"}")->body;
    EXPECT_NE(all.find("pmuser:***@"), std::string::npos) << "the URIs are there, redacted";
  }
  std::ifstream in(log + "/polymongo.log");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty());
  all += text.str();
  EXPECT_EQ(all.find(kSecret), std::string::npos);
  std::system(("rm -rf '" + log + "'").c_str());
}

// `polymongo admin`: the same actions from the command line, against a running endpoint.
TEST(Admin, CliActionsNeedTheTokenAndActOnTheRunningWrapper) {
  Admin a;
  ASSERT_TRUE(a.client);
  std::string name = unique_db("adm_cli");
  int status = 0;
  std::string out = run_cli("admin pause " + name + " --url " + a.url + " 2>/dev/null", &status);
  EXPECT_NE(status, 0) << "no token: refused";
  EXPECT_EQ(cJSON_GetArraySize(Json(a.get("/api/overview")->body)["paused"]), 0) << "and nothing paused";
  out = run_cli("admin pause " + name + " --url " + a.url + " --token " + kToken, &status);
  EXPECT_EQ(status, 0) << out;
  Json paused(a.get("/api/overview")->body);
  ASSERT_EQ(cJSON_GetArraySize(paused["paused"]), 1);
  EXPECT_EQ(std::string(cJSON_GetArrayItem(paused["paused"], 0)->valuestring), name);
  // The token from the environment, as scripts pass it.
  out = run_cli("admin resume " + name + " --url " + a.url + " 2>&1", &status);
  EXPECT_NE(status, 0) << out;
  setenv("POLYMONGO_ADMIN_TOKEN", kToken.c_str(), 1);
  out = run_cli("admin resume " + name + " --url " + a.url, &status);
  unsetenv("POLYMONGO_ADMIN_TOKEN");
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(cJSON_GetArraySize(Json(a.get("/api/overview")->body)["paused"]), 0);
  out = run_cli("admin reload '[{\"match\": \"adm_cli_*\"}]' --url " + a.url + " --token " + kToken, &status);
  EXPECT_EQ(status, 0) << out;
  out = run_cli("admin explain " + name + " --url " + a.url + " --token " + kToken, &status);
  EXPECT_EQ(status, 0) << out;
  Json explained(out);
  EXPECT_EQ(std::string(explained["reason"]->valuestring), "rule") << out;
  out = run_cli("admin drain shared --timeout-ms 2000 --url " + a.url + " --token " + kToken, &status);
  EXPECT_EQ(status, 0) << out;
  run_cli("admin reload 'not json' --url " + a.url + " --token " + kToken + " 2>/dev/null", &status);
  EXPECT_NE(status, 0) << "invalid routes: refused before sending";
  run_cli("admin pause x --url http://127.0.0.1:1 --token t 2>/dev/null", &status);
  EXPECT_NE(status, 0) << "an unreachable endpoint is an error";
}

TEST(Admin, TopShowsTheBusiestTenantsOfARunningEndpoint) {
  Admin a;
  ASSERT_TRUE(a.client);
  Model m;
  m.m = new_model(a.w.w, "items");
  std::string busy = unique_db("adm_top_busy"), quiet = unique_db("adm_top_quiet");
  Db b, q;
  b.d = bind_db(m.m, busy);
  q.d = bind_db(m.m, quiet);
  insert_n(b.d, 7);
  insert_n(q.d, 2);
  int status = 0;
  std::string out = run_cli("top --once --url " + a.url, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("POOL"), std::string::npos) << out;
  EXPECT_NE(out.find("shared"), std::string::npos) << out;
  size_t at_busy = out.find(busy), at_quiet = out.find(quiet);
  ASSERT_NE(at_busy, std::string::npos) << out;
  ASSERT_NE(at_quiet, std::string::npos) << out;
  EXPECT_LT(at_busy, at_quiet) << "busiest first";
  std::regex row(busy + R"(\s+shared\s+7\s)");
  EXPECT_TRUE(std::regex_search(out, row)) << out;
  run_cli("top --once --url http://127.0.0.1:1 2>&1", &status);
  EXPECT_NE(status, 0) << "an unreachable endpoint is an error";
}
