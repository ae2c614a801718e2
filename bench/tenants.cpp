// Multi-tenant load: T threads doing find-one-by-id and insert-one, alternately, across N tenant
// databases, for three ways of reaching them:
//
//   polymongo  one pm_wrapper; every operation binds its tenant's database (pm_model_db)
//   raw_pool   one mongoc_client_pool_t used directly: the floor polymongo's overhead is
//              measured against
//   naive      one client per database, opened on first use (what users start with)
//
// Prints one JSON object: throughput, client CPU per operation (the process's user+system time
// over the timed run, less the socket sampler's own), the most sockets to the server the process
// held at once (counted from the OS, not from any driver's bookkeeping) and peak RSS (VmHWM). Run one
// process per variant so that peak RSS belongs to that variant alone (bench/run does).
//
// Paired (--variant A+B): both variants in one process, every worker switching between them
// together every --slice-ms, so that both meet the same machine: a shared host's noise moves
// separate runs by more than the difference measured. CPU per operation is the workers' own
// (CLOCK_THREAD_CPUTIME_ID, read at each switch) plus, for polymongo, all the CPU of its own
// threads (named pm-*) over the whole run, though they also ran while B did.
//
//   bench_tenants --uri URI --seed --databases N [--docs K]
//   bench_tenants --uri URI --variant V[+V2] --databases N [--threads T] [--seconds S]
//                 [--pool P] [--docs K] [--slice-ms MS] [--ops mixed|find|insert]
//                 [--model plain|indexed|validated]
//
// --model: polymongo's model of the tenants' collection. plain has no setup; indexed declares
// an index (applied once per database, checked on every operation); validated an index and a
// validator (a server without validators fails it). raw_pool and naive do no setup: the
// indexes polymongo creates are in the same databases, so both meet the same server work.
#include <mongoc/mongoc.h>
#include <polymongo.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common.hpp"

