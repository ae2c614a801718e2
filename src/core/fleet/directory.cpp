#include "fleet/directory.hpp"

#include <fnmatch.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>

#include "base/clock.hpp"
#include "base/doc.hpp"
#include "base/error.hpp"
#include "base/json_writer.hpp"
#include "base/thread_name.hpp"
#include "observe/log.hpp"

namespace pm::core {

namespace {

struct CollectionDeleter {
  void operator()(mongoc_collection_t *c) const { mongoc_collection_destroy(c); }
};
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;

std::string utf8_of(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, nullptr);
  return {};
}

int64_t int_of(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
  return 0;
}

}  // namespace

std::string entry_json(const TenantEntry &e) {
  JsonWriter j;
  j.begin_object().key("db").value(e.db).key("cluster").value(e.cluster).key("version").value(e.version)
      .key("seq").value(e.seq).key("placedBy").value(e.placed_by);
  if (!e.options_json.empty()) j.key("options").raw(e.options_json);
  j.end_object();
  return j.take();
}

Directory::Directory(const Options &options, Router &router, std::shared_ptr<const Log> log)
    : options_(options.directory), journal_db_(options.journal_db), router_(router), log_(std::move(log)) {
  pool_ = router_.cluster_pool("$directory", options_.mongo_uri);
}

Directory::~Directory() { stop(); }

mongoc_collection_t *Directory::catalog(const Lease &lease) const {
  return mongoc_client_get_collection(lease.client(), options_.db.c_str(), options_.collection.c_str());
}

std::vector<TenantEntry> Directory::read(const bson_t *filter) {
  Lease lease = pool_->checkout(options_.db);
  CollectionPtr coll(catalog(lease));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll.get(), filter, nullptr, nullptr);
  std::vector<TenantEntry> out;
  const bson_t *doc = nullptr;
  while (mongoc_cursor_next(cursor, &doc)) {
    TenantEntry e;
    e.db = utf8_of(doc, "_id");
    if (e.db.empty() || e.db[0] == '$') continue;  // the counter
    e.cluster = utf8_of(doc, "cluster");
    e.placed_by = utf8_of(doc, "placedBy");
    e.version = int_of(doc, "version");
    e.seq = int_of(doc, "seq");
    bson_iter_t f;
    e.fenced = bson_iter_init_find(&f, doc, "fenced") && bson_iter_as_bool(&f);
    e.source = utf8_of(doc, "source");
    if (bson_iter_init_find(&f, doc, "move") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      bson_iter_t m;
      if (bson_iter_recurse(&f, &m))
        while (bson_iter_next(&m)) {
          std::string key = bson_iter_key(&m);
          if (BSON_ITER_HOLDS_UTF8(&m)) {
            if (key == "to") e.moving_to = bson_iter_utf8(&m, nullptr);
            if (key == "phase") e.move_phase = bson_iter_utf8(&m, nullptr);
            if (key == "owner") e.move_owner = bson_iter_utf8(&m, nullptr);
          } else if (key == "leaseUntil" && BSON_ITER_HOLDS_DATE_TIME(&m)) {
            e.lease_until = bson_iter_date_time(&m);
          }
        }
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "options") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      uint32_t len = 0;
      const uint8_t *data = nullptr;
      bson_iter_document(&it, &len, &data);
      bson_t sub;
      if (bson_init_static(&sub, data, len)) {
        e.options_json = to_json(&sub, false);
        try {
          e.spec = parse_pool_spec(e.options_json.c_str(), "directory entry " + e.db + ".options");
        } catch (const Error &err) {
          log_->warn(std::string(err.what()) + ": the entry's pool settings are ignored");
        }
      }
    }
    out.push_back(std::move(e));
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) {
    mongoc_cursor_destroy(cursor);
    throw Error::from_driver(error, "read the tenant directory " + options_.db + "." + options_.collection);
  }
  mongoc_cursor_destroy(cursor);
  return out;
}

void Directory::store_locked(const TenantEntry &e) {
  auto it = entries_.find(e.db);
  if (it != entries_.end() && it->second.version >= e.version) return;
  int was = it != entries_.end() && it->second.fenced ? 1 : 0;
  fenced_ += (e.fenced ? 1 : 0) - was;
  entries_[e.db] = e;
}

