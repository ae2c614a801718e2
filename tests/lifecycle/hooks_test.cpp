// Hooks: connect/disconnect/error/pool events, for all or chosen databases, in order, on the
// dispatcher thread; unsubscribe; slow and failing hooks cannot slow or break operations.
#include "support.hpp"

#include <atomic>
#include <condition_variable>
#include <thread>

using namespace pmtest;

TEST(Hooks, ConnectAndDisconnectForChosenDatabasesInOrder) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "h");
  std::string x = unique_db("hook_x"), y = unique_db("hook_y");
  Recorder chosen, all;
  chosen.subscribe(w.w, PM_EVENT_CONNECT | PM_EVENT_DISCONNECT, {x});  // onTheseDBConnect
  all.subscribe(w.w, PM_EVENT_ALL & ~PM_EVENT_LOG);
  Db dx, dy;
  dx.d = bind_db(m.m, x);
  dy.d = bind_db(m.m, y);
  insert_json(dx.d, "{\"a\": 1}");
  insert_json(dx.d, "{\"a\": 2}");  // only the first operation is a connect
  insert_json(dy.d, "{\"a\": 1}");
  pm_error err;
  ASSERT_EQ(pm_wrapper_close_all(w.w, 2000, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  auto events = chosen.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, PM_EVENT_CONNECT);
  EXPECT_EQ(events[0].db, x);
  EXPECT_EQ(events[0].pool, "shared");
  EXPECT_EQ(events[1].type, PM_EVENT_DISCONNECT);
  EXPECT_EQ(events[1].reason, "closed");
  EXPECT_EQ(all.count(PM_EVENT_CONNECT), 2u);
  EXPECT_EQ(all.count(PM_EVENT_DISCONNECT), 2u);
  auto seq = all.events();
  ASSERT_FALSE(seq.empty());
  EXPECT_EQ(seq.front().type, PM_EVENT_POOL_OPENED) << "the pool opens before anything connects";
  EXPECT_EQ(seq.back().type, PM_EVENT_POOL_CLOSED);
  EXPECT_EQ(seq.back().reason, "closed");
}

TEST(Hooks, ErrorEventsCarryCodeAndNoCredentials) {
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"mongodb://pmuser:" + std::string(kSecret) +
                     "@127.0.0.1:1/?serverSelectionTimeoutMS=200&authMechanism=PLAIN\", \"defaultDB\": \"d\"}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_ERROR);
  Model m;
  m.m = new_model(w.w, "h");
  Db d;
  d.d = bind_db(m.m, "down_db");
  EXPECT_EQ(pm_db_insert_one(d.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_ECONNECT);
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  auto events = rec.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].db, "down_db");
  EXPECT_EQ(events[0].code, PM_ECONNECT);
  EXPECT_FALSE(events[0].message.empty());
  EXPECT_EQ(events[0].message.find(kSecret), std::string::npos) << events[0].message;
}

namespace {
struct Counted {
  std::atomic<int> calls{0};
  std::atomic<int> freed{0};
  static void cb(const pm_event *, void *self) { ++static_cast<Counted *>(self)->calls; }
  static void release(void *self) { ++static_cast<Counted *>(self)->freed; }
};
}  // namespace

TEST(Hooks, UnsubscribeStopsDeliveryAndFreesUserData) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "h");
  Counted counted;
  uint64_t id = 0;
  pm_error err;
  ASSERT_EQ(pm_wrapper_subscribe(w.w, PM_EVENT_CONNECT, nullptr, 0, &Counted::cb, &counted, &Counted::release, &id, &err),
            PM_OK);
  Db a;
  a.d = bind_db(m.m, unique_db("unsub_a"));
  insert_json(a.d, "{}");
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  EXPECT_EQ(counted.calls.load(), 1);
  ASSERT_EQ(pm_wrapper_unsubscribe(w.w, id, &err), PM_OK);
  EXPECT_EQ(counted.freed.load(), 1);
  Db b;
  b.d = bind_db(m.m, unique_db("unsub_b"));
  insert_json(b.d, "{}");
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  EXPECT_EQ(counted.calls.load(), 1);
  EXPECT_EQ(pm_wrapper_unsubscribe(w.w, id, &err), PM_EINVAL) << "already gone";
  EXPECT_EQ(pm_wrapper_subscribe(w.w, 0, nullptr, 0, &Counted::cb, nullptr, nullptr, &id, &err), PM_EINVAL);
  const char *bad[] = {"a.b"};
  EXPECT_EQ(pm_wrapper_subscribe(w.w, PM_EVENT_CONNECT, bad, 1, &Counted::cb, nullptr, nullptr, &id, &err), PM_EDBNAME);
}

namespace {
// A hook that blocks until released, and one that records which thread it runs on.
struct Blocker {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  std::atomic<bool> inside{false};
  static void cb(const pm_event *, void *self) {
    auto *b = static_cast<Blocker *>(self);
    ++b->entered;
    b->inside = true;
    std::unique_lock<std::mutex> lock(b->mu);
    b->cv.wait_for(lock, std::chrono::seconds(30), [&] { return b->release; });
    b->inside = false;
  }
};
}  // namespace

TEST(Hooks, BlockedHookDoesNotSlowOrBreakOperations) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "h");
  Blocker blocker;
  uint64_t id;
  pm_error err;
  ASSERT_EQ(pm_wrapper_subscribe(w.w, PM_EVENT_CONNECT, nullptr, 0, &Blocker::cb, &blocker, nullptr, &id, &err), PM_OK);
  std::string prefix = unique_db("blocked");
  // 30 databases, each a connect event; the first one blocks the hook for as long as we like.
  for (int i = 0; i < 30; ++i) {
    Db d;
    d.d = bind_db(m.m, prefix + "_" + std::to_string(i));
    insert_json(d.d, "{\"i\": " + std::to_string(i) + "}");
  }
  EXPECT_TRUE(wait_until([&] { return blocker.inside.load(); }, 2000));
  EXPECT_TRUE(blocker.inside.load()) << "every operation completed while the hook was still blocked";
  EXPECT_EQ(blocker.entered.load(), 1);
  {
    std::lock_guard<std::mutex> lock(blocker.mu);
    blocker.release = true;
  }
  blocker.cv.notify_all();
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 5000, &err), PM_OK);
  EXPECT_EQ(blocker.entered.load(), 30) << "then every event was delivered, in order, none lost";
  Checker check;
  for (int i = 0; i < 30; ++i) EXPECT_EQ(check.count(prefix + "_" + std::to_string(i), "h"), 1);
}

// A connect event is raised by the operation that first succeeds (usage.hpp): it arrives
// without pm_wrapper_flush_events, well within a second of the operation.
TEST(Hooks, ConnectArrivesWithoutFlushingOrWaitingForMaintenance) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "h");
  // Long enough for the maintenance thread to be in its one-second sleep: the event must not
  // wait for it.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_CONNECT);
  std::string db = unique_db("hook_soon");
  Db d;
  d.d = bind_db(m.m, db);
  insert_json(d.d, "{\"a\": 1}");
  EXPECT_TRUE(wait_until([&] { return rec.count(PM_EVENT_CONNECT, db) == 1; }, 400))
      << "raised by the operation itself, not by the one-second maintenance schedule";
}
