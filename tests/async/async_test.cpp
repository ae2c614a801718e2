// Operations that complete later (polymongo/async.h) on the real servers: every kind of
// operation through a completion queue, a cursor read in order by many submissions at once,
// change streams and transactions on SecantusDB, cancellation, the queue-wait timeout, 64
// concurrent submissions over many databases (read back by an independent client), closing
// the wrapper while work is queued, and the eventfd's readiness.
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "support.hpp"

using namespace pmtest;

namespace {

// A completion queue that the test drains one completion at a time.
struct Cq {
  pm_cq *q = nullptr;
  Cq() {
    pm_error err;
    EXPECT_EQ(pm_cq_new(&q, &err), PM_OK) << err.message;
  }
  ~Cq() { pm_cq_free(q); }
  // The next completion (fails the test after 15 s).
  pm_completion next(int timeout_ms = 15000) {
    pm_completion c{};
    size_t n = pm_cq_poll(q, &c, 1, slow(timeout_ms));
    EXPECT_EQ(n, 1u) << "no completion in time";
    return c;
  }
};

bool readable(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

pm_op op_on(pm_db *db, int kind, const char *doc = nullptr, const char *doc2 = nullptr, const char *opts = nullptr) {
  pm_op op{};
  op.kind = kind;
  op.db = db;
  op.doc = doc, op.doc_len = PM_JSON;
  op.doc2 = doc2, op.doc2_len = PM_JSON;
  op.opts = opts, op.opts_len = PM_JSON;
  return op;
}

std::string json_of(const pm_buf &b) {
  if (b.data == nullptr) return "";
  char *j = pm_bson_to_json(b.data, b.len, PM_JSON_RELAXED);
  std::string s = j ? j : "";
  pm_free(j);
  return s;
}

// Submits `op` into a fresh queue and waits for its completion (the caller clears it).
pm_completion roundtrip(pm_wrapper *w, const pm_op &op) {
  Cq cq;
  uint64_t id = 0;
  pm_error err;
  EXPECT_EQ(pm_async_submit(w, &op, cq.q, nullptr, nullptr, &id, &err), PM_OK) << err.message;
  EXPECT_NE(id, 0u);
  pm_completion c = cq.next();
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.kind, op.kind);
  return c;
}

// Occupies every executor thread with a callback that waits for release(): the state the
// cancellation, timeout and close tests need (all threads busy, later work queued).
struct Blocker {
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  bool released = false;
  static void hold(pm_completion *, void *self) {
    auto *b = static_cast<Blocker *>(self);
    std::unique_lock<std::mutex> lock(b->mu);
    ++b->entered;
    b->cv.notify_all();
    b->cv.wait(lock, [&] { return b->released; });
  }
  // Fills every thread new work may use; returns when each is inside hold().
  void fill(pm_wrapper *w) {
    int threads = 0;
    ASSERT_EQ(pm_async_stats(w, nullptr, &threads, nullptr), PM_OK);
    for (int i = 0; i < threads; ++i) {
      pm_op op{};
      op.kind = PM_OP_PING;
      pm_error err;
      ASSERT_EQ(pm_async_submit(w, &op, nullptr, &Blocker::hold, this, nullptr, &err), PM_OK) << err.message;
    }
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::milliseconds(slow(15000)), [&] { return entered == threads; }))
        << entered << " of " << threads << " threads busy";
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

struct Async : ::testing::Test {
  Wrapper w;
  Model m;
  Db d;
  std::string name = unique_db("async");
  Checker check;
  void SetUp() override {
    w.w = new_wrapper("\"maxPoolSize\": 4");
    m.m = new_model(w.w, "items");
    d.d = bind_db(m.m, name);
  }
};

}  // namespace

