// Connection storm: --databases concurrent first operations (one thread each, released at
// once) on as many databases, each routed to a dedicated pool of its own, on one cluster with a
// budget of --budget sockets (maxConnectionsPerCluster). A sampler thread counts this process's
// sockets to the server from /proc the whole time.
//
//   bench_storm --uri URI [--databases 1000] [--budget 32] [--wait-ms 60000]
//
// Prints one JSON object: {"storm": {budget, max_sockets_seen, duplicate_pools, failed,
// throttled, databases, seconds}}; every operation either succeeds or fails with PM_ETHROTTLED.
#include <polymongo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"

namespace {

void on_event(const pm_event *e, void *self) {
  auto *opened = static_cast<std::pair<std::mutex, std::map<std::string, int>> *>(self);
  std::lock_guard<std::mutex> lock(opened->first);
  ++opened->second[e->pool];
}

}  // namespace

int main(int argc, char **argv) {
  std::string uri;
  int databases = 1000, budget = 32, wait_ms = 60000;
  for (bench::Args args(argc, argv); args.next();) {
    if (args.is("--uri")) uri = args.value();
    else if (args.is("--databases")) databases = args.int_value();
    else if (args.is("--budget")) budget = args.int_value();
    else if (args.is("--wait-ms")) wait_ms = args.int_value();
    else args.unknown();
  }
  if (uri.empty()) bench::die("--uri is required");
  std::string prefix = "storm_" + std::to_string(getpid()) + "_";
  std::string json = "{\"mongoURI\": \"" + uri + "\", \"maxConnectionsPerCluster\": " + std::to_string(budget) +
                     ", \"budgetWaitMS\": " + std::to_string(wait_ms) + ", \"routes\": [{\"match\": \"" + prefix +
                     "*\", \"options\": {\"maxConnections\": 2}}]}";
  pm_wrapper *w = nullptr;
  pm_error err;
  if (pm_wrapper_new(json.c_str(), &w, &err) != PM_OK) bench::die(err.message);
  std::pair<std::mutex, std::map<std::string, int>> opened;
  if (pm_wrapper_subscribe(w, PM_EVENT_POOL_OPENED, nullptr, 0, on_event, &opened, nullptr, nullptr, &err) != PM_OK)
    bench::die(err.message);
  pm_model *m = nullptr;
  if (pm_model_new(w, "storm", nullptr, 0, &m, &err) != PM_OK) bench::die(err.message);
  int port = bench::port_of(uri);
  std::atomic<bool> done{false};
  std::atomic<int> most{0};
  std::thread sampler([&] {
    while (!done.load()) {
      int n = bench::sockets_to_port(port);
      most = std::max(most.load(), n);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::atomic<int> ready{0}, failed{0}, throttled{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(databases));
  for (int i = 0; i < databases; ++i)
    threads.emplace_back([&, i] {
      pm_db *d = nullptr;
      pm_error e;
      std::string name = prefix + std::to_string(i);
      if (pm_model_db(m, name.c_str(), &d, &e) != PM_OK) bench::die(e.message);
      ++ready;
      while (!go.load()) std::this_thread::yield();
      int rc = pm_db_insert_one(d, "{\"first\": true}", PM_JSON, nullptr, 0, nullptr, &e);
      if (rc != PM_OK) {
        ++failed;
        (rc == PM_ETHROTTLED ? throttled : other)++;
      }
      pm_db_free(d);
    });
  while (ready.load() < databases) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto started = std::chrono::steady_clock::now();
  go = true;
  for (auto &t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  done = true;
  sampler.join();
  most = std::max(most.load(), bench::sockets_to_port(port));
  pm_wrapper_flush_events(w, 5000, &err);
  int duplicates = 0, pools = 0;
  {
    std::lock_guard<std::mutex> lock(opened.first);
    for (const auto &[label, n] : opened.second) {
      ++pools;
      duplicates += n - 1;
    }
  }
  // Drop what the run wrote, through the same wrapper.
  for (int i = 0; i < databases; ++i) {
    std::string name = prefix + std::to_string(i);
    pm_wrapper_drop_database(w, name.c_str(), &err);
  }
  pm_model_free(m);
  pm_wrapper_free(w);
  std::printf("{\"storm\": {\"budget\": %d, \"max_sockets_seen\": %d, \"duplicate_pools\": %d, \"failed\": %d, "
              "\"throttled\": %d, \"other_failures\": %d, \"pools\": %d, \"databases\": %d, \"seconds\": %.2f}}\n",
              budget, most.load(), duplicates, failed.load(), throttled.load(), other.load(), pools, databases,
              seconds);
  return 0;
}
