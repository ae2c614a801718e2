// Statistics checked against ground truth: operations performed here, sockets counted from the
// OS, sizes and counts from the server's own dbStats/collStats/listDatabases.
#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <cjson/cJSON.h>
#include <fstream>
#include <thread>

using namespace pmtest;

namespace {

struct Json {
  cJSON *root = nullptr;
  explicit Json(char *text) {
    root = cJSON_Parse(text ? text : "");
    pm_free(text);
  }
  ~Json() { cJSON_Delete(root); }
};
cJSON *at(cJSON *o, const char *path) {
  std::string p(path);
  size_t start = 0;
  while (o && start <= p.size()) {
    size_t dot = p.find('.', start);
    std::string key = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    o = cJSON_GetObjectItemCaseSensitive(o, key.c_str());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return o;
}
double num(cJSON *o, const char *path) {
  cJSON *v = at(o, path);
  EXPECT_TRUE(cJSON_IsNumber(v)) << path;
  return v ? v->valuedouble : -1;
}
cJSON *pool_named(cJSON *stats, const std::string &name) {
  cJSON *p;
  cJSON_ArrayForEach(p, at(stats, "pools")) {
    if (std::string(at(p, "name")->valuestring) == name) return p;
  }
  return nullptr;
}
Json general(pm_wrapper *w) {
  char *json = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_stats(w, &json, &err), PM_OK) << err.message;
  return Json(json);
}
double server_number(Checker &c, const std::string &db, const std::string &cmd, const char *key) {
  std::string reply;
  EXPECT_TRUE(c.command_ok(db, cmd, &reply)) << reply;
  Json j(strdup(reply.c_str()));
  cJSON *v = at(j.root, key);
  if (cJSON_IsObject(v)) v = v->child;  // {"$numberLong": "..."} in relaxed JSON
  return v ? (cJSON_IsString(v) ? std::stod(v->valuestring) : v->valuedouble) : -1;
}

}  // namespace

TEST(Stats, GeneralStatisticsMatchOperationsAndSockets) {
  Wrapper w;
  w.w = new_wrapper("\"maxPoolSize\": 4");
  Model m;
  m.m = new_model(w.w, "g");
  std::vector<std::string> dbs = {unique_db("gen_a"), unique_db("gen_b"), unique_db("gen_c")};
  for (size_t i = 0; i < dbs.size(); ++i) {
    Db d;
    d.d = bind_db(m.m, dbs[i]);
    for (size_t k = 0; k <= i; ++k) insert_json(d.d, "{\"k\": 1}");
  }
  Json s = general(w.w);
  cJSON *shared = pool_named(s.root, "shared");
  ASSERT_NE(shared, nullptr);
  char *printed = cJSON_PrintUnformatted(at(s.root, "sharedDatabases"));
  std::string listed = printed;
  cJSON_free(printed);
  for (auto &d : dbs) EXPECT_NE(listed.find(d), std::string::npos) << "model traffic is listed: " << listed;
  EXPECT_EQ(num(shared, "connections.inUse"), 0);
  // Exactly the six inserts: each new connection's establishing ping is not the application's.
  EXPECT_EQ(num(shared, "responseTimeMs.commands"), 6) << "six inserts, from command monitoring";
  EXPECT_GT(num(shared, "responseTimeMs.p50"), 0);
  EXPECT_GE(num(shared, "responseTimeMs.p99"), num(shared, "responseTimeMs.p50"));
  EXPECT_STREQ(at(shared, "state")->valuestring, "connected");
  double open = num(shared, "connections.open");
  int sockets = count_sockets_to_port(server_port());
  EXPECT_GE(open, 1);
  EXPECT_LE(open, sockets) << "every pooled connection is a socket";
  EXPECT_LE(sockets, open + 2) << "plus at most libmongoc's monitoring";
  EXPECT_TRUE(cJSON_IsNumber(at(shared, "lastUsedMs")));
  EXPECT_EQ(num(s.root, "totals.openPools"), 1);
}

