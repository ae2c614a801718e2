#include "fleet/schema.hpp"

#include <fnmatch.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/clock.hpp"
#include "base/doc.hpp"
#include "base/error.hpp"
#include "base/json_writer.hpp"
#include "observe/log.hpp"

namespace pm::core {

namespace {

struct Unit {
  std::string db, cluster;
  std::shared_ptr<Pool> pool;
  std::string id() const { return cluster + "/" + db; }
};

struct CollectionDeleter {
  void operator()(mongoc_collection_t *c) const { mongoc_collection_destroy(c); }
};
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;

bool reserved(const Directory &d, const std::string &db) {
  return db == d.options().db || db == d.journal_db() || db == "admin" || db == "config" || db == "local";
}

// The databases the target names, each on its cluster, ordered by cluster then name.
std::vector<Unit> units_of(Directory &directory, Router &router, const FleetTarget &t) {
  std::vector<Unit> out;
  const DirectoryOptions &o = directory.options();
  if (t.tenants) {
    for (const TenantEntry &e : directory.list()) {
      const std::string *uri = o.cluster_uri(e.cluster);
      if (uri == nullptr || reserved(directory, e.db) || fnmatch(t.match.c_str(), e.db.c_str(), 0) != 0) continue;
      out.push_back(Unit{e.db, e.cluster, router.cluster_pool(e.cluster, *uri)});
    }
  } else {
    for (const auto &[name, uri] : o.clusters) {
      std::shared_ptr<Pool> pool = router.cluster_pool(name, uri);
      Lease lease = pool->checkout();
      bson_error_t error;
      char **names = mongoc_client_get_database_names_with_opts(lease.client(), nullptr, &error);
      if (names == nullptr) throw Error::from_driver(error, "list the databases of cluster " + name);
      for (char **n = names; *n != nullptr; ++n)
        if (!reserved(directory, *n) && fnmatch(t.match.c_str(), *n, 0) == 0) out.push_back(Unit{*n, name, pool});
      bson_strfreev(names);
    }
  }
  std::sort(out.begin(), out.end(), [](const Unit &a, const Unit &b) { return a.id() < b.id(); });
  return out;
}

// Runs `work` over `units` on at most `concurrency` threads.
template <typename F>
void for_each_unit(const std::vector<Unit> &units, int concurrency, F work) {
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i; (i = next.fetch_add(1)) < units.size();) work(units[i]);
  };
  std::vector<std::thread> threads;
  int n = std::max(1, std::min<int>(concurrency, static_cast<int>(units.size())));
  for (int i = 1; i < n; ++i) threads.emplace_back(run);
  run();
  for (auto &th : threads) th.join();
}

std::string model_json(const Model &m) {
  BsonPtr b = make_bson();
  BSON_APPEND_UTF8(b.get(), "collection", m.collection().c_str());
  BSON_APPEND_DOCUMENT(b.get(), "setup", m.create_options());
  BSON_APPEND_ARRAY(b.get(), "indexes", m.indexes());
  return to_json(b.get(), true);
}

