#include "ops/db.hpp"
#include "base/hot.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <type_traits>
#include <utility>

namespace pm::core {

namespace {

bool first_key_is_operator(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

// An update pipeline arrives as an array, which in BSON bytes is a document keyed "0", "1"...
bool looks_like_pipeline(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && bson_iter_next(&it) && std::strcmp(bson_iter_key(&it), "0") == 0;
}

void check_update(const bson_t *update, const char *what) {
  if (bson_empty(update) || !(first_key_is_operator(update) || looks_like_pipeline(update)))
    fail(Code::invalid_argument,
         std::string(what) + ": an update needs $-operators (e.g. {\"$set\": {...}}) or a pipeline");
}

void check_replacement(const bson_t *replacement, const char *what) {
  if (first_key_is_operator(replacement))
    fail(Code::invalid_argument, std::string(what) + ": a replacement may not contain $-operators");
}

bool is_one_of(const char *key, std::initializer_list<const char *> keys) {
  for (const char *k : keys)
    if (std::strcmp(key, k) == 0) return true;
  return false;
}

// Options that belong to one write in a bulk rather than to the whole bulk.
constexpr std::initializer_list<const char *> kPerWriteOptions = {"upsert", "arrayFilters",
                                                                  "collation", "hint"};

void split_write_options(const bson_t *opts, bson_t *per_write, bson_t *per_bulk) {
  bson_iter_t it;
  bson_iter_init(&it, opts);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bson_append_iter(is_one_of(key, kPerWriteOptions) ? per_write : per_bulk, key, -1, &it);
  }
}

bool option_bool(const bson_t *opts, const char *key, bool fallback) {
  bson_iter_t it;
  return bson_iter_init_find(&it, opts, key) ? bson_iter_as_bool(&it) : fallback;
}

const char *type_name(bson_type_t t) {
  switch (t) {
    case BSON_TYPE_DOUBLE: return "a double";
    case BSON_TYPE_UTF8: return "a string";
    case BSON_TYPE_DOCUMENT: return "a document";
    case BSON_TYPE_ARRAY: return "an array";
    case BSON_TYPE_BOOL: return "a boolean";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64: return "an integer";
    case BSON_TYPE_DECIMAL128: return "a Decimal128";
    default: return "another BSON type";
  }
}

// The types of the read options polymongo knows, checked before anything is sent: the driver
// passes most of them through as given, and a string limit reached the server. `what` names
// the operation in the message. Options not listed are the driver's to check.
void check_read_options(const bson_t *opts, const char *what) {
  bson_iter_t it;
  if (opts == nullptr || !bson_iter_init(&it, opts)) return;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bson_type_t type = bson_iter_type(&it);
    auto bad = [&](const char *expected) {
      fail(Code::invalid_argument, std::string(what) + ": option '" + key + "' must be " + expected +
                                       " (got " + type_name(type) + ")");
    };
    bool integer_key = is_one_of(key, {"skip", "limit", "batchSize", "maxTimeMS", "maxAwaitTimeMS"});
    if (integer_key) {
      int64_t v = 0;
      if (type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64) {
        v = bson_iter_as_int64(&it);
      } else if (type == BSON_TYPE_DOUBLE) {
        double d = bson_iter_double(&it);
        if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e15) bad("an integer");
        v = static_cast<int64_t>(d);
      } else {
        bad("an integer");
      }
      if (v < 0) {  // servers refuse them (for one batch, say singleBatch: true)
        fail(Code::invalid_argument, std::string(what) + ": option '" + key + "' must be >= 0 (got " +
                                         std::to_string(v) + ")");
      }
    } else if (is_one_of(key, {"sort", "projection", "collation", "min", "max", "let"})) {
      if (type != BSON_TYPE_DOCUMENT) bad("a document");
    } else if (std::strcmp(key, "hint") == 0) {
      if (type != BSON_TYPE_DOCUMENT && type != BSON_TYPE_UTF8) bad("a document or an index name");
    } else if (is_one_of(key, {"singleBatch", "allowDiskUse", "noCursorTimeout", "returnKey", "showRecordId",
                               "allowPartialResults", "tailable", "awaitData"})) {
      if (type != BSON_TYPE_BOOL) bad("true or false");
    }
  }
}

DocView sub_document(const bson_iter_t *it) {
  uint32_t len = 0;
  const uint8_t *data = nullptr;
  if (BSON_ITER_HOLDS_DOCUMENT(it)) bson_iter_document(it, &len, &data);
  else if (BSON_ITER_HOLDS_ARRAY(it)) bson_iter_array(it, &len, &data);
  return DocView{data, len};
}

}  // namespace

