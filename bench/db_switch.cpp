// How long obtaining a bound handle for another database takes (PolyMongo's "database switch"),
// against the baseline of what a raw libmongoc user does to switch: get a collection handle on
// an already pooled client. No I/O happens in either, so no server is needed.
//
//   bench_db_switch [--benchmark_format=json]
#include <benchmark/benchmark.h>
#include <mongoc/mongoc.h>
#include <polymongo.h>

#include <string>
#include <vector>

namespace {

constexpr int kNames = 10000;

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (int i = 0; i < kNames; ++i) out.push_back("tenant_" + std::to_string(i));
  return out;
}

struct Setup {
  pm_wrapper *w = nullptr;
  pm_model *m = nullptr;
  Setup() {
    pm_error err;
    pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/\", \"defaultDB\": \"d\"}", &w, &err);
    pm_model_new(w, "users", nullptr, 0, &m, &err);
  }
  ~Setup() {
    pm_model_free(m);
    pm_wrapper_free(w);
  }
};

// The same database again and again (PolyMongo's "cached switch").
void PolymongoSwitchCached(benchmark::State &state) {
  Setup s;
  pm_error err;
  for (auto _ : state) {
    pm_db *d = nullptr;
    pm_model_db(s.m, "tenant_42", &d, &err);
    benchmark::DoNotOptimize(d);
    pm_db_free(d);
  }
}

// A different database each time, over 10,000 names (PolyMongo's "new connection" case).
void PolymongoSwitchAcross10k(benchmark::State &state) {
  Setup s;
  auto all = names();
  pm_error err;
  size_t i = 0;
  for (auto _ : state) {
    pm_db *d = nullptr;
    pm_model_db(s.m, all[i++ % kNames].c_str(), &d, &err);
    benchmark::DoNotOptimize(d);
    pm_db_free(d);
  }
}

// The first binding of each of 10,000 names on a fresh wrapper: what a tenant's first request
// pays (PolyMongo's "new connection" case; here no connection is opened for it).
void PolymongoSwitchFirstTime(benchmark::State &state) {
  Setup s;
  auto all = names();
  pm_error err;
  size_t i = 0;
  for (auto _ : state) {
    pm_db *d = nullptr;
    pm_model_db(s.m, all[i++].c_str(), &d, &err);
    benchmark::DoNotOptimize(d);
    pm_db_free(d);
  }
}

// Baseline: a collection handle for another database on a client already out of the pool.
void RawMongocGetCollection(benchmark::State &state) {
  mongoc_init();
  mongoc_uri_t *uri = mongoc_uri_new("mongodb://127.0.0.1:1/");
  mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
  mongoc_client_t *client = mongoc_client_pool_pop(pool);
  auto all = names();
  size_t i = 0;
  for (auto _ : state) {
    mongoc_collection_t *c = mongoc_client_get_collection(client, all[i++ % kNames].c_str(), "users");
    benchmark::DoNotOptimize(c);
    mongoc_collection_destroy(c);
  }
  mongoc_client_pool_push(pool, client);
  mongoc_client_pool_destroy(pool);
  mongoc_uri_destroy(uri);
}

BENCHMARK(RawMongocGetCollection);
BENCHMARK(PolymongoSwitchCached);
BENCHMARK(PolymongoSwitchAcross10k);
BENCHMARK(PolymongoSwitchFirstTime)->Iterations(kNames);

}  // namespace

BENCHMARK_MAIN();