namespace {

struct Args {
  std::string uri, variant = "polymongo";
  int databases = 100, threads = 4, pool = 8, docs = 20;
  double seconds = 5, warmup = 0.5;
  int slice_ms = 50;
  std::string ops = "mixed";  // or "find" or "insert": one kind of operation only
  std::string model = "plain";  // or "indexed" or "validated"
  bool seed = false;
  std::vector<std::string> variants() const {  // "a+b" -> {"a", "b"}
    std::vector<std::string> out;
    size_t plus = variant.find('+');
    out.push_back(variant.substr(0, plus));
    if (plus != std::string::npos) out.push_back(variant.substr(plus + 1));
    return out;
  }
};

Args parse(int argc, char **argv) {
  Args a;
  for (bench::Args args(argc, argv); args.next();) {
    if (args.is("--uri")) a.uri = args.value();
    else if (args.is("--variant")) a.variant = args.value();
    else if (args.is("--databases")) a.databases = args.int_value();
    else if (args.is("--threads")) a.threads = args.int_value();
    else if (args.is("--pool")) a.pool = args.int_value();
    else if (args.is("--docs")) a.docs = args.int_value();
    else if (args.is("--seconds")) a.seconds = args.double_value();
    else if (args.is("--warmup")) a.warmup = args.double_value();
    else if (args.is("--slice-ms")) a.slice_ms = args.int_value();
    else if (args.is("--ops")) a.ops = args.value();
    else if (args.is("--model")) a.model = args.value();
    else if (args.is("--seed")) a.seed = true;
    else args.unknown();
  }
  if (a.uri.empty()) bench::die("--uri is required");
  for (const std::string &v : a.variants())
    if (v != "polymongo" && v != "raw_pool" && v != "naive")
      bench::die("--variant must be polymongo, raw_pool or naive, or two of them joined by '+'");
  if (a.slice_ms <= 0) bench::die("--slice-ms must be positive");
  if (a.ops != "mixed" && a.ops != "find" && a.ops != "insert") bench::die("--ops must be mixed, find or insert");
  if (a.model != "plain" && a.model != "indexed" && a.model != "validated")
    bench::die("--model must be plain, indexed or validated");
  return a;
}

std::string tenant(int i) { return "pmb_tenant_" + std::to_string(i); }

// ---- what every variant does per operation ---------------------------------------------------

bson_t *new_doc(int t) {
  bson_oid_t oid;
  bson_oid_init(&oid, nullptr);
  bson_t *d = bson_new();
  BSON_APPEND_OID(d, "_id", &oid);
  BSON_APPEND_UTF8(d, "tenant", tenant(t).c_str());
  BSON_APPEND_INT32(d, "n", t);
  BSON_APPEND_UTF8(d, "s", "abcdefghijklmnopqrstuvwxyz012345");
  return d;
}

bson_t *id_filter(int id) {
  bson_t *f = bson_new();
  BSON_APPEND_INT32(f, "_id", id);
  return f;
}

// One variant: find_one and insert_one on tenant database t. Both return false on any failure.
class Variant {
 public:
  virtual ~Variant() = default;
  virtual bool find_one(int t, const bson_t *filter) = 0;
  virtual bool insert_one(int t, const bson_t *doc) = 0;
};

class Polymongo : public Variant {
 public:
  explicit Polymongo(const Args &a) {
    std::string opts = R"({"mongoURI": ")" + a.uri + R"(", "maxPoolSize": )" + std::to_string(a.pool) + "}";
    pm_error err;
    if (pm_wrapper_new(opts.c_str(), &w_, &err) != PM_OK) bench::die(err.message);
    // Model options as BSON: {indexes: [{key: {tenant: 1}}], validator: {...}} (as the model asks).
    bson_t *model = bson_new();
    if (a.model != "plain") {
      bson_t indexes, index, key;
      BSON_APPEND_ARRAY_BEGIN(model, "indexes", &indexes);
      BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
      BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
      BSON_APPEND_INT32(&key, "tenant", 1);
      bson_append_document_end(&index, &key);
      bson_append_document_end(&indexes, &index);
      bson_append_array_end(model, &indexes);
    }
    if (a.model == "validated") {
      bson_t validator, schema, required;
      BSON_APPEND_DOCUMENT_BEGIN(model, "validator", &validator);
      BSON_APPEND_DOCUMENT_BEGIN(&validator, "$jsonSchema", &schema);
      BSON_APPEND_UTF8(&schema, "bsonType", "object");
      BSON_APPEND_ARRAY_BEGIN(&schema, "required", &required);
      BSON_APPEND_UTF8(&required, "0", "tenant");
      bson_append_array_end(&schema, &required);
      bson_append_document_end(&validator, &schema);
      bson_append_document_end(model, &validator);
    }
    int rc = pm_model_new(w_, "users", a.model == "plain" ? nullptr : bson_get_data(model),
                          a.model == "plain" ? 0 : model->len, &m_, &err);
    bson_destroy(model);
    if (rc != PM_OK) bench::die(err.message);
    for (int i = 0; i < a.databases; ++i) names_.push_back(tenant(i));
    // The setup is applied once per database, on its first operation: done here, so that the
    // timed run measures the steady state (every operation checking that it was done).
    if (a.model != "plain") {
      bson_t *f = id_filter(0);
      for (int t = 0; t < a.databases; ++t)
        if (!find_one(t, f)) bench::die("setting up " + names_[static_cast<size_t>(t)] + " failed");
      bson_destroy(f);
    }
  }
  ~Polymongo() override {
    pm_model_free(m_);
    pm_wrapper_free(w_);
  }
  bool find_one(int t, const bson_t *filter) override {
    pm_error err;
    pm_db *d = nullptr;
    if (pm_model_db(m_, names_[t].c_str(), &d, &err) != PM_OK) return report(err);
    pm_buf out{};
    int rc = pm_db_find_one(d, bson_get_data(filter), filter->len, nullptr, 0, &out, &err);
    bool found = rc == PM_OK && out.data != nullptr;
    pm_buf_free(&out);
    pm_db_free(d);
    return rc == PM_OK ? found : report(err);
  }
  bool insert_one(int t, const bson_t *doc) override {
    pm_error err;
    pm_db *d = nullptr;
    if (pm_model_db(m_, names_[t].c_str(), &d, &err) != PM_OK) return report(err);
    int rc = pm_db_insert_one(d, bson_get_data(doc), doc->len, nullptr, 0, nullptr, &err);
    pm_db_free(d);
    return rc == PM_OK || report(err);
  }