TEST_F(Async, EveryWriteKindCompletesWithItsResult) {
  struct Case {
    int kind;
    const char *doc, *doc2;
    const char *check_filter;
    int64_t expect;
  };
  auto c = roundtrip(w.w, op_on(d.d, PM_OP_INSERT_ONE, "{\"_id\": 1, \"k\": \"a\"}"));
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  ASSERT_NE(c.result, nullptr);
  EXPECT_EQ(pm_result_inserted_count(c.result), 1);
  pm_completion_clear(&c);
  EXPECT_EQ(c.result, nullptr);

  const void *docs[] = {"{\"_id\": 2, \"k\": \"b\"}", "{\"_id\": 3, \"k\": \"b\"}", "{\"_id\": 4, \"k\": \"c\"}"};
  size_t lens[] = {PM_JSON, PM_JSON, PM_JSON};
  pm_op many = op_on(d.d, PM_OP_INSERT_MANY);
  many.docs = docs, many.lens = lens, many.n = 3;
  c = roundtrip(w.w, many);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_EQ(pm_result_inserted_count(c.result), 3);
  pm_completion_clear(&c);
  EXPECT_EQ(check.count(name, "items"), 4);

  c = roundtrip(w.w, op_on(d.d, PM_OP_UPDATE_ONE, "{\"_id\": 1}", "{\"$set\": {\"u\": 1}}"));
  EXPECT_EQ(pm_result_modified_count(c.result), 1);
  pm_completion_clear(&c);
  c = roundtrip(w.w, op_on(d.d, PM_OP_UPDATE_MANY, "{\"k\": \"b\"}", "{\"$set\": {\"u\": 2}}"));
  EXPECT_EQ(pm_result_modified_count(c.result), 2);
  pm_completion_clear(&c);
  EXPECT_EQ(check.count(name, "items", "{\"u\": 2}"), 2);
  c = roundtrip(w.w, op_on(d.d, PM_OP_REPLACE_ONE, "{\"_id\": 4}", "{\"k\": \"r\"}"));
  EXPECT_EQ(pm_result_modified_count(c.result), 1);
  pm_completion_clear(&c);
  EXPECT_EQ(check.count(name, "items", "{\"k\": \"r\"}"), 1);

  const void *ops[] = {"{\"insertOne\": {\"document\": {\"_id\": 5}}}",
                       "{\"deleteOne\": {\"filter\": {\"_id\": 5}}}"};
  pm_op bulk = op_on(d.d, PM_OP_BULK_WRITE);
  bulk.docs = ops, bulk.lens = lens, bulk.n = 2;
  c = roundtrip(w.w, bulk);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_EQ(pm_result_inserted_count(c.result), 1);
  EXPECT_EQ(pm_result_deleted_count(c.result), 1);
  pm_completion_clear(&c);

  c = roundtrip(w.w, op_on(d.d, PM_OP_DELETE_ONE, "{\"_id\": 1}"));
  EXPECT_EQ(pm_result_deleted_count(c.result), 1);
  pm_completion_clear(&c);
  c = roundtrip(w.w, op_on(d.d, PM_OP_DELETE_MANY, "{\"k\": \"b\"}"));
  EXPECT_EQ(pm_result_deleted_count(c.result), 2);
  pm_completion_clear(&c);
  EXPECT_EQ(check.count(name, "items"), 1);

  // A duplicate key comes back as the blocking call reports it, result included.
  c = roundtrip(w.w, op_on(d.d, PM_OP_INSERT_ONE, "{\"_id\": 4}"));
  EXPECT_EQ(c.code, PM_EDUPKEY);
  EXPECT_EQ(c.error.code, PM_EDUPKEY);
  EXPECT_NE(c.result, nullptr);
  pm_completion_clear(&c);
  // A malformed document completes with PM_EINVAL and writes nothing.
  c = roundtrip(w.w, op_on(d.d, PM_OP_INSERT_ONE, "{not json"));
  EXPECT_EQ(c.code, PM_EINVAL);
  pm_completion_clear(&c);
  EXPECT_EQ(check.count(name, "items"), 1);
}