std::string fnv(const std::string &s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string canonical(const bson_t *b) { return to_json(b, true); }

bool sub_document(const bson_t *doc, const char *key, bson_t *out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  uint32_t len = 0;
  const uint8_t *data = nullptr;
  bson_iter_document(&it, &len, &data);
  return bson_init_static(out, data, len);
}

bool unique_of(const bson_t *spec) {
  bson_iter_t it;
  return bson_iter_init_find(&it, spec, "unique") && bson_iter_as_bool(&it);
}

std::string name_of(const bson_t *spec) {
  bson_iter_t it;
  return bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
}

// A model's setup, and how one database differs from it.
struct Drift {
  std::vector<std::string> missing, extra, different;
  std::string validator;  // "", "missing" or "different"
  std::string error;
  bool none() const { return missing.empty() && extra.empty() && different.empty() && validator.empty() && error.empty(); }
};

class Comparison {
 public:
  explicit Comparison(const Model &model) : model_(model) {
    bson_iter_t it;
    bson_iter_init(&it, model.indexes());
    while (bson_iter_next(&it)) {
      uint32_t len = 0;
      const uint8_t *data = nullptr;
      bson_iter_document(&it, &len, &data);
      bson_t spec, key;
      bson_init_static(&spec, data, len);
      if (sub_document(&spec, "key", &key)) want_[name_of(&spec)] = {canonical(&key), unique_of(&spec)};
    }
    bson_t validator;
    has_validator_ = sub_document(model.create_options(), "validator", &validator);
    if (has_validator_) validator_ = canonical(&validator);
  }

  // Throws Error when the database cannot be read.
  Drift inspect(mongoc_client_t *client, const std::string &db) const {
    Drift d;
    CollectionPtr coll(mongoc_client_get_collection(client, db.c_str(), model_.collection().c_str()));
    std::map<std::string, std::pair<std::string, bool>> have;
    mongoc_cursor_t *c = mongoc_collection_find_indexes_with_opts(coll.get(), nullptr);
    const bson_t *spec = nullptr;
    while (mongoc_cursor_next(c, &spec)) {
      bson_t key;
      if (sub_document(spec, "key", &key)) have[name_of(spec)] = {canonical(&key), unique_of(spec)};
    }
    bson_error_t error;
    bool failed = mongoc_cursor_error(c, &error) && error.code != 26;  // NamespaceNotFound: no indexes
    mongoc_cursor_destroy(c);
    if (failed) throw Error::from_driver(error, "list the indexes of " + db + "." + model_.collection());
    for (const auto &[name, k] : want_) {
      auto h = have.find(name);
      if (h == have.end()) d.missing.push_back(name);
      else if (h->second != k) d.different.push_back(name);
    }
    for (const auto &[name, k] : have)
      if (name != "_id_" && want_.count(name) == 0) d.extra.push_back(name);
    if (has_validator_) {
      mongoc_database_t *database = mongoc_client_get_database(client, db.c_str());
      BsonPtr opts = make_bson();
      bson_t filter;
      BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "filter", &filter);
      BSON_APPEND_UTF8(&filter, "name", model_.collection().c_str());
      bson_append_document_end(opts.get(), &filter);
      mongoc_cursor_t *lc = mongoc_database_find_collections_with_opts(database, opts.get());
      const bson_t *info = nullptr;
      std::string now;
      bool found = false;
      while (mongoc_cursor_next(lc, &info)) {
        bson_t options, v;
        if (sub_document(info, "options", &options) && sub_document(&options, "validator", &v) && !bson_empty(&v)) {
          now = canonical(&v);
          found = true;
        }
      }
      failed = mongoc_cursor_error(lc, &error);
      mongoc_cursor_destroy(lc);
      mongoc_database_destroy(database);
      if (failed) throw Error::from_driver(error, "list the collections of " + db);
      if (!found) d.validator = "missing";
      else if (now != validator_) d.validator = "different";
    }
    return d;
  }

  // Creates the missing indexes and sets the validator when it differs: only what is not in
  // place is sent (FerretDB 1.24 fails a createIndexes of indexes that all exist). An index of
  // the model's name with another key is not replaced: Error invalid_argument.
  void apply(mongoc_client_t *client, const std::string &db) const {
    Drift d = inspect(client, db);
    if (!d.different.empty())
      fail(Code::invalid_argument, db + "." + model_.collection() + ": index " + d.different.front() +
                                       " differs from the model's (drop it first)");
    bson_error_t error;
    if (!d.validator.empty()) {
      bson_t cmd = BSON_INITIALIZER;
      BSON_APPEND_UTF8(&cmd, "collMod", model_.collection().c_str());
      bson_concat(&cmd, model_.create_options());
      bool ok = mongoc_client_write_command_with_opts(client, db.c_str(), &cmd, nullptr, nullptr, &error);
      bson_destroy(&cmd);
      if (!ok && error.code == 26) {  // NamespaceNotFound: create it with the validator
        bson_t create = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&create, "create", model_.collection().c_str());
        bson_concat(&create, model_.create_options());
        ok = mongoc_client_write_command_with_opts(client, db.c_str(), &create, nullptr, nullptr, &error);
        bson_destroy(&create);
      }
      if (!ok) throw Error::from_driver(error, "set the validator of " + db + "." + model_.collection());
    }
    if (d.missing.empty()) return;
    std::set<std::string> missing(d.missing.begin(), d.missing.end());
    bson_t cmd = BSON_INITIALIZER, array;
    BSON_APPEND_UTF8(&cmd, "createIndexes", model_.collection().c_str());
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &array);
    bson_iter_t it;
    bson_iter_init(&it, model_.indexes());
    uint32_t i = 0;
    while (bson_iter_next(&it)) {
      uint32_t len = 0;
      const uint8_t *data = nullptr;
      bson_iter_document(&it, &len, &data);
      bson_t spec;
      bson_init_static(&spec, data, len);
      if (missing.count(name_of(&spec)) == 0) continue;
      char idx[16];
      const char *key;
      bson_uint32_to_string(i++, &key, idx, sizeof idx);
      bson_append_document(&array, key, -1, &spec);
    }
    bson_append_array_end(&cmd, &array);
    bool ok = mongoc_client_write_command_with_opts(client, db.c_str(), &cmd, nullptr, nullptr, &error);
    bson_destroy(&cmd);
    if (!ok) throw Error::from_driver(error, "create the indexes of " + db + "." + model_.collection());
  }

 private:
  const Model &model_;
  std::map<std::string, std::pair<std::string, bool>> want_;  // name -> (key, unique)
  bool has_validator_ = false;
  std::string validator_;
};

}  // namespace