TEST(Stats, InUseWaitingAndPinnedCursorsAreCounted) {
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + add_query(server_uri(), "waitQueueTimeoutMS=3000") +
                     "\", \"defaultDB\": \"pm_default\", \"maxPoolSize\": 2}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK);
  Model m;
  m.m = new_model(w.w, "p");
  Db d;
  d.d = bind_db(m.m, unique_db("pinned"));
  for (int i = 0; i < 3; ++i) insert_json(d.d, "{}");
  Cursor a, b;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &a.c, &err), PM_OK);
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &b.c, &err), PM_OK);
  std::thread waiter([&] {
    int64_t n;
    pm_error e;
    EXPECT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &e), PM_OK);
  });
  EXPECT_TRUE(wait_until([&] { return num(pool_named(general(w.w).root, "shared"), "connections.waiting") == 1; }, 2000));
  Json s = general(w.w);
  cJSON *shared = pool_named(s.root, "shared");
  EXPECT_EQ(num(shared, "connections.inUse"), 2);
  EXPECT_EQ(num(shared, "pinned.cursors"), 2);
  EXPECT_EQ(num(shared, "connections.idle"), 0);
  pm_cursor_free(a.c);
  a.c = nullptr;
  waiter.join();
  pm_cursor_free(b.c);
  b.c = nullptr;
  Json after = general(w.w);
  EXPECT_EQ(num(pool_named(after.root, "shared"), "pinned.cursors"), 0);
  EXPECT_EQ(num(pool_named(after.root, "shared"), "connections.waiting"), 0);
}

TEST(Stats, DatabaseStatisticsMatchTheServer) {
  Wrapper w;
  w.w = new_wrapper();
  std::string name = unique_db("dbstats");
  Model users, orders;
  users.m = new_model(w.w, "users", "{\"indexes\": [{\"key\": {\"email\": 1}}]}");
  orders.m = new_model(w.w, "orders");
  Db u, o;
  u.d = bind_db(users.m, name);
  o.d = bind_db(orders.m, name);
  for (int i = 0; i < 7; ++i) insert_json(u.d, "{\"email\": \"u" + std::to_string(i) + "\", \"pad\": \"" + std::string(200, 'x') + "\"}");
  for (int i = 0; i < 3; ++i) insert_json(o.d, "{\"n\": " + std::to_string(i) + "}");
  char *json = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_db_stats(w.w, name.c_str(), &json, &err), PM_OK) << err.message;
  Json s(json);
  Checker check;
  EXPECT_EQ(num(s.root, "numCollections"), 2);
  EXPECT_NEAR(num(s.root, "sizeMb"), server_number(check, name, "{\"dbStats\": 1}", "dataSize") / 1048576.0, 0.001);
  cJSON *c;
  int seen = 0;
  cJSON_ArrayForEach(c, at(s.root, "collections")) {
    std::string coll = at(c, "name")->valuestring;
    std::string cmd = "{\"collStats\": \"" + coll + "\"}";
    EXPECT_EQ(num(c, "documents"), server_number(check, name, cmd, "count")) << coll;
    EXPECT_EQ(num(c, "indexes"), server_number(check, name, cmd, "nindexes")) << coll;
    EXPECT_NEAR(num(c, "sizeMb"), server_number(check, name, cmd, "size") / 1048576.0, 0.001) << coll;
    if (coll == "users") {
      EXPECT_EQ(num(c, "documents"), 7);
      EXPECT_EQ(num(c, "indexes"), 2);
    }
    if (coll == "orders") {
      EXPECT_EQ(num(c, "documents"), 3);
    }
    ++seen;
  }
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(cJSON_IsNumber(at(s.root, "lastUsedMs")));
  EXPECT_STREQ(at(s.root, "pool.name")->valuestring, "shared");
}

