// pm_async_* and pm_cq_*: operations that complete later. The shim copies the operation (its
// documents and strings, a reference to its db), hands one job to the wrapper's executor
// (core/exec) and delivers the outcome into a completion queue or to a callback. The job runs
// the blocking function of the same name, so it has the same checks and timeouts.
#include <optional>
#include <string>

#include "exec/completion_queue.hpp"
#include "exec/executor.hpp"
#include "shim.hpp"

using namespace pm;

struct pm_cq {
  std::shared_ptr<core::CompletionQueue<pm_completion>> impl;
};

namespace {

// A document the job owns: the caller's pointer is not kept (see @ref pm_ownership).
struct OwnedDoc {
  bool present = false;
  bool json = false;
  std::string bytes;
  OwnedDoc() = default;
  OwnedDoc(const void *doc, size_t len) {
    if (doc == nullptr) return;
    present = true;
    json = len == PM_JSON;
    bytes = json ? std::string(static_cast<const char *>(doc)) : std::string(static_cast<const char *>(doc), len);
  }
  const void *data() const { return present ? bytes.c_str() : nullptr; }
  size_t len() const { return json ? PM_JSON : bytes.size(); }
};

std::optional<std::string> own(const char *s) { return s ? std::optional<std::string>(s) : std::nullopt; }
const char *c_str(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }

// Everything a submitted operation needs once the caller's call returned.
struct OwnedOp {
  pm_op op{};  // the pointers in it point into the members below (or at the caller's handles)
  std::unique_ptr<pm_db> db;
  std::shared_ptr<core::Wrapper> wrapper;
  OwnedDoc doc, doc2, opts;
  std::vector<OwnedDoc> docs;
  std::vector<const void *> doc_ptrs;
  std::vector<size_t> lens;
  std::optional<std::string> name, path, json;
};

bool needs_db(int kind) { return kind >= PM_OP_INSERT_ONE && kind <= PM_OP_WATCH; }
bool needs_session(int kind) { return kind >= PM_OP_START_TRANSACTION && kind <= PM_OP_ABORT; }

void check(const pm_op &op) {
  if (op.kind < PM_OP_INSERT_ONE || op.kind > PM_OP_RECOVER)
    throw core::Error(core::Code::invalid_argument, "unknown operation kind " + std::to_string(op.kind));
  if (needs_db(op.kind) && op.db == nullptr) capi::null_argument("op->db");
  if (op.kind == PM_OP_CURSOR_NEXT && op.cursor == nullptr) capi::null_argument("op->cursor");
  if (op.kind == PM_OP_STREAM_NEXT && op.stream == nullptr) capi::null_argument("op->stream");
  if (needs_session(op.kind) && op.session == nullptr) capi::null_argument("op->session");
  if ((op.kind == PM_OP_INSERT_MANY || op.kind == PM_OP_BULK_WRITE) && op.n > 0 &&
      (op.docs == nullptr || op.lens == nullptr))
    capi::null_argument("op->docs");
  if (op.queue_timeout_ms < 0) throw core::Error(core::Code::invalid_argument, "op->queue_timeout_ms is negative");
}

std::shared_ptr<OwnedOp> copy(pm_wrapper *wrapper, const pm_op &in) {
  auto o = std::make_shared<OwnedOp>();
  o->op = in;
  o->wrapper = wrapper->impl;
  if (needs_db(in.kind)) {
    o->db.reset(new pm_db{in.db->impl, in.db->wrapper});
    o->op.db = o->db.get();
  }
  o->doc = OwnedDoc(in.doc, in.doc_len);
  o->doc2 = OwnedDoc(in.doc2, in.doc2_len);
  o->opts = OwnedDoc(in.opts, in.opts_len);
  o->op.doc = o->doc.data(), o->op.doc_len = o->doc.len();
  o->op.doc2 = o->doc2.data(), o->op.doc2_len = o->doc2.len();
  o->op.opts = o->opts.data(), o->op.opts_len = o->opts.len();
  if (in.kind == PM_OP_INSERT_MANY || in.kind == PM_OP_BULK_WRITE) {
    for (size_t i = 0; i < in.n; ++i) o->docs.emplace_back(in.docs[i], in.lens[i]);
    for (auto &d : o->docs) o->doc_ptrs.push_back(d.data()), o->lens.push_back(d.len());
    o->op.docs = o->doc_ptrs.data();
    o->op.lens = o->lens.data();
  }
  o->name = own(in.name), o->path = own(in.path), o->json = own(in.json);
  o->op.name = c_str(o->name), o->op.path = c_str(o->path), o->op.json = c_str(o->json);
  return o;
}

// The order key: operations on one cursor, stream or session (or a db bound to one) run one
// at a time, in order.
uintptr_t key_of(const pm_op &op) {
  if (op.kind == PM_OP_CURSOR_NEXT) return reinterpret_cast<uintptr_t>(op.cursor);
  if (op.kind == PM_OP_STREAM_NEXT) return reinterpret_cast<uintptr_t>(op.stream);
  if (needs_session(op.kind)) return reinterpret_cast<uintptr_t>(op.session->impl.get());
  if (needs_db(op.kind) && op.db->impl->session() != nullptr)
    return reinterpret_cast<uintptr_t>(op.db->impl->session());
  return 0;
}

// Reads up to `max` documents into one buffer, one after the other.
int next_batch(pm_cursor *cursor, int64_t max, pm_completion &c) {
  std::string all;
  int64_t n = 0;
  int rc = 0;
  do {
    const uint8_t *data = nullptr;
    size_t len = 0;
    rc = pm_cursor_next(cursor, &data, &len, &c.error);
    if (rc == 1) all.append(reinterpret_cast<const char *>(data), len), ++n;
  } while (rc == 1 && n < max);
  if (rc < 0 && n == 0) return rc;  // an error after some documents comes again next time
  if (n > 0) {
    c.doc.data = static_cast<uint8_t *>(std::malloc(all.size()));
    if (c.doc.data == nullptr) return capi::set_error(&c.error, PM_EINTERNAL, 0, "out of memory");
    std::memcpy(c.doc.data, all.data(), all.size());
    c.doc.len = all.size();
  }
  capi::clear_error(&c.error);
  c.count = n;
  return static_cast<int>(n);
}

// A query with op.number > 0 also reads its first documents in the same job: a result that
// fits gives its connection back before the job ends.
int first_batch(int rc, const pm_op &op, pm_completion &c) {
  if (rc != PM_OK || op.number <= 0) return rc;
  int n = next_batch(c.cursor, op.number, c);
  if (n < 0) {
    pm_cursor_free(c.cursor);
    c.cursor = nullptr;
    return n;
  }
  return PM_OK;
}

int stream_next(pm_stream *stream, int64_t timeout_ms, pm_completion &c) {
  const uint8_t *data = nullptr;
  size_t len = 0;
  int rc = pm_stream_next(stream, timeout_ms, &data, &len, &c.error);
  if (rc == 1) {
    c.doc.data = static_cast<uint8_t *>(std::malloc(len));
    if (c.doc.data == nullptr) return capi::set_error(&c.error, PM_EINTERNAL, 0, "out of memory");
    std::memcpy(c.doc.data, data, len);
    c.doc.len = len;
    c.count = 1;
  }
  return rc;
}

// Runs the blocking function the operation names.
int run(const pm_op &op, pm_wrapper *w, pm_completion &c) {
  pm_error *e = &c.error;
  switch (op.kind) {
    case PM_OP_INSERT_ONE: return pm_db_insert_one(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.result, e);
    case PM_OP_INSERT_MANY:
      return pm_db_insert_many(op.db, op.docs, op.lens, op.n, op.opts, op.opts_len, &c.result, e);
    case PM_OP_UPDATE_ONE:
      return pm_db_update_one(op.db, op.doc, op.doc_len, op.doc2, op.doc2_len, op.opts, op.opts_len, &c.result, e);
    case PM_OP_UPDATE_MANY:
      return pm_db_update_many(op.db, op.doc, op.doc_len, op.doc2, op.doc2_len, op.opts, op.opts_len, &c.result, e);
    case PM_OP_REPLACE_ONE:
      return pm_db_replace_one(op.db, op.doc, op.doc_len, op.doc2, op.doc2_len, op.opts, op.opts_len, &c.result, e);
    case PM_OP_DELETE_ONE: return pm_db_delete_one(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.result, e);
    case PM_OP_DELETE_MANY: return pm_db_delete_many(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.result, e);
    case PM_OP_BULK_WRITE:
      return pm_db_bulk_write(op.db, op.docs, op.lens, op.n, op.opts, op.opts_len, &c.result, e);
    case PM_OP_FIND: return first_batch(pm_db_find(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.cursor, e), op, c);
    case PM_OP_FIND_ONE: return pm_db_find_one(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.doc, e);
    case PM_OP_FIND_ONE_AND_UPDATE:
      return pm_db_find_one_and_update(op.db, op.doc, op.doc_len, op.doc2, op.doc2_len, op.opts, op.opts_len, &c.doc, e);
    case PM_OP_FIND_ONE_AND_REPLACE:
      return pm_db_find_one_and_replace(op.db, op.doc, op.doc_len, op.doc2, op.doc2_len, op.opts, op.opts_len, &c.doc,
                                        e);
    case PM_OP_FIND_ONE_AND_DELETE:
      return pm_db_find_one_and_delete(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.doc, e);
    case PM_OP_COUNT: return pm_db_count(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.count, e);
    case PM_OP_ESTIMATED_COUNT: return pm_db_estimated_count(op.db, op.opts, op.opts_len, &c.count, e);
    case PM_OP_DISTINCT: return pm_db_distinct(op.db, op.name, op.doc, op.doc_len, op.opts, op.opts_len, &c.doc, e);
    case PM_OP_AGGREGATE:
      return first_batch(pm_db_aggregate(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.cursor, e), op, c);
    case PM_OP_CREATE_INDEX: return pm_db_create_index(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.text, e);
    case PM_OP_LIST_INDEXES: return first_batch(pm_db_list_indexes(op.db, &c.cursor, e), op, c);
    case PM_OP_DROP_INDEX: return pm_db_drop_index(op.db, op.name, e);
    case PM_OP_DROP_COLLECTION: return pm_db_drop_collection(op.db, e);
    case PM_OP_COMMAND: return pm_db_command(op.db, op.doc, op.doc_len, &c.doc, e);
    case PM_OP_WATCH: return pm_db_watch(op.db, op.doc, op.doc_len, op.opts, op.opts_len, &c.stream, e);
    case PM_OP_CURSOR_NEXT: return next_batch(op.cursor, op.number > 0 ? op.number : 1, c);
    case PM_OP_STREAM_NEXT: return stream_next(op.stream, op.number, c);
    case PM_OP_START_SESSION: return pm_wrapper_start_session(w, op.name, op.opts, op.opts_len, &c.session, e);
    case PM_OP_START_TRANSACTION: return pm_session_start_transaction(op.session, op.opts, op.opts_len, e);
    case PM_OP_COMMIT: return pm_session_commit(op.session, e);
    case PM_OP_ABORT: return pm_session_abort(op.session, e);
    case PM_OP_PING: return pm_wrapper_ping(w, op.name, &c.latency_ms, e);
    case PM_OP_DROP_DATABASE: return pm_wrapper_drop_database(w, op.name, e);
    case PM_OP_WATCH_DATABASE:
      return pm_wrapper_watch_database(w, op.name, op.doc, op.doc_len, op.opts, op.opts_len, &c.stream, e);
    case PM_OP_WATCH_CLUSTER: return pm_wrapper_watch_cluster(w, op.doc, op.doc_len, op.opts, op.opts_len, &c.stream, e);
    case PM_OP_EXPORT_FILE: return pm_wrapper_export_file(w, op.name, op.path, nullptr, nullptr, e);
    case PM_OP_IMPORT_FILE: return pm_wrapper_import_file(w, op.name, op.path, op.json, nullptr, nullptr, &c.text, e);
    case PM_OP_EXPORT_DOCUMENT: return pm_wrapper_export_document(w, op.name, &c.doc, e);
    case PM_OP_IMPORT_DOCUMENT:
      return pm_wrapper_import_document(w, op.name, op.doc, op.doc_len, op.json, &c.text, e);
    case PM_OP_COPY_DATABASE: return pm_wrapper_copy_database(w, op.name, op.path, op.json, nullptr, nullptr, &c.text, e);
    case PM_OP_LIST_DATABASES: return pm_wrapper_list_databases(w, &c.text, e);
    case PM_OP_CLOSE_ALL: return pm_wrapper_close_all(w, op.number, e);
    case PM_OP_START_COMPENSATING: return pm_wrapper_start_compensating(w, op.opts, op.opts_len, &c.session, e);
    case PM_OP_RECOVER: return pm_wrapper_recover(w, op.number, &c.text, e);
    default: return capi::set_error(e, PM_EINVAL, 0, "unknown operation kind");
  }
}

// Where a completion goes: a queue, or a callback (after which what it left is released).
struct Target {
  std::shared_ptr<core::CompletionQueue<pm_completion>> cq;
  pm_completion_fn fn = nullptr;
  void *user_data = nullptr;
  void deliver(pm_completion &c) const {
    if (cq) {
      cq->push(c);
    } else {
      fn(&c, user_data);
      pm_completion_clear(&c);
    }
  }
};

pm_completion start(const pm_op &op, uint64_t id) {
  pm_completion c{};
  c.id = id;
  c.tag = op.tag;
  c.kind = op.kind;
  return c;
}

}  // namespace

