// Pools as the connection pool specification (CMAP) describes them: their events, maxConnecting,
// a connection budget per cluster (maxConnectionsPerCluster) across pool kinds, and fork().
// Sockets are counted from /proc, documents read back with an independent client, and event
// streams checked for the order they promise.
#include "support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

using namespace pmtest;

namespace {

pm_wrapper *wrapper_from(const std::string &json) {
  pm_wrapper *w = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_new(json.c_str(), &w, &err), PM_OK) << err.message;
  return w;
}

std::string uri_with(const std::string &uri, int wait_ms) {
  return add_query(uri, "waitQueueTimeoutMS=" + std::to_string(wait_ms));
}

// Opens a cursor (batch size 1 over 2 documents): it holds a connection until freed.
pm_cursor *hold(pm_db *db, int *rc = nullptr, pm_error *out = nullptr) {
  pm_cursor *c = nullptr;
  pm_error err;
  int r = pm_db_find(db, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c, &err);
  if (out != nullptr) *out = err;
  if (rc != nullptr) *rc = r;
  else EXPECT_EQ(r, PM_OK) << err.message;
  return c;
}

void seed(pm_db *db) {
  insert_json(db, "{\"i\": 1}");
  insert_json(db, "{\"i\": 2}");
}

// Starts `n` threads that each run `body(i)` at the same moment (a barrier), and joins them.
void together(int n, const std::function<void(int)> &body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (!go.load()) std::this_thread::yield();
      body(i);
    });
  while (ready.load() < n) std::this_thread::yield();
  go = true;
  for (auto &t : threads) t.join();
}

// The most connections in their handshake at once, from the event stream's order.
int most_connecting(const std::vector<EventRecord> &events) {
  int now = 0, most = 0;
  std::set<uint64_t> pending;
  for (const auto &e : events) {
    if (e.type == PM_EVENT_CONNECTION_CREATED) pending.insert(e.connection_id);
    if (e.type == PM_EVENT_CONNECTION_READY || e.type == PM_EVENT_CONNECTION_CLOSED) pending.erase(e.connection_id);
    now = static_cast<int>(pending.size());
    most = std::max(most, now);
  }
  return most;
}

}  // namespace

TEST(Pools, CmapEventsDescribeAPoolsLifeInOrder) {
  Wrapper w;
  w.w = wrapper_from(options("\"maxPoolSize\": 2"));
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_EVERY & ~PM_EVENT_LOG);
  Model m;
  m.m = new_model(w.w, "cmap");
  Db d;
  std::string name = unique_db("p_cmap");
  d.d = bind_db(m.m, name);
  seed(d.d);
  // Two connections at once: two cursors hold one each.
  pm_cursor *a = hold(d.d);
  pm_cursor *b = hold(d.d);
  pm_cursor_free(a);
  pm_cursor_free(b);
  pm_error err;
  ASSERT_EQ(pm_wrapper_close(w.w, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 5000, &err), PM_OK);
  auto events = rec.events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().type, PM_EVENT_CHECKOUT_STARTED) << "an operation asks first";
  std::vector<int> order;
  for (const auto &e : events) order.push_back(e.type);
  auto first = [&](int type) {
    return std::find(order.begin(), order.end(), type) - order.begin();
  };
  EXPECT_LT(first(PM_EVENT_POOL_OPENED), first(PM_EVENT_CONNECTION_CREATED));
  EXPECT_LT(first(PM_EVENT_CONNECTION_CREATED), first(PM_EVENT_CONNECTION_READY));
  EXPECT_LT(first(PM_EVENT_CONNECTION_READY), first(PM_EVENT_CHECKED_OUT));
  EXPECT_LT(first(PM_EVENT_CHECKED_OUT), first(PM_EVENT_POOL_READY));
  // Two connections made, each ready once with a duration, each closed with the pool.
  std::set<uint64_t> created, ready, closed;
  for (const auto &e : events) {
    if (e.type == PM_EVENT_CONNECTION_CREATED) created.insert(e.connection_id);
    if (e.type == PM_EVENT_CONNECTION_READY) {
      ready.insert(e.connection_id);
      EXPECT_GT(e.duration_us, 0);
    }
    if (e.type == PM_EVENT_CONNECTION_CLOSED) {
      closed.insert(e.connection_id);
      EXPECT_EQ(e.reason, "poolClosed");
    }
  }
  EXPECT_EQ(created.size(), 2u);
  EXPECT_EQ(ready, created);
  EXPECT_EQ(closed, created);
  EXPECT_EQ(created.count(0), 0u) << "ids start at 1";
  // Every check-out is matched by a check-in of the same connection, and carries durations.
  size_t started = rec.count(PM_EVENT_CHECKOUT_STARTED), out = rec.count(PM_EVENT_CHECKED_OUT);
  EXPECT_EQ(started, out);
  EXPECT_EQ(out, rec.count(PM_EVENT_CHECKED_IN));
  EXPECT_EQ(rec.count(PM_EVENT_CHECKOUT_FAILED), 0u);
  EXPECT_GE(out, 4u) << "two inserts and two finds";
  for (const auto &e : events)
    if (e.type == PM_EVENT_CHECKED_OUT || e.type == PM_EVENT_CHECKED_IN) {
      EXPECT_EQ(created.count(e.connection_id), 1u) << "a connection the pool made";
      EXPECT_EQ(e.pool, "shared");
    }
  EXPECT_EQ(rec.count(PM_EVENT_POOL_READY), 1u);
  EXPECT_EQ(order.back(), PM_EVENT_POOL_CLOSED);
}

