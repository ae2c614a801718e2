// Fair sharing of a saturated pool between databases (fairQueueing), per-database limits
// (tenantLimits: maxConcurrent, rate with burst, wait or fail, changed at run time),
// PM_ETHROTTLED, the throttled/queued counts, single-flight pool creation. Order is observed,
// not timed: waiters get cursors that hold the pool's one connection, so each grant is seen
// alone, and the test lets go of it before the next.
#include "support.hpp"

#include <atomic>
#include <chrono>
#include <cctype>
#include <thread>

using namespace pmtest;

namespace {

// A JSON number after "key": in text (the first one after `from`), or -1.
long long number_after(const std::string &text, const std::string &key, size_t from = 0) {
  size_t at = text.find("\"" + key + "\"", std::min(from, text.size()));
  if (at == std::string::npos) return -1;
  at = text.find_first_not_of(" \t\n:", at + key.size() + 2);
  if (at == std::string::npos || (text[at] != '-' && !std::isdigit(static_cast<unsigned char>(text[at])))) return -1;
  return std::stoll(text.substr(at));
}

int waiting(pm_wrapper *w) {
  char *json = nullptr;
  pm_error err;
  if (pm_wrapper_stats(w, &json, &err) != PM_OK) return -1;
  std::string s = json;
  pm_free(json);
  return static_cast<int>(number_after(s, "waiting", s.find("\"totals\"")));
}

// The usage table's `counter` ("queued", "throttled", "operations") for db; -1 when absent.
long long usage_of(pm_wrapper *w, const std::string &db, const std::string &counter) {
  char *json = nullptr;
  pm_error err;
  if (pm_wrapper_usage(w, 0, &json, &err) != PM_OK) return -1;
  std::string s = json;
  pm_free(json);
  size_t at = s.find("\"db\":\"" + db + "\"");
  if (at == std::string::npos) return -1;
  return number_after(s.substr(0, s.find('}', at)), counter, at);
}

std::string pool1(const std::string &extra = "") {
  return "{\"mongoURI\": \"" + add_query(server_uri(), "waitQueueTimeoutMS=" + std::to_string(slow(20000))) +
         "\", \"maxPoolSize\": 1" + (extra.empty() ? "" : ", " + extra) + "}";
}

pm_wrapper *wrapper_from(const std::string &json) {
  pm_wrapper *w = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_new(json.c_str(), &w, &err), PM_OK) << err.message;
  return w;
}

// Opens a cursor (batch size 1 over 2 documents) on db: it holds a connection until freed.
pm_cursor *hold(pm_db *db, int *rc = nullptr) {
  pm_cursor *c = nullptr;
  pm_error err;
  int r = pm_db_find(db, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c, &err);
  if (rc != nullptr) *rc = r;
  else EXPECT_EQ(r, PM_OK) << err.message;
  return c;
}

// Threads that each wait for a connection-holding cursor on their database; the test sees who
// got the pool's connection, in order.
struct Queue {
  std::mutex mu;
  std::vector<std::pair<std::string, pm_cursor *>> served;
  std::vector<std::thread> threads;
  void add(pm_db *db, const std::string &who) {
    threads.emplace_back([this, db, who] {
      pm_cursor *c = hold(db);
      std::lock_guard<std::mutex> lock(mu);
      served.emplace_back(who, c);
    });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return served.size();
  }
  // Waits for the next grant, checks it is alone, lets go of it; returns whose it was.
  std::string next(size_t index, pm_wrapper *w, int still_waiting) {
    EXPECT_TRUE(wait_until([&] { return size() > index; }, 10000)) << "grant " << index;
    EXPECT_EQ(size(), index + 1) << "one connection, one grant at a time";
    EXPECT_EQ(waiting(w), still_waiting);
    std::lock_guard<std::mutex> lock(mu);
    if (served.size() <= index) return "";
    pm_cursor_free(served[index].second);
    return served[index].first;
  }
  ~Queue() {
    for (auto &t : threads) t.join();
  }
};

