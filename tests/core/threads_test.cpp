// 16 threads over 200 databases through one shared wrapper: every document lands in its own
// database and nowhere else, and the process never holds more than maxPoolSize (+ monitoring)
// connections to the server.
#include "support.hpp"

#include <atomic>
#include <map>
#include <thread>

using namespace pmtest;

// What the socket peak counts (tests/support, sockets_to_port): this process's own TCP
// sockets, i.e. those whose inode is one of its open file descriptors in /proc/self/fd, that
// are ESTABLISHED in /proc/self/net/tcp{,6} with the server's port as their remote port, each
// socket once (by inode), sampled every 2 ms. Other processes' sockets to the same server
// (tests running beside this one), sockets being set up or closed (SYN_SENT, FIN_WAIT,
// TIME_WAIT) and connections to other servers are not counted. The bound is maxPoolSize
// pooled connections plus libmongoc's monitoring (at most 2 per server). When this test ran
// beside others it used to count one socket several times (the kernel repeats rows of
// /proc/net/tcp while the table changes between reads) and once reported 13 sockets when
// there were 9 distinct ones; counting each inode once fixed that.
TEST(Threads, SixteenThreadsTwoHundredDatabasesStayIsolatedWithinPoolLimit) {
  constexpr int kThreads = 16, kDatabases = 200, kMaxPool = 8, kPerThread = 100;
  int port = server_port();
  int before = count_sockets_to_port(port);
  Wrapper w;
  w.w = new_wrapper("\"maxPoolSize\": " + std::to_string(kMaxPool));
  Model m;
  m.m = new_model(w.w, "docs");
  std::string prefix = unique_db("mt");

  std::atomic<bool> done{false};
  std::atomic<int> peak{0};
  std::string at_peak;  // polymongo's own connection counts when the peak was seen
  // Each socket's (local port's) first and last sighting, ms from the start, and the sockets
  // at the peak: when the bound is passed, their lifetimes tell replacements (short overlaps)
  // from connections held throughout.
  std::map<int, std::pair<int64_t, int64_t>> seen;
  std::vector<int> peak_ports;
  auto t0 = std::chrono::steady_clock::now();
  std::thread sampler([&] {
    while (!done) {
      std::vector<int> ports = sockets_to_port(port);
      int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      for (int p : ports) {
        auto [it, fresh] = seen.try_emplace(p, ms, ms);
        if (!fresh) it->second.second = ms;
      }
      int n = static_cast<int>(ports.size()) - before;
      if (n > peak.load()) {  // the only writer
        peak = n;
        peak_ports = ports;
        char *stats = nullptr;
        if (pm_wrapper_stats(w.w, &stats, nullptr) == PM_OK) {
          std::string s(stats);
          size_t from = s.find("\"connections\":");
          at_peak = from == std::string::npos ? s : s.substr(from, s.find('}', from) + 1 - from);
        }
        pm_free(stats);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int dbi = (t * 37 + i * 11) % kDatabases;
        std::string name = prefix + "_" + std::to_string(dbi);
        pm_db *d = nullptr;
        pm_error err;
        if (pm_model_db(m.m, name.c_str(), &d, &err) != PM_OK) { ++failures; continue; }
        std::string doc = "{\"db\": " + std::to_string(dbi) + ", \"t\": " + std::to_string(t) +
                          ", \"i\": " + std::to_string(i) + "}";
        if (pm_db_insert_one(d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &err) != PM_OK) ++failures;
        int64_t n = 0;
        std::string filter = "{\"db\": {\"$ne\": " + std::to_string(dbi) + "}}";
        if (pm_db_count(d, filter.c_str(), PM_JSON, nullptr, 0, &n, &err) != PM_OK || n != 0) ++failures;
        if (i % 10 == 0) {
          pm_result *r = nullptr;
          if (pm_db_update_many(d, "{}", PM_JSON, "{\"$set\": {\"seen\": true}}", PM_JSON, nullptr, 0, &r,
                                &err) != PM_OK)
            ++failures;
          pm_result_free(r);
          pm_cursor *c = nullptr;
          if (pm_db_find(d, nullptr, 0, "{\"batchSize\": 3}", PM_JSON, &c, &err) != PM_OK) ++failures;
          const uint8_t *data;
          size_t len;
          while (c && pm_cursor_next(c, &data, &len, &err) == 1) {
          }
          pm_cursor_free(c);
        }
        pm_db_free(d);
      }
    });
  }
  for (auto &th : threads) th.join();
  done = true;
  sampler.join();

  EXPECT_EQ(failures.load(), 0);
  // Ground truth from an independent client: each database holds exactly its own documents.
  Checker check;
  int64_t total = 0;
  for (int dbi = 0; dbi < kDatabases; ++dbi) {
    std::string name = prefix + "_" + std::to_string(dbi);
    int64_t mine = check.count(name, "docs", "{\"db\": " + std::to_string(dbi) + "}");
    EXPECT_EQ(check.count(name, "docs"), mine) << name << " holds another database's documents";
    total += mine;
  }
  EXPECT_EQ(total, kThreads * kPerThread);
  // maxPoolSize pooled connections + libmongoc's monitoring (at most 2 per server).
  std::string lifetimes;
  for (int p : peak_ports)
    lifetimes += " " + std::to_string(p) + ":" + std::to_string(seen[p].first) + "-" + std::to_string(seen[p].second);
  EXPECT_LE(peak.load(), kMaxPool + 2) << "peak sockets " << peak.load() << "; polymongo then had " << at_peak
                                       << "; sockets at the peak (local port: first-last seen, ms):" << lifetimes
                                       << "; " << seen.size() << " sockets seen in all";
  EXPECT_GE(peak.load(), 1);
  std::cout << "peak sockets to the server: " << peak.load() << " for " << kDatabases << " databases (polymongo then had "
            << at_peak << ")\n";
}
