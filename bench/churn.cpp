// Tenant churn: does the wrapper's memory stay flat when every operation names a database it has
// never seen? One thread binds a model to N distinct database names, once each, and runs one
// count there (on a collection that does not exist, so the server creates nothing), then does
// the same for N more names. The resident set (/proc/self/statm) is read before, between and
// after: a wrapper whose per-database tables are bounded grows during the first N (its tables
// fill up to their caps, the allocator's arenas warm up) and not during the second.
//
// A routing rule that matches none of the names is configured, so that every name goes through
// the router's table (without a rule the router answers without one).
//
//   bench_churn --uri URI [--names N] [--prefix P] [--stats]
//
// Prints one JSON object: names_per_phase, rss_mb_start, rss_growth_mb_first_million and
// rss_growth_mb_second_million (named for the full run of N = 1,000,000; with a smaller N they
// are the growth over each phase of N), seconds, and with --stats the wrapper's own statistics
// of its tables at the end.
#include <polymongo.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common.hpp"

namespace {

double rss_mb() {
  FILE *f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) bench::die("cannot read /proc/self/statm");
  long pages = 0, resident = 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) bench::die("cannot parse /proc/self/statm");
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1048576.0;
}

// Binds `name` and counts an absent collection there: one round trip that creates nothing.
void touch(pm_model *model, const std::string &name) {
  pm_error err;
  pm_db *db = nullptr;
  if (pm_model_db(model, name.c_str(), &db, &err) != PM_OK) bench::die(err.message);
  int64_t n = -1;
  if (pm_db_count(db, nullptr, 0, nullptr, 0, &n, &err) != PM_OK) bench::die(name + ": " + err.message);
  if (n != 0) bench::die(name + ": the collection is not empty");
  pm_db_free(db);
}

}  // namespace

int main(int argc, char **argv) {
  std::string uri, prefix = "churn";
  long names = 1000000;
  bool stats = false;
  for (bench::Args args(argc, argv); args.next();) {
    if (args.is("--uri")) uri = args.value();
    else if (args.is("--names")) names = args.long_value();
    else if (args.is("--prefix")) prefix = args.value();
    else if (args.is("--stats")) stats = true;
    else args.unknown();
  }
  if (uri.empty()) bench::die("--uri is required");

  std::string opts = R"({"mongoURI": ")" + uri +
                     R"(", "routes": [{"match": "churn_never_*", "sharedPool": true}]})";
  pm_wrapper *w = nullptr;
  pm_model *m = nullptr;
  pm_error err;
  if (pm_wrapper_new(opts.c_str(), &w, &err) != PM_OK) bench::die(err.message);
  if (pm_model_new(w, "absent", nullptr, 0, &m, &err) != PM_OK) bench::die(err.message);

  auto t0 = std::chrono::steady_clock::now();
  touch(m, prefix + "_warmup");  // connects the pool before the first reading
  double start = rss_mb();
  long k = 0;
  for (; k < names; ++k) touch(m, prefix + "_" + std::to_string(k));
  double middle = rss_mb();
  for (; k < 2 * names; ++k) touch(m, prefix + "_" + std::to_string(k));
  double end = rss_mb();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string tables = "null";
  if (stats) {
    char *json = nullptr;
    if (pm_wrapper_stats(w, &json, &err) != PM_OK) bench::die(err.message);
    tables = json;
    pm_free(json);
  }
  std::printf("{\"names_per_phase\": %ld, \"rss_mb_start\": %.2f, \"rss_growth_mb_first_million\": %.2f, "
              "\"rss_growth_mb_second_million\": %.2f, \"seconds\": %.1f, \"stats\": %s}\n",
              names, start, middle - start, end - middle, seconds, tables.c_str());
  pm_model_free(m);
  pm_wrapper_free(w);
  return 0;
}