TEST(Stats, DatabaseStatisticsWorkOnAColdWrapper) {
  std::string name = unique_db("coldstats");
  {
    Wrapper seed;
    seed.w = new_wrapper();
    Model m;
    m.m = new_model(seed.w, "c");
    Db d;
    d.d = bind_db(m.m, name);
    insert_json(d.d, "{}");
  }
  Wrapper cold;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"coldStart\": true}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &cold.w, &err), PM_OK);
  EXPECT_EQ(pm_wrapper_state(cold.w), PM_STATE_NOT_INITIALIZED);
  char *out = nullptr;
  ASSERT_EQ(pm_wrapper_db_stats(cold.w, name.c_str(), &out, &err), PM_OK) << err.message;
  std::string text = out;
  Json s(out);
  EXPECT_EQ(num(s.root, "numCollections"), 1);
  EXPECT_EQ(text.find(kSecret), std::string::npos) << "the pool's URI is redacted";
  EXPECT_EQ(pm_wrapper_db_stats(cold.w, "bad.name", &out, &err), PM_EDBNAME);
}

TEST(Stats, ListDatabasesMatchesTheServer) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "l");
  std::string name = unique_db("listed");
  Db d;
  d.d = bind_db(m.m, name);
  insert_json(d.d, "{}");
  char *json = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_list_databases(w.w, &json, &err), PM_OK) << err.message;
  Json s(json);
  Checker check;
  std::string reply;
  ASSERT_TRUE(check.command_ok("admin", "{\"listDatabases\": 1}", &reply));
  Json server(strdup(reply.c_str()));
  // Other tests create and drop databases concurrently: ours must be on the server's list taken
  // just after, with the same size.
  auto server_entry = [&](const std::string &db) -> cJSON * {
    cJSON *e;
    cJSON_ArrayForEach(e, at(server.root, "databases")) {
      if (db == at(e, "name")->valuestring) return e;
    }
    return nullptr;
  };
  bool found = false;
  cJSON *e;
  cJSON_ArrayForEach(e, s.root) {
    if (std::string(at(e, "name")->valuestring) != name) continue;
    cJSON *theirs = server_entry(name);
    EXPECT_NE(theirs, nullptr) << name;
    found = true;
    EXPECT_GT(num(e, "sizeMb"), 0);
    EXPECT_FALSE(cJSON_IsTrue(at(e, "empty")));
    if (theirs) {
      EXPECT_NEAR(num(e, "sizeMb"), num(theirs, "sizeOnDisk") / 1048576.0, 0.01);
    }
  }
  EXPECT_TRUE(found) << name;
}

TEST(Stats, UsageAnalyticsCountOperationsAndErrorsAndRankTopN) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "u", "{\"indexes\": [{\"key\": {\"k\": 1}, \"unique\": true}]}");
  std::string busy = unique_db("busy"), mid = unique_db("mid"), quiet = unique_db("quiet");
  auto ops = [&](const std::string &db, int n) {
    Db d;
    d.d = bind_db(m.m, db);
    for (int i = 0; i < n; ++i) insert_json(d.d, "{\"k\": " + std::to_string(i) + "}");
  };
  ops(busy, 5);
  ops(mid, 3);
  ops(quiet, 1);
  Db q;
  q.d = bind_db(m.m, quiet);
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(q.d, "{\"k\": 0}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);
  char *json = nullptr;
  ASSERT_EQ(pm_wrapper_usage(w.w, 2, &json, &err), PM_OK);
  Json top(json);
  ASSERT_EQ(cJSON_GetArraySize(top.root), 2);
  EXPECT_EQ(std::string(at(cJSON_GetArrayItem(top.root, 0), "db")->valuestring), busy);
  EXPECT_EQ(num(cJSON_GetArrayItem(top.root, 0), "operations"), 5);
  EXPECT_EQ(std::string(at(cJSON_GetArrayItem(top.root, 1), "db")->valuestring), mid);
  ASSERT_EQ(pm_wrapper_usage(w.w, 0, &json, &err), PM_OK);
  Json all(json);
  cJSON *e;
  cJSON_ArrayForEach(e, all.root) {
    if (std::string(at(e, "db")->valuestring) != quiet) continue;
    EXPECT_EQ(num(e, "operations"), 2);
    EXPECT_EQ(num(e, "errors"), 1) << "the duplicate key";
    EXPECT_GT(num(e, "meanLatencyMs"), 0);
  }
}