TEST(Pools, CheckoutFailedSaysWhyAndAllLeavesOutCheckoutEvents) {
  Wrapper w;
  w.w = wrapper_from("{\"mongoURI\": \"" + uri_with(server_uri(), slow(300)) + "\", \"maxPoolSize\": 1}");
  Recorder every, all;
  every.subscribe(w.w, PM_EVENT_CHECKOUTS);
  all.subscribe(w.w, PM_EVENT_ALL);
  Model m;
  m.m = new_model(w.w, "cmap");
  Db d;
  std::string name = unique_db("p_fail");
  d.d = bind_db(m.m, name);
  seed(d.d);
  pm_cursor *held = hold(d.d);
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"i\": 3}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETIMEOUT);
  pm_cursor_free(held);
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 5000, &err), PM_OK);
  ASSERT_EQ(every.count(PM_EVENT_CHECKOUT_FAILED), 1u);
  for (const auto &e : every.events())
    if (e.type == PM_EVENT_CHECKOUT_FAILED) {
      EXPECT_EQ(e.reason, "timeout");
      EXPECT_EQ(e.code, PM_ETIMEOUT);
      EXPECT_GE(e.duration_us, 250000) << "it waited waitQueueTimeoutMS";
      EXPECT_EQ(e.db, name);
    }
  EXPECT_EQ(all.count(PM_EVENT_CHECKOUT_STARTED) + all.count(PM_EVENT_CHECKED_OUT) +
                all.count(PM_EVENT_CHECKED_IN) + all.count(PM_EVENT_CHECKOUT_FAILED),
            0u)
      << "PM_EVENT_ALL leaves out the per-operation events";
  EXPECT_GE(all.count(PM_EVENT_CONNECTION_CREATED), 1u);
  Checker check;
  EXPECT_EQ(check.count(name, "cmap"), 2) << "the refused insert wrote nothing";
}

TEST(Pools, MaxConnectingBoundsConnectionsInTheirHandshake) {
  for (int max_connecting : {1, 2}) {
    SCOPED_TRACE("maxConnecting " + std::to_string(max_connecting));
    Wrapper w;
    w.w = wrapper_from(options("\"maxPoolSize\": 8, \"maxConnecting\": " + std::to_string(max_connecting)));
    Recorder rec;
    rec.subscribe(w.w, PM_EVENT_CONNECTION_CREATED | PM_EVENT_CONNECTION_READY | PM_EVENT_CONNECTION_CLOSED);
    Model m;
    m.m = new_model(w.w, "cmap");
    std::string name = unique_db("p_mc");
    {
      Db d;
      d.d = bind_db(m.m, name);
      seed(d.d);
    }
    // Eight first uses at once, each holding its connection until all have one.
    std::vector<pm_cursor *> cursors(8, nullptr);
    std::atomic<int> holding{0};
    together(8, [&](int i) {
      Db d;
      d.d = bind_db(m.m, name);
      cursors[static_cast<size_t>(i)] = hold(d.d);
      ++holding;
      while (holding.load() < 8) std::this_thread::yield();
    });
    EXPECT_EQ(count_sockets_to_port(server_port()), 8 + 1) << "eight connections and one monitor";
    for (pm_cursor *c : cursors) pm_cursor_free(c);
    pm_error err;
    ASSERT_EQ(pm_wrapper_flush_events(w.w, 5000, &err), PM_OK);
    EXPECT_EQ(rec.count(PM_EVENT_CONNECTION_READY), 8u);
    EXPECT_LE(most_connecting(rec.events()), max_connecting);
    EXPECT_GE(most_connecting(rec.events()), 1);
  }
}

