// bench_move: moves a tenant of --mb MB between two clusters while two writer processes send
// --rate writes a second each to it, and prints one JSON line
// {"move": {size_mb, copy_mb_s, write_freeze_p50_ms, write_freeze_p99_ms, lost_writes,
// duration_s, writes, writes_during_move, write_freeze_max_ms, fence_ms}}. A write's freeze is
// the time from its first attempt to its acknowledgement, retries on PM_EMOVING included; the
// percentiles and the maximum are over the writes that started while the move ran (each writer
// is sequential, so a fence holds one write per writer: the maximum and fence_ms, the move
// report's fenceMs, show how long). lost_writes: acknowledged writes missing on the target.
#include <mongoc/mongoc.h>
#include <polymongo.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string arg(int argc, char **argv, const char *name, const char *fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

void fill(const std::string &uri, const std::string &db, int mb) {
  mongoc_client_t *client = mongoc_client_new(uri.c_str());
  mongoc_collection_t *coll = mongoc_client_get_collection(client, db.c_str(), "items");
  std::string body(1000, 'x');
  int n = mb * 1024;  // about 1 KB each
  for (int start = 0; start < n; start += 1000) {
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, nullptr);
    for (int i = start; i < std::min(n, start + 1000); ++i) {
      bson_t *doc = BCON_NEW("_id", BCON_INT32(i), "body", BCON_UTF8(body.c_str()));
      mongoc_bulk_operation_insert(bulk, doc);
      bson_destroy(doc);
    }
    bson_error_t error;
    if (!mongoc_bulk_operation_execute(bulk, nullptr, &error)) std::fprintf(stderr, "fill: %s\n", error.message);
    mongoc_bulk_operation_destroy(bulk);
  }
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
}