struct Tenancy {
  Wrapper w;
  Model m;
  std::vector<std::unique_ptr<Db>> dbs;
  explicit Tenancy(const std::string &json) {
    w.w = wrapper_from(json);
    m.m = new_model(w.w, "fair");
  }
  pm_db *db(const std::string &prefix) {
    dbs.push_back(std::make_unique<Db>());
    dbs.back()->d = bind_db(m.m, unique_db(prefix));
    insert_json(dbs.back()->d, "{\"i\": 1}");
    insert_json(dbs.back()->d, "{\"i\": 2}");
    return dbs.back()->d;
  }
};

}  // namespace

TEST(Fairness, SaturatedPoolServesAColdDatabaseBeforeAHotOnesQueue) {
  Tenancy s(pool1());
  pm_db *holder = s.db("f_hold"), *hot = s.db("f_hot"), *cold = s.db("f_cold");
  pm_cursor *held = hold(holder);
  Queue q;
  for (int i = 0; i < 5; ++i) {
    q.add(hot, "hot");
    ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == i + 1; }, 5000)) << "hot " << i << " queued";
  }
  q.add(cold, "cold");
  ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == 6; }, 5000)) << "cold queued last";
  pm_cursor_free(held);
  std::vector<std::string> order;
  for (size_t i = 0; i < 6; ++i) order.push_back(q.next(i, s.w.w, 5 - static_cast<int>(i)));
  EXPECT_EQ(order, (std::vector<std::string>{"hot", "cold", "hot", "hot", "hot", "hot"}));
}

TEST(Fairness, WithoutFairQueueingTheSameQueueIsFirstComeFirstServed) {
  Tenancy s(pool1("\"fairQueueing\": false"));
  pm_db *holder = s.db("f_hold"), *hot = s.db("f_hot"), *cold = s.db("f_cold");
  pm_cursor *held = hold(holder);
  Queue q;
  for (int i = 0; i < 5; ++i) {
    q.add(hot, "hot");
    ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == i + 1; }, 5000));
  }
  q.add(cold, "cold");
  ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == 6; }, 5000));
  pm_cursor_free(held);
  std::vector<std::string> order;
  for (size_t i = 0; i < 6; ++i) order.push_back(q.next(i, s.w.w, 5 - static_cast<int>(i)));
  EXPECT_EQ(order, (std::vector<std::string>{"hot", "hot", "hot", "hot", "hot", "cold"}));
}

TEST(Fairness, WaitingDatabasesAreServedInTurnFifoWithinEach) {
  Tenancy s(pool1());
  pm_db *holder = s.db("f_hold"), *a = s.db("f_a"), *b = s.db("f_b"), *c = s.db("f_c");
  pm_cursor *held = hold(holder);
  Queue q;
  std::vector<std::pair<pm_db *, std::string>> arrivals = {{a, "a1"}, {a, "a2"}, {a, "a3"}, {b, "b1"},
                                                           {b, "b2"}, {b, "b3"}, {c, "c1"}};
  for (size_t i = 0; i < arrivals.size(); ++i) {
    q.add(arrivals[i].first, arrivals[i].second);
    ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == static_cast<int>(i) + 1; }, 5000));
  }
  pm_cursor_free(held);
  std::vector<std::string> order;
  for (size_t i = 0; i < arrivals.size(); ++i)
    order.push_back(q.next(i, s.w.w, static_cast<int>(arrivals.size() - i) - 1));
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "a3", "b3"}));
  EXPECT_GE(usage_of(s.w.w, std::string(pm_db_name(a)), "queued"), 3);
}