TEST(Pools, OptionsAreValidated) {
  pm_wrapper *w = nullptr;
  pm_error err;
  for (const char *bad : {"\"maxConnecting\": 0", "\"maxConnectionsPerCluster\": 1", "\"maxConnectionsPerCluster\": -3",
                          "\"budgetWaitMS\": -1", "\"maxConnecting\": \"2\""}) {
    EXPECT_EQ(pm_wrapper_new(options(bad).c_str(), &w, &err), PM_EINVAL) << bad;
    EXPECT_NE(std::string(err.message).find(std::string(bad).substr(1, 10)), std::string::npos) << err.message;
  }
}

// Dedicated pools of a rule, a sharedPool rule's pool and the shared pool, all on one cluster:
// their sockets together (monitors included) never pass the budget; idle pools close for it,
// least recently used first; every write lands.
TEST(Budget, PoolsOfEveryKindOnAClusterStayWithinItClosingIdleOnes) {
  std::string prefix = unique_db("p_bud");
  constexpr int kBudget = 6;
  Wrapper w;
  w.w = wrapper_from(options("\"maxConnectionsPerCluster\": " + std::to_string(kBudget) +
                             ", \"routes\": [{\"match\": \"" + prefix + "_s*\", \"sharedPool\": true}, {\"match\": \"" +
                             prefix + "_d*\"}]"));
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_POOL_CLOSED | PM_EVENT_POOL_OPENED);
  Model m;
  m.m = new_model(w.w, "bud");
  int most = 0;
  std::vector<std::string> names;
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 8; ++i) {
      std::string name = prefix + (i % 4 == 0 ? "_s" : i % 4 == 1 ? "_x" : "_d") + std::to_string(i);
      Db d;
      d.d = bind_db(m.m, name);
      insert_json(d.d, "{\"round\": " + std::to_string(round) + "}");
      most = std::max(most, count_sockets_to_port(server_port()));
      if (round == 0) names.push_back(name);
    }
  EXPECT_LE(most, kBudget) << "sockets of the cluster, counted from /proc";
  pm_error err;
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 5000, &err), PM_OK);
  EXPECT_GE(rec.count(PM_EVENT_POOL_CLOSED, "*", "budget"), 4u) << "idle pools closed to make room";
  Checker check;
  for (const std::string &name : names) EXPECT_EQ(check.count(name, "bud"), 2) << name;
  char *json = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &json, &err), PM_OK);
  std::string stats = json;
  pm_free(json);
  EXPECT_NE(stats.find("\"budgets\":[{\"cluster\":\"127.0.0.1:" + std::to_string(server_port()) + "\",\"limit\":6"),
            std::string::npos)
      << stats;
}

