#include "fleet/move.hpp"

#include <mongoc/mongoc.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

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

std::string string_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, nullptr);
  return {};
}

using Fingerprint = std::map<std::string, std::pair<uint64_t, uint64_t>>;

// Both sides' fingerprints, read at once.
std::pair<Fingerprint, Fingerprint> fingerprints(Router &from, Router &to, const std::string &db) {
  auto source = std::async(std::launch::async, [&] { return fingerprint(from, db); });
  Fingerprint copied = fingerprint(to, db);
  return {source.get(), std::move(copied)};
}

// This mover's name in the entry's lease: host, process and a random part.
std::string new_owner() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  std::random_device random;
  char out[320];
  snprintf(out, sizeof out, "%s:%d:%08x", host, static_cast<int>(getpid()), random());
  return out;
}

// The source database's change stream: every change to its collections from when it opened,
// with the document as it is now for updates.
class SourceStream {
 public:
  SourceStream(Lease lease, mongoc_change_stream_t *stream) : lease_(std::move(lease)), stream_(stream) {}
  ~SourceStream() { mongoc_change_stream_destroy(stream_); }
  SourceStream(const SourceStream &) = delete;
  SourceStream &operator=(const SourceStream &) = delete;

  // Opens it, or returns nullptr with `why` when the server has no change streams.
  static std::unique_ptr<SourceStream> open(Router &router, const std::string &db, std::string &why) {
    Lease lease = router.checkout(db);
    mongoc_database_t *database = mongoc_client_get_database(lease.client(), db.c_str());
    BsonPtr opts = make_bson();
    BSON_APPEND_UTF8(opts.get(), "fullDocument", "updateLookup");
    BSON_APPEND_INT64(opts.get(), "maxAwaitTimeMS", 100);
    mongoc_change_stream_t *stream = mongoc_database_watch(database, make_bson().get(), opts.get());
    mongoc_database_destroy(database);
    bson_error_t error;
    if (mongoc_change_stream_error_document(stream, &error, nullptr)) {
      mongoc_change_stream_destroy(stream);
      why = error.message;
      return nullptr;
    }
    return std::make_unique<SourceStream>(std::move(lease), stream);
  }