TEST(Stats, PrometheusTextParsesWithThePythonParser) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "p");
  std::string name = unique_db("prom");
  Db d;
  d.d = bind_db(m.m, name);
  for (int i = 0; i < 4; ++i) insert_json(d.d, "{}");
  char *text = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_prometheus(w.w, &text, &err), PM_OK);
  std::string path = "/tmp/" + unique_db("prom") + ".txt";
  {
    std::ofstream f(path);
    f << text;
  }
  pm_free(text);
  std::string script =
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
      "ops = [s.value for s in fams['polymongo_database_operations'].samples if s.labels.get('db') == sys.argv[2]]\n"
      "assert ops == [4.0], ops\n"
      "inuse = [s for s in fams['polymongo_pool_connections_in_use'].samples if s.labels['pool'] == 'shared']\n"
      "assert inuse[0].value == 0, inuse\n"
      "assert fams['polymongo_pool_command_duration_seconds'].type == 'summary'\n"
      "count = [s.value for s in fams['polymongo_pool_command_duration_seconds'].samples if s.name.endswith('_count')]\n"
      "assert count[0] >= 4, count\n"
      "print('parsed', len(fams), 'metric families')\n";
  std::string py = path + ".py";
  {
    std::ofstream f(py);
    f << script;
  }
  int rc = std::system((std::string(PM_PYTHON) + " " + py + " " + path + " " + name).c_str());
  EXPECT_EQ(rc, 0) << "the Python Prometheus parser rejected or contradicted the text";
}

TEST(Stats, DynamicSizingGrowsUnderLoadAndShrinksAfter) {
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + add_query(server_uri(), "waitQueueTimeoutMS=5000") +
                     "\", \"defaultDB\": \"pm_default\", \"maxPoolSize\": 1, \"poolSizing\": {\"min\": 1, \"max\": 8,"
                     " \"scaleUpAt\": 0.8, \"scaleDownAt\": 0.3, \"intervalMS\": 100}}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_POOL_RESIZED);
  Model m;
  m.m = new_model(w.w, "z");
  Db d;
  d.d = bind_db(m.m, unique_db("sizing"));
  for (int i = 0; i < 3; ++i) insert_json(d.d, "{}");
  // The ramp: 8 threads each holding a connection (an open cursor) for 30 ms, for 1.5 s.
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 8; ++t)
    load.emplace_back([&] {
      while (!stop) {
        pm_cursor *c = nullptr;
        pm_error e;
        if (pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c, &e) == PM_OK)
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
        pm_cursor_free(c);
      }
    });
  EXPECT_TRUE(wait_until([&] { return num(pool_named(general(w.w).root, "shared"), "sizeLimit") >= 4; }, 10000));
  stop = true;
  for (auto &t : load) t.join();
  double grown = num(pool_named(general(w.w).root, "shared"), "sizeLimit");
  EXPECT_GE(grown, 4);
  EXPECT_TRUE(wait_until([&] { return num(pool_named(general(w.w).root, "shared"), "sizeLimit") == 1; }, 10000))
      << "shrinks back to min when idle";
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  EXPECT_GE(rec.count(PM_EVENT_POOL_RESIZED, "*", "up"), 2u);
  EXPECT_GE(rec.count(PM_EVENT_POOL_RESIZED, "*", "down"), 1u);
  auto events = rec.events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().reason, "down");
  EXPECT_EQ(events.back().code, 1) << "the event carries the new limit";
  EXPECT_LE(count_sockets_to_port(server_port()), 8 + 2 + 2) << "never beyond max (+ monitoring)";
}