// ---- the _id of a document to insert ------------------------------------------------------

namespace {

// Whether `doc` has an _id; if so, and `ids` is given, it is recorded there as write `index`'s.
PM_HOT bool note_id(const bson_t *doc, InsertedIds *ids, size_t index) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id")) return false;
  if (ids != nullptr) ids->emplace_back(index, bson_iter_value(&it));
  return true;
}

// Writes `doc` with a new ObjectId _id in front into `out` (initialised), and records the id.
void prepend_new_id(const bson_t *doc, bson_t *out, InsertedIds *ids, size_t index) {
  bson_value_t id;
  id.value_type = BSON_TYPE_OID;
  bson_oid_init(&id.value.v_oid, nullptr);
  BSON_APPEND_OID(out, "_id", &id.value.v_oid);
  bson_concat(out, doc);
  if (ids != nullptr) ids->emplace_back(index, &id);
}

}  // namespace

// ---- the plan of a bulk write, validated before any client is checked out -----------------

struct BulkPlan {
  enum class Kind { insert, update_one, update_many, replace_one, delete_one, delete_many };
  struct Write {
    Kind kind;
    std::unique_ptr<Doc> first;  // document to insert, or filter
    BsonPtr with_id;             // an insert given without _id, with a generated one
    std::unique_ptr<Doc> second;  // update or replacement
    BsonPtr opts;                 // the write's own options, if any
    const bson_t *target() const { return with_id ? with_id.get() : first->get(); }
  };
  std::vector<Write> writes;
  BsonPtr opts;  // the bulk's options, if any (most single writes have none)
  bool ordered = true;
  bool want_result = true;                 // false: a successful write builds no result
  std::shared_ptr<InsertedIds> inserted;   // every insert's _id, when a result is wanted

  void add_insert(DocView doc) {
    Write w{Kind::insert, std::make_unique<Doc>(doc, "document"), nullptr, nullptr};
    if (want_result && !inserted) inserted = std::make_shared<InsertedIds>();
    InsertedIds *ids = want_result ? inserted.get() : nullptr;
    if (!note_id(w.first->get(), ids, writes.size())) {
      w.with_id = make_bson();
      prepend_new_id(w.first->get(), w.with_id.get(), ids, writes.size());
    }
    writes.push_back(std::move(w));
    // The analyzer of clang 14 loses track of unique_ptr members moved into the vector.
  }  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks)

  void add(Kind kind, DocView filter, DocView change, const bson_t *write_opts) {
    Write w{kind, std::make_unique<Doc>(filter, "filter"), nullptr, nullptr};
    if (kind == Kind::update_one || kind == Kind::update_many) {
      w.second = std::make_unique<Doc>(change, "update", Doc::Accept::pipeline);
      check_update(w.second->get(), "update");
    } else if (kind == Kind::replace_one) {
      w.second = std::make_unique<Doc>(change, "replacement");
      check_replacement(w.second->get(), "replacement");
    }
    if (write_opts != nullptr && !bson_empty(write_opts)) w.opts.reset(bson_copy(write_opts));
    writes.push_back(std::move(w));
  }  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks): as above

  void set_bulk_options(const bson_t *bulk_opts) {
    if (!bson_empty(bulk_opts)) opts.reset(bson_copy(bulk_opts));
    ordered = option_bool(bulk_opts, "ordered", true);
  }

  // Parses one write model of pm_db_bulk_write: {insertOne: {document}}, {updateOne: {...}}...
  void add_model(const bson_t *model, size_t index) {
    std::string where = "bulk write " + std::to_string(index);
    bson_iter_t it;
    if (!bson_iter_init(&it, model) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_DOCUMENT(&it))
      fail(Code::invalid_argument, where + ": expected {insertOne|updateOne|updateMany|"
                                           "replaceOne|deleteOne|deleteMany: {...}}");
    std::string name = bson_iter_key(&it);
    DocView body = sub_document(&it);
    if (bson_iter_next(&it)) fail(Code::invalid_argument, where + ": one write model per entry");
    bson_t spec;
    bson_init_static(&spec, static_cast<const uint8_t *>(body.data), body.len);
    DocView filter{}, change{}, document{};
    bool has_filter = false, has_change = false, has_document = false;
    BsonPtr write_opts = make_bson();
    bson_iter_t f;
    bson_iter_init(&f, &spec);
    while (bson_iter_next(&f)) {
      const char *key = bson_iter_key(&f);
      if (std::strcmp(key, "filter") == 0) {
        filter = sub_document(&f);
        // Not a document: refused, or its NULL view would become the empty filter, and
        // {deleteMany: {filter: 5}} would delete every document.
        if (filter.data == nullptr) fail(Code::invalid_argument, where + ": filter must be a document");
        has_filter = true;
      } else if (std::strcmp(key, "update") == 0 || std::strcmp(key, "replacement") == 0) {
        change = sub_document(&f);
        has_change = change.data != nullptr;
      } else if (std::strcmp(key, "document") == 0) {
        document = sub_document(&f);
        has_document = document.data != nullptr;
      } else if (is_one_of(key, kPerWriteOptions)) {
        bson_append_iter(write_opts.get(), key, -1, &f);
      } else {
        fail(Code::invalid_argument, where + ": unknown field '" + key + "' in " + name);
      }
    }
    if (name == "insertOne") {
      if (!has_document) fail(Code::invalid_argument, where + ": insertOne needs a document");
      add_insert(document);
      return;
    }
    if (!has_filter) fail(Code::invalid_argument, where + ": " + name + " needs a filter");
    if (name == "updateOne" || name == "updateMany" || name == "replaceOne") {
      if (!has_change) fail(Code::invalid_argument, where + ": " + name + " needs an update or replacement");
      add(name == "updateOne" ? Kind::update_one
                              : name == "updateMany" ? Kind::update_many : Kind::replace_one,
          filter, change, write_opts.get());
    } else if (name == "deleteOne" || name == "deleteMany") {
      add(name == "deleteOne" ? Kind::delete_one : Kind::delete_many, filter, {}, write_opts.get());
    } else {
      fail(Code::invalid_argument, where + ": unknown write model '" + name + "'");
    }
  }
};

