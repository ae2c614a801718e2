// TTL auto-close (reset by every operation, held off by pinned pools, reopened on next use)
// and the cap on open pools (least recently used idle pool evicted; pinned ones never).
#include "support.hpp"

#include <thread>

using namespace pmtest;

namespace {

struct Ttl : ::testing::Test {
  Wrapper w;
  Model m;
  Recorder rec;
  int port2 = port_of(second_uri());
  int base = 0;
  void make(const std::string &extra = "") {
    pm_error err;
    std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"defaultDB\": \"pm_default\"" +
                       (extra.empty() ? "" : ", " + extra) + "}";
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    m.m = new_model(w.w, "rows");
    rec.subscribe(w.w, PM_EVENT_POOL_OPENED | PM_EVENT_POOL_CLOSED | PM_EVENT_DISCONNECT);
    base = count_sockets_to_port(port2);
  }
  // A dedicated pool on the second server that closes after `ttl_ms` unused. Callers scale
  // short TTLs with slow(): the time between two operations must stay well below them.
  void dedicate(const std::string &db, int ttl_ms) {
    std::string spec = "{\"mongoURI\": \"" + with_secret(second_uri()) +
                       "\", \"maxConnections\": 2, \"autoClose\": true, \"ttl\": " + std::to_string(ttl_ms) + "}";
    const char *names[] = {db.c_str()};
    pm_error err;
    ASSERT_EQ(pm_wrapper_set_db(w.w, names, 1, spec.c_str(), &err), PM_OK) << err.message;
  }
  void use(const std::string &db) {
    Db d;
    d.d = bind_db(m.m, db);
    insert_json(d.d, "{\"t\": 1}");
  }
  int sockets() { return count_sockets_to_port(port2) - base; }
  void flush() {
    pm_error err;
    ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  }
};

}  // namespace

TEST_F(Ttl, IdlePoolClosesAfterTtlAndReopensTransparently) {
  make();
  std::string db = unique_db("ttl");
  dedicate(db, slow(300));
  use(db);
  EXPECT_GT(sockets(), 0);
  EXPECT_TRUE(wait_until([&] { return sockets() == 0; }, 5000)) << "closed after the TTL: sockets released";
  flush();
  EXPECT_EQ(rec.count(PM_EVENT_POOL_CLOSED, "", "ttl"), 1u);
  EXPECT_EQ(rec.count(PM_EVENT_DISCONNECT, db, "ttl"), 1u);
  use(db);  // reopens
  EXPECT_GT(sockets(), 0);
  flush();
  EXPECT_EQ(rec.count(PM_EVENT_POOL_OPENED), 2u);
  EXPECT_EQ(Checker(second_uri()).count(db, "rows"), 2);
}

TEST_F(Ttl, EveryOperationResetsTheTimer) {
  make();
  std::string db = unique_db("ttl_reset");
  dedicate(db, slow(600));
  // Operations every 100 ms for 1.5 s (scaled like the TTL): more than twice the TTL in total,
  // never 600 ms apart.
  for (int i = 0; i < 15; ++i) {
    use(db);
    std::this_thread::sleep_for(std::chrono::milliseconds(slow(100)));
  }
  flush();
  EXPECT_EQ(rec.count(PM_EVENT_POOL_CLOSED), 0u) << "each operation reset the TTL";
  EXPECT_EQ(rec.count(PM_EVENT_POOL_OPENED), 1u);
  EXPECT_TRUE(wait_until([&] { return sockets() == 0; }, 5000));
}

TEST_F(Ttl, PoolPinnedByCursorIsNotClosedUntilUnpinned) {
  make();
  std::string db = unique_db("ttl_pin");
  dedicate(db, slow(200));
  Db d;
  d.d = bind_db(m.m, db);
  for (int i = 0; i < 6; ++i) insert_json(d.d, "{\"i\": 1}");
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(slow(800)));  // four TTLs
  flush();
  EXPECT_EQ(rec.count(PM_EVENT_POOL_CLOSED), 0u) << "an open cursor pins its pool";
  EXPECT_GT(sockets(), 0);
  EXPECT_EQ(drain(c.c).size(), 6u) << "the cursor still works";
  EXPECT_TRUE(wait_until([&] { return sockets() == 0; }, 5000)) << "closed once unpinned and idle";
}

TEST_F(Ttl, MaxOpenPoolsEvictsTheLeastRecentlyUsedIdlePool) {
  make("\"maxOpenPools\": 2");
  std::string a = unique_db("lru_a"), b = unique_db("lru_b"), c = unique_db("lru_c");
  for (auto &db : {a, b, c}) dedicate(db, 60000);
  use(a);
  use(b);
  use(a);  // b is now the least recently used
  use(c);
  flush();
  EXPECT_EQ(pm_wrapper_evictions(w.w), 1u);
  EXPECT_EQ(rec.count(PM_EVENT_DISCONNECT, b, "evicted"), 1u);
  EXPECT_EQ(rec.count(PM_EVENT_DISCONNECT, a, "evicted"), 0u);
  EXPECT_EQ(pm_wrapper_open_pools(w.w), 2u);
  use(b);  // reopens b, evicting a (now least recent)
  flush();
  EXPECT_EQ(pm_wrapper_evictions(w.w), 2u);
  EXPECT_EQ(rec.count(PM_EVENT_DISCONNECT, a, "evicted"), 1u);
  Checker second(second_uri());
  EXPECT_EQ(second.count(a, "rows") + second.count(b, "rows") + second.count(c, "rows"), 5);
}

TEST_F(Ttl, PinnedPoolsAreNeverEvicted) {
  make("\"maxOpenPools\": 1");
  std::string a = unique_db("pin_a"), b = unique_db("pin_b");
  for (auto &db : {a, b}) dedicate(db, 60000);
  Db da;
  da.d = bind_db(m.m, a);
  for (int i = 0; i < 4; ++i) insert_json(da.d, "{\"i\": 1}");
  Cursor held;
  pm_error err;
  ASSERT_EQ(pm_db_find(da.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &held.c, &err), PM_OK);
  use(b);  // would need to evict a, which is pinned: b opens anyway, over the cap
  flush();
  EXPECT_EQ(pm_wrapper_evictions(w.w), 0u);
  EXPECT_EQ(rec.count(PM_EVENT_POOL_CLOSED), 0u);
  EXPECT_EQ(drain(held.c).size(), 4u);
}

// The maintenance thread sleeps a second while nothing timed is configured; a TTL given at run
// time (set_db) reschedules it at once, so the pool closes about a TTL after its last use.
TEST_F(Ttl, ATtlGivenAtRunTimeIsKeptWithoutWaitingForTheIdleSchedule) {
  make();
  std::string db = unique_db("ttl_soon");
  dedicate(db, slow(100));
  use(db);
  EXPECT_GT(sockets(), 0);
  EXPECT_TRUE(wait_until([&] { return sockets() == 0; }, 500)) << "closed within the TTL plus a 50 ms period";
  flush();
  EXPECT_EQ(rec.count(PM_EVENT_POOL_CLOSED, "", "ttl"), 1u);
}
