// Native transactions: refused on servers that cannot run them (FerretDB) before anything is
// written; commit, abort and the with-transaction retry loop on a replica set (SecantusDB, or
// PM_TEST_TXN_URI).
#include "support.hpp"

#include <atomic>
#include <thread>

using namespace pmtest;

namespace {

#define REQUIRE_TXN_SERVER()                                                                   \
  do {                                                                                         \
    if (txn_uri().empty()) GTEST_SKIP() << "no server with transactions (SecantusDB did not start)"; \
  } while (0)

struct Native : ::testing::Test {
  Wrapper w;
  Model m;
  std::string a = unique_db("txn_a"), b = unique_db("txn_b");
  void SetUp() override {
    REQUIRE_TXN_SERVER();
    pm_error err;
    std::string json = "{\"mongoURI\": \"" + txn_uri() + "\", \"defaultDB\": \"" + a + "\"}";
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    m.m = new_model(w.w, "accounts");
    // Collections exist before the transactions (older servers cannot create them inside one).
    for (auto &db : {a, b}) {
      Db d;
      d.d = bind_db(m.m, db);
      insert_json(d.d, "{\"_id\": \"seed\"}");
    }
  }
  pm_db *in(pm_session *s, const std::string &db) {
    Db plain;
    plain.d = bind_db(m.m, db);
    pm_db *bound = nullptr;
    pm_error err;
    EXPECT_EQ(pm_db_with_session(plain.d, s, &bound, &err), PM_OK) << err.message;
    return bound;
  }
  int64_t count(const std::string &db) { return Checker(txn_uri()).count(db, "accounts", "{\"_id\": {\"$ne\": \"seed\"}}"); }
};

}  // namespace

TEST(NativeRefusal, FerretDbRefusesTransactionsBeforeAnyWrite) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "accounts");
  std::string name = unique_db("notxn");
  pm_session *s = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, name.c_str(), nullptr, 0, &s, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_session_start_transaction(s, nullptr, 0, &err), PM_ENOTSUP);
  EXPECT_NE(std::string(err.message).find("compensating"), std::string::npos) << err.message;
  EXPECT_EQ(pm_session_in_transaction(s), 0);
  static std::atomic<int> calls{0};
  auto fn = [](pm_session *, void *) -> int {
    ++calls;
    return PM_OK;
  };
  EXPECT_EQ(pm_session_with_transaction(s, fn, nullptr, nullptr, 0, 0, &err), PM_ENOTSUP);
  EXPECT_EQ(calls.load(), 0) << "the callback never ran";
  EXPECT_EQ(Checker().count(name, "accounts"), 0) << "nothing was written";
  pm_session_free(s);
}

TEST(NativeSessionReads, EstimatedCountOnASessionBoundDbCountsWithoutCrashing) {
  // libmongoc 1.23 double-frees when its estimated count is given a session id: a db bound to
  // a session counts on the session's connection without it (the count reads metadata only).
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "items");
  std::string name = unique_db("estsess");
  Db plain;
  plain.d = bind_db(m.m, name);
  insert_json(plain.d, "{\"_id\": 1}");
  insert_json(plain.d, "{\"_id\": 2}");
  pm_session *s = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, name.c_str(), nullptr, 0, &s, &err), PM_OK) << err.message;
  Db bound;
  ASSERT_EQ(pm_db_with_session(plain.d, s, &bound.d, &err), PM_OK) << err.message;
  int64_t n = -1;
  ASSERT_EQ(pm_db_estimated_count(bound.d, nullptr, 0, &n, &err), PM_OK) << err.message;
  EXPECT_EQ(n, 2);
  ASSERT_EQ(pm_db_count(bound.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
  EXPECT_EQ(n, 2) << "the session still works after it";
  EXPECT_EQ(Checker().count(name, "items"), 2);
  pm_session_free(s);
}

TEST_F(Native, CommitMakesWritesInTwoDatabasesVisibleTogether) {
  pm_session *s = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s, &err), PM_OK) << err.message;
  Db da, db;
  da.d = in(s, a);
  db.d = in(s, b);
  ASSERT_EQ(pm_session_start_transaction(s, "{\"writeConcern\": {\"w\": \"majority\"}, \"readConcern\": {\"level\": \"snapshot\"}}",
                                         PM_JSON, &err),
            PM_OK)
      << err.message;
  EXPECT_EQ(pm_session_in_transaction(s), 1);
  insert_json(da.d, "{\"amount\": -10}");
  insert_json(db.d, "{\"amount\": 10}");
  EXPECT_EQ(count(a), 0) << "not visible outside the transaction before commit";
  EXPECT_EQ(count(b), 0);
  ASSERT_EQ(pm_session_commit(s, &err), PM_OK) << err.message;
  EXPECT_EQ(count(a), 1);
  EXPECT_EQ(count(b), 1);
  pm_session_free(s);
}