TEST(Stats, WarmUpOpensAndVerifiesTheMinimumBeforeReady) {
  int port = server_port();
  int before = count_sockets_to_port(port);
  Wrapper warm, cold;
  warm.w = new_wrapper("\"coldStart\": false, \"maxPoolSize\": 5, \"minFreeConnections\": 3");
  Json s = general(warm.w);
  cJSON *shared = pool_named(s.root, "shared");
  EXPECT_TRUE(cJSON_IsTrue(at(shared, "ready")));
  EXPECT_EQ(num(shared, "connections.open"), 3);
  EXPECT_GE(num(shared, "responseTimeMs.commands"), 3) << "each verified with a ping";
  EXPECT_GE(count_sockets_to_port(port) - before, 3);
  cold.w = new_wrapper("\"coldStart\": true, \"minFreeConnections\": 2");
  Json c = general(cold.w);
  EXPECT_FALSE(cJSON_IsTrue(at(pool_named(c.root, "shared"), "ready")));
  EXPECT_EQ(num(pool_named(c.root, "shared"), "connections.open"), 0);
}

TEST(Stats, ErrorsAndLastErrorAreRecordedWithoutCredentials) {
  Wrapper w;
  w.w = new_wrapper();
  std::string down = "{\"mongoURI\": \"mongodb://pmuser:" + std::string(kSecret) +
                     "@127.0.0.1:1/?serverSelectionTimeoutMS=200&authMechanism=PLAIN\"}";
  const char *names[] = {"err_db"};
  pm_error err;
  EXPECT_EQ(pm_wrapper_connect_db(w.w, names, 1, down.c_str(), &err), PM_ECONNECT);
  char *json = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &json, &err), PM_OK);
  std::string text = json;
  Json s(json);
  cJSON *p = pool_named(s.root, "err_db");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(num(p, "errors"), 1);
  EXPECT_TRUE(cJSON_IsString(at(p, "lastError")));
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  EXPECT_NE(text.find("pmuser:***@"), std::string::npos);
  char *prom = nullptr;
  ASSERT_EQ(pm_wrapper_prometheus(w.w, &prom, &err), PM_OK);
  EXPECT_EQ(std::string(prom).find(kSecret), std::string::npos);
  pm_free(prom);
}

// A wrapper whose connect events are recorded, and a model of collection "u" on it.
struct RecordingConnects {
  Wrapper w;
  Recorder rec;
  Model m;
  RecordingConnects() {
    w.w = new_wrapper();
    rec.subscribe(w.w, PM_EVENT_CONNECT);
    m.m = new_model(w.w, "u");
  }
};

// Operations from many threads record into the sharded usage table (usage.hpp): whatever the
// interleaving, a reader sees every finished operation, and each database connects once per
// pool opening.
TEST(Stats, UsageFromManyThreadsIsExactAndEachDatabaseConnectsOnce) {
  RecordingConnects setup;
  Wrapper &w = setup.w;
  Recorder &rec = setup.rec;
  Model &m = setup.m;
  constexpr int kThreads = 6, kDbs = 40, kRounds = 5;  // 1,200 operations: many log merges
  std::vector<std::string> dbs;
  for (int i = 0; i < kDbs; ++i) dbs.push_back(unique_db("many"));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r)
        for (int i = 0; i < kDbs; ++i) {
          Db d;
          d.d = bind_db(m.m, dbs[static_cast<size_t>((i + t) % kDbs)]);
          pm_error err;
          std::string doc = "{\"t\": " + std::to_string(t) + "}";
          if (pm_db_insert_one(d.d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &err) != PM_OK) ++failures;
        }
    });
  }
  for (auto &th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  char *json = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_usage(w.w, 0, &json, &err), PM_OK) << err.message;
  Json all(json);
  int seen = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, all.root) {
    std::string db = at(e, "db")->valuestring;
    if (std::find(dbs.begin(), dbs.end(), db) == dbs.end()) continue;
    ++seen;
    EXPECT_EQ(num(e, "operations"), kThreads * kRounds) << db;
    EXPECT_EQ(num(e, "errors"), 0) << db;
    EXPECT_GT(num(e, "lastUsedMs"), 0) << db;
  }
  EXPECT_EQ(seen, kDbs);
  Checker c;
  for (const std::string &db : dbs) EXPECT_EQ(c.count(db, "u"), kThreads * kRounds) << db;
  Json s = general(w.w);
  int listed = 0;
  cJSON *name;
  cJSON_ArrayForEach(name, at(pool_named(s.root, "shared"), "databases")) {
    listed += std::find(dbs.begin(), dbs.end(), name->valuestring) != dbs.end();
  }
  EXPECT_EQ(listed, kDbs) << "the shared pool lists every database it served";
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 10000, &err), PM_OK) << err.message;
  for (const std::string &db : dbs) EXPECT_EQ(rec.count(PM_EVENT_CONNECT, db), 1u) << db;
}