// ---- the leased client and collection an operation runs on ---------------------------------

// Operation options plus the session id when the db is bound to a session. Not movable.
class OpOpts {
 public:
  OpOpts(const bson_t *user, const Session *session) : user_(user) {
    if (session == nullptr) return;
    bson_init(&copy_);
    copied_ = true;
    if (user != nullptr) bson_concat(&copy_, user);
    session->append_to(&copy_);
  }
  ~OpOpts() {
    if (copied_) bson_destroy(&copy_);
  }
  OpOpts(const OpOpts &) = delete;
  OpOpts &operator=(const OpOpts &) = delete;
  const bson_t *get() const { return copied_ ? &copy_ : user_; }

 private:
  const bson_t *user_;
  bson_t copy_;
  bool copied_ = false;
};

struct BsonGuard {
  bson_t *b;
  ~BsonGuard() { bson_destroy(b); }
};

struct Db::Target {
  Lease lease;                      // empty when the db is bound to a session
  mongoc_client_t *client = nullptr;
  mongoc_collection_t *coll = nullptr;
  ~Target() {
    if (coll != nullptr) mongoc_collection_destroy(coll);
  }
};

namespace {

// Exponential backoff with jitter: half the delay fixed, half random, so that many clients
// failing together do not retry together.
std::chrono::milliseconds backoff(const RetryOptions &r, int attempt) {
  int64_t delay = r.initial_delay_ms;
  for (int i = 1; i < attempt && delay < r.max_delay_ms; ++i) delay *= 2;
  delay = std::min(delay, r.max_delay_ms);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t jitter = delay / 2 > 0 ? std::uniform_int_distribution<int64_t>(0, delay / 2)(rng) : 0;
  return std::chrono::milliseconds(delay - delay / 2 + jitter);
}

}  // namespace