TEST_F(Async, EveryReadKindCompletesWithItsDocuments) {
  for (int i = 0; i < 5; ++i) insert_json(d.d, "{\"_id\": " + std::to_string(i) + ", \"g\": " + std::to_string(i % 2) + "}");
  auto c = roundtrip(w.w, op_on(d.d, PM_OP_FIND_ONE, "{\"_id\": 3}"));
  EXPECT_EQ(c.code, PM_OK);
  EXPECT_EQ(json_of(c.doc), "{ \"_id\" : 3, \"g\" : 1 }");
  pm_completion_clear(&c);
  EXPECT_EQ(c.doc.data, nullptr);
  c = roundtrip(w.w, op_on(d.d, PM_OP_FIND_ONE, "{\"_id\": 99}"));
  EXPECT_EQ(c.code, PM_OK);
  EXPECT_EQ(c.doc.data, nullptr);
  pm_completion_clear(&c);

  c = roundtrip(w.w, op_on(d.d, PM_OP_COUNT, "{\"g\": 0}"));
  EXPECT_EQ(c.code, PM_OK);
  EXPECT_EQ(c.count, 3);
  c = roundtrip(w.w, op_on(d.d, PM_OP_ESTIMATED_COUNT));
  EXPECT_EQ(c.count, 5);
  pm_op distinct = op_on(d.d, PM_OP_DISTINCT);
  distinct.name = "g";
  c = roundtrip(w.w, distinct);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_NE(json_of(c.doc).find("[ 0, 1 ]"), std::string::npos) << json_of(c.doc);
  pm_completion_clear(&c);

  c = roundtrip(w.w, op_on(d.d, PM_OP_FIND, "{\"g\": 1}", nullptr, "{\"sort\": {\"_id\": 1}}"));
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  ASSERT_NE(c.cursor, nullptr);
  pm_cursor *cur = c.cursor;
  c.cursor = nullptr;  // taken
  pm_completion_clear(&c);
  EXPECT_EQ(drain(cur), (std::vector<std::string>{"{ \"_id\" : 1, \"g\" : 1 }", "{ \"_id\" : 3, \"g\" : 1 }"}));
  pm_cursor_free(cur);

  c = roundtrip(w.w, op_on(d.d, PM_OP_AGGREGATE, "[{\"$match\": {\"g\": 0}}, {\"$count\": \"n\"}]"));
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_EQ(drain(c.cursor), std::vector<std::string>{"{ \"n\" : 3 }"});
  pm_completion_clear(&c);  // frees the cursor

  c = roundtrip(w.w, op_on(d.d, PM_OP_COMMAND, "{\"ping\": 1}"));
  EXPECT_EQ(c.code, PM_OK);
  EXPECT_EQ(field(json_of(c.doc), "ok"), "1.0");
  pm_completion_clear(&c);

  on_server_with_feature("findAndModify", [&](FeatureRun &run) {
    Wrapper w2;
    w2.w = new_wrapper_on(run.uri);
    Model m2;
    m2.m = new_model(w2.w, "items");
    Db d2;
    d2.d = bind_db(m2.m, name);
    insert_json(d2.d, "{\"_id\": 10, \"v\": 1}");
    insert_json(d2.d, "{\"_id\": 11, \"v\": 1}");
    auto f = roundtrip(w2.w, op_on(d2.d, PM_OP_FIND_ONE_AND_UPDATE, "{\"_id\": 10}", "{\"$inc\": {\"v\": 1}}",
                                   "{\"returnDocument\": \"after\"}"));
    ASSERT_EQ(f.code, PM_OK) << f.error.message;
    EXPECT_EQ(field(json_of(f.doc), "v"), "2");
    pm_completion_clear(&f);
    f = roundtrip(w2.w, op_on(d2.d, PM_OP_FIND_ONE_AND_REPLACE, "{\"_id\": 10}", "{\"v\": 7}"));
    EXPECT_EQ(field(json_of(f.doc), "v"), "2");  // the document before
    pm_completion_clear(&f);
    f = roundtrip(w2.w, op_on(d2.d, PM_OP_FIND_ONE_AND_DELETE, "{\"_id\": 11}"));
    EXPECT_EQ(field(json_of(f.doc), "_id"), "11");
    pm_completion_clear(&f);
    Checker c2(run.uri);
    EXPECT_EQ(c2.count(name, "items", "{\"v\": 7}"), 1);
    EXPECT_EQ(c2.count(name, "items", "{\"_id\": 11}"), 0);
  });
}

TEST_F(Async, IndexesCollectionsDatabasesAndTransfers) {
  insert_json(d.d, "{\"_id\": 1, \"email\": \"a@x\"}");
  auto c = roundtrip(w.w, op_on(d.d, PM_OP_CREATE_INDEX, "{\"email\": 1}", nullptr, "{\"unique\": true}"));
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_STREQ(c.text, "email_1");
  pm_completion_clear(&c);
  c = roundtrip(w.w, op_on(d.d, PM_OP_LIST_INDEXES));
  ASSERT_EQ(c.code, PM_OK);
  EXPECT_EQ(drain(c.cursor).size(), 2u);
  pm_completion_clear(&c);
  pm_op drop_index = op_on(d.d, PM_OP_DROP_INDEX);
  drop_index.name = "email_1";
  c = roundtrip(w.w, drop_index);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;

  pm_op ping{};
  ping.kind = PM_OP_PING;
  ping.name = name.c_str();
  c = roundtrip(w.w, ping);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_GT(c.latency_ms, 0.0);

  pm_op list{};
  list.kind = PM_OP_LIST_DATABASES;
  c = roundtrip(w.w, list);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_NE(std::string(c.text).find(name), std::string::npos);
  pm_completion_clear(&c);

  // Export to a file and a document, import both into other databases, copy: each lands.
  std::string to_file = unique_db("async_imp"), to_doc = unique_db("async_impd"), copied = unique_db("async_cp");
  std::string path = ::testing::TempDir() + "/" + name + ".ndjson";
  pm_op exp{};
  exp.kind = PM_OP_EXPORT_FILE;
  exp.name = name.c_str();
  exp.path = path.c_str();
  c = roundtrip(w.w, exp);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  pm_op imp{};
  imp.kind = PM_OP_IMPORT_FILE;
  imp.name = to_file.c_str();
  imp.path = path.c_str();
  c = roundtrip(w.w, imp);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_NE(c.text, nullptr);
  pm_completion_clear(&c);
  std::remove(path.c_str());
  pm_op expd{};
  expd.kind = PM_OP_EXPORT_DOCUMENT;
  expd.name = name.c_str();
  c = roundtrip(w.w, expd);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  pm_op impd{};
  impd.kind = PM_OP_IMPORT_DOCUMENT;
  impd.name = to_doc.c_str();
  impd.doc = c.doc.data, impd.doc_len = c.doc.len;
  auto c2 = roundtrip(w.w, impd);
  EXPECT_EQ(c2.code, PM_OK) << c2.error.message;
  pm_completion_clear(&c2);
  pm_completion_clear(&c);
  pm_op cp{};
  cp.kind = PM_OP_COPY_DATABASE;
  cp.name = name.c_str();
  cp.path = copied.c_str();
  c = roundtrip(w.w, cp);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  pm_completion_clear(&c);
  for (auto &db : {to_file, to_doc, copied}) EXPECT_EQ(check.count(db, "items", "{\"email\": \"a@x\"}"), 1) << db;

  c = roundtrip(w.w, op_on(d.d, PM_OP_DROP_COLLECTION));
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_EQ(check.count(name, "items"), 0);
  for (auto &db : {to_file, to_doc, copied}) {
    pm_op drop{};
    drop.kind = PM_OP_DROP_DATABASE;
    drop.name = db.c_str();
    c = roundtrip(w.w, drop);
    EXPECT_EQ(c.code, PM_OK) << c.error.message;
    EXPECT_EQ(check.count(db, "items"), 0);
  }
  pm_op close_all{};
  close_all.kind = PM_OP_CLOSE_ALL;
  close_all.number = 5000;
  c = roundtrip(w.w, close_all);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
}

