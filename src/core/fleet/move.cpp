#include "fleet/move.hpp"

#include <mongoc/mongoc.h>

#include <chrono>
#include <map>
#include <thread>

#include "base/clock.hpp"
#include "base/doc.hpp"
#include "base/error.hpp"
#include "base/json_writer.hpp"
#include "observe/log.hpp"
#include "pool/router.hpp"
#include "transfer/transfer.hpp"

namespace pm::core {

namespace {

// Per collection: (count, FNV-1a of the documents' bytes in _id order).
std::map<std::string, std::pair<uint64_t, uint64_t>> fingerprint(Router &router, const std::string &db) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  Lease lease = router.checkout(db);
  mongoc_database_t *database = mongoc_client_get_database(lease.client(), db.c_str());
  bson_error_t error;
  char **names = mongoc_database_get_collection_names_with_opts(database, nullptr, &error);
  if (names == nullptr) {
    mongoc_database_destroy(database);
    throw Error::from_driver(error, "list the collections of " + db);
  }
  for (char **n = names; *n != nullptr; ++n) {
    if (std::string(*n).rfind("system.", 0) == 0) continue;
    mongoc_collection_t *coll = mongoc_database_get_collection(database, *n);
    BsonPtr opts = make_bson();
    bson_t sort;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(opts.get(), &sort);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, make_bson().get(), opts.get(), nullptr);
    uint64_t count = 0, hash = 1469598103934665603ULL;
    const bson_t *doc = nullptr;
    while (mongoc_cursor_next(cursor, &doc)) {
      ++count;
      const uint8_t *p = bson_get_data(doc);
      for (uint32_t i = 0; i < doc->len; ++i) hash = (hash ^ p[i]) * 1099511628211ULL;
    }
    bool failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    if (failed) {
      bson_strfreev(names);
      mongoc_database_destroy(database);
      throw Error::from_driver(error, std::string("read ") + db + "." + *n + " to verify it");
    }
    out[*n] = {count, hash};
  }
  bson_strfreev(names);
  mongoc_database_destroy(database);
  return out;
}

BsonPtr fields(std::initializer_list<std::pair<const char *, std::string>> strings) {
  BsonPtr b = make_bson();
  for (const auto &[k, v] : strings) BSON_APPEND_UTF8(b.get(), k, v.c_str());
  return b;
}

}  // namespace

std::string MoveReport::json() const {
  JsonWriter j;
  j.begin_object().key("db").value(db).key("from").value(from).key("to").value(to).key("documents").value(documents)
      .key("collections").value(collections).key("attempts").value(attempts).key("fenceMs").value(fence_ms)
      .key("copyMs").value(copy_ms).key("resumed").value(resumed).end_object();
  return j.take();
}

Mover::Mover(Directory &directory, const Options &options, std::shared_ptr<const Log> log,
             std::shared_ptr<Events> events, std::shared_ptr<Usage> usage)
    : directory_(directory), options_(options), log_(std::move(log)), events_(std::move(events)),
      usage_(std::move(usage)) {}

std::unique_ptr<Router> Mover::router_for(const std::string &cluster, Options &holder) const {
  const std::string *uri = directory_.options().cluster_uri(cluster);
  if (uri == nullptr) fail(Code::invalid_argument, "'" + cluster + "' is not one of directory.clusters");
  holder = Options();
  holder.mongo_uri = *uri;
  holder.max_pool_size = 4;
  holder.journal_db = options_.journal_db;
  return std::make_unique<Router>(holder, log_, events_, usage_);
}