TEST(Fairness, AWaiterThatTimesOutLeavesTheQueue) {
  Tenancy s("{\"mongoURI\": \"" + add_query(server_uri(), "waitQueueTimeoutMS=" + std::to_string(slow(300))) +
          "\", \"maxPoolSize\": 1}");
  pm_db *holder = s.db("f_hold"), *x = s.db("f_x");
  pm_cursor *held = hold(holder);
  int64_t n = 0;
  pm_error err;
  EXPECT_EQ(pm_db_count(x, nullptr, 0, nullptr, 0, &n, &err), PM_ETIMEOUT);
  EXPECT_EQ(waiting(s.w.w), 0);
  pm_cursor_free(held);
  EXPECT_EQ(pm_db_count(x, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
  EXPECT_EQ(n, 2);
}

TEST(Fairness, RateOverItsBurstFailsAtOnceWithThrottledAndWritesNothing) {
  Tenancy s(pmtest::options("\"tenantLimits\": {\"ratePerSecond\": 0.01, \"burst\": 2, \"onLimit\": \"fail\"}"));
  Db d;
  std::string name = unique_db("f_rate");
  d.d = bind_db(s.m.m, name);
  insert_json(d.d, "{\"n\": 1}");
  insert_json(d.d, "{\"n\": 2}");
  pm_error err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"n\": 3}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETHROTTLED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(slow(500)));
  EXPECT_EQ(err.code, PM_ETHROTTLED);
  EXPECT_STREQ(pm_code_name(PM_ETHROTTLED), "PM_ETHROTTLED");
  EXPECT_EQ(pm_code_is_retryable(PM_ETHROTTLED), 1);
  EXPECT_EQ(pm_code_is_retryable(PM_ETIMEOUT), 0);
  EXPECT_NE(std::string(err.message).find(name), std::string::npos) << err.message;
  Checker check;
  EXPECT_EQ(check.count(name, "fair"), 2) << "a throttled write sends nothing";
  EXPECT_EQ(usage_of(s.w.w, name, "throttled"), 1);
  // Another database has its own bucket.
  Db other;
  other.d = bind_db(s.m.m, unique_db("f_rate_other"));
  insert_json(other.d, "{\"n\": 1}");
}

TEST(Fairness, RateWaitsForItsTokensWithinMaxWaitAndFailsBeyondIt) {
  // Tokens 500 ms apart: longer than an insert takes even under valgrind on a loaded machine, so
  // every operation after the first finds the bucket empty and waits.
  Tenancy s(pmtest::options("\"tenantLimits\": {\"ratePerSecond\": 2, \"burst\": 1, \"maxWaitMS\": 5000}"));
  Db d;
  std::string name = unique_db("f_paced");
  d.d = bind_db(s.m.m, name);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) insert_json(d.d, "{\"n\": 1}");
  // Five tokens after the first, 500 ms apart.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2450));
  EXPECT_EQ(usage_of(s.w.w, name, "queued"), 5);
  EXPECT_EQ(usage_of(s.w.w, name, "throttled"), 0);
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, name.c_str(),
                                         "{\"ratePerSecond\": 0.5, \"burst\": 1, \"maxWaitMS\": 100}", &err),
            PM_OK)
      << err.message;
  // The database's bucket is kept across the change (empty now): the next token is 2 s away.
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"n\": 3}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETHROTTLED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(slow(1000)))
      << "a token 2 s away is not waited for with maxWaitMS 100";
  Checker check;
  EXPECT_EQ(check.count(name, "fair"), 6);
  EXPECT_EQ(usage_of(s.w.w, name, "throttled"), 1);
}