// Routes, checks out, applies the model's setup, runs `body`, and records the outcome on the
// pool. Connection failures are retried by the wrapper's policy when that cannot apply a write
// twice: failures before anything was sent, and reads. Authentication errors never are.
template <class F>
auto Db::run(bool is_write, F &&body) const {
  Wrapper &w = *model_->wrapper();
  const RetryOptions &retry = w.options().retry;
  for (int attempt = 1;; ++attempt) {
    std::shared_ptr<Pool> held;  // the pool, unless it is the wrapper's shared one (see route)
    Pool *pool = session_ ? session_->pool().get() : w.router().route(name_, held);
    if (session_ && w.router().route(name_) != session_->pool())
      fail(Code::invalid_argument, "database " + name_ + " is served by another pool than the session's: " +
                                       "a native transaction spans one pool; use a compensating transaction");
    auto started = std::chrono::steady_clock::now();
    auto elapsed_us = [&] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count());
    };
    try {
      Target t;
      if (session_) {
        t.client = session_->client();
      } else {
        t.lease = held ? w.router().checkout(held) : pool->checkout_borrowed();
        t.client = t.lease.client();
      }
      model_->ensure(t.client, name_);
      t.coll = mongoc_client_get_collection(t.client, name_.c_str(), collection().c_str());
      if constexpr (std::is_void_v<decltype(body(t))>) {
        body(t);
        pool->record_success(name_, elapsed_us());
        return;
      } else {
        auto result = body(t);
        if constexpr (std::is_same_v<decltype(result), WriteOutcome>) {
          if (result.error) {
            pool->record_failure(name_, *result.error, elapsed_us());
            if (session_) session_->note_error(*result.error);
            return result;
          }
        }
        pool->record_success(name_, elapsed_us());
        return result;
      }
    } catch (const Error &e) {
      pool->record_failure(name_, e, elapsed_us());
      if (session_) {
        session_->note_error(e);
        throw;  // inside a session the caller decides (with_transaction retries whole transactions)
      }
      bool retryable = e.code() == Code::connection && (e.before_send() || !is_write);
      if (!retryable || attempt >= retry.attempts) throw;
      w.log().warn("retrying on " + name_ + " after: " + e.what() + " (attempt " +
                   std::to_string(attempt + 1) + " of " + std::to_string(retry.attempts) + ")");
      std::this_thread::sleep_for(backoff(retry, attempt));
    }
  }
}

WriteOutcome Db::run_bulk(BulkPlan &plan) const {
  return run(true, [&](Target &t) {
  mongoc_bulk_operation_t *bulk =
      mongoc_collection_create_bulk_operation_with_opts(t.coll, OpOpts(plan.opts.get(), session_.get()).get());
  bson_error_t error;
  for (const BulkPlan::Write &w : plan.writes) {
    bool ok = false;
    const bson_t *opts = w.opts.get();
    switch (w.kind) {
      case BulkPlan::Kind::insert:
        ok = mongoc_bulk_operation_insert_with_opts(bulk, w.target(), opts ? opts : driver_skips_validation(), &error);
        break;
      case BulkPlan::Kind::update_one:
        ok = mongoc_bulk_operation_update_one_with_opts(bulk, w.target(), w.second->get(), opts, &error);
        break;
      case BulkPlan::Kind::update_many:
        ok = mongoc_bulk_operation_update_many_with_opts(bulk, w.target(), w.second->get(), opts, &error);
        break;
      case BulkPlan::Kind::replace_one:
        ok = mongoc_bulk_operation_replace_one_with_opts(bulk, w.target(), w.second->get(), opts, &error);
        break;
      case BulkPlan::Kind::delete_one:
        ok = mongoc_bulk_operation_remove_one_with_opts(bulk, w.target(), opts, &error);
        break;
      case BulkPlan::Kind::delete_many:
        ok = mongoc_bulk_operation_remove_many_with_opts(bulk, w.target(), opts, &error);
        break;
    }
    if (!ok) {
      mongoc_bulk_operation_destroy(bulk);
      throw Error::from_driver(error, "write to " + where());
    }
  }
  bson_t reply;
  bool ok = mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;
  mongoc_bulk_operation_destroy(bulk);
  return outcome(ok, &reply, error, plan.inserted, plan.ordered, plan.want_result);
  });
}

// One document with no options, the commonest write of all: no plan is built, and libmongoc's
// insert_one sends the same insert command as a bulk of one without a bulk operation's set-up.
PM_HOT WriteOutcome Db::insert_one(DocView doc, bool want_result) const {
  Doc d(doc, "document");
  auto inserted = want_result ? std::make_shared<InsertedIds>() : nullptr;
  bson_t with_id = BSON_INITIALIZER;
  BsonGuard with_id_guard{&with_id};
  const bson_t *target = d.get();
  if (!note_id(d.get(), inserted.get(), 0)) {
    prepend_new_id(d.get(), &with_id, inserted.get(), 0);
    target = &with_id;
  }
  return run(true, [&](Target &t) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_insert_one(t.coll, target, OpOpts(driver_skips_validation(), session_.get()).get(), &reply, &error);
  return outcome(ok, &reply, error, inserted, true, want_result);
  });
}