std::string SyncReport::json() const {
  JsonWriter j;
  j.begin_object().key("job").value(job).key("total").value(total).key("applied").value(applied)
      .key("already").value(already).key("failed").value(failed).key("failures").begin_array();
  for (const auto &[where, error] : failures) j.begin_object().key("database").value(where).key("error").value(error).end_object();
  j.end_array().end_object();
  return j.take();
}

SyncReport sync_schema(Directory &directory, Router &router, const Model &model, const FleetTarget &target,
                       const Log &log) {
  if (target.concurrency < 1 || target.concurrency > 64) fail(Code::invalid_argument, "concurrency must be from 1 to 64");
  std::string spec = model_json(model) + "|" + target.match + "|" + (target.tenants ? "tenants" : "databases");
  std::string job = target.job;
  if (job.empty()) job = "sync-" + model.collection() + "-" + fnv(spec);
  const DirectoryOptions &o = directory.options();
  Lease lease = directory.catalog_pool()->checkout(o.db);
  CollectionPtr jobs(mongoc_client_get_collection(lease.client(), o.db.c_str(), (o.collection + "_jobs").c_str()));
  CollectionPtr status(mongoc_client_get_collection(lease.client(), o.db.c_str(), (o.collection + "_job_status").c_str()));
  bson_error_t error;

  // The job: made once (insert-if-absent), and a later run must be the same job.
  {
    BsonPtr doc = make_bson();
    BSON_APPEND_UTF8(doc.get(), "_id", job.c_str());
    BSON_APPEND_UTF8(doc.get(), "kind", "sync");
    BSON_APPEND_UTF8(doc.get(), "spec", spec.c_str());
    BSON_APPEND_UTF8(doc.get(), "state", "running");
    BSON_APPEND_DATE_TIME(doc.get(), "startedAt", now_wall_ms());
    if (!mongoc_collection_insert_one(jobs.get(), doc.get(), nullptr, nullptr, &error)) {
      Error e = Error::from_driver(error, "record the sync job " + job);
      if (e.code() != Code::duplicate_key) throw e;
      BsonPtr filter = make_bson();
      BSON_APPEND_UTF8(filter.get(), "_id", job.c_str());
      mongoc_cursor_t *c = mongoc_collection_find_with_opts(jobs.get(), filter.get(), nullptr, nullptr);
      const bson_t *found = nullptr;
      std::string theirs;
      if (mongoc_cursor_next(c, &found)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, found, "spec") && BSON_ITER_HOLDS_UTF8(&it)) theirs = bson_iter_utf8(&it, nullptr);
      }
      mongoc_cursor_destroy(c);
      if (theirs != spec)
        fail(Code::invalid_argument, "sync job '" + job + "' was started with another model or target");
    }
  }
  // What earlier runs finished.
  std::set<std::string> done;
  {
    BsonPtr filter = make_bson();
    BSON_APPEND_UTF8(filter.get(), "job", job.c_str());
    BSON_APPEND_UTF8(filter.get(), "status", "done");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(status.get(), filter.get(), nullptr, nullptr);
    const bson_t *doc = nullptr;
    while (mongoc_cursor_next(c, &doc)) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc, "unit") && BSON_ITER_HOLDS_UTF8(&it)) done.insert(bson_iter_utf8(&it, nullptr));
    }
    bool failed = mongoc_cursor_error(c, &error);
    mongoc_cursor_destroy(c);
    if (failed) throw Error::from_driver(error, "read the sync job's status");
  }
  lease = Lease();

  std::vector<Unit> units = units_of(directory, router, target);
  SyncReport report;
  report.job = job;
  report.total = static_cast<int64_t>(units.size());
  std::mutex mu;
  std::atomic<int64_t> applied{0}, already{0};
  Comparison comparison(model);
  for_each_unit(units, target.concurrency, [&](const Unit &u) {
    if (done.count(u.id()) != 0) {
      ++already;
      return;
    }
    std::string problem;
    try {
      Lease l = u.pool->checkout(u.db);
      comparison.apply(l.client(), u.db);
    } catch (const Error &e) {
      problem = e.what();
    }
    // The database's status, next to the catalog.
    try {
      Lease l = directory.catalog_pool()->checkout(o.db);
      CollectionPtr st(mongoc_client_get_collection(l.client(), o.db.c_str(), (o.collection + "_job_status").c_str()));
      std::string id = job + "|" + u.id();
      BsonPtr filter = make_bson(), update = make_bson(), opts = make_bson();
      BSON_APPEND_UTF8(filter.get(), "_id", id.c_str());
      bson_t set;
      BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
      BSON_APPEND_UTF8(&set, "job", job.c_str());
      BSON_APPEND_UTF8(&set, "unit", u.id().c_str());
      BSON_APPEND_UTF8(&set, "db", u.db.c_str());
      BSON_APPEND_UTF8(&set, "cluster", u.cluster.c_str());
      BSON_APPEND_UTF8(&set, "status", problem.empty() ? "done" : "failed");
      BSON_APPEND_UTF8(&set, "error", problem.c_str());
      BSON_APPEND_DATE_TIME(&set, "at", now_wall_ms());
      bson_append_document_end(update.get(), &set);
      BSON_APPEND_BOOL(opts.get(), "upsert", true);
      bson_error_t e;
      if (!mongoc_collection_update_one(st.get(), filter.get(), update.get(), opts.get(), nullptr, &e) && problem.empty())
        problem = std::string("applied, but its status was not recorded: ") + e.message;
    } catch (const Error &e) {
      if (problem.empty()) problem = std::string("applied, but its status was not recorded: ") + e.what();
    }
    if (problem.empty()) {
      ++applied;
    } else {
      std::lock_guard<std::mutex> lock(mu);
      report.failures.emplace_back(u.id(), problem);
    }
  });
  report.applied = applied;
  report.already = already;
  report.failed = static_cast<int64_t>(report.failures.size());
  std::sort(report.failures.begin(), report.failures.end());
  if (report.failed == 0) {
    Lease l = directory.catalog_pool()->checkout(o.db);
    CollectionPtr j(mongoc_client_get_collection(l.client(), o.db.c_str(), (o.collection + "_jobs").c_str()));
    BsonPtr filter = make_bson(), update = make_bson();
    BSON_APPEND_UTF8(filter.get(), "_id", job.c_str());
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_UTF8(&set, "state", "done");
    BSON_APPEND_DATE_TIME(&set, "finishedAt", now_wall_ms());
    bson_append_document_end(update.get(), &set);
    mongoc_collection_update_one(j.get(), filter.get(), update.get(), nullptr, nullptr, &error);
  }
  log.info("fleet sync " + job + ": " + std::to_string(report.applied) + " applied, " +
           std::to_string(report.already) + " done before, " + std::to_string(report.failed) + " failed of " +
           std::to_string(report.total));
  return report;
}