// A database that moves from the shared pool to its own (set_db at run time) is listed by both
// pools, counted once per operation, and connects once in each.
TEST(Stats, ADatabaseMovedToItsOwnPoolIsListedByBothAndConnectsInEach) {
  RecordingConnects setup;
  Wrapper &w = setup.w;
  Recorder &rec = setup.rec;
  Model &m = setup.m;
  std::string moved = unique_db("moved");
  {
    Db d;
    d.d = bind_db(m.m, moved);
    insert_json(d.d, "{\"n\": 1}");
    insert_json(d.d, "{\"n\": 2}");
  }
  const char *names[] = {moved.c_str()};
  pm_error err;
  std::string spec = "{\"mongoURI\": \"" + server_uri() + "\", \"maxConnections\": 2}";
  ASSERT_EQ(pm_wrapper_set_db(w.w, names, 1, spec.c_str(), &err), PM_OK) << err.message;
  {
    Db d;
    d.d = bind_db(m.m, moved);
    insert_json(d.d, "{\"n\": 3}");
  }
  Json s = general(w.w);
  for (const char *pool : {"shared", moved.c_str()}) {
    cJSON *p = pool_named(s.root, pool);
    ASSERT_NE(p, nullptr) << pool;
    bool listed = false;
    cJSON *name;
    cJSON_ArrayForEach(name, at(p, "databases")) listed = listed || moved == name->valuestring;
    EXPECT_TRUE(listed) << "pool " << pool << " served " << moved;
  }

  char *json = nullptr;
  ASSERT_EQ(pm_wrapper_usage(w.w, 0, &json, &err), PM_OK) << err.message;
  Json all(json);
  cJSON *e;
  int seen = 0;
  cJSON_ArrayForEach(e, all.root) {
    if (moved != at(e, "db")->valuestring) continue;
    ++seen;
    EXPECT_EQ(num(e, "operations"), 3);
  }
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(Checker().count(moved, "u"), 3);
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 10000, &err), PM_OK) << err.message;
  auto events = rec.events();
  std::vector<std::string> pools;
  for (const auto &ev : events)
    if (ev.db == moved) pools.push_back(ev.pool);
  EXPECT_EQ(pools, (std::vector<std::string>{"shared", moved})) << "one connect in each pool, in order";
}