TEST_F(Native, AbortLeavesNothingBehind) {
  pm_session *s = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s, &err), PM_OK);
  Db da, db;
  da.d = in(s, a);
  db.d = in(s, b);
  ASSERT_EQ(pm_session_start_transaction(s, nullptr, 0, &err), PM_OK) << err.message;
  insert_json(da.d, "{\"x\": 1}");
  insert_json(db.d, "{\"x\": 1}");
  ASSERT_EQ(pm_session_abort(s, &err), PM_OK) << err.message;
  EXPECT_EQ(count(a), 0);
  EXPECT_EQ(count(b), 0);
  // Freeing a session with a transaction open aborts it too.
  ASSERT_EQ(pm_session_start_transaction(s, nullptr, 0, &err), PM_OK);
  insert_json(da.d, "{\"x\": 2}");
  pm_db_free(da.d);
  da.d = nullptr;
  pm_db_free(db.d);
  db.d = nullptr;
  pm_session_free(s);
  EXPECT_EQ(count(a), 0);
}

namespace {
struct Transfer {
  pm_db *from, *to;
  int calls = 0;
  int abort_with = 0;
};
int transfer(pm_session *, void *ud) {
  auto *t = static_cast<Transfer *>(ud);
  ++t->calls;
  pm_error err;
  int rc = pm_db_insert_one(t->from, "{\"amount\": -5}", PM_JSON, nullptr, 0, nullptr, &err);
  if (rc != PM_OK) return rc;
  rc = pm_db_insert_one(t->to, "{\"amount\": 5}", PM_JSON, nullptr, 0, nullptr, &err);
  if (rc != PM_OK) return rc;
  return t->abort_with;
}
}  // namespace

TEST_F(Native, WithTransactionCommitsOrReturnsTheCallbacksChoice) {
  pm_session *s = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), "{\"maxCommitTimeMS\": 5000}", PM_JSON, &s, &err), PM_OK)
      << err.message;
  Db da, db;
  da.d = in(s, a);
  db.d = in(s, b);
  Transfer t{da.d, db.d};
  ASSERT_EQ(pm_session_with_transaction(s, transfer, &t, nullptr, 0, 10000, &err), PM_OK) << err.message;
  EXPECT_EQ(t.calls, 1);
  EXPECT_EQ(count(a), 1);
  EXPECT_EQ(count(b), 1);
  t.abort_with = 42;  // the callback decides to abort
  EXPECT_EQ(pm_session_with_transaction(s, transfer, &t, nullptr, 0, 10000, &err), 42);
  EXPECT_EQ(count(a), 1) << "aborted: nothing more";
  EXPECT_EQ(count(b), 1);
  EXPECT_EQ(pm_session_in_transaction(s), 0);
  pm_session_free(s);
}

