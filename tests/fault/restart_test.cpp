// kill -9 the server during a write loop from several threads, restart it on the same port and
// data directory: the same wrapper recovers, every acknowledged write survives, and calls made
// during the outage fail with a connection or timeout error within bounded time.
#include "support.hpp"

#include <atomic>
#include <set>
#include <thread>

using namespace pmtest;

namespace {
int sh(const std::string &cmd) { return std::system(cmd.c_str()); }
std::string read_first_line(const std::string &path) {
  FILE *f = fopen(path.c_str(), "r");
  char buf[512] = {0};
  if (f) {
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
  }
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}
}  // namespace

TEST(Fault, KillNineAndRestartDuringWriteLoop) {
  const char *script = ferretdb_script();
  std::string dir = "/tmp/" + unique_db("pm_fault");
  ASSERT_EQ(sh(std::string(script) + " start " + dir + " >/dev/null"), 0);
  std::string uri = read_first_line(dir + "/uri");
  ASSERT_FALSE(uri.empty());

  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" +
                     add_query(uri, "serverSelectionTimeoutMS=1000&connectTimeoutMS=1000&socketTimeoutMS=3000&"
                                    "waitQueueTimeoutMS=3000&heartbeatFrequencyMS=500") +
                     "\", \"defaultDB\": \"fault_db\", \"maxPoolSize\": 4}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "writes");

  std::atomic<bool> stop{false};
  std::atomic<int> phase{0};  // 0 before the kill, 1 down, 2 restarted
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<int> ok_after_restart{0}, bad_codes{0}, failures{0};
  std::atomic<int64_t> slowest_failure_ms{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Db d;
      d.d = bind_db(m.m, "fault_db");
      for (int i = 0; !stop; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        std::string doc = "{\"_id\": \"" + id + "\"}";
        pm_error e;
        auto start = std::chrono::steady_clock::now();
        int rc = pm_db_insert_one(d.d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &e);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        if (rc == PM_OK) {
          std::lock_guard<std::mutex> lock(mu);
          acked.insert(id);
          if (phase == 2) ++ok_after_restart;
        } else {
          ++failures;
          if (rc != PM_ECONNECT && rc != PM_ETIMEOUT) {
            ++bad_codes;
            ADD_FAILURE() << pm_code_name(rc) << ": " << e.message;
          }
          int64_t prev = slowest_failure_ms;
          while (ms > prev && !slowest_failure_ms.compare_exchange_weak(prev, ms)) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  phase = 1;
  ASSERT_EQ(sh(std::string(script) + " kill " + dir), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(sh(std::string(script) + " start " + dir + " >/dev/null"), 0);
  phase = 2;
  EXPECT_TRUE(wait_until([&] { return ok_after_restart.load() >= 20; }, 20000)) << "the same wrapper recovered";
  stop = true;
  for (auto &th : threads) th.join();

  EXPECT_GT(failures.load(), 0) << "the outage was observed";
  EXPECT_EQ(bad_codes.load(), 0);
  EXPECT_LT(slowest_failure_ms.load(), slow(8000)) << "no call hung: bounded by the configured timeouts";
  Checker check(uri);
  auto docs = check.find_json("fault_db", "writes");
  std::set<std::string> present;
  for (auto &d : docs) present.insert(field(d, "_id").substr(1, field(d, "_id").size() - 2));
  size_t missing = 0;
  for (auto &id : acked) missing += present.count(id) == 0;
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  std::cout << acked.size() << " acknowledged writes, " << failures.load() << " failed during the outage, slowest failure "
            << slowest_failure_ms.load() << " ms\n";
  sh(std::string(script) + " stop " + dir);
  sh("rm -rf " + dir);
}