// Normalises a write's reply (destroyed here) into a result and, when it failed, an error.
PM_HOT WriteOutcome Db::outcome(bool ok, bson_t *reply, const bson_error_t &error,
                         const std::shared_ptr<const InsertedIds> &inserted, bool ordered,
                         bool want_result) const {
  WriteOutcome out;
  if (ok) {
    if (want_result) out.result = std::make_shared<WriteResult>(reply, inserted, ordered, false);
    bson_destroy(reply);
    return out;
  }
  // The reply carries the transaction labels (TransientTransactionError ...); read them before
  // the result takes the reply over.
  Error driver_error = Error::from_driver(error, "write to " + where(), reply);
  bool transient = mongoc_error_has_label(reply, "TransientTransactionError");
  out.result = std::make_shared<WriteResult>(reply, inserted, ordered, true);
  bson_destroy(reply);

  const auto &errors = out.result->write_errors;
  if (errors.empty()) {
    Error e = driver_error;
    if (e.before_send()) throw e;  // nothing was applied: the caller may retry
    out.error = e;
    return out;
  }
  bool all_duplicates = true;
  for (const WriteError &e : errors) all_duplicates = all_duplicates && is_duplicate_key_code(e.code);
  const WriteError &first = errors.front();
  out.error = Error(all_duplicates ? Code::duplicate_key : Code::write,
                    "write to " + where() + ": " + std::to_string(errors.size()) +
                        " write error(s); first at index " + std::to_string(first.index) +
                        ": " + first.message + " (code " + std::to_string(first.code) + ")",
                    first.code);
  out.error->set_labels(transient, false);
  return out;
}

// ---- writes ---------------------------------------------------------------------------------

void Db::refuse_in_compensation(const char *what) const {
  if (comp_)
    fail(Code::not_supported, std::string(what) +
                                  " is not supported in a compensating transaction (its undo could not be "
                                  "recorded exactly); use insert, update, replace or delete");
}

PM_HOT WriteOutcome Db::insert_many(const std::vector<DocView> &docs, DocView opts, bool want_result) const {
  if (comp_) return comp_->insert_many(*plain(), docs, opts);
  if (docs.empty()) fail(Code::invalid_argument, "insert: no documents given");
  for (const DocView &d : docs)
    if (d.data == nullptr) fail(Code::invalid_argument, "insert: a document is NULL");
  Doc o(opts, "options");
  if (docs.size() == 1 && bson_empty(o.get())) return insert_one(docs.front(), want_result);
  BulkPlan plan;
  plan.want_result = want_result;
  plan.set_bulk_options(o.get());
  for (const DocView &d : docs) plan.add_insert(d);
  return run_bulk(plan);
}

namespace {
// One update, replace or delete as a bulk of one: options that belong to the write go with it,
// the rest (writeConcern, bypassDocumentValidation, ...) to the bulk.
void plan_single(BulkPlan &plan, BulkPlan::Kind kind, DocView filter, DocView change, DocView opts) {
  Doc o(opts, "options");
  BsonPtr per_write = make_bson(), per_bulk = make_bson();
  split_write_options(o.get(), per_write.get(), per_bulk.get());
  plan.set_bulk_options(per_bulk.get());
  plan.add(kind, filter, change, per_write.get());
}
}  // namespace

WriteOutcome Db::update(DocView filter, DocView change, DocView opts, bool many) const {
  if (comp_) return comp_->update(*plain(), filter, change, opts, many, false);
  if (change.data == nullptr) fail(Code::invalid_argument, "update: the update is NULL");
  BulkPlan plan;
  plan_single(plan, many ? BulkPlan::Kind::update_many : BulkPlan::Kind::update_one, filter, change, opts);
  return run_bulk(plan);
}

WriteOutcome Db::replace_one(DocView filter, DocView replacement, DocView opts) const {
  if (comp_) return comp_->update(*plain(), filter, replacement, opts, false, true);
  if (replacement.data == nullptr) fail(Code::invalid_argument, "replace: the replacement is NULL");
  BulkPlan plan;
  plan_single(plan, BulkPlan::Kind::replace_one, filter, replacement, opts);
  return run_bulk(plan);
}

WriteOutcome Db::remove(DocView filter, DocView opts, bool many) const {
  if (comp_) return comp_->remove(*plain(), filter, opts, many);
  BulkPlan plan;
  plan_single(plan, many ? BulkPlan::Kind::delete_many : BulkPlan::Kind::delete_one, filter, {}, opts);
  return run_bulk(plan);
}