void Directory::apply(const std::vector<TenantEntry> &entries) {
  for (const TenantEntry &e : entries) {
    bool reroute = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_seen_ = std::max(max_seen_, e.seq);
      auto it = entries_.find(e.db);
      if (it != entries_.end() && it->second.version >= e.version) continue;
      reroute = it == entries_.end() || it->second.cluster != e.cluster || it->second.options_json != e.options_json;
      if (!reroute) store_locked(e);
    }
    // A new cluster: the cache changes and the router forgets the name in one step under the
    // router's lock, so that no operation routes by the new entry's fence state to the old
    // pool (a move's flip lifts the fence and changes the cluster in one entry version).
    if (reroute)
      router_.forget(e.db, [&] {
        std::lock_guard<std::mutex> lock(mu_);
        store_locked(e);
      });
  }
  unfenced_.notify_all();
}

void Directory::refresh() {
  std::lock_guard<std::mutex> serial(refresh_mu_);
  int64_t floor = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    floor = floor_;
  }
  BsonPtr filter = make_bson();
  bson_t seq;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "seq", &seq);
  BSON_APPEND_INT64(&seq, "$gt", floor);
  bson_append_document_end(filter.get(), &seq);
  apply(read(filter.get()));
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = steady_ms();
  checkpoints_.emplace_back(now, max_seen_);
  while (!checkpoints_.empty() && now - checkpoints_.front().first >= kSettleMs) {
    floor_ = std::max(floor_, checkpoints_.front().second);
    checkpoints_.pop_front();
  }
}

void Directory::start() {
  refresh();
  follower_ = std::thread([this] {
    name_this_thread("pm-directory");
    follow();
  });
}

void Directory::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
}

bool Directory::streaming() const { return streaming_.load(); }

// A change stream on the catalog where the server has them: every change wakes a refresh,
// and a refresh runs at least every refreshMS anyway. Without one, a refresh every refreshMS.
void Directory::follow() {
  auto stopping = [&](int64_t wait_ms) {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_; });
    return stopping_;
  };
  bool try_stream = true;
  while (!stopping(0)) {
    mongoc_change_stream_t *stream = nullptr;
    Lease lease;
    if (try_stream) {
      try {
        lease = pool_->checkout(options_.db);
        CollectionPtr coll(catalog(lease));
        BsonPtr opts = make_bson();
        BSON_APPEND_INT64(opts.get(), "maxAwaitTimeMS", std::min<int64_t>(options_.refresh_ms, 500));
        stream = mongoc_collection_watch(coll.get(), make_bson().get(), opts.get());
        const bson_t *event = nullptr;
        bson_error_t error;
        mongoc_change_stream_next(stream, &event);
        if (mongoc_change_stream_error_document(stream, &error, nullptr)) {
          log_->info(std::string("tenant directory: no change stream on the catalog (") + error.message +
                     "); polling every " + std::to_string(options_.refresh_ms) + " ms");
          mongoc_change_stream_destroy(stream);
          stream = nullptr;
          try_stream = false;
        }
      } catch (const Error &e) {
        log_->warn(std::string("tenant directory: ") + e.what());
      }
    }
    if (stream == nullptr) {
      lease = Lease();
      streaming_ = false;
      if (stopping(options_.refresh_ms)) break;
      try {
        refresh();
      } catch (const Error &e) {
        log_->warn(std::string("tenant directory: ") + e.what());
      }
      continue;
    }
    streaming_ = true;
    try {
      refresh();  // what changed before the stream opened
    } catch (const Error &) {
    }
    int64_t last = steady_ms();
    while (!stopping(0)) {
      const bson_t *event = nullptr;
      bool got = mongoc_change_stream_next(stream, &event);
      bson_error_t error;
      if (!got && mongoc_change_stream_error_document(stream, &error, nullptr)) {
        log_->warn(std::string("tenant directory: change stream ended: ") + error.message);
        break;
      }
      if (got || steady_ms() - last >= options_.refresh_ms) {
        last = steady_ms();
        try {
          refresh();
        } catch (const Error &e) {
          log_->warn(std::string("tenant directory: ") + e.what());
        }
      }
    }
    mongoc_change_stream_destroy(stream);
    streaming_ = false;
  }
}

std::optional<TenantPlacement> Directory::placement_of(const TenantEntry &e) const {
  const std::string *uri = options_.cluster_uri(e.cluster);
  if (uri == nullptr) {
    log_->warn("tenant directory: " + e.db + " is on cluster '" + e.cluster +
               "', which is not one of directory.clusters; it is routed as if it had no entry");
    return std::nullopt;
  }
  return TenantPlacement{e.cluster, *uri, e.spec, e.version};
}

std::optional<TenantPlacement> Directory::cached(const std::string &db) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(db);
  if (it == entries_.end()) return std::nullopt;
  return placement_of(it->second);
}

