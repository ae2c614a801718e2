// Shutdown: close_all drains within a bounded wait, force_close_all interrupts with a clear
// error, both leave the wrapper usable; the signal helper closes and chains.
#include "support.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

using namespace pmtest;

namespace {
struct Shutdown : ::testing::Test {
  Wrapper w;
  Model m;
  Db d;
  void SetUp() override {
    pm_error err;
    std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"defaultDB\": \"pm_default\", \"maxPoolSize\": 3}";
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    m.m = new_model(w.w, "s");
    d.d = bind_db(m.m, unique_db("shutdown"));
    for (int i = 0; i < 5; ++i) insert_json(d.d, "{\"i\": " + std::to_string(i) + "}");
  }
};
}  // namespace

TEST_F(Shutdown, CloseAllLetsInFlightWorkFinishThenReopens) {
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK);
  // The cursor (batchSize 1, 5 documents) holds a connection until it is exhausted. The
  // finisher waits until close_all is observably waiting: the pool reports "disconnecting"
  // (which close_all sets before it waits for in-use connections) in two polls 10 ms apart
  // while close_all has not returned, so not a close_all merely passing through. Then it
  // releases the cursor; close_all must return only after that.
  std::atomic<bool> close_returned{false}, releasing{false};
  std::atomic<bool> saw_waiting{false}, returned_before_release{false};
  std::thread finisher([&] {
    int sightings = 0;
    saw_waiting = wait_until([&] {
      bool waiting = pm_wrapper_state(w.w) == PM_STATE_DISCONNECTING && !close_returned;
      sightings = waiting ? sightings + 1 : 0;
      return sightings >= 2;
    }, 5000);
    returned_before_release = close_returned.load();
    releasing = true;  // from here on the cursor's connection may go back to the pool
    EXPECT_EQ(drain(c.c).size(), 5u) << "the in-flight cursor finishes normally";
  });
  pm_error close_err;
  int rc = pm_wrapper_close_all(w.w, 5000, &close_err);
  bool released_before_return = releasing.load();
  close_returned = true;
  finisher.join();
  EXPECT_EQ(rc, PM_OK) << close_err.message;
  EXPECT_TRUE(saw_waiting.load()) << "close_all never showed the pool disconnecting while the cursor was open";
  EXPECT_FALSE(returned_before_release.load()) << "close_all returned while the cursor still held its connection";
  EXPECT_TRUE(released_before_return) << "close_all returned before the cursor was released";
  EXPECT_EQ(pm_wrapper_open_pools(w.w), 0u);
  insert_json(d.d, "{\"after\": true}");  // the next call reconnects
  int64_t n = 0;
  ASSERT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK);
  EXPECT_EQ(n, 6);
}

TEST_F(Shutdown, CloseAllIsBoundedWhenWorkDoesNotFinish) {
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK);
  EXPECT_EQ(pm_wrapper_close_all(w.w, 200, &err), PM_ETIMEOUT);
  EXPECT_EQ(drain(c.c).size(), 5u) << "nothing was cut off";
  insert_json(d.d, "{}");
}

TEST_F(Shutdown, ForceCloseInterruptsWithClosedErrorAndWrapperStaysUsable) {
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK);
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(pm_cursor_next(c.c, &data, &len, &err), 1);
  ASSERT_EQ(pm_wrapper_force_close_all(w.w, &err), PM_OK);
  EXPECT_EQ(pm_cursor_next(c.c, &data, &len, &err), PM_ECLOSED);
  EXPECT_NE(std::string(err.message).find("force-closed"), std::string::npos) << err.message;
  insert_json(d.d, "{\"after_force\": true}");
  int64_t n = 0;
  ASSERT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK);
  EXPECT_EQ(n, 6);
}

TEST_F(Shutdown, WaitingCheckoutsFailWithClosedOnForceClose) {
  // Fill the pool with cursors so a fourth operation waits for a connection.
  std::vector<Cursor> held(3);
  pm_error err;
  for (auto &c : held) ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK);
  int rc = 0;
  std::thread waiter([&] {
    int64_t n;
    pm_error e;
    rc = pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &e);
  });
  EXPECT_TRUE(wait_until([&] {
    char *stats = nullptr;
    pm_wrapper_stats(w.w, &stats, nullptr);
    bool waiting = stats && std::string(stats).find("\"waiting\":1") != std::string::npos;
    pm_free(stats);
    return waiting;
  }, 5000)) << "the fourth operation waits for a connection";
  ASSERT_EQ(pm_wrapper_force_close_all(w.w, &err), PM_OK);
  waiter.join();
  EXPECT_EQ(rc, PM_ECLOSED);
}

namespace {
volatile sig_atomic_t previous_ran = 0;
void previous_handler(int) { previous_ran = 1; }
}  // namespace

