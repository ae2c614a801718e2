#include "txn/compensation.hpp"

#include <mongoc/mongoc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <functional>
#include <thread>
#include <map>

#include "base/db_name.hpp"
#include "base/json_writer.hpp"

namespace pm::core {

namespace {

constexpr const char *kJournalCollection = "polymongo_journal";

BsonPtr copy(const bson_t *b) { return BsonPtr(bson_copy(b)); }
BsonPtr copy_bytes(const Bytes &bytes) { return BsonPtr(bson_new_from_data(bytes.data(), bytes.size())); }

BsonPtr id_doc(const bson_t *doc) {
  BsonPtr out = make_bson();
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "_id")) bson_append_value(out.get(), "_id", 3, bson_iter_value(&it));
  return out;
}

// {$and: [filter, {_id: {$in: [ids]}}]}
BsonPtr restrict_to(const bson_t *filter, const std::vector<BsonPtr> &docs) {
  BsonPtr out = make_bson();
  bson_t and_, f1, id, in;
  BSON_APPEND_ARRAY_BEGIN(out.get(), "$and", &and_);
  BSON_APPEND_DOCUMENT(&and_, "0", filter);
  BSON_APPEND_DOCUMENT_BEGIN(&and_, "1", &f1);
  BSON_APPEND_DOCUMENT_BEGIN(&f1, "_id", &id);
  BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
  uint32_t i = 0;
  for (const auto &d : docs) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, d.get(), "_id")) continue;
    char buf[16];
    const char *key;
    bson_uint32_to_string(i++, &key, buf, sizeof buf);
    bson_append_value(&in, key, -1, bson_iter_value(&it));
  }
  bson_append_array_end(&id, &in);
  bson_append_document_end(&f1, &id);
  bson_append_document_end(&and_, &f1);
  bson_append_array_end(out.get(), &and_);
  return out;
}

DocView view(const bson_t *b) { return DocView{bson_get_data(b), b->len}; }

std::vector<BsonPtr> read_matching(const CollectionTarget &plain, const bson_t *filter, int64_t limit) {
  bson_t opts = BSON_INITIALIZER;
  if (limit > 0) BSON_APPEND_INT64(&opts, "limit", limit);
  std::unique_ptr<Cursor> c = plain.find(view(filter), view(&opts));
  bson_destroy(&opts);
  std::vector<BsonPtr> out;
  while (const bson_t *doc = c->next()) out.push_back(copy(doc));
  return out;
}