TEST_F(Async, CursorNextSubmittedManyTimesAtOnceReturnsTheDocumentsInOrder) {
  std::vector<const void *> docs;
  std::vector<std::string> texts;
  for (int i = 0; i < 100; ++i) texts.push_back("{\"_id\": " + std::to_string(i) + "}");
  for (auto &t : texts) docs.push_back(t.c_str());
  std::vector<size_t> lens(docs.size(), PM_JSON);
  pm_op many = op_on(d.d, PM_OP_INSERT_MANY);
  many.docs = docs.data(), many.lens = lens.data(), many.n = docs.size();
  auto c = roundtrip(w.w, many);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  pm_completion_clear(&c);
  c = roundtrip(w.w, op_on(d.d, PM_OP_FIND, nullptr, nullptr, "{\"sort\": {\"_id\": 1}, \"batchSize\": 7}"));
  ASSERT_EQ(c.code, PM_OK);
  Cursor cur;
  std::swap(cur.c, c.cursor);

  // 30 submissions of 4 documents each, all at once: they run one at a time, in order.
  Cq cq;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 30; ++i) {
    pm_op next{};
    next.kind = PM_OP_CURSOR_NEXT;
    next.cursor = cur.c;
    next.number = 4;
    next.tag = static_cast<uint64_t>(i);
    uint64_t id;
    ASSERT_EQ(pm_async_submit(w.w, &next, cq.q, nullptr, nullptr, &id, nullptr), PM_OK);
    ids.push_back(id);
  }
  std::map<uint64_t, pm_completion> by_tag;
  for (int i = 0; i < 30; ++i) {
    auto done = cq.next();
    by_tag[done.tag] = done;
  }
  int expect = 0;
  for (auto &[tag, done] : by_tag) {
    EXPECT_EQ(done.id, ids[tag]);
    EXPECT_EQ(done.code, tag < 25 ? 4 : 0) << "submission " << tag;
    EXPECT_EQ(done.count, done.code);
    size_t off = 0;
    for (int k = 0; k < done.count; ++k) {  // the documents one after the other
      uint32_t len;
      std::memcpy(&len, done.doc.data + off, 4);
      char *j = pm_bson_to_json(done.doc.data + off, len, PM_JSON_RELAXED);
      EXPECT_EQ(field(j, "_id"), std::to_string(expect++));
      pm_free(j);
      off += len;
    }
    EXPECT_EQ(off, done.doc.len);
    pm_completion_clear(&done);
  }
  EXPECT_EQ(expect, 100);
}

