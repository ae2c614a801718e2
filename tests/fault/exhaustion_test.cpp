// maxPoolSize 2, 64 threads, a checkout timeout: every call succeeds or times out, nothing
// deadlocks, and afterwards the pool is whole (no client leaked).
#include "support.hpp"

#include <atomic>
#include <thread>

using namespace pmtest;

TEST(Fault, PoolExhaustionSixtyFourThreadsTwoConnections) {
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + add_query(server_uri(), "waitQueueTimeoutMS=150") +
                     "\", \"defaultDB\": \"pm_default\", \"maxPoolSize\": 2}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "x");
  Db d;
  d.d = bind_db(m.m, unique_db("exhaust"));
  for (int i = 0; i < 3; ++i) insert_json(d.d, "{\"i\": 1}");
  int port = server_port();
  int base = count_sockets_to_port(port);

  std::atomic<int> ok{0}, timeouts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        pm_cursor *c = nullptr;
        pm_error e;
        int rc = pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c, &e);
        if (rc == PM_OK) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // hold the connection a while
          const uint8_t *data;
          size_t len;
          while ((rc = pm_cursor_next(c, &data, &len, &e)) == 1) {
          }
          pm_cursor_free(c);
        }
        if (rc == PM_OK) ++ok;
        else if (rc == PM_ETIMEOUT) ++timeouts;
        else ++other;
      }
    });
  }
  for (auto &th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load() + timeouts.load(), 640);
  EXPECT_GT(ok.load(), 0);
  std::cout << ok.load() << " succeeded, " << timeouts.load() << " timed out waiting for a connection\n";

  // Whole again: both connections can be held at once, and a third caller times out.
  Cursor a, b, c;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &a.c, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &b.c, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_ETIMEOUT);
  EXPECT_LE(count_sockets_to_port(port) - base, 2 + 2) << "maxPoolSize plus monitoring";
}