bool first_key_is_operator(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

// The _id an upsert will create, made explicit in `change` when neither the filter nor the
// change names it. Returns the (possibly rewritten) change and sets *id to {_id: value}.
BsonPtr pin_upsert_id(const bson_t *filter, const bson_t *change, bool replace, BsonPtr *id) {
  bson_iter_t it;
  *id = make_bson();
  if (bson_iter_init_find(&it, filter, "_id") && !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_append_value(id->get(), "_id", 3, bson_iter_value(&it));
    return copy(change);
  }
  if (replace) {
    if (bson_iter_init_find(&it, change, "_id")) {
      bson_append_value(id->get(), "_id", 3, bson_iter_value(&it));
      return copy(change);
    }
    bson_oid_t oid;
    bson_oid_init(&oid, nullptr);
    BSON_APPEND_OID(id->get(), "_id", &oid);
    BsonPtr out = make_bson();
    BSON_APPEND_OID(out.get(), "_id", &oid);
    bson_concat(out.get(), change);
    return out;
  }
  if (!first_key_is_operator(change))
    fail(Code::not_supported, "an upsert with a pipeline update is not supported in a compensating transaction");
  bson_iter_t soi, inner;
  if (bson_iter_init_find(&soi, change, "$setOnInsert") && BSON_ITER_HOLDS_DOCUMENT(&soi) &&
      bson_iter_recurse(&soi, &inner) && bson_iter_find(&inner, "_id")) {
    bson_append_value(id->get(), "_id", 3, bson_iter_value(&inner));
    return copy(change);
  }
  bson_oid_t oid;
  bson_oid_init(&oid, nullptr);
  BSON_APPEND_OID(id->get(), "_id", &oid);
  BsonPtr out = make_bson();
  bool merged = false;
  bson_iter_init(&it, change);
  while (bson_iter_next(&it)) {
    if (std::strcmp(bson_iter_key(&it), "$setOnInsert") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_t sub, existing;
      uint32_t len;
      const uint8_t *data;
      bson_iter_document(&it, &len, &data);
      bson_init_static(&existing, data, len);
      BSON_APPEND_DOCUMENT_BEGIN(out.get(), "$setOnInsert", &sub);
      BSON_APPEND_OID(&sub, "_id", &oid);
      bson_concat(&sub, &existing);
      bson_append_document_end(out.get(), &sub);
      merged = true;
    } else {
      bson_append_iter(out.get(), bson_iter_key(&it), -1, &it);
    }
  }
  if (!merged) {
    bson_t sub;
    BSON_APPEND_DOCUMENT_BEGIN(out.get(), "$setOnInsert", &sub);
    BSON_APPEND_OID(&sub, "_id", &oid);
    bson_append_document_end(out.get(), &sub);
  }
  return out;
}

// A result for writes made through find-and-modify.
std::shared_ptr<WriteResult> synthetic_result(int64_t matched, int64_t removed, const bson_t *upserted_id) {
  bson_t reply = BSON_INITIALIZER;
  BSON_APPEND_INT64(&reply, "nMatched", matched);
  BSON_APPEND_INT64(&reply, "nModified", matched);
  BSON_APPEND_INT64(&reply, "nRemoved", removed);
  BSON_APPEND_INT64(&reply, "nUpserted", upserted_id ? 1 : 0);
  if (upserted_id) {
    bson_t arr, one;
    bson_iter_t it;
    BSON_APPEND_ARRAY_BEGIN(&reply, "upserted", &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &one);
    BSON_APPEND_INT32(&one, "index", 0);
    if (bson_iter_init_find(&it, upserted_id, "_id")) bson_append_value(&one, "_id", 3, bson_iter_value(&it));
    bson_append_document_end(&arr, &one);
    bson_append_array_end(&reply, &arr);
  }
  auto r = std::make_shared<WriteResult>(&reply, nullptr, true, false);
  bson_destroy(&reply);
  return r;
}

// Raw journal I/O on one pool (the cluster of the write), outside any routing.
void journal_command(Pool &pool, const std::string &jdb, const std::function<bool(mongoc_collection_t *, bson_error_t *)> &fn,
                     const char *what) {
  Lease lease = pool.checkout();
  mongoc_collection_t *c = mongoc_client_get_collection(lease.client(), jdb.c_str(), kJournalCollection);
  bson_error_t error;
  bool ok = false;
  // Journal writes are idempotent (a duplicate _id means an earlier attempt landed), and the
  // first ones race to create the journal collection with other sessions: retry briefly.
  for (int attempt = 0; attempt < 4 && !ok; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(25 * attempt));
    ok = fn(c, &error) || is_duplicate_key_code(static_cast<int32_t>(error.code));
  }
  mongoc_collection_destroy(c);
  if (!ok) throw Error::from_driver(error, std::string("journal: ") + what);
}

const char *kind_name(int k) { return k == 0 ? "delete_ids" : "restore_docs"; }

// Applies one undo with raw driver calls on `client`. Returns "" or the error.
std::string apply_undo(mongoc_client_t *client, const std::string &db, const std::string &coll, int kind,
                       const std::vector<const bson_t *> &items) {
  mongoc_collection_t *c = mongoc_client_get_collection(client, db.c_str(), coll.c_str());
  bson_error_t error;
  std::string failure;
  for (const bson_t *item : items) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, item, "_id")) continue;
    bson_t selector = BSON_INITIALIZER;
    bson_append_value(&selector, "_id", 3, bson_iter_value(&it));
    bool ok;
    if (kind == 0) {
      ok = mongoc_collection_delete_one(c, &selector, nullptr, nullptr, &error);
    } else {
      bson_t opts = BSON_INITIALIZER;
      BSON_APPEND_BOOL(&opts, "upsert", true);
      ok = mongoc_collection_replace_one(c, &selector, item, &opts, nullptr, &error);
      bson_destroy(&opts);
    }
    bson_destroy(&selector);
    if (!ok && failure.empty()) failure = error.message;
  }
  mongoc_collection_destroy(c);
  return failure;
}

}  // namespace