  // Applies the stream's events to `db` through `target` until a batch comes back empty (the
  // stream's end as the server saw it) or `budget_ms` passed (< 0: no limit). Returns the
  // number applied; `ended` tells whether the end was reached.
  uint64_t apply(Router &target, const std::string &db, int64_t budget_ms, bool &ended) {
    Lease lease = target.checkout(db);
    uint64_t applied = 0;
    int64_t started = steady_ms();
    ended = false;
    Pending pending;
    while (!ended) {
      const bson_t *event = nullptr;
      if (mongoc_change_stream_next(stream_, &event)) {
        bson_iter_t wall;
        if (bson_iter_init_find(&wall, event, "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&wall))
          last_wall_ms_ = bson_iter_date_time(&wall);
        add(pending, db, event);
        ++applied;
      } else {
        bson_error_t error;
        if (mongoc_change_stream_error_document(stream_, &error, nullptr))
          throw Error::from_driver(error, "read the change stream of " + db);
        ended = true;
      }
      if (ended || pending.size() >= 1000 || (budget_ms >= 0 && steady_ms() - started >= budget_ms)) {
        flush(lease, db, pending);
        if (budget_ms >= 0 && steady_ms() - started >= budget_ms) break;
      }
    }
    return applied;
  }

  // The wall time of the last event applied (its `wallTime`; 0 when the server gives none).
  int64_t last_wall_ms() const { return last_wall_ms_; }

 private:
  // The last state of each changed document, per (collection, key): the document as it is now
  // (a write: its full document) or none (deleted).
  struct Change {
    std::string coll;
    BsonPtr key, doc;  // doc null: deleted
    bool inserted_only = true;  // every event of the key in this batch an insert
  };
  using Pending = std::map<std::string, Change>;

  static void add(Pending &pending, const std::string &db, const bson_t *event) {
    std::string op = string_field(event, "operationType");
    if (op != "insert" && op != "update" && op != "replace" && op != "delete") {
      if (op == "drop" || op == "rename" || op == "dropDatabase" || op == "invalidate")
        fail(Code::moving, "move: " + db + " changed shape during the move (a '" + op +
                               "' on the source); the move was rolled back: move it again");
      return;  // nothing a document copy carries (e.g. an index built meanwhile)
    }
    bson_iter_t it, sub;
    std::string coll;
    if (bson_iter_init_find(&it, event, "ns") && BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub) &&
        bson_iter_find(&sub, "coll") && BSON_ITER_HOLDS_UTF8(&sub))
      coll = bson_iter_utf8(&sub, nullptr);
    auto copy_of = [&](const char *name) -> BsonPtr {
      if (!bson_iter_init_find(&it, event, name) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return nullptr;
      uint32_t len = 0;
      const uint8_t *data = nullptr;
      bson_iter_document(&it, &len, &data);
      return BsonPtr(bson_new_from_data(data, len));
    };
    Change c{coll, copy_of("documentKey"), op == "delete" ? nullptr : copy_of("fullDocument"), op == "insert"};
    bson_iter_t id;
    if (coll.empty() || !c.key || !bson_iter_init_find(&id, c.key.get(), "_id"))
      fail(Code::internal, "move: a change event of " + db + " without ns.coll or documentKey._id");
    std::string where = coll + '\0' + std::string(reinterpret_cast<const char *>(bson_get_data(c.key.get())), c.key->len);
    auto [at, fresh] = pending.try_emplace(where);
    if (!fresh) c.inserted_only = false;
    at->second = std::move(c);  // the later event wins: it carries the later state
  }

  // Per collection, in two batches whatever the number of events: a document only inserted
  // meanwhile is inserted unless the target has it (the copy read it later than the insert,
  // and whatever changed it since comes as a later event); any other changed document is
  // deleted from the target, then inserted as it is now unless it is gone.
  static void flush(Lease &lease, const std::string &db, Pending &pending) {
    std::map<std::string, std::vector<const Change *>> by_coll;
    for (const auto &[k, c] : pending) by_coll[c.coll].push_back(&c);
    for (const auto &[name, changes] : by_coll) {
      mongoc_collection_t *coll = mongoc_client_get_collection(lease.client(), db.c_str(), name.c_str());
      BsonPtr filter = make_bson();
      bson_t ids_doc, in;
      BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &ids_doc);
      BSON_APPEND_ARRAY_BEGIN(&ids_doc, "$in", &in);
      size_t n = 0;
      std::vector<const bson_t *> inserts, replaces;
      for (const Change *c : changes) {
        if (c->inserted_only) {
          inserts.push_back(c->doc.get());
          continue;
        }
        if (c->doc) replaces.push_back(c->doc.get());
        bson_iter_t id;
        bson_iter_init_find(&id, c->key.get(), "_id");
        std::string index = std::to_string(n++);
        bson_append_value(&in, index.c_str(), -1, bson_iter_value(&id));
      }
      bson_append_array_end(&ids_doc, &in);
      bson_append_document_end(filter.get(), &ids_doc);
      bson_error_t error;
      bool ok = n == 0 || mongoc_collection_delete_many(coll, filter.get(), nullptr, nullptr, &error);
      if (ok && !replaces.empty())
        ok = mongoc_collection_insert_many(coll, replaces.data(), replaces.size(), nullptr, nullptr, &error);
      if (ok && !inserts.empty()) {
        BsonPtr opts = make_bson();
        BSON_APPEND_BOOL(opts.get(), "ordered", false);
        bson_t reply;
        if (!mongoc_collection_insert_many(coll, inserts.data(), inserts.size(), opts.get(), &reply, &error)) {
          // Only "the target has it" is fine.
          bson_iter_t it, e;
          ok = bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &e);
          bool others = bson_iter_init_find(&it, &reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
                        bson_iter_recurse(&it, &e) && bson_iter_next(&e);
          if (ok && !others && bson_iter_init_find(&it, &reply, "writeErrors") && bson_iter_recurse(&it, &e)) {
            while (ok && bson_iter_next(&e)) {
              bson_iter_t code;
              ok = BSON_ITER_HOLDS_DOCUMENT(&e) && bson_iter_recurse(&e, &code) && bson_iter_find(&code, "code") &&
                   bson_iter_as_int64(&code) == 11000;
            }
          } else {
            ok = false;
          }
        }
        bson_destroy(&reply);
      }
      mongoc_collection_destroy(coll);
      if (!ok) throw Error::from_driver(error, "apply the changes of " + db + "." + name + " to the target");
    }
    pending.clear();
  }

  Lease lease_;
  mongoc_change_stream_t *stream_;
  int64_t last_wall_ms_ = 0;
};

// The mover's lease on a move: every write of the entry during the move goes through it and
// checks that the move is still this mover's; a thread renews it every third of its length.
class MoveLease {
 public:
  MoveLease(Directory &directory, std::string db, std::string owner, std::shared_ptr<const Log> log)
      : directory_(directory), db_(std::move(db)), owner_(std::move(owner)), log_(std::move(log)),
        lease_ms_(directory.options().move_lease_ms) {}
  ~MoveLease() { stop(); }