// Pools with work in progress are never closed for the budget: a new pool then fails at once
// (budgetWaitMS 0) with PM_ETHROTTLED and a budget-exhausted event, or waits for one to finish.
TEST(Budget, WorkInProgressIsNeverClosedTheNewPoolWaitsOrFails) {
  std::string prefix = unique_db("p_busy");
  for (int wait_ms : {0, slow(20000)}) {
    SCOPED_TRACE("budgetWaitMS " + std::to_string(wait_ms));
    Wrapper w;
    w.w = wrapper_from(options("\"maxConnectionsPerCluster\": 4, \"budgetWaitMS\": " + std::to_string(wait_ms) +
                               ", \"routes\": [{\"match\": \"" + prefix + "*\"}]"));
    Recorder rec;
    rec.subscribe(w.w, PM_EVENT_BUDGET_EXHAUSTED | PM_EVENT_POOL_CLOSED);
    Model m;
    m.m = new_model(w.w, "busy");
    Db a, b, c;
    a.d = bind_db(m.m, prefix + "_a" + std::to_string(wait_ms));
    b.d = bind_db(m.m, prefix + "_b" + std::to_string(wait_ms));
    c.d = bind_db(m.m, prefix + "_c" + std::to_string(wait_ms));
    seed(a.d);
    seed(b.d);
    pm_cursor *ca = hold(a.d);  // two pools, each with a connection out: 2 x (monitor + connection)
    pm_cursor *cb = hold(b.d);
    pm_error err;
    if (wait_ms == 0) {
      EXPECT_EQ(pm_db_insert_one(c.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETHROTTLED) << err.message;
      EXPECT_NE(std::string(err.message).find("maxConnectionsPerCluster"), std::string::npos) << err.message;
      EXPECT_TRUE(pm_code_is_retryable(PM_ETHROTTLED));
    } else {
      std::atomic<int> rc{-1};
      std::thread t([&] {
        pm_error e;
        rc = pm_db_insert_one(c.d, "{}", PM_JSON, nullptr, 0, nullptr, &e);
      });
      ASSERT_TRUE(wait_until([&] { return rec.count(PM_EVENT_BUDGET_EXHAUSTED) == 1; }, 10000)) << "it waits";
      EXPECT_EQ(rc.load(), -1);
      pm_cursor_free(ca);  // a's work ends: its pool is idle, the budget closes it
      ca = nullptr;
      t.join();
      EXPECT_EQ(rc.load(), PM_OK);
    }
    EXPECT_LE(count_sockets_to_port(server_port()), 4);
    // b's cursor was never touched: it still reads its second document.
    const uint8_t *doc = nullptr;
    size_t len = 0;
    int more = pm_cursor_next(cb, &doc, &len, &err);
    EXPECT_EQ(more, 1) << err.message;
    EXPECT_EQ(pm_cursor_next(cb, &doc, &len, &err), 1) << err.message;
    pm_cursor_free(cb);
    if (ca != nullptr) pm_cursor_free(ca);
    ASSERT_EQ(pm_wrapper_flush_events(w.w, 5000, &err), PM_OK);
    EXPECT_EQ(rec.count(PM_EVENT_BUDGET_EXHAUSTED), 1u);
    for (const auto &e : rec.events())
      if (e.type == PM_EVENT_POOL_CLOSED) {
        EXPECT_NE(e.pool, prefix + "_b" + std::to_string(wait_ms));
      }
    Checker check;
    EXPECT_EQ(check.count(prefix + "_c" + std::to_string(wait_ms), "busy"), wait_ms == 0 ? 0 : 1);
  }
}

// Each cluster has its own budget: pools on a second cluster do not count against the first.
TEST(Budget, EachClusterHasItsOwn) {
  std::string prefix = unique_db("p_two");
  Wrapper w;
  w.w = wrapper_from(options("\"maxConnectionsPerCluster\": 2, \"budgetWaitMS\": 0, \"routes\": [{\"match\": \"" +
                             prefix + "_2*\", \"mongoURI\": \"" + second_uri() + "\"}]"));
  Model m;
  m.m = new_model(w.w, "two");
  Db one, two;
  one.d = bind_db(m.m, prefix + "_1");
  two.d = bind_db(m.m, prefix + "_2");
  seed(one.d);
  seed(two.d);
  pm_cursor *c1 = hold(one.d);  // the first cluster's budget is full (monitor + connection)
  pm_cursor *c2 = hold(two.d);  // and so is the second's
  EXPECT_EQ(count_sockets_to_port(server_port()), 2);
  EXPECT_EQ(count_sockets_to_port(port_of(second_uri())), 2);
  pm_cursor_free(c1);
  pm_cursor_free(c2);
  Checker a, b(second_uri());
  EXPECT_EQ(a.count(prefix + "_1", "two"), 2);
  EXPECT_EQ(b.count(prefix + "_2", "two"), 2);
}

// An insert submitted through the executor (pm_async_submit), waited for on a completion queue.
int async_insert(pm_wrapper *w, pm_db *db, const std::string &doc) {
  pm_cq *cq = nullptr;
  pm_error err;
  if (pm_cq_new(&cq, &err) != PM_OK) return -100;
  pm_op op{};
  op.kind = PM_OP_INSERT_ONE;
  op.db = db;
  op.doc = doc.c_str();
  op.doc_len = PM_JSON;
  int rc = pm_async_submit(w, &op, cq, nullptr, nullptr, nullptr, &err);
  if (rc == PM_OK) {
    pm_completion c{};
    rc = pm_cq_poll(cq, &c, 1, 30000) == 1 ? c.code : -101;
    pm_completion_clear(&c);
  }
  pm_cq_free(cq);
  return rc;
}

// A pre-fork server: the parent uses the wrapper (blocking and through the executor), then
// forks four workers; each reopens its pools (never the parent's sockets), writes and reads its
// own documents, blocking and asynchronously, and closes cleanly; the parent goes on using its
// own connections.
TEST(Fork, WorkersForkedAfterFirstUseGetSeparateCorrectResults) {
  if (std::getenv("PM_TEST_VALGRIND") != nullptr)
    GTEST_SKIP() << "valgrind checks each child's heap at exit, and a child forked from a multithreaded "
                    "process cannot reach what the parent's threads hold; the normal and ASan builds run this test";
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer cannot follow a child of a multithreaded process that starts threads "
                  "(it stops with 'dup thread with used id'); the normal, ASan and valgrind builds run this test";
#endif
  Wrapper w;
  w.w = wrapper_from(options("\"maxPoolSize\": 4"));
  Model m;
  m.m = new_model(w.w, "forked");
  std::string name = unique_db("p_fork");
  Db d;
  d.d = bind_db(m.m, name);
  insert_json(d.d, "{\"worker\": -1}");
  ASSERT_EQ(async_insert(w.w, d.d, "{\"worker\": -2}"), PM_OK) << "the parent's executor threads run";
  std::vector<int> parent_ports = sockets_to_port(server_port());
  ASSERT_FALSE(parent_ports.empty());
  constexpr int kWorkers = 4, kDocs = 20;
  std::vector<pid_t> pids;
  for (int i = 0; i < kWorkers; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(60);  // a hang fails the child, never the suite
      int code = 0;
      pm_error err;
      for (int k = 0; k < kDocs && code == 0; ++k) {
        std::string doc = "{\"worker\": " + std::to_string(i) + ", \"k\": " + std::to_string(k) + "}";
        if (pm_db_insert_one(d.d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &err) != PM_OK) code = 10;
      }
      int64_t n = -1;
      std::string filter = "{\"worker\": " + std::to_string(i) + "}";
      if (code == 0 && pm_db_count(d.d, filter.c_str(), PM_JSON, nullptr, 0, &n, &err) != PM_OK) code = 11;
      if (code == 0 && n != kDocs) code = 12;
      // The executor's threads were the parent's: the child's own run its work.
      if (code == 0 && async_insert(w.w, d.d, "{\"worker\": " + std::to_string(i) + ", \"async\": true}") != PM_OK)
        code = 14;
      // Its pools opened sockets of its own, beside the descriptors it inherited.
      std::vector<int> mine = sockets_to_port(server_port());
      if (code == 0 && mine.size() <= parent_ports.size()) code = 13;  // it opened its own
      pm_db_free(d.d);
      pm_model_free(m.m);
      pm_wrapper_free(w.w);  // closes without waiting for the parent's threads
      _exit(code);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10 insert, 11 count, 12 wrong count, 13 no own sockets, 14 async insert";
  }
  // The parent's connections still work, and it is still on the same sockets.
  insert_json(d.d, "{\"worker\": -1}");
  int64_t n = -1;
  pm_error err;
  ASSERT_EQ(pm_db_count(d.d, "{\"worker\": -1}", PM_JSON, nullptr, 0, &n, &err), PM_OK) << err.message;
  EXPECT_EQ(n, 2);
  EXPECT_EQ(sockets_to_port(server_port()), parent_ports);
  Checker check;
  for (int i = 0; i < kWorkers; ++i)
    EXPECT_EQ(check.count(name, "forked", "{\"worker\": " + std::to_string(i) + "}"), kDocs + 1) << i;
}