MoveReport Mover::move(const std::string &db, const std::string &to) {
  std::optional<TenantEntry> e = directory_.show(db);
  if (!e) fail(Code::invalid_argument, "move: " + db + " has no entry in the tenant directory (place it first)");
  if (directory_.options().cluster_uri(to) == nullptr)
    fail(Code::invalid_argument, "move: '" + to + "' is not one of directory.clusters");
  MoveReport report;
  report.db = db;
  report.from = e->cluster;
  report.to = to;
  if (!e->moving_to.empty() && e->moving_to != to)
    fail(Code::invalid_argument, "move: a move of " + db + " to " + e->moving_to + " is in progress: finish it " +
                                     "(move to " + e->moving_to + ") or abort it");
  if (e->moving_to.empty() && e->cluster == to) fail(Code::invalid_argument, "move: " + db + " is on " + to + " already");
  Options from_options, to_options;
  std::unique_ptr<Router> from = router_for(e->cluster, from_options), target = router_for(to, to_options);
  int64_t fenced_at = steady_ms();
  if (e->moving_to.empty()) {
    // The fence: every process holds new writes to db from when it reads this.
    BsonPtr set = make_bson();
    BSON_APPEND_BOOL(set.get(), "fenced", true);
    bson_t m;
    BSON_APPEND_DOCUMENT_BEGIN(set.get(), "move", &m);
    BSON_APPEND_UTF8(&m, "to", to.c_str());
    BSON_APPEND_UTF8(&m, "from", e->cluster.c_str());
    BSON_APPEND_UTF8(&m, "phase", "fence");
    BSON_APPEND_DATE_TIME(&m, "startedAt", now_wall_ms());
    bson_append_document_end(set.get(), &m);
    // Back to the cluster of the last move's copy: that copy is replaced, no longer a source.
    BsonPtr unset = fields({{"source", ""}});
    if (!directory_.write_entry(db, e->version, set.get(), e->source == to ? unset.get() : nullptr))
      fail(Code::invalid_argument, "move: the entry of " + db + " changed meanwhile; try again");
    log_->info("move " + db + ": " + e->cluster + " -> " + to + ": writes fenced");
  } else {
    report.resumed = true;
    log_->info("move " + db + ": resuming the move to " + to + " left unfinished");
  }
  auto phase = [&](const char *name) {
    std::optional<TenantEntry> now = directory_.show(db);
    BsonPtr set = fields({{"move.phase", name}});
    if (!now || !directory_.write_entry(db, now->version, set.get(), nullptr))
      fail(Code::invalid_argument, "move: the entry of " + db + " changed meanwhile");
  };
  try {
    // Every process reads the fence within its refresh period; in-flight writes drain meanwhile.
    // A write that still lands on the source after this shows in the verification.
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * directory_.options().refresh_ms + 500));
    std::map<std::string, std::pair<uint64_t, uint64_t>> source, copied;
    for (report.attempts = 1;; ++report.attempts) {
      phase("copy");
      int64_t started = steady_ms();
      drop_database(*target, db);
      ImportReport r = copy_between(*from, *target, db, ImportOptions(), nullptr);
      if (!r.ok()) fail(Code::internal, "move: the copy of " + db + " failed: " + r.to_json());
      phase("verify");
      source = fingerprint(*from, db);
      copied = fingerprint(*target, db);
      report.copy_ms = steady_ms() - started;
      if (source == copied) break;
      log_->warn("move " + db + ": the copy differs from the source (a late write?); copying again");
      if (report.attempts == 3) fail(Code::internal, "move: the copy of " + db + " differs from the source 3 times");
    }
    for (const auto &[name, f] : source) report.documents += f.first;
    report.collections = source.size();
    // The flip: the new cluster and the fence lifted in one write.
    std::optional<TenantEntry> now = directory_.show(db);
    BsonPtr set = fields({{"cluster", to}, {"source", report.from}});
    BSON_APPEND_BOOL(set.get(), "fenced", false);
    BsonPtr unset = fields({{"move", ""}});
    if (!now || !directory_.write_entry(db, now->version, set.get(), unset.get()))
      fail(Code::invalid_argument, "move: the entry of " + db + " changed meanwhile");
  } catch (...) {
    try {
      abort(db);
    } catch (const Error &rollback) {
      log_->error("move " + db + ": the rollback failed too: " + rollback.what());
    }
    throw;
  }
  report.fence_ms = steady_ms() - fenced_at;
  log_->info("move " + db + ": on " + to + " now (" + std::to_string(report.documents) + " documents, writes held " +
             std::to_string(report.fence_ms) + " ms); the source keeps its copy until complete");
  return report;
}

MoveReport Mover::reverse(const std::string &db) {
  std::optional<TenantEntry> e = directory_.show(db);
  if (!e || e->source.empty()) fail(Code::invalid_argument, "reverse: " + db + " has no completed move to reverse");
  return move(db, e->source);
}

std::string Mover::complete(const std::string &db) {
  std::optional<TenantEntry> e = directory_.show(db);
  if (!e || e->source.empty()) fail(Code::invalid_argument, "complete: " + db + " has no source copy to drop");
  Options holder;
  std::unique_ptr<Router> source = router_for(e->source, holder);
  drop_database(*source, db);
  BsonPtr unset = fields({{"source", ""}});
  if (!directory_.write_entry(db, e->version, nullptr, unset.get()))
    fail(Code::invalid_argument, "complete: the entry of " + db + " changed meanwhile; try again");
  log_->info("move " + db + ": completed, the copy on " + e->source + " dropped");
  return entry_json(*directory_.show(db));
}

std::string Mover::abort(const std::string &db) {
  std::optional<TenantEntry> e = directory_.show(db);
  if (!e || e->moving_to.empty()) fail(Code::invalid_argument, "abort: " + db + " has no move in progress");
  Options holder;
  std::unique_ptr<Router> target = router_for(e->moving_to, holder);
  drop_database(*target, db);
  BsonPtr set = make_bson();
  BSON_APPEND_BOOL(set.get(), "fenced", false);
  BsonPtr unset = fields({{"move", ""}});
  if (!directory_.write_entry(db, e->version, set.get(), unset.get()))
    fail(Code::invalid_argument, "abort: the entry of " + db + " changed meanwhile; try again");
  log_->warn("move " + db + ": rolled back; it stays on " + e->cluster);
  return entry_json(*directory_.show(db));
}

}  // namespace pm::core