std::set<std::string> ids_on(const std::string &uri, const std::string &db) {
  std::set<std::string> out;
  mongoc_client_t *client = mongoc_client_new(uri.c_str());
  mongoc_collection_t *coll = mongoc_client_get_collection(client, db.c_str(), "items");
  bson_t *filter = BCON_NEW("w", "{", "$exists", BCON_BOOL(true), "}");
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, nullptr, nullptr);
  const bson_t *doc;
  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)) out.insert(bson_iter_utf8(&it, nullptr));
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char **argv) {
  std::string a = arg(argc, argv, "--uri", ""), b = arg(argc, argv, "--uri2", "");
  int mb = std::atoi(arg(argc, argv, "--mb", "10").c_str());
  int rate = std::atoi(arg(argc, argv, "--rate", "100").c_str());
  if (a.empty() || b.empty()) {
    std::fprintf(stderr, "usage: bench_move --uri A --uri2 B [--mb 10] [--rate 100]\n");
    return 2;
  }
  mongoc_init();
  std::string tag = std::to_string(getpid());
  std::string db = "bench_move_" + tag, base = "/tmp/bench_move_" + tag;
  fill(a, db, mb);
  std::string options = "{\"mongoURI\": \"" + a + "\", \"directory\": {\"mongoURI\": \"" + a +
                        "\", \"db\": \"bench_move_dir_" + tag + "\", \"refreshMS\": 100, \"clusters\": {\"a\": \"" + a +
                        "\", \"b\": \"" + b + "\"}}}";
  pid_t pids[2];
  for (int i = 0; i < 2; ++i) {
    pids[i] = fork();
    if (pids[i] == 0) {
      pm_wrapper *w = nullptr;
      pm_model *m = nullptr;
      pm_db *d = nullptr;
      pm_error e;
      if (pm_wrapper_new(options.c_str(), &w, &e) != PM_OK || pm_model_new(w, "items", nullptr, 0, &m, &e) != PM_OK)
        _exit(10);
      // The tenant's entry appears when the parent places it: wait for it.
      for (char *entry = nullptr; pm_wrapper_tenant(w, db.c_str(), &entry, &e) == PM_OK; pm_free(entry), usleep(20000))
        if (entry != nullptr && std::strcmp(entry, "null") != 0) {
          pm_free(entry);
          break;
        }
      pm_model_db(m, db.c_str(), &d, &e);
      std::ofstream ledger(base + "." + std::to_string(i));
      ledger.setf(std::ios::fixed);
      ledger.precision(3);
      double period = 1000.0 / rate, next = now_ms();
      for (int n = 0; access((base + ".stop").c_str(), F_OK) != 0; ++n) {
        std::string doc = "{\"_id\": \"w" + std::to_string(i) + "-" + std::to_string(n) + "\", \"w\": " + std::to_string(i) + "}";
        double started = now_ms();
        int rc;
        while ((rc = pm_db_insert_one(d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &e)) != PM_OK && pm_code_is_retryable(rc)) {
        }
        if (rc == PM_OK) ledger << "w" << i << "-" << n << " " << started << " " << now_ms() - started << std::endl;
        next += period;
        double wait = next - now_ms();
        if (wait > 0) usleep(static_cast<useconds_t>(wait * 1000));
      }
      pm_db_free(d);
      pm_model_free(m);
      pm_wrapper_free(w);
      _exit(0);
    }
  }
  pm_wrapper *w = nullptr;
  pm_error err;
  if (pm_wrapper_new(options.c_str(), &w, &err) != PM_OK || pm_wrapper_place_tenant(w, db.c_str(), "a", nullptr, &err) != PM_OK) {
    std::fprintf(stderr, "bench_move: %s\n", err.message);
    return 1;
  }
  usleep(1500000);  // the writers run at their rate first
  char *report = nullptr;
  double move_start = now_ms();
  if (pm_wrapper_move_tenant(w, db.c_str(), "b", &report, &err) != PM_OK) {
    std::fprintf(stderr, "bench_move: move: %s\n", err.message);
    return 1;
  }
  double move_end = now_ms();
  std::string r = report;
  pm_free(report);
  usleep(1500000);  // and after
  std::ofstream(base + ".stop") << "stop";
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  std::set<std::string> on_target = ids_on(b, db);
  std::vector<double> freezes;
  long writes = 0, lost = 0;
  for (int i = 0; i < 2; ++i) {
    std::ifstream in(base + "." + std::to_string(i));
    std::string id;
    double started, latency;
    while (in >> id >> started >> latency) {
      ++writes;
      if (on_target.count(id) == 0) {
        ++lost;
        std::fprintf(stderr, "bench_move: acknowledged, not on the target: %s (started %.0f ms after the move began)\n",
                     id.c_str(), started - move_start);
      }
      if (started >= move_start && started <= move_end) freezes.push_back(latency);
    }
    std::remove((base + "." + std::to_string(i)).c_str());
  }
  std::remove((base + ".stop").c_str());
  size_t at = r.find("\"copyMs\":");
  double copy_ms = at == std::string::npos ? 0 : std::atof(r.c_str() + at + 9);
  at = r.find("\"fenceMs\":");
  double fence_ms = at == std::string::npos ? 0 : std::atof(r.c_str() + at + 10);
  double freeze_max = freezes.empty() ? 0 : *std::max_element(freezes.begin(), freezes.end());
  pm_wrapper_complete_move(w, db.c_str(), nullptr, &err);
  pm_wrapper_drop_database(w, db.c_str(), &err);  // routes to the target now
  pm_wrapper_free(w);
  std::printf("{\"move\": {\"size_mb\": %d, \"copy_mb_s\": %.2f, \"write_freeze_p50_ms\": %.1f, "
              "\"write_freeze_p99_ms\": %.1f, \"lost_writes\": %ld, \"duration_s\": %.2f, \"writes\": %ld, "
              "\"writes_during_move\": %zu, \"write_freeze_max_ms\": %.1f, \"fence_ms\": %.0f}}\n",
              mb, copy_ms > 0 ? mb / (copy_ms / 1000.0) : 0.0, percentile(freezes, 0.5), percentile(freezes, 0.99), lost,
              (move_end - move_start) / 1000.0, writes, freezes.size(), freeze_max, fence_ms);
  return 0;
}
