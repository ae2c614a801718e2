// Noisy neighbour: one hot tenant floods a shared pool of --pool connections while 99 other
// tenants run their normal load; the others' p99 latency is measured three ways in one run,
// variants interleaved round by round (the median of the rounds kept):
//
//   alone  the 99 others only (the pool is not saturated): the baseline
//   fifo   others + hot tenant, fairQueueing false: waiting checkouts first come, first served
//   fair   others + hot tenant, fairQueueing true (the default): a database at a time, in turn
//
// Every operation is a find-one by _id on its tenant's database. The others' threads
// (--others-threads) each take the next of the 99 databases per operation; the hot tenant's
// threads (--hot-threads) all use one database, back to back.
//
//   bench_fairness --uri URI [--pool 8] [--others-threads 6] [--hot-threads 16] [--seconds 3]
//                  [--rounds 3]
//
// Prints one JSON object: {"fairness": {others_p99_ms_alone, others_p99_ms_fifo,
// others_p99_ms_fair, hot_ops_per_s_fair, ...}}.
#include <polymongo.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"

namespace {

struct Args {
  std::string uri;
  int pool = 8, others_threads = 6, hot_threads = 16, rounds = 3, tenants = 99;
  double seconds = 3;
};

struct Outcome {
  double others_p50_ms = 0, others_p99_ms = 0, others_ops_per_s = 0, hot_ops_per_s = 0;
  long failures = 0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

Outcome run(const Args &a, bool fair, bool hot) {
  std::string json = "{\"mongoURI\": \"" + a.uri + "\", \"maxPoolSize\": " + std::to_string(a.pool) +
                     ", \"fairQueueing\": " + (fair ? "true" : "false") + "}";
  pm_wrapper *w = nullptr;
  pm_error err;
  if (pm_wrapper_new(json.c_str(), &w, &err) != PM_OK) bench::die(err.message);
  pm_model *m = nullptr;
  if (pm_model_new(w, "fairness", nullptr, 0, &m, &err) != PM_OK) bench::die(err.message);
  std::vector<pm_db *> others;
  for (int i = 0; i < a.tenants; ++i) {
    pm_db *d = nullptr;
    std::string name = "pmfair_other_" + std::to_string(i);
    if (pm_model_db(m, name.c_str(), &d, &err) != PM_OK) bench::die(err.message);
    others.push_back(d);
  }
  pm_db *hot_db = nullptr;
  if (pm_model_db(m, "pmfair_hot", &hot_db, &err) != PM_OK) bench::die(err.message);

  std::atomic<bool> measuring{false}, stop{false};
  std::atomic<long> hot_ops{0}, other_ops{0}, failures{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<unsigned> next_tenant{0};
  auto op = [&](pm_db *d) {
    pm_buf out = {nullptr, 0};
    pm_error e;
    int rc = pm_db_find_one(d, "{\"_id\": 1}", PM_JSON, nullptr, 0, &out, &e);
    pm_buf_free(&out);
    return rc == PM_OK;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < a.others_threads; ++t)
    threads.emplace_back([&] {
      std::vector<double> mine;
      while (!stop.load(std::memory_order_relaxed)) {
        pm_db *d = others[next_tenant++ % others.size()];
        auto t0 = std::chrono::steady_clock::now();
        bool ok = op(d);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (!measuring.load(std::memory_order_relaxed)) continue;
        if (!ok) ++failures;
        mine.push_back(ms);
        ++other_ops;
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  if (hot)
    for (int t = 0; t < a.hot_threads; ++t)
      threads.emplace_back([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          bool ok = op(hot_db);
          if (!measuring.load(std::memory_order_relaxed)) continue;
          if (!ok) ++failures;
          ++hot_ops;
        }
      });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up: pool open, queues formed
  measuring = true;
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  measuring = false;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  for (auto &t : threads) t.join();
  Outcome o;
  o.others_p50_ms = percentile(latencies, 0.50);
  o.others_p99_ms = percentile(latencies, 0.99);
  o.others_ops_per_s = static_cast<double>(other_ops.load()) / elapsed;
  o.hot_ops_per_s = static_cast<double>(hot_ops.load()) / elapsed;
  o.failures = failures.load();
  for (pm_db *d : others) pm_db_free(d);
  pm_db_free(hot_db);
  pm_model_free(m);
  pm_wrapper_free(w);
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
  Args a;
  for (bench::Args args(argc, argv); args.next();) {
    if (args.is("--uri")) a.uri = args.value();
    else if (args.is("--pool")) a.pool = args.int_value();
    else if (args.is("--others-threads")) a.others_threads = args.int_value();
    else if (args.is("--hot-threads")) a.hot_threads = args.int_value();
    else if (args.is("--seconds")) a.seconds = args.double_value();
    else if (args.is("--rounds")) a.rounds = args.int_value();
    else args.unknown();
  }
  if (a.uri.empty()) bench::die("--uri is required");
  std::vector<double> alone, fifo, fair, hot_fair, hot_fifo, others_alone_ops, others_fair_ops;
  long failures = 0;
  for (int r = 0; r < a.rounds; ++r) {
    Outcome o = run(a, true, false);
    alone.push_back(o.others_p99_ms);
    others_alone_ops.push_back(o.others_ops_per_s);
    failures += o.failures;
    o = run(a, false, true);
    fifo.push_back(o.others_p99_ms);
    hot_fifo.push_back(o.hot_ops_per_s);
    failures += o.failures;
    o = run(a, true, true);
    fair.push_back(o.others_p99_ms);
    hot_fair.push_back(o.hot_ops_per_s);
    others_fair_ops.push_back(o.others_ops_per_s);
    failures += o.failures;
    std::fprintf(stderr, "round %d: others p99 alone %.2f fifo %.2f fair %.2f ms; hot %.0f ops/s fair\n", r + 1,
                 alone.back(), fifo.back(), fair.back(), hot_fair.back());
  }
  std::printf(
      "{\"fairness\": {\"others_p99_ms_alone\": %.3f, \"others_p99_ms_fifo\": %.3f, \"others_p99_ms_fair\": %.3f, "
      "\"hot_ops_per_s_fair\": %.1f, \"hot_ops_per_s_fifo\": %.1f, \"others_ops_per_s_alone\": %.1f, "
      "\"others_ops_per_s_fair\": %.1f, \"fair_vs_alone\": %.3f, \"pool\": %d, \"others\": %d, "
      "\"others_threads\": %d, \"hot_threads\": %d, \"rounds\": %d, \"seconds\": %.1f, \"failures\": %ld}}\n",
      median(alone), median(fifo), median(fair), median(hot_fair), median(hot_fifo), median(others_alone_ops),
      median(others_fair_ops), median(alone) > 0 ? median(fair) / median(alone) : 0.0, a.pool, a.tenants,
      a.others_threads, a.hot_threads, a.rounds, a.seconds, failures);
  return 0;
}