void Directory::hold_writes(const std::string &db) const {
  if (fenced_.load(std::memory_order_acquire) == 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  auto fenced = [&] {
    auto it = entries_.find(db);
    return it != entries_.end() && it->second.fenced;
  };
  if (!unfenced_.wait_for(lock, std::chrono::milliseconds(kFenceWaitMs), [&] { return !fenced(); }))
    throw Error(Code::moving, "database " + db + " is moving between clusters: its writes are held (waited " +
                                  std::to_string(kFenceWaitMs) + " ms); retry later", 0, true);
}

std::optional<TenantPlacement> Directory::place(const std::string &db) {
  if (options_.placement.empty() || db == options_.db || db == journal_db_ ||
      fnmatch(options_.place_match.c_str(), db.c_str(), 0) != 0)
    return std::nullopt;
  TenantEntry e = place_on(db, "");
  return placement_of(e);
}

std::vector<ClusterLoad> Directory::loads() {
  std::vector<ClusterLoad> out;
  Lease lease = pool_->checkout(options_.db);
  CollectionPtr coll(catalog(lease));
  for (const auto &[name, uri] : options_.clusters) {
    BsonPtr filter = make_bson();
    BSON_APPEND_UTF8(filter.get(), "cluster", name.c_str());
    bson_error_t error;
    int64_t n = mongoc_collection_count_documents(coll.get(), filter.get(), nullptr, nullptr, nullptr, &error);
    if (n < 0) throw Error::from_driver(error, "count the tenants of cluster " + name);
    out.push_back(ClusterLoad{name, n});
  }
  return out;
}

std::string Directory::choose(const std::string &db) {
  std::string policy = options_.placement.empty() ? "fewest" : options_.placement;
  if (policy == "fixed") return options_.place_on;
  if (policy == "fewest") {
    std::vector<ClusterLoad> l = loads();
    return std::min_element(l.begin(), l.end(), [](auto &a, auto &b) { return a.tenants < b.tenants; })->name;
  }
  if (policy == "leastData") {
    std::string best;
    double best_size = -1;
    for (const auto &[name, uri] : options_.clusters) {
      Lease lease = router_.cluster_pool(name, uri)->checkout();
      BsonPtr cmd = make_bson();
      BSON_APPEND_INT32(cmd.get(), "listDatabases", 1);
      bson_error_t error;
      bson_t reply;  // the driver initialises it, failing or not
      bool ok = mongoc_client_command_simple(lease.client(), "admin", cmd.get(), nullptr, &reply, &error);
      bson_iter_t it;
      double size = ok && bson_iter_init_find(&it, &reply, "totalSize") ? bson_iter_as_double(&it) : 0;
      bson_destroy(&reply);
      if (!ok) throw Error::from_driver(error, "listDatabases on cluster " + name);
      if (best_size < 0 || size < best_size) {
        best = name;
        best_size = size;
      }
    }
    return best;
  }
  Chooser chooser;
  {
    std::lock_guard<std::mutex> lock(mu_);
    chooser = chooser_;
  }
  if (!chooser) throw Error(Code::invalid_argument, "placement policy \"callback\" without a callback (pm_wrapper_set_placement)");
  std::string name = chooser(db, loads());
  if (options_.cluster_uri(name) == nullptr)
    throw Error(Code::invalid_argument, "the placement callback chose '" + name + "', not one of directory.clusters");
  return name;
}

void Directory::set_chooser(Chooser chooser) {
  std::lock_guard<std::mutex> lock(mu_);
  chooser_ = std::move(chooser);
}

int64_t Directory::next_seq(mongoc_client_t *client) {
  mongoc_collection_t *raw = mongoc_client_get_collection(client, options_.db.c_str(), options_.collection.c_str());
  CollectionPtr coll(raw);
  BsonPtr query = make_bson(), update = make_bson();
  bson_t reply;  // the driver initialises it, failing or not
  BSON_APPEND_UTF8(query.get(), "_id", "$seq");
  bson_t inc;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$inc", &inc);
  BSON_APPEND_INT64(&inc, "n", 1);
  bson_append_document_end(update.get(), &inc);
  bson_error_t error;
  // Two first writers both upsert the counter: the loser's duplicate key means it exists now.
  for (int attempt = 0;; ++attempt) {
    if (mongoc_collection_find_and_modify(coll.get(), query.get(), nullptr, update.get(), nullptr, false, true, true,
                                          &reply, &error))
      break;
    bson_destroy(&reply);
    Error e = Error::from_driver(error, "take a sequence number of the tenant directory");
    if (e.code() != Code::duplicate_key || attempt == 2) throw e;
  }
  bson_iter_t it, n;
  bool found = bson_iter_init_find(&it, &reply, "value") && bson_iter_recurse(&it, &n) && bson_iter_find(&n, "n");
  int64_t seq = found ? bson_iter_as_int64(&n) : 0;
  bson_destroy(&reply);
  if (!found) throw Error(Code::internal, "the tenant directory's counter gave no number");
  return seq;
}

TenantEntry Directory::place_on(const std::string &db, const std::string &cluster) {
  if (!cluster.empty() && options_.cluster_uri(cluster) == nullptr)
    throw Error(Code::invalid_argument, "'" + cluster + "' is not one of directory.clusters");
  if (auto known = show(db)) {
    apply({*known});
    return *known;
  }
  TenantEntry e;
  e.db = db;
  e.cluster = cluster.empty() ? choose(db) : cluster;
  e.placed_by = cluster.empty() ? (options_.placement.empty() ? "fewest" : options_.placement) : "explicit";
  e.version = 1;
  Lease lease = pool_->checkout(options_.db);
  int64_t taken = steady_ms();
  e.seq = next_seq(lease.client());
  CollectionPtr coll(catalog(lease));
  BsonPtr doc = make_bson();
  BSON_APPEND_UTF8(doc.get(), "_id", db.c_str());
  BSON_APPEND_UTF8(doc.get(), "cluster", e.cluster.c_str());
  BSON_APPEND_INT64(doc.get(), "version", e.version);
  BSON_APPEND_INT64(doc.get(), "seq", e.seq);
  BSON_APPEND_UTF8(doc.get(), "placedBy", e.placed_by.c_str());
  BSON_APPEND_DATE_TIME(doc.get(), "placedAt", now_wall_ms());
  bson_error_t error;
  if (!mongoc_collection_insert_one(coll.get(), doc.get(), nullptr, nullptr, &error)) {
    Error err = Error::from_driver(error, "place " + db + " in the tenant directory");
    if (err.code() != Code::duplicate_key) throw err;
    lease = Lease();
    std::optional<TenantEntry> winner = show(db);  // another process placed it first: theirs
    if (!winner) throw err;
    apply({*winner});
    return *winner;
  }
  if (steady_ms() - taken > kSettleMs / 2) {  // followers may have passed this seq: a new one
    BsonPtr filter = make_bson(), update = make_bson();
    BSON_APPEND_UTF8(filter.get(), "_id", db.c_str());
    e.seq = next_seq(lease.client());
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_INT64(&set, "seq", e.seq);
    bson_append_document_end(update.get(), &set);
    if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), nullptr, nullptr, &error))
      throw Error::from_driver(error, "stamp " + db + " in the tenant directory");
  }
  log_->info("tenant directory: " + db + " placed on cluster " + e.cluster + " (" + e.placed_by + ")");
  apply({e});
  return e;
}