TEST(Stats, ServerRefusalsAreCountedApartFromPoolErrors) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "dupes", "{\"indexes\": [{\"key\": {\"k\": 1}, \"unique\": true}]}");
  Db d;
  d.d = bind_db(m.m, unique_db("stats_dup"));
  insert_json(d.d, "{\"k\": 1}");
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"k\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"k\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);
  // Read back independently: one document, so both refusals really happened on the server.
  EXPECT_EQ(Checker().count(pm_db_name(d.d), "dupes"), 1);
  {
    Json s = general(w.w);
    cJSON *shared = pool_named(s.root, "shared");
    ASSERT_NE(shared, nullptr);
    EXPECT_EQ(num(shared, "errors"), 0) << "a duplicate key is not a pool error";
    EXPECT_TRUE(cJSON_IsNull(at(shared, "lastError")));
    EXPECT_EQ(num(shared, "serverErrors"), 2);
    cJSON *last = at(shared, "lastServerError");
    ASSERT_TRUE(cJSON_IsString(last));
    EXPECT_NE(std::string(last->valuestring).find("E11000"), std::string::npos) << last->valuestring;
    EXPECT_EQ(num(s.root, "totals.errors"), 0);
    EXPECT_EQ(num(s.root, "totals.serverErrors"), 2);
  }
  char *prom = nullptr;
  ASSERT_EQ(pm_wrapper_prometheus(w.w, &prom, &err), PM_OK);
  std::string text = prom;
  pm_free(prom);
  EXPECT_NE(text.find("polymongo_pool_errors_total{pool=\"shared\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE polymongo_pool_server_errors_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("polymongo_pool_server_errors_total{pool=\"shared\"} 2\n"), std::string::npos) << text;

  // A connection failure is the pool's error, and not the server's.
  const char *names[] = {"stats_down_db"};
  EXPECT_EQ(pm_wrapper_connect_db(w.w, names, 1,
                                  "{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200\"}", &err),
            PM_ECONNECT);
  Json s = general(w.w);
  cJSON *down = pool_named(s.root, "stats_down_db");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(num(down, "errors"), 1);
  EXPECT_TRUE(cJSON_IsString(at(down, "lastError")));
  EXPECT_EQ(num(down, "serverErrors"), 0);
  EXPECT_EQ(num(s.root, "totals.errors"), 1);
  EXPECT_EQ(num(s.root, "totals.serverErrors"), 2);
}

