// The shared pool: cold start, warm connections, bounded checkout, routing, failures.
#include "support.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

using namespace pmtest;

namespace {
std::string uri_with(const std::string &opts) {
  std::string uri = server_uri();
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + opts;
}
}  // namespace

TEST(Pool, ColdStartOpensNoSocketUntilFirstUse) {
  int port = server_port();
  int before = count_sockets_to_port(port);
  Wrapper w;
  w.w = new_wrapper("\"coldStart\": true, \"maxPoolSize\": 5");
  Model m;
  m.m = new_model(w.w, "cold");
  Db d;
  d.d = bind_db(m.m, unique_db("cold"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(count_sockets_to_port(port), before) << "no socket before the first operation";
  insert_json(d.d, "{\"a\": 1}");
  EXPECT_GT(count_sockets_to_port(port), before);
}

TEST(Pool, MinFreeConnectionsAreOpenedWarm) {
  int port = server_port();
  int before = count_sockets_to_port(port);
  Wrapper w;
  w.w = new_wrapper("\"coldStart\": false, \"maxPoolSize\": 6, \"minFreeConnections\": 4");
  int opened = count_sockets_to_port(port) - before;
  // 4 pooled connections plus libmongoc's monitoring connection(s) (1 or 2 per server).
  EXPECT_GE(opened, 4);
  EXPECT_LE(opened, 6);
  // They are reused: four concurrent-free sequential operations open nothing new.
  Model m;
  m.m = new_model(w.w, "warm");
  Db d;
  d.d = bind_db(m.m, unique_db("warm"));
  for (int i = 0; i < 20; ++i) insert_json(d.d, "{\"i\": " + std::to_string(i) + "}");
  EXPECT_EQ(count_sockets_to_port(port) - before, opened);
}

TEST(Pool, CheckoutWaitIsBoundedAndReportsTimeout) {
  Wrapper w;
  pm_error err;
  // Scaled: the waiter below must still be waiting when the releaser's killCursors is done.
  std::string json = "{\"mongoURI\": \"" + uri_with("waitQueueTimeoutMS=" + std::to_string(slow(250))) +
                     "\", \"maxPoolSize\": 1}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "bounded");
  Db d;
  d.d = bind_db(m.m, unique_db("bounded"));
  for (int i = 0; i < 5; ++i) insert_json(d.d, "{\"i\": 1}");
  Cursor held;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &held.c, &err), PM_OK);
  auto start = std::chrono::steady_clock::now();
  int64_t n;
  EXPECT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_ETIMEOUT);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(slow(250) - 50));
  EXPECT_EQ(err.code, PM_ETIMEOUT);
  // A waiter is served as soon as the holder lets go.
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pm_cursor_free(held.c);
    held.c = nullptr;
  });
  EXPECT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
  releaser.join();
  EXPECT_EQ(n, 5);
}

TEST(Pool, DedicatedDatabaseHasItsOwnPool) {
  std::string dedicated = unique_db("dedicated");
  std::string shared = unique_db("shared");
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + uri_with("waitQueueTimeoutMS=250") +
                     "\", \"maxPoolSize\": 1, \"dbSpecific\": [{\"dbName\": \"" + dedicated +
                     "\", \"options\": {\"maxConnections\": 2}}]}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "routed");
  Db s, d;
  s.d = bind_db(m.m, shared);
  d.d = bind_db(m.m, dedicated);
  for (int i = 0; i < 3; ++i) insert_json(s.d, "{\"i\": 1}");
  Cursor held;  // holds the shared pool's only connection
  ASSERT_EQ(pm_db_find(s.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &held.c, &err), PM_OK);
  EXPECT_EQ(pm_db_insert_one(s.d, "{\"i\": 2}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETIMEOUT);
  // The dedicated database is unaffected: its traffic goes through its own pool.
  insert_json(d.d, "{\"mine\": true}");
  Checker check;
  EXPECT_EQ(check.count(dedicated, "routed"), 1);
  EXPECT_EQ(check.count(shared, "routed"), 3);
}

TEST(Pool, UnreachableServerFailsWithConnectionErrorInBoundedTime) {
  Wrapper w;
  pm_error err;
  ASSERT_EQ(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&"
                           "connectTimeoutMS=300\", \"defaultDB\": \"x\"}", &w.w, &err),
            PM_OK);
  Model m;
  m.m = new_model(w.w, "nowhere");
  Db d;
  d.d = bind_db(m.m, "");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"a\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_ECONNECT);
  Cursor c;
  EXPECT_EQ(pm_db_find(d.d, nullptr, 0, nullptr, 0, &c.c, &err), PM_ECONNECT);
  EXPECT_EQ(c.c, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(slow(5000)));
  EXPECT_EQ(pm_last_error()->code, PM_ECONNECT);
}

TEST(Pool, HandlesMayBeFreedInAnyOrder) {
  pm_wrapper *w = new_wrapper();
  pm_model *m = new_model(w, "order");
  pm_db *d = bind_db(m, unique_db("order"));
  pm_wrapper_free(w);  // the model and db keep the wrapper alive
  pm_model_free(m);
  insert_json(d, "{\"still\": \"works\"}");
  int64_t n = 0;
  pm_error err;
  EXPECT_EQ(pm_db_count(d, nullptr, 0, nullptr, 0, &n, &err), PM_OK);
  EXPECT_EQ(n, 1);
  pm_db_free(d);
  pm_db_free(nullptr);
  pm_model_free(nullptr);
  pm_wrapper_free(nullptr);
  pm_result_free(nullptr);
  pm_buf_free(nullptr);
}

TEST(Pool, VersionIsReported) {
  // Three independent sources must agree: the library's runtime answers (pm_version,
  // pm_version_num), the header's macros, and CMakeLists.txt's project(VERSION), which
  // tests/CMakeLists.txt passes to this binary as PM_PROJECT_VERSION.
  const std::string runtime = pm_version();
  EXPECT_EQ(runtime, PM_PROJECT_VERSION) << "pm_version() differs from CMakeLists.txt's project(VERSION)";
  EXPECT_STREQ(PM_VERSION_STRING, PM_PROJECT_VERSION)
      << "include/polymongo/common.h's PM_VERSION_STRING differs from CMakeLists.txt's project(VERSION)";
  // The string is MAJOR.MINOR.PATCH, nothing more, and the number encodes the same three parts.
  int major = -1, minor = -1, patch = -1, used = 0;
  ASSERT_EQ(std::sscanf(runtime.c_str(), "%d.%d.%d%n", &major, &minor, &patch, &used), 3) << runtime;
  EXPECT_EQ(static_cast<size_t>(used), runtime.size()) << "trailing text in " << runtime;
  EXPECT_EQ(major, PM_VERSION_MAJOR);
  EXPECT_EQ(minor, PM_VERSION_MINOR);
  EXPECT_EQ(patch, PM_VERSION_PATCH);
  EXPECT_EQ(pm_version_num(), (major << 16) | (minor << 8) | patch);
  EXPECT_EQ(pm_version_num(), PM_VERSION_NUM);
  EXPECT_STREQ(pm_code_name(PM_EDBNAME), "PM_EDBNAME");
}