TEST_F(Async, MoreOpenCursorsThanConnectionsAllFinish) {
  // Two connections, ten cursors opened at once (each holds a connection until exhausted):
  // new queries wait for a connection on at most two threads, while the cursors that hold one
  // keep their own threads, so every cursor is read to the end with no checkout timeout.
  Wrapper w2;
  w2.w = new_wrapper_on(add_query(server_uri(), "waitQueueTimeoutMS=3000"), "\"maxPoolSize\": 2");
  Model m2;
  m2.m = new_model(w2.w, "items");
  Db d2;
  d2.d = bind_db(m2.m, name);
  for (int i = 0; i < 30; ++i) insert_json(d2.d, "{\"_id\": " + std::to_string(i) + "}");
  Cq cq;
  constexpr int kCursors = 10;
  for (int i = 0; i < kCursors; ++i) {
    pm_op find = op_on(d2.d, PM_OP_FIND, nullptr, nullptr, "{\"batchSize\": 5}");
    ASSERT_EQ(pm_async_submit(w2.w, &find, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
  }
  int finished = 0;
  std::map<pm_cursor *, int64_t> read;
  while (finished < kCursors) {
    auto c = cq.next();
    ASSERT_GE(c.code, 0) << pm_code_name(c.code) << ": " << c.error.message;
    pm_cursor *cur = nullptr;
    if (c.kind == PM_OP_FIND) {
      std::swap(cur, c.cursor);
    } else {
      cur = reinterpret_cast<pm_cursor *>(c.tag);
      read[cur] += c.count;
      if (c.code == 0) {  // the end
        EXPECT_EQ(read[cur], 30);
        read.erase(cur);  // a later cursor may get the same address
        pm_cursor_free(cur);
        ++finished;
        cur = nullptr;
      }
    }
    pm_completion_clear(&c);
    if (cur != nullptr) {
      pm_op next{};
      next.kind = PM_OP_CURSOR_NEXT;
      next.cursor = cur;
      next.number = 3;
      next.tag = reinterpret_cast<uint64_t>(cur);
      ASSERT_EQ(pm_async_submit(w2.w, &next, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
    }
  }
}

TEST_F(Async, AQueryWithANumberReadsItsFirstDocumentsAndGivesTheConnectionBack) {
  for (int i = 0; i < 5; ++i) insert_json(d.d, "{\"_id\": " + std::to_string(i) + "}");
  pm_op find = op_on(d.d, PM_OP_FIND, nullptr, nullptr, "{\"sort\": {\"_id\": 1}}");
  find.number = 100;
  auto c = roundtrip(w.w, find);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_EQ(c.count, 5);
  ASSERT_NE(c.cursor, nullptr);
  EXPECT_EQ(pm_cursor_id(c.cursor), 0);  // exhausted: nothing left on the server
  const uint8_t *data;
  size_t len;
  EXPECT_EQ(pm_cursor_next(c.cursor, &data, &len, nullptr), 0);
  uint32_t first_len;
  std::memcpy(&first_len, c.doc.data, 4);
  char *j = pm_bson_to_json(c.doc.data, first_len, PM_JSON_RELAXED);
  EXPECT_EQ(field(j, "_id"), "0");
  pm_free(j);
  pm_completion_clear(&c);
}

TEST_F(Async, SixtyFourConcurrentSubmissionsEachLandInTheirDatabase) {
  constexpr int kDbs = 16, kOps = 64;
  std::vector<std::string> names;
  std::vector<Db> dbs(kDbs);
  for (int i = 0; i < kDbs; ++i) {
    names.push_back(unique_db("async_many"));
    dbs[i].d = bind_db(m.m, names[i]);
  }
  // Half complete into a queue, half by callback, submitted from 4 threads at once.
  Cq cq;
  auto on_done = [](pm_completion *c, void *data) {
    auto *counts = static_cast<std::atomic<int> *>(data);
    if (c->code == PM_OK && pm_result_inserted_count(c->result) == 1) counts[1]++;
    counts[0]++;
  };
  std::atomic<int> counters[2] = {{0}, {0}};
  std::vector<std::thread> submitters;
  std::atomic<int> go{0};
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&, t] {
      go++;
      while (go.load() < 4) std::this_thread::yield();
      for (int i = t; i < kOps; i += 4) {
        std::string doc = "{\"_id\": " + std::to_string(i) + ", \"db\": \"" + names[i % kDbs] + "\"}";
        pm_op op = op_on(dbs[i % kDbs].d, PM_OP_INSERT_ONE, doc.c_str());
        int rc = i % 2 ? pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, nullptr)
                       : pm_async_submit(w.w, &op, nullptr, on_done, counters, nullptr, nullptr);
        EXPECT_EQ(rc, PM_OK);
      }
    });
  }
  for (auto &t : submitters) t.join();
  for (int i = 0; i < kOps / 2; ++i) {
    auto c = cq.next();
    EXPECT_EQ(c.code, PM_OK) << c.error.message;
    pm_completion_clear(&c);
  }
  ASSERT_TRUE(wait_until([&] { return counters[0].load() == kOps / 2; }, 15000));
  EXPECT_EQ(counters[1].load(), kOps / 2);
  int max_threads = 0;
  int new_work = 0;
  ASSERT_EQ(pm_async_stats(w.w, &max_threads, &new_work, nullptr), PM_OK);
  EXPECT_EQ(new_work, 4);  // maxPoolSize
  EXPECT_EQ(max_threads, 8);
  // Read back by an independent client: each database holds its own documents, no other's.
  for (int i = 0; i < kDbs; ++i) {
    EXPECT_EQ(check.count(names[i], "items"), kOps / kDbs) << names[i];
    EXPECT_EQ(check.count(names[i], "items", "{\"db\": \"" + names[i] + "\"}"), kOps / kDbs) << names[i];
  }
}