TEST(Fairness, MaxConcurrentFailFastCountsOperationsInFlight) {
  Tenancy s(pool1());
  pm_db *holder = s.db("f_hold"), *x = s.db("f_x"), *y = s.db("f_y");
  std::string xname = pm_db_name(x);
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, xname.c_str(), "{\"maxConcurrent\": 1, \"onLimit\": \"fail\"}",
                                         &err),
            PM_OK)
      << err.message;
  pm_cursor *held = hold(holder);
  Queue q;
  q.add(x, "x1");  // admitted, then waits for the pool: x has one operation in flight
  ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == 1; }, 5000));
  int64_t n;
  EXPECT_EQ(pm_db_count(x, nullptr, 0, nullptr, 0, &n, &err), PM_ETHROTTLED);
  EXPECT_NE(std::string(err.message).find("maxConcurrent"), std::string::npos) << err.message;
  q.add(y, "y1");  // another database is not limited by x's cap
  ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == 2; }, 5000));
  pm_cursor_free(held);
  EXPECT_EQ(q.next(0, s.w.w, 1), "x1");
  EXPECT_EQ(q.next(1, s.w.w, 0), "y1");
  EXPECT_EQ(pm_db_count(x, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << "the slot came back";
  EXPECT_EQ(usage_of(s.w.w, xname, "throttled"), 1);
}

TEST(Fairness, RaisingMaxConcurrentAtRunTimeLetsAWaiterGoAtOnce) {
  Tenancy s(pool1("\"tenantLimits\": {\"maxConcurrent\": 1, \"maxWaitMS\": " + std::to_string(slow(20000)) + "}"));
  pm_db *holder = s.db("f_hold"), *x = s.db("f_x");
  std::string xname = pm_db_name(x);
  pm_cursor *held = hold(holder);
  Queue q;
  q.add(x, "x1");  // in flight, in the pool's queue
  ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == 1; }, 5000));
  q.add(x, "x2");  // waits for x's one slot
  ASSERT_TRUE(wait_until([&] { return usage_of(s.w.w, xname, "queued") == 2; }, 5000));
  EXPECT_EQ(waiting(s.w.w), 1) << "x2 is held at its limit, not in the pool's queue";
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, xname.c_str(), "{\"maxConcurrent\": 2}", &err), PM_OK);
  ASSERT_TRUE(wait_until([&] { return waiting(s.w.w) == 2; }, 5000)) << "x2 reached the pool's queue";
  pm_cursor_free(held);
  EXPECT_EQ(q.next(0, s.w.w, 1), "x1");
  EXPECT_EQ(q.next(1, s.w.w, 0), "x2");
  EXPECT_EQ(usage_of(s.w.w, xname, "throttled"), 0);
}