bool Directory::write_entry(const std::string &db, int64_t version, const bson_t *set, const bson_t *unset) {
  Lease lease = pool_->checkout(options_.db);
  int64_t seq = next_seq(lease.client());
  CollectionPtr coll(catalog(lease));
  BsonPtr filter = make_bson(), update = make_bson();
  BSON_APPEND_UTF8(filter.get(), "_id", db.c_str());
  BSON_APPEND_INT64(filter.get(), "version", version);
  bson_t part;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &part);
  if (set != nullptr) bson_concat(&part, set);
  BSON_APPEND_INT64(&part, "seq", seq);
  bson_append_document_end(update.get(), &part);
  if (unset != nullptr && !bson_empty(unset)) BSON_APPEND_DOCUMENT(update.get(), "$unset", unset);
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$inc", &part);
  BSON_APPEND_INT64(&part, "version", 1);
  bson_append_document_end(update.get(), &part);
  bson_t reply;
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), nullptr, &reply, &error)) {
    bson_destroy(&reply);
    throw Error::from_driver(error, "update " + db + " in the tenant directory");
  }
  int64_t matched = int_of(&reply, "matchedCount");
  bson_destroy(&reply);
  lease = Lease();
  if (auto now = show(db)) apply({*now});
  return matched == 1;
}

std::vector<TenantEntry> Directory::list() {
  std::vector<TenantEntry> out = read(make_bson().get());
  std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.db < b.db; });
  return out;
}

std::optional<TenantEntry> Directory::show(const std::string &db) {
  BsonPtr filter = make_bson();
  BSON_APPEND_UTF8(filter.get(), "_id", db.c_str());
  std::vector<TenantEntry> found = read(filter.get());
  if (found.empty()) return std::nullopt;
  return found.front();
}

}  // namespace pm::core