TEST_F(Async, CancelledQueuedOperationCompletesCanceledAndSendsNothing) {
  Blocker blocker;
  blocker.fill(w.w);
  Cq cq;
  pm_op op = op_on(d.d, PM_OP_INSERT_ONE, "{\"_id\": \"never\"}");
  uint64_t id = 0;
  ASSERT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, &id, nullptr), PM_OK);
  size_t queued = 0;
  ASSERT_EQ(pm_async_stats(w.w, nullptr, nullptr, &queued), PM_OK);
  EXPECT_EQ(queued, 1u);
  EXPECT_EQ(pm_async_cancel(w.w, id), 1);
  EXPECT_EQ(pm_async_cancel(w.w, id), 0);  // once only
  pm_completion c{};
  ASSERT_EQ(pm_cq_poll(cq.q, &c, 1, 0), 1u);  // completed before pm_async_cancel returned
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.code, PM_ECANCELED);
  EXPECT_EQ(c.error.code, PM_ECANCELED);
  EXPECT_STREQ(pm_code_name(c.code), "PM_ECANCELED");
  EXPECT_EQ(c.result, nullptr);
  blocker.release();
  // A finished operation can no longer be cancelled.
  auto done = roundtrip(w.w, op_on(d.d, PM_OP_INSERT_ONE, "{\"_id\": \"ran\"}"));
  EXPECT_EQ(done.code, PM_OK);
  pm_completion_clear(&done);
  EXPECT_EQ(pm_async_cancel(w.w, done.id), 0);
  EXPECT_EQ(check.count(name, "items", "{\"_id\": \"never\"}"), 0);
  EXPECT_EQ(check.count(name, "items", "{\"_id\": \"ran\"}"), 1);
}

TEST_F(Async, QueueTimeoutEndsAWaitingOperationWhileEveryThreadIsBusy) {
  Blocker blocker;
  blocker.fill(w.w);
  Cq cq;
  pm_op op = op_on(d.d, PM_OP_INSERT_ONE, "{\"_id\": \"late\"}");
  op.queue_timeout_ms = 200;
  ASSERT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
  auto start = std::chrono::steady_clock::now();
  auto c = cq.next();  // the threads are still held: the timeout alone ends it
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(c.code, PM_ETIMEOUT);
  EXPECT_NE(std::string(c.error.message).find("queue_timeout_ms"), std::string::npos) << c.error.message;
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  blocker.release();
  EXPECT_EQ(check.count(name, "items"), 0);
}

TEST_F(Async, OperationTimeoutsAreTheBlockingCallsOnes) {
  // A pool of one connection held by a cursor: the next operation waits waitQueueTimeoutMS for
  // a connection and fails with PM_ETIMEOUT, as the blocking call does.
  Wrapper w1;
  w1.w = new_wrapper_on(add_query(server_uri(), "waitQueueTimeoutMS=300&maxPoolSize=1"), "\"maxPoolSize\": 1");
  Model m1;
  m1.m = new_model(w1.w, "items");
  Db d1;
  d1.d = bind_db(m1.m, name);
  for (int i = 0; i < 3; ++i) insert_json(d1.d, "{\"_id\": " + std::to_string(i) + "}");
  Cursor held;
  pm_error err;
  ASSERT_EQ(pm_db_find(d1.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &held.c, &err), PM_OK);
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(pm_cursor_next(held.c, &data, &len, &err), 1);  // the cursor holds the connection
  pm_error blocking;
  int64_t n;
  int rc = pm_db_count(d1.d, nullptr, 0, nullptr, 0, &n, &blocking);
  auto c = roundtrip(w1.w, op_on(d1.d, PM_OP_COUNT));
  EXPECT_EQ(rc, PM_ETIMEOUT) << blocking.message;
  EXPECT_EQ(c.code, rc) << c.error.message;
}