  int64_t until() const { return now_wall_ms() + lease_ms_; }

  // Writes `set`/`unset` to the entry while the move is this mover's (retried on a version race).
  void write(const bson_t *set, const bson_t *unset) {
    std::lock_guard<std::mutex> guard(write_mu_);
    for (int i = 0; i < 20; ++i) {
      std::optional<TenantEntry> now = directory_.show(db_);
      if (!now || now->move_owner != owner_)
        fail(Code::moving, "move: " + db_ + ": this mover lost its lease on the move (it ran out and " +
                               (now && !now->move_owner.empty() ? now->move_owner : std::string("no one")) + " holds it now)");
      if (directory_.write_entry(db_, now->version, set, unset)) return;
    }
    fail(Code::invalid_argument, "move: the entry of " + db_ + " keeps changing meanwhile");
  }

  void phase(const char *name) {
    BsonPtr set = fields({{"move.phase", name}});
    BSON_APPEND_DATE_TIME(set.get(), "move.leaseUntil", until());
    write(set.get(), nullptr);
  }

  void start() {
    renewer_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(lease_ms_ / 3), [&] { return stopping_; })) {
        lock.unlock();
        try {
          BsonPtr set = make_bson();
          BSON_APPEND_DATE_TIME(set.get(), "move.leaseUntil", until());
          write(set.get(), nullptr);
        } catch (const Error &e) {
          log_->warn(std::string("move ") + db_ + ": the lease was not renewed: " + e.what());
        }
        lock.lock();
      }
    });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (renewer_.joinable()) renewer_.join();
  }

 private:
  Directory &directory_;
  const std::string db_, owner_;
  std::shared_ptr<const Log> log_;
  const int64_t lease_ms_;
  std::mutex write_mu_;  // one write of the entry at a time
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread renewer_;
};

// Error moving when another mover's lease on `e`'s move is live.
void refuse_if_leased(const TenantEntry &e, const char *what) {
  int64_t left = e.lease_until - now_wall_ms();
  if (e.moving_to.empty() || e.move_owner.empty() || left <= 0) return;
  fail(Code::moving, std::string(what) + ": the move of " + e.db + " to " + e.moving_to + " is " + e.move_owner +
                         "'s (phase " + e.move_phase + "); its lease runs " + std::to_string(left) +
                         " ms more (renewed while that mover runs): try again after it ends");
}

}  // namespace