CompensationOptions CompensationOptions::parse(DocView opts) {
  CompensationOptions o;
  Doc d(opts, "compensating transaction options");
  bson_iter_t it;
  bson_iter_init(&it, d.get());
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "journal") == 0) {
      o.journal = bson_iter_as_bool(&it);
    } else if (std::strcmp(key, "journalDb") == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
      o.journal_db = bson_iter_utf8(&it, nullptr);
    } else {
      fail(Code::invalid_argument, std::string("compensating transaction options: unknown option '") + key + "'");
    }
  }
  return o;
}

CompensatingSession::CompensatingSession(std::shared_ptr<Router> router, CompensationOptions options)
    : router_(std::move(router)), options_(std::move(options)) {
  if (options_.journal) {
    if (auto why = db_name_problem(options_.journal_db, false))
      fail(Code::invalid_db_name, "journalDb: " + *why);
  }
}

void CompensatingSession::begin() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!txn_.empty()) fail(Code::invalid_argument, "a compensating transaction is already open in this session");
  bson_oid_t oid;
  bson_oid_init(&oid, nullptr);
  char hex[25];
  bson_oid_to_string(&oid, hex);
  txn_ = hex;
  next_seq_ = 1;
  log_.clear();
  journaled_.clear();
  journal_pools_.clear();
  report_.clear();
}

bool CompensatingSession::in_transaction() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !txn_.empty();
}

std::optional<std::string> CompensatingSession::rollback_report() const {
  std::lock_guard<std::mutex> lock(mu_);
  return report_;  // "" before any rollback
}

void CompensatingSession::start_transaction(DocView opts) {
  Doc o(opts, "transaction options");
  if (!o.empty()) fail(Code::invalid_argument, "a compensating transaction takes no options");
  begin();
}

bool CompensatingSession::with_transaction(const std::function<bool()> &body, DocView, int64_t) {
  begin();
  bool keep;
  try {
    keep = body();
  } catch (...) {
    rollback();
    throw;
  }
  if (!keep) {
    rollback();
    return false;
  }
  commit();
  return true;
}

void CompensatingSession::require_active() const {
  if (txn_.empty())
    fail(Code::invalid_argument, "no compensating transaction is open in this session (start one first)");
}

uint64_t CompensatingSession::journal_pending(const CollectionTarget &plain, UndoKind kind, const std::vector<const bson_t *> &items) {
  uint64_t seq = next_seq_++;
  if (!options_.journal) return seq;
  std::shared_ptr<Pool> pool = router_->route(plain.name());
  if (journaled_.insert(pool.get()).second) {
    journal_pools_.push_back(pool);
    bson_t header = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&header, "_id", txn_.c_str());
    BSON_APPEND_UTF8(&header, "txn", txn_.c_str());
    BSON_APPEND_UTF8(&header, "state", "open");
    BSON_APPEND_DATE_TIME(&header, "at", now_wall_ms());
    // The owner, so that recovery never rolls back a transaction whose process is alive.
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    BSON_APPEND_UTF8(&header, "host", host);
    BSON_APPEND_INT64(&header, "pid", static_cast<int64_t>(getpid()));
    journal_command(*pool, options_.journal_db, [&](mongoc_collection_t *c, bson_error_t *e) {
      return mongoc_collection_insert_one(c, &header, nullptr, nullptr, e);
    }, "open");
    bson_destroy(&header);
  }
  bson_t step = BSON_INITIALIZER, arr;
  std::string id = txn_ + ":" + std::to_string(seq);
  BSON_APPEND_UTF8(&step, "_id", id.c_str());
  BSON_APPEND_UTF8(&step, "txn", txn_.c_str());
  BSON_APPEND_INT64(&step, "seq", static_cast<int64_t>(seq));
  BSON_APPEND_UTF8(&step, "db", plain.name().c_str());
  BSON_APPEND_UTF8(&step, "coll", plain.collection().c_str());
  BSON_APPEND_UTF8(&step, "kind", kind_name(static_cast<int>(kind)));
  BSON_APPEND_UTF8(&step, "state", "pending");
  BSON_APPEND_ARRAY_BEGIN(&step, "items", &arr);
  uint32_t i = 0;
  for (const bson_t *item : items) {
    char buf[16];
    const char *key;
    bson_uint32_to_string(i++, &key, buf, sizeof buf);
    BSON_APPEND_DOCUMENT(&arr, key, item);
  }
  bson_append_array_end(&step, &arr);
  journal_command(*pool, options_.journal_db, [&](mongoc_collection_t *c, bson_error_t *e) {
    return mongoc_collection_insert_one(c, &step, nullptr, nullptr, e);
  }, "record");
  bson_destroy(&step);
  return seq;
}