WriteOutcome Db::bulk_write(const std::vector<DocView> &ops, DocView opts) const {
  refuse_in_compensation("bulk write");
  if (ops.empty()) fail(Code::invalid_argument, "bulk write: no writes given");
  BulkPlan plan;
  Doc o(opts, "options");
  plan.set_bulk_options(o.get());
  std::vector<std::unique_ptr<Doc>> models;  // the parsed models own what the plan points into
  for (size_t i = 0; i < ops.size(); ++i) {
    models.push_back(std::make_unique<Doc>(ops[i], "write model"));
    plan.add_model(models.back()->get(), i);
  }
  return run_bulk(plan);
}

// ---- reads ----------------------------------------------------------------------------------

std::unique_ptr<Cursor> Db::find(DocView filter, DocView opts) const {
  Doc f(filter, "filter");
  Doc o(opts, "options");
  check_read_options(o.get(), "find");
  return run(false, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_find_with_opts(t.coll, f.get(), OpOpts(o.get(), session_.get()).get(), nullptr);
  return std::make_unique<Cursor>(shared_from_this(), std::move(t.lease),
                                  std::exchange(t.coll, nullptr), c, "find in " + where());
  });
}

PM_HOT std::optional<Bytes> Db::find_one(DocView filter, DocView opts) const {
  Doc f(filter, "filter");
  Doc o(opts, "options");
  check_read_options(o.get(), "find one");
  bson_t one = BSON_INITIALIZER;
  copy_except(o.get(), &one, {"limit", "singleBatch", "batchSize"});
  BSON_APPEND_INT64(&one, "limit", 1);  // the server closes the cursor once the limit is met
  BsonGuard one_guard{&one};
  return run(false, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_find_with_opts(t.coll, f.get(), OpOpts(&one, session_.get()).get(), nullptr);
  const bson_t *doc = nullptr;
  std::optional<Bytes> out;
  if (mongoc_cursor_next(c, &doc)) out = to_bytes(doc);
  bson_error_t error;
  bool failed = !out && mongoc_cursor_error(c, &error);
  mongoc_cursor_destroy(c);
  if (failed) throw Error::from_driver(error, "find in " + where());
  return out;
  });
}

std::optional<Bytes> Db::find_one_and_modify(Modify kind, DocView filter, DocView change,
                                             DocView opts) const {
  refuse_in_compensation("find-and-modify");
  Doc f(filter, "filter");
  Doc o(opts, "options");
  std::unique_ptr<Doc> c;
  if (kind != Modify::remove) {
    if (change.data == nullptr) fail(Code::invalid_argument, "find-and-modify: the update is NULL");
    c = std::make_unique<Doc>(change, kind == Modify::update ? "update" : "replacement",
                              kind == Modify::update ? Doc::Accept::pipeline : Doc::Accept::document);
    if (kind == Modify::update) check_update(c->get(), "update");
    else check_replacement(c->get(), "replacement");
  }
  mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
  struct Free {
    mongoc_find_and_modify_opts_t *p;
    ~Free() { mongoc_find_and_modify_opts_destroy(p); }
  } free_fam{fam};
  int flags = kind == Modify::remove ? MONGOC_FIND_AND_MODIFY_REMOVE : MONGOC_FIND_AND_MODIFY_NONE;
  bson_t extra = BSON_INITIALIZER;
  bson_iter_t it;
  bson_iter_init(&it, o.get());
  std::string bad;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "sort") == 0 || std::strcmp(key, "projection") == 0 ||
        std::strcmp(key, "fields") == 0) {
      bson_t sub;
      DocView v = sub_document(&it);
      if (v.data == nullptr) { bad = std::string(key) + " must be a document"; break; }
      bson_init_static(&sub, static_cast<const uint8_t *>(v.data), v.len);
      if (key[0] == 's') mongoc_find_and_modify_opts_set_sort(fam, &sub);
      else mongoc_find_and_modify_opts_set_fields(fam, &sub);
    } else if (std::strcmp(key, "upsert") == 0) {
      if (bson_iter_as_bool(&it)) flags |= MONGOC_FIND_AND_MODIFY_UPSERT;
    } else if (std::strcmp(key, "returnDocument") == 0) {
      const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
      if (std::strcmp(v, "after") == 0) flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW;
      else if (std::strcmp(v, "before") != 0) { bad = "returnDocument must be \"before\" or \"after\""; break; }
    } else {
      bson_append_iter(&extra, key, -1, &it);
    }
  }
  if (!bad.empty()) {
    bson_destroy(&extra);
    fail(Code::invalid_argument, "find-and-modify: " + bad);
  }
  mongoc_find_and_modify_opts_set_flags(fam, static_cast<mongoc_find_and_modify_flags_t>(flags));
  if (c) mongoc_find_and_modify_opts_set_update(fam, c->get());
  if (session_) session_->append_to(&extra);
  mongoc_find_and_modify_opts_append(fam, &extra);
  bson_destroy(&extra);

  return run(true, [&](Target &t) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_find_and_modify_with_opts(t.coll, f.get(), fam, &reply, &error);
  std::optional<Bytes> out;
  if (ok && bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    DocView v = sub_document(&it);
    const uint8_t *p = static_cast<const uint8_t *>(v.data);
    out = Bytes(p, p + v.len);
  }
  if (!ok) {
    Error e = Error::from_driver(error, "find-and-modify in " + where(), &reply);
    bson_destroy(&reply);
    throw e;
  }
  bson_destroy(&reply);
  return out;
  });
}