// Not a fixture test: the fork must happen before this process starts any thread.
TEST(Signals, HelperClosesGracefullyThenChainsToThePreviousHandler) {
  std::string uri = with_secret(server_uri());
  std::string db = unique_db("signal");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child: an application with its own SIGTERM handler, then polymongo's helper.
    signal(SIGTERM, previous_handler);
    pm_wrapper *cw = nullptr;
    pm_error e;
    std::string json = "{\"mongoURI\": \"" + uri + "\", \"defaultDB\": \"" + db + "\"}";
    if (pm_wrapper_new(json.c_str(), &cw, &e) != PM_OK) _exit(10);
    Recorder rec;
    rec.subscribe(cw, PM_EVENT_POOL_CLOSED);
    double ms;
    if (pm_wrapper_ping(cw, nullptr, &ms, &e) != PM_OK) _exit(11);
    if (pm_wrapper_handle_signals(cw, 2000, &e) != PM_OK) _exit(12);
    kill(getpid(), SIGTERM);
    for (int i = 0; i < slow(500) && !previous_ran; ++i) usleep(10000);
    if (!previous_ran) _exit(13);
    if (rec.count(PM_EVENT_POOL_CLOSED, "*", "closed") != 1) _exit(14);
    if (pm_wrapper_state(cw) != PM_STATE_DISCONNECTED) _exit(15);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10-12 setup, 13 previous handler not run, 14 pools not closed, 15 state";
}

namespace {
// Threads of this process whose name (as top -H and gdb show it) is `name`.
int threads_named(const std::string &name) {
  int n = 0;
  if (DIR *d = opendir("/proc/self/task")) {
    while (dirent *e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string line;
      if (std::getline(comm, line) && line == name) ++n;
    }
    closedir(d);
  }
  return n;
}
}  // namespace

TEST_F(Shutdown, LibraryThreadsAreNamedAndLeaveWithTheWrapper) {
  // A thread names itself once it runs, so each count is awaited rather than read once.
  auto becomes = [](const char *name, int n) { return wait_until([&] { return threads_named(name) == n; }, 2000); };
  ASSERT_TRUE(wait_until([] { return threads_named("pm-maintenance") >= 1; }, 2000))
      << "the fixture's wrapper has its maintenance thread";
  int maintenance = threads_named("pm-maintenance"), events = threads_named("pm-events");
  Wrapper other;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\"}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &other.w, &err), PM_OK) << err.message;
  EXPECT_TRUE(becomes("pm-maintenance", maintenance + 1)) << threads_named("pm-maintenance");
  uint64_t id = 0;
  auto ignore = [](const pm_event *, void *) {};
  ASSERT_EQ(pm_wrapper_subscribe(other.w, PM_EVENT_ALL, nullptr, 0, ignore, nullptr, nullptr, &id, &err), PM_OK)
      << err.message;
  EXPECT_TRUE(becomes("pm-events", events + 1)) << "the event dispatcher starts with the first subscriber";
  pm_wrapper_free(other.w);
  other.w = nullptr;
  EXPECT_TRUE(becomes("pm-maintenance", maintenance)) << threads_named("pm-maintenance");
  EXPECT_TRUE(becomes("pm-events", events)) << threads_named("pm-events");
}

TEST(ForceClose, IdleCursorGivesBackItsSocketAtOnceAndTheNextCallReconnects) {
  int port = server_port();
  int baseline = count_sockets_to_port(port);  // this process's sockets before the wrapper
  Wrapper w;
  pm_error err;
  // One connection, and a wait for it far longer than the bound asserted below.
  std::string json = "{\"mongoURI\": \"" + add_query(server_uri(), "waitQueueTimeoutMS=10000") +
                     "\", \"maxPoolSize\": 1}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "forced");
  Db d;
  d.d = bind_db(m.m, unique_db("forced"));
  for (int i = 0; i < 5; ++i) insert_json(d.d, "{\"i\": " + std::to_string(i) + "}");
  Cursor c;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK) << err.message;
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(pm_cursor_next(c.c, &data, &len, &err), 1);  // open, idle, holding the one connection
  ASSERT_GT(count_sockets_to_port(port), baseline);

  ASSERT_EQ(pm_wrapper_force_close_all(w.w, &err), PM_OK);
  // At once: the OS shows none of the closed pool's sockets (connection and monitoring) left.
  EXPECT_EQ(count_sockets_to_port(port), baseline) << "the force-closed pool's sockets are still open";
  char *stats = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &stats, &err), PM_OK);
  std::string s = stats;
  pm_free(stats);
  EXPECT_NE(s.find("\"open\":false"), std::string::npos) << s;
  EXPECT_NE(s.find("\"connections\":{\"open\":0,\"inUse\":0"), std::string::npos) << s;

  // The next call reconnects promptly instead of waiting for the revoked connection.
  auto start = std::chrono::steady_clock::now();
  int64_t n = 0;
  ASSERT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(n, 5);
  EXPECT_LT(ms, slow(3000)) << "the next call waited for the closed pool's connection";
  EXPECT_GT(count_sockets_to_port(port), baseline) << "it reconnected";
  EXPECT_EQ(pm_cursor_next(c.c, &data, &len, &err), PM_ECLOSED);
  EXPECT_NE(std::string(err.message).find("force-closed"), std::string::npos) << err.message;
  EXPECT_EQ(pm_cursor_next(c.c, &data, &len, &err), 0) << "then it has ended, as before";
}