void CompensatingSession::journal_applied(const Step &step) {
  if (!options_.journal) return;
  std::string id = txn_ + ":" + std::to_string(step.seq);
  bson_t selector = BSON_INITIALIZER, update = BSON_INITIALIZER, set, arr;
  BSON_APPEND_UTF8(&selector, "_id", id.c_str());
  BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
  BSON_APPEND_UTF8(&set, "state", "applied");
  BSON_APPEND_ARRAY_BEGIN(&set, "items", &arr);
  uint32_t i = 0;
  for (const auto &item : step.items) {
    char buf[16];
    const char *key;
    bson_uint32_to_string(i++, &key, buf, sizeof buf);
    BSON_APPEND_DOCUMENT(&arr, key, item.get());
  }
  bson_append_array_end(&set, &arr);
  bson_append_document_end(&update, &set);
  journal_command(*step.pool, options_.journal_db, [&](mongoc_collection_t *c, bson_error_t *e) {
    return mongoc_collection_update_one(c, &selector, &update, nullptr, nullptr, e);
  }, "mark applied");
  bson_destroy(&selector);
  bson_destroy(&update);
}

void CompensatingSession::record(const CollectionTarget &plain, UndoKind kind, std::vector<BsonPtr> items, uint64_t seq) {
  Step step{seq, plain.name(), plain.collection(), kind, std::move(items), router_->route(plain.name())};
  journal_applied(step);
  log_.push_back(std::move(step));
}

WriteOutcome CompensatingSession::insert_many(const CollectionTarget &plain, const std::vector<DocView> &docs, DocView opts) {
  std::lock_guard<std::mutex> lock(mu_);
  require_active();
  if (docs.empty()) fail(Code::invalid_argument, "insert: no documents given");
  // Assign missing ids now so that the undo is known before the write.
  std::vector<BsonPtr> with_ids;
  std::vector<BsonPtr> given_ids;
  for (const DocView &d : docs) {
    if (d.data == nullptr) fail(Code::invalid_argument, "insert: a document is NULL");
    Doc parsed(d, "document");
    bson_iter_t it;
    if (bson_iter_init_find(&it, parsed.get(), "_id")) {
      with_ids.push_back(copy(parsed.get()));
      given_ids.push_back(id_doc(parsed.get()));
    } else {
      bson_oid_t oid;
      bson_oid_init(&oid, nullptr);
      BsonPtr b = make_bson();
      BSON_APPEND_OID(b.get(), "_id", &oid);
      bson_concat(b.get(), parsed.get());
      with_ids.push_back(std::move(b));
    }
  }
  // Ids given by the caller that already exist will fail as duplicates: never undo them.
  std::set<std::string> preexisting;
  if (!given_ids.empty()) {
    BsonPtr empty = make_bson();
    BsonPtr filter = restrict_to(empty.get(), given_ids);
    for (auto &doc : read_matching(plain, filter.get(), 0)) {
      char *j = bson_as_canonical_extended_json(id_doc(doc.get()).get(), nullptr);
      preexisting.insert(j);
      bson_free(j);
    }
  }
  std::vector<BsonPtr> planned;
  std::vector<const bson_t *> planned_views;
  for (auto &doc : with_ids) {
    BsonPtr id = id_doc(doc.get());
    char *j = bson_as_canonical_extended_json(id.get(), nullptr);
    bool skip = preexisting.count(j) != 0;
    bson_free(j);
    if (!skip) {
      planned_views.push_back(id.get());
      planned.push_back(std::move(id));
    }
  }
  uint64_t seq = journal_pending(plain, UndoKind::delete_ids, planned_views);
  std::vector<DocView> views;
  for (auto &doc : with_ids) views.push_back(view(doc.get()));
  WriteOutcome out = plain.insert_many(views, opts);
  // Exactly what was inserted, from the result.
  std::vector<BsonPtr> inserted;
  bson_iter_t it, ids;
  if (out.result && bson_iter_init_find(&it, out.result->document(), "insertedIds") &&
      bson_iter_recurse(&it, &ids)) {
    while (bson_iter_next(&ids)) {
      BsonPtr id = make_bson();
      bson_append_value(id.get(), "_id", 3, bson_iter_value(&ids));
      inserted.push_back(std::move(id));
    }
  } else if (!out.result) {
    inserted = std::move(planned);  // unknown outcome: undo every id we planned
  }
  record(plain, UndoKind::delete_ids, std::move(inserted), seq);
  return out;
}