 private:
  static bool report(const pm_error &err) {
    std::fprintf(stderr, "bench_tenants: polymongo: %s\n", err.message);
    return false;
  }
  pm_wrapper *w_ = nullptr;
  pm_model *m_ = nullptr;
  std::vector<std::string> names_;
};

// The operations on one client, as a careful libmongoc user writes them.
bool mongoc_find_one(mongoc_client_t *c, const std::string &db, const bson_t *filter) {
  mongoc_collection_t *coll = mongoc_client_get_collection(c, db.c_str(), "users");
  bson_t opts;
  bson_init(&opts);
  BSON_APPEND_INT64(&opts, "limit", 1);
  mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, &opts, nullptr);
  const bson_t *doc = nullptr;
  bool found = mongoc_cursor_next(cur, &doc);
  bson_error_t error;
  if (mongoc_cursor_error(cur, &error)) {
    std::fprintf(stderr, "bench_tenants: find: %s\n", error.message);
    found = false;
  }
  mongoc_cursor_destroy(cur);
  bson_destroy(&opts);
  mongoc_collection_destroy(coll);
  return found;
}

bool mongoc_insert_one(mongoc_client_t *c, const std::string &db, const bson_t *doc) {
  mongoc_collection_t *coll = mongoc_client_get_collection(c, db.c_str(), "users");
  bson_error_t error;
  bool ok = mongoc_collection_insert_one(coll, doc, nullptr, nullptr, &error);
  if (!ok) std::fprintf(stderr, "bench_tenants: insert: %s\n", error.message);
  mongoc_collection_destroy(coll);
  return ok;
}

class RawPool : public Variant {
 public:
  explicit RawPool(const Args &a) {
    mongoc_uri_t *uri = mongoc_uri_new(a.uri.c_str());
    if (uri == nullptr) bench::die("bad --uri");
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE, a.pool);
    pool_ = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool_, MONGOC_ERROR_API_VERSION_2);
    mongoc_uri_destroy(uri);
    for (int i = 0; i < a.databases; ++i) names_.push_back(tenant(i));
  }
  ~RawPool() override { mongoc_client_pool_destroy(pool_); }
  bool find_one(int t, const bson_t *filter) override {
    mongoc_client_t *c = mongoc_client_pool_pop(pool_);
    bool ok = mongoc_find_one(c, names_[t], filter);
    mongoc_client_pool_push(pool_, c);
    return ok;
  }
  bool insert_one(int t, const bson_t *doc) override {
    mongoc_client_t *c = mongoc_client_pool_pop(pool_);
    bool ok = mongoc_insert_one(c, names_[t], doc);
    mongoc_client_pool_push(pool_, c);
    return ok;
  }

 private:
  mongoc_client_pool_t *pool_ = nullptr;
  std::vector<std::string> names_;
};

// One single-threaded client per database, made on first use and guarded by its own mutex.
class Naive : public Variant {
 public:
  explicit Naive(const Args &a) : uri_(a.uri), slots_(static_cast<size_t>(a.databases)) {
    for (int i = 0; i < a.databases; ++i) slots_[static_cast<size_t>(i)].name = tenant(i);
  }
  ~Naive() override {
    for (auto &s : slots_) mongoc_client_destroy(s.client);
  }
  bool find_one(int t, const bson_t *filter) override {
    Slot &s = slots_[static_cast<size_t>(t)];
    std::lock_guard<std::mutex> lock(s.mu);
    return mongoc_find_one(client(s), s.name, filter);
  }
  bool insert_one(int t, const bson_t *doc) override {
    Slot &s = slots_[static_cast<size_t>(t)];
    std::lock_guard<std::mutex> lock(s.mu);
    return mongoc_insert_one(client(s), s.name, doc);
  }

