// Connection storm: --databases concurrent first operations (one thread each, released at
// once) on as many databases, each routed to a dedicated pool of its own, on one cluster with a
// budget of --budget sockets (maxConnectionsPerCluster). A sampler thread counts this process's
// sockets to the server from /proc the whole time.
//
//   bench_storm --uri URI [--databases 1000] [--budget 32] [--wait-ms 60000]
//
// Prints one JSON object: {"storm": {budget, max_sockets_seen, duplicate_pools, failed,
// throttled, databases, seconds}}; every operation either succeeds or fails with PM_ETHROTTLED.
#include <dirent.h>
#include <polymongo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &what) {
  std::fprintf(stderr, "bench_storm: %s\n", what.c_str());
  std::exit(2);
}

int port_of(const std::string &uri) {
  size_t at = uri.rfind(':');
  return at == std::string::npos ? 27017 : std::atoi(uri.c_str() + at + 1);
}

// ESTABLISHED TCP sockets of this process whose remote port is `port`: inodes of /proc/net/tcp*
// rows that are among this process's descriptors, each counted once.
int sockets_to_port(int port) {
  std::set<std::string> mine;
  if (DIR *d = opendir("/proc/self/fd")) {
    while (dirent *e = readdir(d)) {
      char target[256];
      std::string path = std::string("/proc/self/fd/") + e->d_name;
      ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = 0;
      std::string t = target;
      if (t.rfind("socket:[", 0) == 0) mine.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  std::set<std::string> counted;
  for (const char *table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      row >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state != "01") continue;
      int rport = static_cast<int>(std::strtol(remote.substr(remote.find(':') + 1).c_str(), nullptr, 16));
      if (rport == port && mine.count(inode) != 0) counted.insert(inode);
    }
  }
  return static_cast<int>(counted.size());
}

void on_event(const pm_event *e, void *self) {
  auto *opened = static_cast<std::pair<std::mutex, std::map<std::string, int>> *>(self);
  std::lock_guard<std::mutex> lock(opened->first);
  ++opened->second[e->pool];
}

}  // namespace

int main(int argc, char **argv) {
  std::string uri;
  int databases = 1000, budget = 32, wait_ms = 60000;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + k);
      return argv[++i];
    };
    if (k == "--uri") uri = next();
    else if (k == "--databases") databases = std::stoi(next());
    else if (k == "--budget") budget = std::stoi(next());
    else if (k == "--wait-ms") wait_ms = std::stoi(next());
    else die("unknown argument " + k);
  }
  if (uri.empty()) die("--uri is required");
  std::string prefix = "storm_" + std::to_string(getpid()) + "_";
  std::string json = "{\"mongoURI\": \"" + uri + "\", \"maxConnectionsPerCluster\": " + std::to_string(budget) +
                     ", \"budgetWaitMS\": " + std::to_string(wait_ms) + ", \"routes\": [{\"match\": \"" + prefix +
                     "*\", \"options\": {\"maxConnections\": 2}}]}";
  pm_wrapper *w = nullptr;
  pm_error err;
  if (pm_wrapper_new(json.c_str(), &w, &err) != PM_OK) die(err.message);
  std::pair<std::mutex, std::map<std::string, int>> opened;
  if (pm_wrapper_subscribe(w, PM_EVENT_POOL_OPENED, nullptr, 0, on_event, &opened, nullptr, nullptr, &err) != PM_OK)
    die(err.message);
  pm_model *m = nullptr;
  if (pm_model_new(w, "storm", nullptr, 0, &m, &err) != PM_OK) die(err.message);
  int port = port_of(uri);
  std::atomic<bool> done{false};
  std::atomic<int> most{0};
  std::thread sampler([&] {
    while (!done.load()) {
      int n = sockets_to_port(port);
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
      if (pm_model_db(m, name.c_str(), &d, &e) != PM_OK) die(e.message);
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
  most = std::max(most.load(), sockets_to_port(port));
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