WriteOutcome CompensatingSession::update(const CollectionTarget &plain, DocView filter, DocView change, DocView opts, bool many,
                                  bool replace) {
  std::lock_guard<std::mutex> lock(mu_);
  require_active();
  if (change.data == nullptr) fail(Code::invalid_argument, "update: the update is NULL");
  Doc f(filter, "filter");
  Doc c(change, replace ? "replacement" : "update", replace ? Doc::Accept::document : Doc::Accept::pipeline);
  Doc o(opts, "options");
  bson_iter_t it;
  bool upsert = bson_iter_init_find(&it, o.get(), "upsert") && bson_iter_as_bool(&it);
  BsonPtr upsert_id;
  BsonPtr effective = upsert ? pin_upsert_id(f.get(), c.get(), replace, &upsert_id) : copy(c.get());

  if (!many) {
    // One document: its pre-image comes back atomically from find-and-modify.
    std::vector<BsonPtr> provisional = read_matching(plain, f.get(), 1);
    std::vector<const bson_t *> pending;
    for (auto &d : provisional) pending.push_back(d.get());
    uint64_t seq = journal_pending(plain, UndoKind::restore_docs, pending);
    uint64_t upsert_seq = 0;
    if (upsert && provisional.empty())
      upsert_seq = journal_pending(plain, UndoKind::delete_ids, {upsert_id.get()});
    std::optional<Bytes> pre = plain.find_one_and_modify(replace ? Modify::replace : Modify::update,
                                                         filter, view(effective.get()), opts);
    std::vector<BsonPtr> restore;
    if (pre) restore.push_back(copy_bytes(*pre));
    record(plain, UndoKind::restore_docs, std::move(restore), seq);
    bool upserted = !pre && upsert;
    if (upserted) {
      std::vector<BsonPtr> ids;
      ids.push_back(copy(upsert_id.get()));
      record(plain, UndoKind::delete_ids, std::move(ids), upsert_seq ? upsert_seq : next_seq_++);
    }
    return WriteOutcome{synthetic_result(pre ? 1 : 0, 0, upserted ? upsert_id.get() : nullptr), std::nullopt};
  }
  // Many documents: read them, record their pre-images, then change exactly those ids.
  std::vector<BsonPtr> pre = read_matching(plain, f.get(), 0);
  std::vector<const bson_t *> pending;
  for (auto &d : pre) pending.push_back(d.get());
  uint64_t seq = journal_pending(plain, UndoKind::restore_docs, pending);
  WriteOutcome out;
  if (!pre.empty()) {
    BsonPtr restricted = restrict_to(f.get(), pre);
    bson_t no_upsert = BSON_INITIALIZER;
    copy_except(o.get(), &no_upsert, {"upsert"});
    out = plain.update(view(restricted.get()), view(effective.get()), view(&no_upsert), true);
    bson_destroy(&no_upsert);
    record(plain, UndoKind::restore_docs, std::move(pre), seq);
  } else {
    record(plain, UndoKind::restore_docs, {}, seq);
    if (upsert) {
      uint64_t upsert_seq = journal_pending(plain, UndoKind::delete_ids, {upsert_id.get()});
      out = plain.update(filter, view(effective.get()), opts, true);
      std::vector<BsonPtr> ids;
      ids.push_back(copy(upsert_id.get()));
      record(plain, UndoKind::delete_ids, std::move(ids), upsert_seq);
    } else {
      out = plain.update(filter, view(effective.get()), opts, true);
    }
  }
  return out;
}