 private:
  struct Slot {
    std::mutex mu;
    std::string name;
    mongoc_client_t *client = nullptr;
  };
  mongoc_client_t *client(Slot &s) {
    if (s.client == nullptr) {
      s.client = mongoc_client_new(uri_.c_str());
      if (s.client == nullptr) bench::die("bad --uri");
      mongoc_client_set_error_api(s.client, MONGOC_ERROR_API_VERSION_2);
    }
    return s.client;
  }
  std::string uri_;
  std::vector<Slot> slots_;
};

// ---- measuring -----------------------------------------------------------------------------

double seconds(const timeval &t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double user_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return seconds(u.ru_utime);
}

int server_port(const std::string &uri) {
  mongoc_uri_t *u = mongoc_uri_new(uri.c_str());
  if (u == nullptr) bench::die("bad --uri");
  const mongoc_host_list_t *h = mongoc_uri_get_hosts(u);
  int port = h != nullptr ? h->port : 27017;
  mongoc_uri_destroy(u);
  return port;
}

void seed(const Args &a) {
  mongoc_client_t *c = mongoc_client_new(a.uri.c_str());
  if (c == nullptr) bench::die("bad --uri");
  for (int t = 0; t < a.databases; ++t) {
    mongoc_collection_t *coll = mongoc_client_get_collection(c, tenant(t).c_str(), "users");
    bson_t *probe = id_filter(a.docs - 1);
    int64_t have = mongoc_collection_count_documents(coll, probe, nullptr, nullptr, nullptr, nullptr);
    bson_destroy(probe);
    if (have != 1) {
      mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, nullptr);
      for (int id = 0; id < a.docs; ++id) {
        bson_t *d = bson_new();
        BSON_APPEND_INT32(d, "_id", id);
        BSON_APPEND_UTF8(d, "tenant", tenant(t).c_str());
        BSON_APPEND_UTF8(d, "s", "abcdefghijklmnopqrstuvwxyz012345");
        mongoc_bulk_operation_insert(bulk, d);
        bson_destroy(d);
      }
      bson_error_t error;
      // Duplicate keys from a partly seeded database are fine; anything else is not.
      if (!mongoc_bulk_operation_execute(bulk, nullptr, &error) && error.code != 11000)
        bench::die(std::string("seeding ") + tenant(t) + ": " + error.message);
      mongoc_bulk_operation_destroy(bulk);
    }
    mongoc_collection_destroy(coll);
  }
  mongoc_client_destroy(c);
}

std::unique_ptr<Variant> make_variant(const std::string &name, const Args &a) {
  if (name == "polymongo") return std::make_unique<Polymongo>(a);
  if (name == "raw_pool") return std::make_unique<RawPool>(a);
  return std::make_unique<Naive>(a);
}