TEST_F(Async, ClosingTheWrapperCompletesEveryQueuedOperationCanceled) {
  Blocker blocker;
  blocker.fill(w.w);
  Cq cq;
  constexpr int kQueued = 20;
  for (int i = 0; i < kQueued; ++i) {
    std::string doc = "{\"_id\": " + std::to_string(i) + "}";
    pm_op op = op_on(d.d, PM_OP_INSERT_ONE, doc.c_str());
    ASSERT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
  }
  // Close on another thread: it completes the queued ones, then waits for the running ones
  // (held by the blocker), so the queue fills while it waits.
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    pm_error err;
    EXPECT_EQ(pm_wrapper_close(w.w, &err), PM_OK) << err.message;
    closed = true;
  });
  std::vector<pm_completion> got(kQueued);
  size_t n = 0;
  while (n < kQueued) {
    size_t k = pm_cq_poll(cq.q, got.data() + n, kQueued - n, slow(15000));
    ASSERT_GT(k, 0u) << "only " << n << " completions";
    n += k;
  }
  EXPECT_FALSE(closed.load());  // still waiting for the held threads
  for (auto &c : got) {
    EXPECT_EQ(c.code, PM_ECANCELED);
    pm_completion_clear(&c);
  }
  blocker.release();
  closer.join();
  pm_op late = op_on(d.d, PM_OP_INSERT_ONE, "{\"_id\": \"late\"}");
  pm_error err;
  EXPECT_EQ(pm_async_submit(w.w, &late, cq.q, nullptr, nullptr, nullptr, &err), PM_ECLOSED);
  EXPECT_EQ(pm_cq_poll(cq.q, got.data(), 1, 100), 0u);  // refused: nothing completes
  EXPECT_EQ(check.count(name, "items"), 0);
}

TEST_F(Async, FreeingEverythingWithWorkQueuedLeaksNothing) {
  // The handles go first; the queued operations keep what they need and release it when they
  // complete (the ASan and valgrind builds check that nothing leaks).
  Cq cq;
  for (int i = 0; i < 10; ++i) {
    std::string doc = "{\"_id\": " + std::to_string(i) + "}";
    pm_op op = op_on(d.d, PM_OP_INSERT_ONE, doc.c_str());
    ASSERT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
  }
  pm_db_free(d.d), d.d = nullptr;
  pm_model_free(m.m), m.m = nullptr;
  pm_wrapper_free(w.w), w.w = nullptr;
  for (int i = 0; i < 10; ++i) {
    auto c = cq.next();
    EXPECT_EQ(c.code, PM_OK) << c.error.message;
    pm_completion_clear(&c);
  }
  EXPECT_EQ(check.count(name, "items"), 10);
}

TEST_F(Async, TheEventfdIsReadableExactlyWhileCompletionsWait) {
  Cq cq;
  int fd = pm_cq_fd(cq.q);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(readable(fd));
  pm_op ping{};
  ping.kind = PM_OP_PING;
  for (int i = 0; i < 2; ++i) ASSERT_EQ(pm_async_submit(w.w, &ping, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
  ASSERT_TRUE(readable(fd, slow(15000)));
  pm_completion c{};
  ASSERT_EQ(pm_cq_poll(cq.q, &c, 1, 0), 1u);
  EXPECT_EQ(c.code, PM_OK);
  // The second completes too; until it is taken the descriptor stays readable.
  ASSERT_EQ(pm_cq_poll(cq.q, &c, 1, slow(15000)), 1u);
  EXPECT_FALSE(readable(fd));  // both taken
  EXPECT_EQ(pm_cq_poll(cq.q, &c, 1, 0), 0u);
  ASSERT_EQ(pm_async_submit(w.w, &ping, cq.q, nullptr, nullptr, nullptr, nullptr), PM_OK);
  EXPECT_TRUE(readable(fd, slow(15000)));
  EXPECT_EQ(pm_cq_poll(cq.q, &c, 1, 0), 1u);
  EXPECT_FALSE(readable(fd));
}

TEST_F(Async, ADbGivesItsWrapperForSubmissions) {
  pm_wrapper *of_db = nullptr;
  pm_error err;
  ASSERT_EQ(pm_db_wrapper(d.d, &of_db, &err), PM_OK) << err.message;
  pm_db_free(d.d), d.d = nullptr;
  pm_model_free(m.m), m.m = nullptr;
  pm_wrapper_free(w.w), w.w = nullptr;  // the db's handle keeps the wrapper
  pm_op ping{};
  ping.kind = PM_OP_PING;
  ping.name = name.c_str();
  auto c = roundtrip(of_db, ping);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  pm_wrapper_free(of_db);
  EXPECT_EQ(pm_db_wrapper(nullptr, &of_db, &err), PM_EINVAL);
  EXPECT_EQ(of_db, nullptr);
}

TEST_F(Async, BadSubmissionsAreRefusedAndNothingCompletes) {
  Cq cq;
  pm_error err;
  pm_op op{};
  op.kind = 999;
  EXPECT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("kind"), std::string::npos);
  op.kind = PM_OP_INSERT_ONE;  // no db
  EXPECT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, &err), PM_EINVAL);
  op.kind = PM_OP_CURSOR_NEXT;  // no cursor
  EXPECT_EQ(pm_async_submit(w.w, &op, cq.q, nullptr, nullptr, nullptr, &err), PM_EINVAL);
  op = op_on(d.d, PM_OP_PING);
  op.kind = PM_OP_PING;
  auto fn = [](pm_completion *, void *) {};
  EXPECT_EQ(pm_async_submit(w.w, &op, cq.q, fn, nullptr, nullptr, &err), PM_EINVAL);     // both
  EXPECT_EQ(pm_async_submit(w.w, &op, nullptr, nullptr, nullptr, nullptr, &err), PM_EINVAL);  // neither
  EXPECT_EQ(pm_async_submit(nullptr, &op, cq.q, nullptr, nullptr, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_async_submit(w.w, nullptr, cq.q, nullptr, nullptr, nullptr, &err), PM_EINVAL);
  pm_completion c{};
  EXPECT_EQ(pm_cq_poll(cq.q, &c, 1, 50), 0u);
  EXPECT_FALSE(readable(pm_cq_fd(cq.q)));
}