WriteOutcome CompensatingSession::remove(const CollectionTarget &plain, DocView filter, DocView opts, bool many) {
  std::lock_guard<std::mutex> lock(mu_);
  require_active();
  Doc f(filter, "filter");
  if (!many) {
    std::vector<BsonPtr> provisional = read_matching(plain, f.get(), 1);
    std::vector<const bson_t *> pending;
    for (auto &d : provisional) pending.push_back(d.get());
    uint64_t seq = journal_pending(plain, UndoKind::restore_docs, pending);
    std::optional<Bytes> pre = plain.find_one_and_modify(Modify::remove, filter, {}, opts);
    std::vector<BsonPtr> restore;
    if (pre) restore.push_back(copy_bytes(*pre));
    record(plain, UndoKind::restore_docs, std::move(restore), seq);
    return WriteOutcome{synthetic_result(0, pre ? 1 : 0, nullptr), std::nullopt};
  }
  std::vector<BsonPtr> pre = read_matching(plain, f.get(), 0);
  std::vector<const bson_t *> pending;
  for (auto &d : pre) pending.push_back(d.get());
  uint64_t seq = journal_pending(plain, UndoKind::restore_docs, pending);
  WriteOutcome out;
  if (!pre.empty()) {
    BsonPtr restricted = restrict_to(f.get(), pre);
    out = plain.remove(view(restricted.get()), opts, true);
  } else {
    out = WriteOutcome{synthetic_result(0, 0, nullptr), std::nullopt};
  }
  record(plain, UndoKind::restore_docs, std::move(pre), seq);
  return out;
}

void CompensatingSession::commit() {
  std::lock_guard<std::mutex> lock(mu_);
  require_active();
  std::string txn = txn_;
  for (auto &pool : journal_pools_) {
    bson_t selector = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&selector, "txn", txn.c_str());
    journal_command(*pool, options_.journal_db, [&](mongoc_collection_t *c, bson_error_t *e) {
      return mongoc_collection_delete_many(c, &selector, nullptr, nullptr, e);
    }, "complete");
    bson_destroy(&selector);
  }
  txn_.clear();
  log_.clear();
}

std::string CompensatingSession::rollback() {
  std::lock_guard<std::mutex> lock(mu_);
  require_active();
  // {"txn", "steps": [{seq, db, collection, undo, documents, ok, error?}], "failedSteps"}
  JsonWriter report;
  report.begin_object().key("txn").value(txn_).key("steps").begin_array();
  size_t failed = 0;
  for (auto step = log_.rbegin(); step != log_.rend(); ++step) {
    std::string error;
    try {
      std::vector<const bson_t *> items;
      for (auto &i : step->items) items.push_back(i.get());
      Lease lease = step->pool->checkout();
      error = apply_undo(lease.client(), step->db, step->coll, static_cast<int>(step->kind), items);
    } catch (const std::exception &e) {
      error = e.what();
    }
    failed += error.empty() ? 0 : 1;
    report.begin_object()
        .key("seq").value(step->seq)
        .key("db").value(step->db)
        .key("collection").value(step->coll)
        .key("undo").value(kind_name(static_cast<int>(step->kind)))
        .key("documents").value(step->items.size())
        .key("ok").value(error.empty());
    if (!error.empty()) report.key("error").value(error);
    report.end_object();
  }
  report.end_array().key("failedSteps").value(failed).end_object();
  // The journal of a transaction rolled back (even partly) has served its purpose only when
  // every undo succeeded; otherwise it stays for recover().
  if (failed == 0) {
    for (auto &pool : journal_pools_) {
      try {
        bson_t selector = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&selector, "txn", txn_.c_str());
        journal_command(*pool, options_.journal_db, [&](mongoc_collection_t *c, bson_error_t *e) {
          return mongoc_collection_delete_many(c, &selector, nullptr, nullptr, e);
        }, "complete");
        bson_destroy(&selector);
      } catch (const std::exception &) {
      }
    }
  }
  report_ = report.take();
  txn_.clear();
  log_.clear();
  return report_;
}