TEST(Fairness, LimitsSetAtRunTimeByDefaultAndPerDatabase) {
  Tenancy s(pmtest::options());
  Db a, b;
  std::string an = unique_db("f_rt_a"), bn = unique_db("f_rt_b");
  a.d = bind_db(s.m.m, an);
  b.d = bind_db(s.m.m, bn);
  insert_json(a.d, "{}");
  insert_json(a.d, "{}");
  pm_error err;
  const char *one = "{\"ratePerSecond\": 0.01, \"burst\": 1, \"onLimit\": \"fail\"}";
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, nullptr, one, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, bn.c_str(), "{}", &err), PM_OK) << "b: no limits";
  insert_json(a.d, "{}");
  EXPECT_EQ(pm_db_insert_one(a.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETHROTTLED);
  for (int i = 0; i < 5; ++i) insert_json(b.d, "{}");
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, bn.c_str(), nullptr, &err), PM_OK) << "b: the default again";
  insert_json(b.d, "{}");
  EXPECT_EQ(pm_db_insert_one(b.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETHROTTLED);
  ASSERT_EQ(pm_wrapper_set_tenant_limits(s.w.w, nullptr, nullptr, &err), PM_OK) << "no default";
  insert_json(a.d, "{}");
  insert_json(b.d, "{}");
  EXPECT_EQ(pm_wrapper_set_tenant_limits(s.w.w, "bad.name", "{}", &err), PM_EDBNAME);
  EXPECT_EQ(pm_wrapper_set_tenant_limits(s.w.w, nullptr, "{\"onLimit\": \"drop\"}", &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("onLimit"), std::string::npos) << err.message;
  Checker check;
  EXPECT_EQ(check.count(an, "fair"), 4);
  EXPECT_EQ(check.count(bn, "fair"), 7);
}

TEST(Fairness, LimitsFromDbSpecificAndRoutesApplyPerDatabaseAndAreValidated) {
  std::string dedicated = unique_db("f_ded"), routed = unique_db("f_rule"), plain = unique_db("f_plain");
  const char *lim = "{\"ratePerSecond\": 0.01, \"burst\": 1, \"onLimit\": \"fail\"}";
  Tenancy s(pmtest::options("\"dbSpecific\": [{\"dbName\": \"" + dedicated +
                          "\", \"options\": {\"tenantLimits\": " + lim + "}}], \"routes\": [{\"match\": \"" +
                          routed + "*\", \"sharedPool\": true, \"options\": {\"tenantLimits\": " + lim + "}}]"));
  pm_error err;
  for (const std::string &name : {dedicated, routed + "_1", routed + "_2"}) {
    Db d;
    d.d = bind_db(s.m.m, name);
    insert_json(d.d, "{}");
    EXPECT_EQ(pm_db_insert_one(d.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_ETHROTTLED) << name;
  }
  Db p;
  p.d = bind_db(s.m.m, plain);
  for (int i = 0; i < 3; ++i) insert_json(p.d, "{}");
  // Strict validation, naming the option.
  pm_wrapper *bad = nullptr;
  const std::vector<std::string> refused = {
      "\"tenantLimits\": {\"maxConcurent\": 1}", "\"tenantLimits\": {\"burst\": 3}",
      "\"tenantLimits\": {\"maxConcurrent\": -1}", "\"tenantLimits\": 5", "\"fairQueueing\": 1",
      "\"routes\": [{\"match\": \"x*\", \"options\": {\"tenantLimits\": {\"onLimit\": \"later\"}}}]"};
  for (const std::string &extra : refused) {
    EXPECT_EQ(pm_wrapper_new(pmtest::options(extra).c_str(), &bad, &err), PM_EINVAL) << extra;
    std::string message = err.message;
    EXPECT_TRUE(message.find("tenantLimits") != std::string::npos || message.find("fairQueueing") != std::string::npos)
        << message;
  }
  const char *names[] = {"f_setdb_x"};
  EXPECT_EQ(pm_wrapper_set_db(s.w.w, names, 1, "{\"tenantLimits\": {\"burst\": 0}}", &err), PM_EINVAL);
}

TEST(Fairness, ConcurrentFirstUsesOfADatabaseMakeOnePool) {
  std::string prefix = unique_db("f_sf");
  Tenancy s(pmtest::options("\"routes\": [{\"match\": \"" + prefix + "*\"}]"));
  Recorder rec;
  rec.subscribe(s.w.w, PM_EVENT_POOL_OPENED);
  std::string name = prefix + "_one";
  constexpr int kThreads = 16;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      Db d;
      d.d = bind_db(s.m.m, name);
      ++ready;
      while (!go.load()) std::this_thread::yield();
      pm_error err;
      if (pm_db_insert_one(d.d, "{}", PM_JSON, nullptr, 0, nullptr, &err) == PM_OK) ++ok;
    });
  ASSERT_TRUE(wait_until([&] { return ready.load() == kThreads; }, 5000));
  go = true;
  for (auto &t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
  pm_error err;
  ASSERT_EQ(pm_wrapper_flush_events(s.w.w, 2000, &err), PM_OK);
  EXPECT_EQ(rec.count(PM_EVENT_POOL_OPENED, "*"), 1u) << "one pool, opened once";
  char *json = nullptr;
  ASSERT_EQ(pm_wrapper_stats(s.w.w, &json, &err), PM_OK);
  std::string stats = json;
  pm_free(json);
  size_t pools = 0;
  for (size_t at = stats.find("\"name\":\"" + name + "\""); at != std::string::npos;
       at = stats.find("\"name\":\"" + name + "\"", at + 1))
    ++pools;
  EXPECT_EQ(pools, 1u) << stats;
  Checker check;
  EXPECT_EQ(check.count(name, "fair"), kThreads);
}