int64_t Db::count(DocView filter, DocView opts) const {
  Doc f(filter, "filter");
  Doc o(opts, "options");
  check_read_options(o.get(), "count");
  return run(false, [&](Target &t) {
  bson_error_t error;
  int64_t n = mongoc_collection_count_documents(t.coll, f.get(), OpOpts(o.get(), session_.get()).get(), nullptr, nullptr, &error);
  if (n < 0) throw Error::from_driver(error, "count in " + where());
  return n;
  });
}

int64_t Db::estimated_count(DocView opts) const {
  Doc o(opts, "options");
  return run(false, [&](Target &t) {
  bson_error_t error;
  int64_t n = mongoc_collection_estimated_document_count(t.coll, OpOpts(o.get(), session_.get()).get(), nullptr, nullptr, &error);
  if (n < 0) throw Error::from_driver(error, "estimated count in " + where());
  return n;
  });
}

Bytes Db::distinct(const std::string &field, DocView filter, DocView opts) const {
  if (field.empty()) fail(Code::invalid_argument, "distinct: the field name is empty");
  Doc f(filter, "filter");
  Doc o(opts, "options");
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&cmd, "distinct", collection().c_str());
  BSON_APPEND_UTF8(&cmd, "key", field.c_str());
  BSON_APPEND_DOCUMENT(&cmd, "query", f.get());
  BsonGuard cmd_guard{&cmd};
  return run(false, [&](Target &t) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_read_command_with_opts(t.coll, &cmd, nullptr, OpOpts(o.get(), session_.get()).get(), &reply, &error);
  bson_t values = BSON_INITIALIZER;
  bson_iter_t it;
  if (ok && bson_iter_init_find(&it, &reply, "values")) bson_append_iter(&values, "values", 6, &it);
  bson_destroy(&reply);
  if (!ok) {
    bson_destroy(&values);
    throw Error::from_driver(error, "distinct in " + where());
  }
  Bytes out = to_bytes(&values);
  bson_destroy(&values);
  return out;
  });
}

std::unique_ptr<Cursor> Db::aggregate(DocView pipeline, DocView opts) const {
  if (pipeline.data == nullptr) fail(Code::invalid_argument, "aggregate: the pipeline is NULL");
  // Extended JSON parsers take a document; a bare JSON array is wrapped as {"pipeline": [...]}.
  std::string wrapped;
  if (pipeline.len == kJsonLength) {
    const char *s = static_cast<const char *>(pipeline.data);
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') ++s;
    if (*s == '[') {
      wrapped = std::string("{\"pipeline\": ") + s + "}";
      pipeline.data = wrapped.c_str();
    }
  }
  Doc p(pipeline, "pipeline");
  Doc o(opts, "options");
  check_read_options(o.get(), "aggregate");
  // Either {"pipeline": [...]} or the array itself (keys "0", "1", ...): anything else would
  // reach libmongoc malformed.
  bson_iter_t it;
  if (bson_iter_init_find(&it, p.get(), "pipeline") ? !BSON_ITER_HOLDS_ARRAY(&it)
                                                    : !(p.empty() || looks_like_pipeline(p.get())))
    fail(Code::invalid_argument, "aggregate: the pipeline must be an array of stages");
  return run(false, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_aggregate(t.coll, MONGOC_QUERY_NONE, p.get(), OpOpts(o.get(), session_.get()).get(), nullptr);
  return std::make_unique<Cursor>(shared_from_this(), std::move(t.lease),
                                  std::exchange(t.coll, nullptr), c, "aggregate in " + where());
  });
}