std::string CompensatingSession::recover(Router &router, const Log &log, const std::string &journal_db,
                                        int64_t older_than_ms) {
  // One pool per cluster the router knows.
  std::map<std::string, std::shared_ptr<Pool>> clusters;
  for (auto &pool : router.pools()) clusters.emplace(pool->config().uri, pool);
  // {"recovered": [{txn, cluster, undone, failed}]}
  JsonWriter report;
  report.begin_object().key("recovered").begin_array();
  int64_t cutoff = now_wall_ms() - older_than_ms;
  for (auto &[uri, pool] : clusters) {
    Lease lease = pool->checkout();
    mongoc_collection_t *c = mongoc_client_get_collection(lease.client(), journal_db.c_str(), kJournalCollection);
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "state", "open");
    mongoc_cursor_t *headers = mongoc_collection_find_with_opts(c, &filter, nullptr, nullptr);
    std::vector<std::string> txns;
    const bson_t *doc;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    while (mongoc_cursor_next(headers, &doc)) {
      bson_iter_t it;
      int64_t at = bson_iter_init_find(&it, doc, "at") ? bson_iter_date_time(&it) : 0;
      std::string owner_host = bson_iter_init_find(&it, doc, "host") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
      pid_t owner = bson_iter_init_find(&it, doc, "pid") ? static_cast<pid_t>(bson_iter_as_int64(&it)) : 0;
      // A transaction of a live process on this host is still in progress: never touch it.
      bool alive_here = owner_host == host && owner > 0 && (owner == getpid() || kill(owner, 0) == 0);
      if (at <= cutoff && !alive_here && bson_iter_init_find(&it, doc, "txn")) txns.emplace_back(bson_iter_utf8(&it, nullptr));
    }
    mongoc_cursor_destroy(headers);
    bson_destroy(&filter);
    for (const std::string &txn : txns) {
      bson_t steps_filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
      BSON_APPEND_UTF8(&steps_filter, "txn", txn.c_str());
      BSON_APPEND_DOCUMENT_BEGIN(&steps_filter, "seq", &sort);
      BSON_APPEND_BOOL(&sort, "$exists", true);
      bson_append_document_end(&steps_filter, &sort);
      BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
      BSON_APPEND_INT32(&sort, "seq", -1);
      bson_append_document_end(&opts, &sort);
      mongoc_cursor_t *steps = mongoc_collection_find_with_opts(c, &steps_filter, &opts, nullptr);
      size_t undone = 0, failed = 0;
      std::vector<BsonPtr> step_docs;
      while (mongoc_cursor_next(steps, &doc)) step_docs.push_back(copy(doc));
      mongoc_cursor_destroy(steps);
      for (auto &s : step_docs) {
        bson_iter_t it, items;
        std::string db = bson_iter_init_find(&it, s.get(), "db") ? bson_iter_utf8(&it, nullptr) : "";
        std::string coll = bson_iter_init_find(&it, s.get(), "coll") ? bson_iter_utf8(&it, nullptr) : "";
        std::string kind = bson_iter_init_find(&it, s.get(), "kind") ? bson_iter_utf8(&it, nullptr) : "";
        std::vector<BsonPtr> owned;
        std::vector<const bson_t *> views;
        if (bson_iter_init_find(&it, s.get(), "items") && bson_iter_recurse(&it, &items)) {
          while (bson_iter_next(&items)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&items, &len, &data);
            owned.push_back(BsonPtr(bson_new_from_data(data, len)));
            views.push_back(owned.back().get());
          }
        }
        std::string error = apply_undo(lease.client(), db, coll, kind == "delete_ids" ? 0 : 1, views);
        (error.empty() ? undone : failed) += 1;
      }
      if (failed == 0) {
        bson_t all = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&all, "txn", txn.c_str());
        bson_error_t error;
        mongoc_collection_delete_many(c, &all, nullptr, nullptr, &error);
        bson_destroy(&all);
      }
      report.begin_object()
          .key("txn").value(txn)
          .key("cluster").value(pool->redacted_uri())
          .key("undone").value(undone)
          .key("failed").value(failed)
          .end_object();
      bson_destroy(&steps_filter);
      bson_destroy(&opts);
    }
    mongoc_collection_destroy(c);
  }
  report.end_array().end_object();
  std::string text = report.take();
  log.info("recovery: " + text);
  return text;
}

}  // namespace pm::core