// Tenant churn: every per-database table (the router's routed names, the usage table, a
// model's set-up databases) stays at maxTrackedDatabases however many names go through, the
// figures of the databases forgotten are kept as aggregates so that totals still add up, and a
// forgotten database comes back to the same routing and the same setup.
TEST(Stats, PerDatabaseTablesStayAtTheCapAndForgottenDatabasesComeBackTheSame) {
  const int cap = 16;
  std::string prefix = unique_db("churn");
  std::string eu = prefix + "_eu_0";
  Wrapper w;
  w.w = new_wrapper("\"maxTrackedDatabases\": 16, \"routes\": [{\"match\": \"" + prefix +
                    "_eu_*\", \"mongoURI\": \"" + second_uri() + "\", \"sharedPool\": true}]");
  Model plain, indexed;
  plain.m = new_model(w.w, "t");
  indexed.m = new_model(w.w, "ix", "{\"indexes\": [{\"key\": {\"k\": 1}}]}");
  Checker main_cluster, second_cluster(second_uri());
  pm_error err;
  uint64_t operations = 0;
  auto touch = [&](pm_model *m, const std::string &name) {  // one operation, creating nothing
    Db d;
    d.d = bind_db(m, name);
    int64_t n = -1;
    ASSERT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
    ++operations;
  };
  auto insert = [&](pm_model *m, const std::string &name) {
    Db d;
    d.d = bind_db(m, name);
    insert_json(d.d, "{\"k\": 1}");
    ++operations;
  };

  // The routed database, and a model's setup in one database, before the churn.
  insert(plain.m, eu);
  ASSERT_EQ(second_cluster.count(eu, "t"), 1);
  ASSERT_EQ(main_cluster.count(eu, "t"), 0);
  std::string x = prefix + "_x";
  insert(indexed.m, x);
  std::string reply;
  ASSERT_TRUE(main_cluster.command_ok(x, "{\"listIndexes\": \"ix\"}", &reply));
  ASSERT_NE(reply.find("k_1"), std::string::npos) << reply;
  ASSERT_TRUE(main_cluster.command_ok(x, "{\"dropIndexes\": \"ix\", \"index\": \"k_1\"}", &reply)) << reply;
  insert(indexed.m, x);  // remembered as set up: the index stays dropped
  ASSERT_TRUE(main_cluster.command_ok(x, "{\"listIndexes\": \"ix\"}", &reply));
  ASSERT_EQ(reply.find("k_1"), std::string::npos) << "the setup is cached, or this test proves nothing: " << reply;

  // The churn: 6 times the cap in names, and 2 times the cap in databases the indexed model
  // sets up (those are created on the server).
  for (int i = 0; i < 6 * cap; ++i) touch(plain.m, prefix + "_n" + std::to_string(i));
  for (int i = 0; i < 2 * cap; ++i) insert(indexed.m, prefix + "_s" + std::to_string(i));

  {
    Json s = general(w.w);
    EXPECT_EQ(num(s.root, "databaseTables.maxTracked"), cap);
    EXPECT_LE(num(s.root, "databaseTables.routed"), cap);
    EXPECT_GE(num(s.root, "databaseTables.routedForgotten"), 6 * cap - cap);
    EXPECT_LE(num(s.root, "databaseTables.usage"), cap);
    EXPECT_GT(num(s.root, "databaseTables.usage"), 0);
    EXPECT_LE(num(s.root, "databaseTables.modelsReady"), cap);
    EXPECT_GE(num(s.root, "databaseTables.modelsReady"), 1);
    double forgotten = num(s.root, "databaseTables.usageForgotten.databases");
    EXPECT_GE(forgotten, 2 + 8 * cap - cap);
    // Per-database operations plus the forgotten ones' aggregate: every operation done here.
    char *usage_json = nullptr;
    ASSERT_EQ(pm_wrapper_usage(w.w, 0, &usage_json, &err), PM_OK) << err.message;
    Json usage(usage_json);
    double listed = 0;
    int entries = 0;
    cJSON *u;
    cJSON_ArrayForEach(u, usage.root) {
      listed += num(u, "operations");
      ++entries;
      EXPECT_NE(std::string(at(u, "db")->valuestring), eu) << "the least recently used is forgotten first";
    }
    EXPECT_EQ(entries, num(s.root, "databaseTables.usage"));
    EXPECT_EQ(listed + num(s.root, "databaseTables.usageForgotten.operations"), static_cast<double>(operations));
    EXPECT_EQ(num(s.root, "databaseTables.usageForgotten.errors"), 0);
  }
  {  // Prometheus: summing the per-database counter over db still counts every operation.
    char *prom = nullptr;
    ASSERT_EQ(pm_wrapper_prometheus(w.w, &prom, &err), PM_OK) << err.message;
    std::string text = prom;
    pm_free(prom);
    double sum = 0;
    size_t at_line = 0;
    const std::string metric = "polymongo_database_operations_total{";
    while ((at_line = text.find("\n" + metric, at_line)) != std::string::npos) {
      size_t end = text.find('\n', at_line + 1);
      std::string line = text.substr(at_line + 1, end - at_line - 1);
      sum += std::stod(line.substr(line.rfind(' ') + 1));
      at_line = end;
    }
    EXPECT_EQ(sum, static_cast<double>(operations)) << text;
    EXPECT_NE(text.find("polymongo_database_operations_total{db=\"\"} "), std::string::npos) << text;
    EXPECT_NE(text.find("polymongo_databases_tracked "), std::string::npos) << text;
  }

  // Forgotten by the router: matched against the rules again, so the second cluster again.
  insert(plain.m, eu);
  EXPECT_EQ(second_cluster.count(eu, "t"), 2);
  EXPECT_EQ(main_cluster.count(eu, "t"), 0);
  // Forgotten by the model: set up again on its next use, so the dropped index is back.
  insert(indexed.m, x);
  ASSERT_TRUE(main_cluster.command_ok(x, "{\"listIndexes\": \"ix\"}", &reply));
  EXPECT_NE(reply.find("k_1"), std::string::npos) << reply;

  // The databases made here.
  for (int i = 0; i < 2 * cap; ++i)
    main_cluster.command_ok(prefix + "_s" + std::to_string(i), "{\"dropDatabase\": 1}");
  main_cluster.command_ok(x, "{\"dropDatabase\": 1}");
  second_cluster.command_ok(eu, "{\"dropDatabase\": 1}");
}