// ---- indexes, the collection, commands -------------------------------------------------------

std::string Db::create_index(DocView keys, DocView opts) const {
  refuse_in_compensation("create index");
  if (keys.data == nullptr) fail(Code::invalid_argument, "create index: the keys are NULL");
  Doc k(keys, "keys");
  Doc o(opts, "options");
  if (k.empty()) fail(Code::invalid_argument, "create index: the keys are empty");
  std::string name;
  bson_iter_t it;
  if (bson_iter_init_find(&it, o.get(), "name")) {
    if (!BSON_ITER_HOLDS_UTF8(&it)) fail(Code::invalid_argument, "create index: name must be a string");
    name = bson_iter_utf8(&it, nullptr);
  } else {
    char *generated = mongoc_collection_keys_to_index_string(k.get());
    // libmongoc names only keys whose values are integers or strings; NULL otherwise.
    if (generated == nullptr)
      fail(Code::invalid_argument, "create index: key values must be integers (1, -1) or index "
                                   "type strings (\"text\" ...), or give options.name");
    name = generated;
    bson_free(generated);
  }
  bson_t cmd = BSON_INITIALIZER, indexes, spec, command_opts = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&cmd, "createIndexes", collection().c_str());
  BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &spec);
  BSON_APPEND_DOCUMENT(&spec, "key", k.get());
  BSON_APPEND_UTF8(&spec, "name", name.c_str());
  bson_iter_init(&it, o.get());
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "name") == 0) continue;
    bool command_level = is_one_of(key, {"writeConcern", "commitQuorum", "maxTimeMS", "comment"});
    bson_append_iter(command_level ? &command_opts : &spec, key, -1, &it);
  }
  bson_append_document_end(&indexes, &spec);
  bson_append_array_end(&cmd, &indexes);
  BsonGuard cmd_guard{&cmd}, opts_guard{&command_opts};
  return run(true, [&](Target &t) {
  bson_error_t error;
  bool ok = mongoc_collection_write_command_with_opts(t.coll, &cmd, OpOpts(&command_opts, session_.get()).get(), nullptr, &error);
  if (!ok) throw Error::from_driver(error, "create index on " + where());
  return name;
  });
}

std::unique_ptr<Cursor> Db::list_indexes() const {
  return run(false, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_find_indexes_with_opts(t.coll, OpOpts(nullptr, session_.get()).get());
  return std::make_unique<Cursor>(shared_from_this(), std::move(t.lease),
                                  std::exchange(t.coll, nullptr), c, "list indexes of " + where());
  });
}

void Db::drop_index(const std::string &name) const {
  refuse_in_compensation("drop index");
  if (by_default_) model_->wrapper()->refuse_default_for("drop index");
  if (name.empty()) fail(Code::invalid_argument, "drop index: the name is empty");
  return run(true, [&](Target &t) {
  bson_error_t error;
  if (!mongoc_collection_drop_index_with_opts(t.coll, name.c_str(), OpOpts(nullptr, session_.get()).get(), &error))
    throw Error::from_driver(error, "drop index " + name + " of " + where());
  });
}

void Db::drop_collection() const {
  refuse_in_compensation("drop collection");
  if (by_default_) model_->wrapper()->refuse_default_for("drop collection");
  return run(true, [&](Target &t) {
  bson_error_t error;
  bool ok = mongoc_collection_drop_with_opts(t.coll, OpOpts(nullptr, session_.get()).get(), &error);
  model_->forget(name_);  // its indexes and validator went with it
  if (!ok && error.code != 26 && std::strstr(error.message, "ns not found") == nullptr)
    throw Error::from_driver(error, "drop " + where());
  });
}

Bytes Db::command(DocView command) const {
  refuse_in_compensation("a command");
  if (command.data == nullptr) fail(Code::invalid_argument, "command: the command is NULL");
  Doc c(command, "command");
  if (c.empty()) fail(Code::invalid_argument, "command: the command is empty");
  return run(true, [&](Target &t) {
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_client_command_with_opts(t.client, name_.c_str(), c.get(), nullptr,
                                              OpOpts(nullptr, session_.get()).get(), &reply, &error);
    Bytes out = to_bytes(&reply);
    bson_destroy(&reply);
    if (!ok) throw Error::from_driver(error, "command on " + name_);
    return out;
  });
}

}  // namespace pm::core