// The workload: operation i of a worker, alternately a find-one-by-id and an insert-one (or
// only one of them, with --ops).
struct Workload {
  std::mt19937 rng;
  std::uniform_int_distribution<int> pick_tenant, pick_id;
  int only;  // -1: alternate; 0: finds; 1: inserts
  Workload(const Args &a, int worker)
      : rng(static_cast<unsigned>(worker) * 7919u + 17u), pick_tenant(0, a.databases - 1),
        pick_id(0, a.docs - 1), only(a.ops == "find" ? 0 : a.ops == "insert" ? 1 : -1) {}
  bool run(Variant &v, long i) {
    int t = pick_tenant(rng);
    bool ok;
    if ((only < 0 ? i % 2 : only) == 0) {
      bson_t *f = id_filter(pick_id(rng));
      ok = v.find_one(t, f);
      bson_destroy(f);
    } else {
      bson_t *d = new_doc(t);
      ok = v.insert_one(t, d);
      bson_destroy(d);
    }
    return ok;
  }
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// CPU seconds of this process's threads whose name starts with `prefix` (from /proc; their
// schedstat run time is exact, not sampled by ticks).
double named_threads_cpu_seconds(const std::string &prefix) {
  double total = 0;
  DIR *dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent *e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    char comm[64] = {0};
    FILE *f = std::fopen((base + "/comm").c_str(), "r");
    if (f == nullptr) continue;
    bool named = std::fgets(comm, sizeof comm, f) != nullptr && std::string(comm).rfind(prefix, 0) == 0;
    std::fclose(f);
    if (!named) continue;
    unsigned long long run_ns = 0;
    f = std::fopen((base + "/schedstat").c_str(), "r");
    if (f == nullptr) continue;
    if (std::fscanf(f, "%llu", &run_ns) == 1) total += static_cast<double>(run_ns) / 1e9;
    std::fclose(f);
  }
  closedir(dir);
  return total;
}