std::string MoveReport::json() const {
  JsonWriter j;
  j.begin_object().key("db").value(db).key("from").value(from).key("to").value(to).key("documents").value(documents)
      .key("collections").value(collections).key("attempts").value(attempts).key("fenceMs").value(fence_ms)
      .key("copyMs").value(copy_ms).key("resumed").value(resumed).key("catchUp").value(catch_up);
  if (catch_up) j.key("rounds").value(rounds).key("applied").value(applied).key("finalMs").value(final_ms);
  j.end_object();
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
  refuse_if_leased(*e, "move");
  Options from_options, to_options;
  std::unique_ptr<Router> from = router_for(e->cluster, from_options), target = router_for(to, to_options);
  // The resume point comes before the copy: the stream opens first.
  std::string why;
  std::unique_ptr<SourceStream> stream = SourceStream::open(*from, db, why);
  report.catch_up = stream != nullptr;
  if (!stream)
    log_->info("move " + db + ": no change stream on " + e->cluster + " (" + why + "): writes are held for the whole copy");
  report.resumed = !e->moving_to.empty();
  const std::string owner = new_owner();
  MoveLease lease(directory_, db, owner, log_);
  int64_t fenced_at = steady_ms();
  {
    // Take the move (new, or left by a mover whose lease ran out): with catch-up the fence
    // waits; without, every process holds new writes to db from when it reads this.
    BsonPtr set = make_bson();
    BSON_APPEND_BOOL(set.get(), "fenced", !report.catch_up);
    bson_t m;
    BSON_APPEND_DOCUMENT_BEGIN(set.get(), "move", &m);
    BSON_APPEND_UTF8(&m, "to", to.c_str());
    BSON_APPEND_UTF8(&m, "from", e->cluster.c_str());
    BSON_APPEND_UTF8(&m, "phase", report.catch_up ? "copy" : "fence");
    BSON_APPEND_DATE_TIME(&m, "startedAt", now_wall_ms());
    BSON_APPEND_UTF8(&m, "owner", owner.c_str());
    BSON_APPEND_DATE_TIME(&m, "leaseUntil", lease.until());
    bson_append_document_end(set.get(), &m);
    // Back to the cluster of the last move's copy: that copy is replaced, no longer a source.
    BsonPtr unset = fields({{"source", ""}});
    if (!directory_.write_entry(db, e->version, set.get(), e->source == to ? unset.get() : nullptr))
      fail(Code::moving, "move: the entry of " + db + " changed meanwhile (another mover?); try again");
  }
  lease.start();
  if (report.resumed)
    log_->info("move " + db + ": resuming the move to " + to + " left unfinished (phase " + e->move_phase + ")");
  else
    log_->info("move " + db + ": " + e->cluster + " -> " + to + (report.catch_up ? ": copying" : ": writes fenced"));
  // Every process reads the fence within its refresh period; in-flight writes drain meanwhile.
  // A write that still lands on the source after this shows in the verification.
  const auto drain = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * directory_.options().refresh_ms + 500));
  };
  try {
    Fingerprint source, copied;
    bool verified = false;
    report.attempts = 1;
    if (report.catch_up) {
      int64_t started = steady_ms();
      drop_database(*target, db);
      ImportReport r = copy_between(*from, *target, db, ImportOptions(), nullptr);
      if (!r.ok()) fail(Code::internal, "move: the copy of " + db + " failed: " + r.to_json());
      report.copy_ms = steady_ms() - started;
      // Catch up while writes go on, until the stream's end is reached or the last change
      // applied is recent (its wallTime; without one: a round brings few changes).
      lease.phase("catch-up");
      constexpr int64_t kSmallLagMs = 250;
      constexpr uint64_t kFewChanges = 50;
      for (bool ended = false; report.rounds < 100;) {
        ++report.rounds;
        uint64_t n = stream->apply(*target, db, 500, ended);
        report.applied += n;
        int64_t wall = stream->last_wall_ms();
        if (ended || (wall > 0 ? now_wall_ms() - wall < kSmallLagMs : n < kFewChanges)) break;
      }
      // The fence, the drain, the rest of the stream (to its end: no new writes come), verify.
      BsonPtr fence = make_bson();
      BSON_APPEND_BOOL(fence.get(), "fenced", true);
      BSON_APPEND_UTF8(fence.get(), "move.phase", "fence");
      lease.write(fence.get(), nullptr);
      fenced_at = steady_ms();
      log_->info("move " + db + ": copied and caught up (" + std::to_string(report.applied) + " changes in " +
                 std::to_string(report.rounds) + " rounds): writes fenced");
      drain();
      int64_t final_started = steady_ms();
      for (int i = 0; i < 3 && !verified; ++i) {
        bool ended = false;
        report.applied += stream->apply(*target, db, -1, ended);
        lease.phase("verify");
        std::tie(source, copied) = fingerprints(*from, *target, db);
        verified = source == copied;
        if (!verified) log_->warn("move " + db + ": the target differs from the source after the catch-up; again");
      }
      report.final_ms = steady_ms() - final_started;
      if (!verified) {
        log_->warn("move " + db + ": the catch-up did not converge; copying again under the fence");
        ++report.attempts;
      }
    } else {
      drain();
    }
    // The copy under the fence (no change stream, or a catch-up that did not converge).
    for (; !verified; ++report.attempts) {
      lease.phase("copy");
      int64_t started = steady_ms();
      drop_database(*target, db);
      ImportReport r = copy_between(*from, *target, db, ImportOptions(), nullptr);
      if (!r.ok()) fail(Code::internal, "move: the copy of " + db + " failed: " + r.to_json());
      lease.phase("verify");
      std::tie(source, copied) = fingerprints(*from, *target, db);
      report.copy_ms = steady_ms() - started;
      if (source == copied) break;
      log_->warn("move " + db + ": the copy differs from the source (a late write?); copying again");
      if (report.attempts == 3) fail(Code::internal, "move: the copy of " + db + " differs from the source 3 times");
    }
    for (const auto &[name, f] : source) report.documents += f.first;
    report.collections = source.size();
    // The flip: the new cluster and the fence lifted in one write.
    BsonPtr set = fields({{"cluster", to}, {"source", report.from}});
    BSON_APPEND_BOOL(set.get(), "fenced", false);
    BsonPtr unset = fields({{"move", ""}});
    lease.write(set.get(), unset.get());
    lease.stop();
  } catch (...) {
    lease.stop();
    // Lost the lease: the move is another mover's now; leave it to that one.
    std::optional<TenantEntry> now;
    bool ours = false;
    try {
      now = directory_.show(db);
      ours = now && now->move_owner == owner;
    } catch (const Error &) {
      ours = true;  // the catalog did not answer: the rollback says why it cannot
    }
    if (ours) {
      try {
        if (!now) now = directory_.show(db);
        if (!now || now->moving_to.empty()) fail(Code::invalid_argument, "abort: " + db + " has no move in progress");
        rollback(*now);
      } catch (const Error &rollback) {
        log_->error("move " + db + ": the rollback failed too: " + rollback.what());
      }
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
  refuse_if_leased(*e, "abort");
  return rollback(*e);
}

std::string Mover::rollback(const TenantEntry &e) {
  const std::string &db = e.db;
  Options holder;
  std::unique_ptr<Router> target = router_for(e.moving_to, holder);
  drop_database(*target, db);
  BsonPtr set = make_bson();
  BSON_APPEND_BOOL(set.get(), "fenced", false);
  BsonPtr unset = fields({{"move", ""}});
  if (!directory_.write_entry(db, e.version, set.get(), unset.get()))
    fail(Code::invalid_argument, "abort: the entry of " + db + " changed meanwhile; try again");
  log_->warn("move " + db + ": rolled back; it stays on " + e.cluster);
  return entry_json(*directory_.show(db));
}

}  // namespace pm::core