std::string drift_report(Directory &directory, Router &router, const Model &model, const FleetTarget &target) {
  if (target.concurrency < 1 || target.concurrency > 64) fail(Code::invalid_argument, "concurrency must be from 1 to 64");
  std::vector<Unit> units = units_of(directory, router, target);
  Comparison comparison(model);
  std::mutex mu;
  std::map<std::string, std::pair<const Unit *, Drift>> drifted;
  for_each_unit(units, target.concurrency, [&](const Unit &u) {
    Drift d;
    try {
      Lease l = u.pool->checkout(u.db);
      d = comparison.inspect(l.client(), u.db);
    } catch (const Error &e) {
      d.error = e.what();
    }
    if (d.none()) return;
    std::lock_guard<std::mutex> lock(mu);
    drifted[u.id()] = {&u, std::move(d)};
  });
  JsonWriter j;
  j.begin_object().key("collection").value(model.collection()).key("databases").value(units.size()).key("drifted").begin_array();
  auto names = [&](const std::vector<std::string> &v) {
    j.begin_array();
    for (const auto &n : v) j.value(n);
    j.end_array();
  };
  for (const auto &[id, entry] : drifted) {
    const Drift &d = entry.second;
    j.begin_object().key("db").value(entry.first->db).key("cluster").value(entry.first->cluster);
    j.key("missing");
    names(d.missing);
    j.key("extra");
    names(d.extra);
    j.key("different");
    names(d.different);
    j.key("validator");
    if (d.validator.empty()) j.null();
    else j.value(d.validator);
    if (!d.error.empty()) j.key("error").value(d.error);
    j.end_object();
  }
  j.end_array().end_object();
  return j.take();
}

}  // namespace pm::core