// Change streams and transactions need SecantusDB.
struct AsyncTxn : ::testing::Test {
  Wrapper w;
  Model m;
  Db d;
  std::string name = unique_db("async_tx");
  void SetUp() override {
    if (txn_uri().empty()) GTEST_SKIP() << "no server with change streams (SecantusDB did not start)";
    w.w = new_wrapper_on(txn_uri(), "\"maxPoolSize\": 4");
    m.m = new_model(w.w, "events");
    d.d = bind_db(m.m, name);
    insert_json(d.d, "{\"_id\": \"seed\"}");
  }
};

TEST_F(AsyncTxn, ChangeStreamEventsArriveThroughStreamNext) {
  auto c = roundtrip(w.w, op_on(d.d, PM_OP_WATCH, "[{\"$match\": {\"operationType\": \"insert\"}}]"));
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  pm_stream *s = c.stream;
  c.stream = nullptr;
  // Nothing yet: a short next completes with 0.
  pm_op next{};
  next.kind = PM_OP_STREAM_NEXT;
  next.stream = s;
  next.number = 100;
  auto none = roundtrip(w.w, next);
  EXPECT_EQ(none.code, 0) << none.error.message;
  EXPECT_EQ(none.doc.data, nullptr);
  for (int i = 1; i <= 3; ++i) insert_json(d.d, "{\"_id\": " + std::to_string(i) + "}");
  std::vector<std::string> ids;
  for (int tries = 0; ids.size() < 3 && tries < 100; ++tries) {
    next.number = 200;
    auto e = roundtrip(w.w, next);
    ASSERT_GE(e.code, 0) << e.error.message;
    if (e.code == 1) ids.push_back(field(field(json_of(e.doc), "fullDocument"), "_id"));
    pm_completion_clear(&e);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2", "3"}));
  pm_stream_free(s);

  pm_op watch_db{};
  watch_db.kind = PM_OP_WATCH_DATABASE;
  watch_db.name = name.c_str();
  c = roundtrip(w.w, watch_db);
  EXPECT_EQ(c.code, PM_OK) << c.error.message;
  EXPECT_NE(c.stream, nullptr);
  pm_completion_clear(&c);
}

TEST_F(AsyncTxn, ATransactionStartedCommittedAndAbortedAsynchronously) {
  pm_op start{};
  start.kind = PM_OP_START_SESSION;
  start.name = name.c_str();
  auto c = roundtrip(w.w, start);
  ASSERT_EQ(c.code, PM_OK) << c.error.message;
  pm_session *s = c.session;
  c.session = nullptr;
  Db in;
  pm_error err;
  ASSERT_EQ(pm_db_with_session(d.d, s, &in.d, &err), PM_OK) << err.message;
  Checker check(txn_uri());
  for (int kind : {PM_OP_COMMIT, PM_OP_ABORT}) {
    std::string id = kind == PM_OP_COMMIT ? "committed" : "aborted";
    // Submitted back to back: the session's operations run in order.
    Cq cq;
    pm_op begin{};
    begin.kind = PM_OP_START_TRANSACTION;
    begin.session = s;
    std::string doc = "{\"_id\": \"" + id + "\"}";
    pm_op ins = op_on(in.d, PM_OP_INSERT_ONE, doc.c_str());
    pm_op end{};
    end.kind = kind;
    end.session = s;
    for (auto *op : {&begin, &ins, &end}) ASSERT_EQ(pm_async_submit(w.w, op, cq.q, nullptr, nullptr, nullptr, &err), PM_OK);
    for (int k = 0; k < 3; ++k) {
      auto done = cq.next();
      EXPECT_EQ(done.code, PM_OK) << done.kind << ": " << done.error.message;
      pm_completion_clear(&done);
    }
    EXPECT_EQ(check.count(name, "events", "{\"_id\": \"" + id + "\"}"), kind == PM_OP_COMMIT ? 1 : 0);
  }
  pm_session_free(s);
}