TEST_F(Native, WithTransactionRetriesTransientWriteConflicts) {
  // Session 1 holds an uncommitted update of a document; session 2's transaction updates the
  // same document, meets a write conflict (TransientTransactionError) and runs again until
  // session 1 has committed.
  Db plain;
  plain.d = bind_db(m.m, a);
  insert_json(plain.d, "{\"_id\": \"hot\", \"n\": 0}");
  pm_session *s1 = nullptr, *s2 = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s1, &err), PM_OK);
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s2, &err), PM_OK);
  Db d1, d2;
  d1.d = in(s1, a);
  d2.d = in(s2, a);
  ASSERT_EQ(pm_session_start_transaction(s1, nullptr, 0, &err), PM_OK);
  ASSERT_EQ(pm_db_update_one(d1.d, "{\"_id\": \"hot\"}", PM_JSON, "{\"$inc\": {\"n\": 1}}", PM_JSON, nullptr, 0,
                             nullptr, &err),
            PM_OK)
      << err.message;
  struct Bump {
    pm_db *db;
    std::atomic<int> calls{0};
  } bump{d2.d};
  std::thread committer([&] {
    EXPECT_TRUE(wait_until([&] { return bump.calls.load() >= 1; }, 5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    pm_error e;
    EXPECT_EQ(pm_session_commit(s1, &e), PM_OK) << e.message;
  });
  auto fn = [](pm_session *, void *ud) -> int {
    auto *bp = static_cast<Bump *>(ud);
    ++bp->calls;
    pm_error e;
    return pm_db_update_one(bp->db, "{\"_id\": \"hot\"}", PM_JSON, "{\"$inc\": {\"n\": 10}}", PM_JSON, nullptr, 0,
                            nullptr, &e);
  };
  int rc = pm_session_with_transaction(s2, fn, &bump, nullptr, 0, 20000, &err);
  committer.join();
  if (rc == PM_OK && bump.calls.load() == 1)
    GTEST_SKIP() << "this server serialised the two transactions instead of reporting a write conflict";
  ASSERT_EQ(rc, PM_OK) << pm_code_name(rc) << ": " << err.message;
  EXPECT_GE(bump.calls.load(), 2) << "the conflicting transaction ran again";
  std::vector<std::string> docs = Checker(txn_uri()).find_json(a, "accounts", "{\"_id\": \"hot\"}");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(field(docs[0], "n"), "11") << "both increments, each once";
  pm_db_free(d1.d);
  d1.d = nullptr;
  pm_db_free(d2.d);
  d2.d = nullptr;
  pm_session_free(s1);
  pm_session_free(s2);
}

TEST_F(Native, TransactionLabelsSayWhatWithTransactionWouldRetry) {
  // What an async binding's with_transaction goes by: a write conflict in a transaction sets
  // PM_TXN_TRANSIENT until the next transaction starts.
  EXPECT_EQ(pm_session_transaction_labels(nullptr), 0);
  Db plain;
  plain.d = bind_db(m.m, a);
  insert_json(plain.d, "{\"_id\": \"hot\", \"n\": 0}");
  pm_session *s1 = nullptr, *s2 = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s1, &err), PM_OK);
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s2, &err), PM_OK);
  EXPECT_EQ(pm_session_transaction_labels(s2), 0);
  Db d1, d2;
  d1.d = in(s1, a);
  d2.d = in(s2, a);
  ASSERT_EQ(pm_session_start_transaction(s1, nullptr, 0, &err), PM_OK);
  ASSERT_EQ(pm_db_update_one(d1.d, "{\"_id\": \"hot\"}", PM_JSON, "{\"$inc\": {\"n\": 1}}", PM_JSON, nullptr, 0,
                             nullptr, &err),
            PM_OK)
      << err.message;
  // Session 1 commits later, on another thread, in case the server waits instead of refusing.
  std::atomic<bool> tried{false};
  std::thread committer([&] {
    wait_until([&] { return tried.load(); }, 2000);  // (a server that waits: commit anyway)
    pm_error e;
    EXPECT_EQ(pm_session_commit(s1, &e), PM_OK) << e.message;
  });
  ASSERT_EQ(pm_session_start_transaction(s2, nullptr, 0, &err), PM_OK);
  int rc = pm_db_update_one(d2.d, "{\"_id\": \"hot\"}", PM_JSON, "{\"$inc\": {\"n\": 10}}", PM_JSON, nullptr, 0,
                            nullptr, &err);
  tried = true;
  committer.join();
  int labels = pm_session_transaction_labels(s2);
  pm_error e;
  pm_session_abort(s2, &e);
  if (rc == PM_OK) {
    EXPECT_EQ(labels, 0);
    GTEST_SKIP() << "this server serialised the two transactions instead of reporting a write conflict";
  }
  EXPECT_EQ(labels & PM_TXN_TRANSIENT, PM_TXN_TRANSIENT) << pm_code_name(rc) << ": " << err.message;
  EXPECT_EQ(labels & PM_TXN_UNKNOWN_COMMIT, 0);
  EXPECT_EQ(pm_session_transaction_labels(s2) & PM_TXN_TRANSIENT, PM_TXN_TRANSIENT) << "kept until a new start";
  ASSERT_EQ(pm_session_start_transaction(s2, nullptr, 0, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_session_transaction_labels(s2), 0) << "cleared by the start";
  EXPECT_EQ(pm_session_abort(s2, &err), PM_OK) << err.message;
  // A compensating session never retries.
  pm_session *comp = nullptr;
  ASSERT_EQ(pm_wrapper_start_compensating(w.w, nullptr, 0, &comp, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_session_transaction_labels(comp), 0);
  pm_session_free(comp);
  pm_db_free(d1.d);
  d1.d = nullptr;
  pm_db_free(d2.d);
  d2.d = nullptr;
  pm_session_free(s1);
  pm_session_free(s2);
}

TEST_F(Native, SessionRefusesDatabasesOfAnotherPoolAndBadOptions) {
  std::string other = unique_db("txn_other");
  const char *names[] = {other.c_str()};
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_db(w.w, names, 1, nullptr, &err), PM_OK);
  pm_session *s = nullptr;
  ASSERT_EQ(pm_wrapper_start_session(w.w, a.c_str(), nullptr, 0, &s, &err), PM_OK);
  Db elsewhere;
  elsewhere.d = in(s, other);
  EXPECT_EQ(pm_db_insert_one(elsewhere.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("compensating"), std::string::npos) << err.message;
  EXPECT_EQ(pm_session_start_transaction(s, "{\"readPreference\": \"sideways\"}", PM_JSON, &err), PM_EINVAL);
  EXPECT_EQ(pm_session_start_transaction(s, "{\"colour\": 1}", PM_JSON, &err), PM_EINVAL);
  pm_session *bad = nullptr;
  EXPECT_EQ(pm_wrapper_start_session(w.w, "bad/name", nullptr, 0, &bad, &err), PM_EDBNAME);
  EXPECT_EQ(pm_session_commit(nullptr, &err), PM_EINVAL);
  pm_db_free(elsewhere.d);
  elsewhere.d = nullptr;
  pm_session_free(s);
  pm_session_free(nullptr);
}