extern "C" {

int pm_cq_new(pm_cq **out, pm_error *err) {
  if (out != nullptr) *out = nullptr;
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = new pm_cq{std::make_shared<core::CompletionQueue<pm_completion>>(
        [](pm_completion &c) { pm_completion_clear(&c); })};
    return PM_OK;
  });
}

int pm_cq_fd(const pm_cq *cq) { return cq ? cq->impl->fd() : -1; }

size_t pm_cq_poll(pm_cq *cq, pm_completion *out, size_t max, int64_t timeout_ms) {
  if (cq == nullptr || out == nullptr || max == 0) return 0;
  return cq->impl->pop(out, max, timeout_ms);
}

void pm_cq_free(pm_cq *cq) { delete cq; }

int pm_async_submit(pm_wrapper *wrapper, const pm_op *op, pm_cq *cq, pm_completion_fn fn, void *user_data,
                    uint64_t *id, pm_error *err) {
  if (id != nullptr) *id = 0;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (op == nullptr) capi::null_argument("op");
    if ((cq == nullptr) == (fn == nullptr))
      throw core::Error(core::Code::invalid_argument, "give either a completion queue or a callback");
    check(*op);
    auto owned = copy(wrapper, *op);
    auto target = std::make_shared<Target>(Target{cq ? cq->impl : nullptr, fn, user_data});
    core::Job job;
    job.key = key_of(*op);
    job.queue_timeout_ms = op->queue_timeout_ms;
    // What the operation holds (its documents, its db, the wrapper) is let go of before its
    // completion is delivered: once the caller has the last completion, no library thread still
    // takes a wrapper apart (run and skip share it; only one of them ever runs).
    auto held = std::make_shared<std::shared_ptr<OwnedOp>>(std::move(owned));
    job.run = [held, target](uint64_t job_id) {
      std::shared_ptr<OwnedOp> mine = std::move(*held);
      pm_completion c = start(mine->op, job_id);
      {
        pm_wrapper w{mine->wrapper};
        try {
          c.code = run(mine->op, &w, c);
        } catch (...) {  // only allocation failures can get here: the functions guard themselves
          c.code = capi::set_error(&c.error, PM_EINTERNAL, 0, "out of memory");
        }
      }
      mine.reset();
      target->deliver(c);
    };
    job.skip = [held, target](uint64_t job_id, core::JobEnd why) {
      std::shared_ptr<OwnedOp> mine = std::move(*held);
      pm_completion c = start(mine->op, job_id);
      int64_t queue_timeout_ms = mine->op.queue_timeout_ms;
      mine.reset();
      if (why == core::JobEnd::timed_out)
        c.code = capi::set_error(&c.error, PM_ETIMEOUT, 0,
                                 ("waited in the queue longer than queue_timeout_ms (" +
                                  std::to_string(queue_timeout_ms) + " ms); nothing was sent").c_str());
      else if (why == core::JobEnd::closed)
        c.code = capi::set_error(&c.error, PM_ECANCELED, 0, "the wrapper closed before the operation ran; nothing was sent");
      else
        c.code = capi::set_error(&c.error, PM_ECANCELED, 0, "cancelled before it ran; nothing was sent");
      target->deliver(c);
    };
    uint64_t job_id = wrapper->impl->executor().submit(std::move(job));
    if (id != nullptr) *id = job_id;
    return PM_OK;
  });
}

int pm_async_cancel(pm_wrapper *wrapper, uint64_t id) {
  return wrapper != nullptr && wrapper->impl->executor().cancel(id) ? 1 : 0;
}

void pm_completion_clear(pm_completion *c) {
  if (c == nullptr) return;
  pm_result_free(c->result);
  pm_cursor_free(c->cursor);
  pm_stream_free(c->stream);
  pm_session_free(c->session);
  pm_buf_free(&c->doc);
  pm_free(c->text);
  c->result = nullptr;
  c->cursor = nullptr;
  c->stream = nullptr;
  c->session = nullptr;
  c->text = nullptr;
}

int pm_async_stats(pm_wrapper *wrapper, int *max_threads, int *new_work_threads, size_t *queued) {
  if (wrapper == nullptr) return PM_EINVAL;
  if (max_threads != nullptr) *max_threads = wrapper->impl->executor().max_threads();
  if (new_work_threads != nullptr) *new_work_threads = wrapper->impl->executor().max_unkeyed();
  if (queued != nullptr) *queued = wrapper->impl->executor().queued();
  return PM_OK;
}

}  // extern "C"