// pm_wrapper_close: the one close of every binding. After it, every operation of every
// descendant handle fails with PM_ECLOSED, the OS shows none of its sockets, results already
// returned stay readable, and the handles are still freed in any order.
TEST(Close, EveryDescendantFailsWithClosedAndTheSocketsAreGone) {
  int port = server_port();
  int baseline = count_sockets_to_port(port);
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + server_uri() + "\", \"maxPoolSize\": 2}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "closing");
  Db d;
  std::string name = unique_db("close");
  d.d = bind_db(m.m, name);
  for (int i = 0; i < 3; ++i) insert_json(d.d, "{\"i\": " + std::to_string(i) + "}");
  Result r;
  ASSERT_EQ(pm_db_insert_one(d.d, "{\"i\": 3}", PM_JSON, nullptr, 0, &r.r, &err), PM_OK) << err.message;
  Cursor c;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK) << err.message;
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(pm_cursor_next(c.c, &data, &len, &err), 1);
  pm_session *comp = nullptr;
  ASSERT_EQ(pm_wrapper_start_compensating(w.w, nullptr, 0, &comp, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_session_start_transaction(comp, nullptr, 0, &err), PM_OK) << err.message;
  Db in_comp;
  ASSERT_EQ(pm_db_with_session(d.d, comp, &in_comp.d, &err), PM_OK) << err.message;
  ASSERT_GT(count_sockets_to_port(port), baseline);

  ASSERT_EQ(pm_wrapper_close(w.w, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_wrapper_close(w.w, &err), PM_OK) << "closing twice is harmless";
  EXPECT_EQ(count_sockets_to_port(port), baseline) << "the closed wrapper's sockets are still open";

  int64_t n = 0;
  EXPECT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"i\": 9}", PM_JSON, nullptr, 0, nullptr, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_db_insert_one(in_comp.d, "{\"i\": 9}", PM_JSON, nullptr, 0, nullptr, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_cursor_next(c.c, &data, &len, &err), PM_ECLOSED) << err.message;
  pm_db *other = nullptr;
  EXPECT_EQ(pm_model_db(m.m, "another", &other, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(other, nullptr);
  pm_model *m2 = nullptr;
  EXPECT_EQ(pm_model_new(w.w, "later", nullptr, 0, &m2, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(m2, nullptr);
  double ms = 0;
  EXPECT_EQ(pm_wrapper_ping(w.w, name.c_str(), &ms, &err), PM_ECLOSED) << err.message;
  const char *names[] = {"dedicated_after_close"};
  EXPECT_EQ(pm_wrapper_connect_db(w.w, names, 1, nullptr, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(count_sockets_to_port(port), baseline) << "nothing reconnected";
  EXPECT_EQ(pm_result_inserted_count(r.r), 1) << "a result already returned stays readable";

  // Nothing the close refused reached the server (read by an independent client).
  EXPECT_EQ(Checker().count(name, "closing"), 4);
  pm_session_free(comp);  // freeing stays separate and order-free
}

// A native session keeps its own pooled client (its lease), so shutting the pools down alone
// would leave it working: after pm_wrapper_close its own calls and its bound dbs' fail with
// PM_ECLOSED too, and nothing reaches the server.
TEST(Close, NativeSessionAndItsDbsFailWithClosed) {
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + server_uri() + "\", \"maxPoolSize\": 2}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "closing");
  Db d;
  std::string name = unique_db("closesess");
  d.d = bind_db(m.m, name);
  pm_session *s = nullptr;
  ASSERT_EQ(pm_wrapper_start_session(w.w, name.c_str(), nullptr, 0, &s, &err), PM_OK) << err.message;
  Db bound;
  ASSERT_EQ(pm_db_with_session(d.d, s, &bound.d, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_db_insert_one(bound.d, "{\"i\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_OK) << err.message;

  ASSERT_EQ(pm_wrapper_close(w.w, &err), PM_OK) << err.message;
  int64_t n = 0;
  EXPECT_EQ(pm_db_count(bound.d, nullptr, 0, nullptr, 0, &n, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_db_insert_one(bound.d, "{\"i\": 2}", PM_JSON, nullptr, 0, nullptr, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_session_start_transaction(s, nullptr, 0, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_session_commit(s, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(pm_session_abort(s, &err), PM_ECLOSED) << err.message;
  EXPECT_EQ(Checker().count(name, "closing"), 1) << "nothing refused reached the server";
  pm_session_free(s);  // freeing stays separate and order-free
}