// Both variants in one process: every worker runs whichever is active, and the main thread
// switches the active one every slice. Each worker charges its own CPU time to the variant it
// ran since its last switch.
int run_paired(const Args &a) {
  std::vector<std::string> names = a.variants();
  std::vector<std::unique_ptr<Variant>> vs;
  for (const std::string &n : names) vs.push_back(make_variant(n, a));
  std::atomic<int> phase{0};   // 0 warm-up, 1 timed, 2 stop
  std::atomic<int> active{0};  // index into vs
  std::mutex mu;
  double cpu[2] = {0, 0};
  long ops[2] = {0, 0}, failures = 0;

  std::vector<std::thread> workers;
  for (int w = 0; w < a.threads; ++w) {
    workers.emplace_back([&, w] {
      Workload load(a, w);
      double my_cpu[2] = {0, 0};
      long my_ops[2] = {0, 0}, my_failures = 0;
      int key = -1;  // the variant being charged; -1 while not timed
      double since = thread_cpu_seconds();
      for (long i = 0;; ++i) {
        int p = phase.load(std::memory_order_relaxed);
        if (p == 2) break;
        int v = active.load(std::memory_order_relaxed);
        int now_key = p == 1 ? v : -1;
        if (now_key != key) {
          double t = thread_cpu_seconds();
          if (key >= 0) my_cpu[key] += t - since;
          since = t;
          key = now_key;
        }
        bool ok = load.run(*vs[static_cast<size_t>(v)], i);
        if (key >= 0) {
          ++my_ops[key];
          if (!ok) ++my_failures;
        }
      }
      if (key >= 0) my_cpu[key] += thread_cpu_seconds() - since;
      std::lock_guard<std::mutex> lock(mu);
      for (int k = 0; k < 2; ++k) {
        cpu[k] += my_cpu[k];
        ops[k] += my_ops[k];
      }
      failures += my_failures;
    });
  }

  auto run_slices = [&](double seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(a.slice_ms));
      active.store((active.load() + 1) % static_cast<int>(vs.size()));
    }
  };
  run_slices(a.warmup);
  double library0 = named_threads_cpu_seconds("pm-");
  phase.store(1);
  run_slices(a.seconds);
  phase.store(2);
  for (auto &t : workers) t.join();
  double library = named_threads_cpu_seconds("pm-") - library0;

  std::printf("{\"databases\": %d, \"threads\": %d, \"variant\": \"%s\", \"mode\": \"paired\", "
              "\"model\": \"%s\", \"slice_ms\": %d, \"pool\": %d, \"failures\": %ld, \"variants\": [",
              a.databases, a.threads, a.variant.c_str(), a.model.c_str(), a.slice_ms, a.pool, failures);
  double per_op[2] = {0, 0};
  for (size_t k = 0; k < vs.size(); ++k) {
    double own = names[k] == "polymongo" ? library : 0;
    double n = static_cast<double>(std::max(ops[k], 1L));
    per_op[k] = (cpu[k] + own) * 1e6 / n;
    std::printf("%s{\"variant\": \"%s\", \"ops\": %ld, \"client_cpu_us_per_op\": %.2f, "
                "\"worker_cpu_us_per_op\": %.2f, \"library_threads_cpu_us_per_op\": %.3f}",
                k ? ", " : "", names[k].c_str(), ops[k], per_op[k], cpu[k] * 1e6 / n, own * 1e6 / n);
  }
  std::printf("], \"cpu_ratio\": %.4f}\n", vs.size() == 2 && per_op[1] > 0 ? per_op[0] / per_op[1] : 0.0);
  vs.clear();
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  Args a = parse(argc, argv);
  mongoc_init();
  if (a.seed) {
    seed(a);
    std::printf("{\"seeded\": %d}\n", a.databases);
    mongoc_cleanup();
    return 0;
  }
  if (a.variants().size() == 2) {
    int rc = run_paired(a);
    mongoc_cleanup();
    return rc;
  }
  std::unique_ptr<Variant> v = make_variant(a.variant, a);

  int port = server_port(a.uri);
  std::atomic<int> phase{0};  // 0 warm-up, 1 timed, 2 stop
  std::atomic<long> ops{0}, failures{0};
  std::atomic<int> peak_sockets{0};
  double sampler_cpu = 0;

  std::thread sampler([&] {
    double at_timed_start = -1;  // the sampler's CPU is subtracted from the timed run's only
    while (phase.load() < 2) {
      if (at_timed_start < 0 && phase.load() == 1) at_timed_start = cpu_seconds(RUSAGE_THREAD);
      int n = bench::sockets_to_port(port);
      if (n > peak_sockets.load()) peak_sockets.store(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (at_timed_start >= 0) sampler_cpu = cpu_seconds(RUSAGE_THREAD) - at_timed_start;
  });

  std::vector<std::thread> workers;
  for (int w = 0; w < a.threads; ++w) {
    workers.emplace_back([&, w] {
      Workload load(a, w);
      for (long i = 0; phase.load(std::memory_order_relaxed) < 2; ++i) {
        bool ok = load.run(*v, i);
        if (phase.load(std::memory_order_relaxed) == 1) {
          ops.fetch_add(1, std::memory_order_relaxed);
          if (!ok) failures.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  using clock = std::chrono::steady_clock;
  std::this_thread::sleep_for(std::chrono::duration<double>(a.warmup));
  double cpu0 = cpu_seconds(RUSAGE_SELF), user0 = user_cpu_seconds();
  auto t0 = clock::now();
  phase.store(1);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  phase.store(2);
  double wall = std::chrono::duration<double>(clock::now() - t0).count();
  for (auto &t : workers) t.join();
  double cpu = cpu_seconds(RUSAGE_SELF) - cpu0, user = user_cpu_seconds() - user0;
  sampler.join();
  int sockets_at_end = bench::sockets_to_port(port);
  v.reset();

  long n = ops.load();
  std::printf(
      "{\"databases\": %d, \"threads\": %d, \"variant\": \"%s\", \"pool\": %d, \"ops\": %ld, "
      "\"failures\": %ld, \"ops_per_s\": %.1f, \"client_cpu_us_per_op\": %.2f, "
      "\"client_user_us_per_op\": %.2f, \"server_sockets\": %d, \"sockets_at_end\": %d, \"client_rss_mb\": %.1f}\n",
      a.databases, a.threads, a.variant.c_str(), a.pool, n, failures.load(), n / wall,
      n > 0 ? (cpu - sampler_cpu) * 1e6 / static_cast<double>(n) : 0.0,
      n > 0 ? user * 1e6 / static_cast<double>(n) : 0.0, peak_sockets.load(),
      sockets_at_end, bench::peak_rss_mb());
  mongoc_cleanup();
  return failures.load() == 0 ? 0 : 1;
}
