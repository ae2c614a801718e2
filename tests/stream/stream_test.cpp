// Change streams on a server that has them (SecantusDB, or PM_TEST_TXN_URI): events in order
// with resume, database and cluster scope, tracking and closing per database, pinning against
// TTL, and one shared server-side stream for a thousand subscribers.
#include "support.hpp"

#include <thread>

using namespace pmtest;

namespace {

struct Streams : ::testing::Test {
  Wrapper w;
  Model m, other;
  std::string a = unique_db("st_a"), b = unique_db("st_b");
  void SetUp() override {
    if (txn_uri().empty()) GTEST_SKIP() << "no server with change streams (SecantusDB did not start)";
    pm_error err;
    std::string json = "{\"mongoURI\": \"" + txn_uri() + "\", \"defaultDB\": \"" + a + "\", \"maxPoolSize\": 4}";
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    m.m = new_model(w.w, "events");
    other.m = new_model(w.w, "others");
    for (auto &db : {a, b}) {  // collections exist before watching
      Db d;
      d.d = bind_db(m.m, db);
      insert_json(d.d, "{\"_id\": \"seed\"}");
    }
  }
  void write(pm_model *model, const std::string &db, const std::string &doc) {
    Db d;
    d.d = bind_db(model, db);
    insert_json(d.d, doc);
  }
  // The next event's field `path` (e.g. "fullDocument"), or "" on timeout.
  static std::string next_field(pm_stream *s, const char *name, int64_t timeout = 5000) {
    const char *json = nullptr;
    pm_error err;
    int rc = pm_stream_next_json(s, timeout, PM_JSON_RELAXED, &json, &err);
    EXPECT_GE(rc, 0) << err.message;
    return rc == 1 ? field(json, name) : "";
  }
};

}  // namespace

TEST_F(Streams, CollectionEventsArriveInOrderAndResumeAfterAToken) {
  Db d;
  d.d = bind_db(m.m, a);
  pm_stream *s = nullptr;
  pm_error err;
  ASSERT_EQ(pm_db_watch(d.d, "[{\"$match\": {\"operationType\": \"insert\"}}]", PM_JSON, "{\"fullDocument\": \"updateLookup\"}",
                        PM_JSON, &s, &err),
            PM_OK)
      << err.message;
  for (int i = 1; i <= 3; ++i) insert_json(d.d, "{\"_id\": " + std::to_string(i) + "}");
  EXPECT_EQ(next_field(s, "fullDocument"), "{ \"_id\" : 1 }");
  Buf token;
  ASSERT_EQ(pm_stream_resume_token(s, &token.b, &err), PM_OK);
  ASSERT_GT(token.b.len, 5u);
  pm_stream_free(s);
  // Reopened after the first event: the second and third arrive, and nothing twice.
  std::string opts = "{\"resumeAfter\": " + token.json() + "}";
  ASSERT_EQ(pm_db_watch(d.d, nullptr, 0, opts.c_str(), PM_JSON, &s, &err), PM_OK) << err.message;
  EXPECT_EQ(next_field(s, "documentKey"), "{ \"_id\" : 2 }");
  EXPECT_EQ(next_field(s, "documentKey"), "{ \"_id\" : 3 }");
  EXPECT_EQ(next_field(s, "documentKey", 300), "") << "then nothing: the timeout returns 0";
  pm_stream_free(s);
}

TEST_F(Streams, DatabaseAndClusterScopes) {
  pm_stream *db_stream = nullptr, *cluster = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_watch_database(w.w, a.c_str(), nullptr, 0, nullptr, 0, &db_stream, &err), PM_OK) << err.message;
  std::string only_ours = "[{\"$match\": {\"ns.db\": {\"$in\": [\"" + a + "\", \"" + b + "\"]}}}]";
  ASSERT_EQ(pm_wrapper_watch_cluster(w.w, only_ours.c_str(), PM_JSON, nullptr, 0, &cluster, &err), PM_OK) << err.message;
  write(m.m, a, "{\"_id\": \"in_a_events\"}");
  write(other.m, a, "{\"_id\": \"in_a_others\"}");
  write(m.m, b, "{\"_id\": \"in_b\"}");
  EXPECT_EQ(next_field(db_stream, "documentKey"), "{ \"_id\" : \"in_a_events\" }");
  EXPECT_EQ(next_field(db_stream, "documentKey"), "{ \"_id\" : \"in_a_others\" }") << "every collection of the database";
  EXPECT_EQ(next_field(db_stream, "documentKey", 300), "") << "not the other database";
  std::vector<std::string> seen;
  for (int i = 0; i < 3; ++i) seen.push_back(next_field(cluster, "documentKey"));
  EXPECT_EQ(seen[2], "{ \"_id\" : \"in_b\" }") << "the cluster stream sees both databases";
  pm_stream_free(db_stream);
  pm_stream_free(cluster);
}

TEST_F(Streams, TrackedPerDatabaseAndClosedByCloseStreamsAndDrop) {
  pm_stream *a1 = nullptr, *a2 = nullptr, *b1 = nullptr;
  pm_error err;
  Db da, db;
  da.d = bind_db(m.m, a);
  db.d = bind_db(m.m, b);
  ASSERT_EQ(pm_db_watch(da.d, nullptr, 0, nullptr, 0, &a1, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_wrapper_watch_database(w.w, a.c_str(), nullptr, 0, nullptr, 0, &a2, &err), PM_OK);
  ASSERT_EQ(pm_db_watch(db.d, nullptr, 0, nullptr, 0, &b1, &err), PM_OK);
  EXPECT_EQ(pm_wrapper_stream_count(w.w, a.c_str()), 2u);
  EXPECT_EQ(pm_wrapper_stream_count(w.w, nullptr), 3u);
  char *stats = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &stats, &err), PM_OK);
  EXPECT_NE(std::string(stats).find("\"streams\":3"), std::string::npos) << stats;
  EXPECT_NE(std::string(stats).find("\"streams\":3}"), std::string::npos) << "pinned: 3 streams";
  pm_free(stats);
  size_t closed = 0;
  ASSERT_EQ(pm_wrapper_close_streams(w.w, a.c_str(), &closed, &err), PM_OK);
  EXPECT_EQ(closed, 2u);
  const uint8_t *data;
  size_t len;
  EXPECT_EQ(pm_stream_next(a1, 10, &data, &len, &err), PM_ECLOSED);
  EXPECT_EQ(pm_stream_next(a2, 10, &data, &len, &err), PM_ECLOSED);
  EXPECT_EQ(pm_stream_next(b1, 10, &data, &len, &err), 0) << "the other database's stream is untouched";
  ASSERT_EQ(pm_wrapper_drop_database(w.w, b.c_str(), &err), PM_OK) << err.message;
  EXPECT_EQ(pm_stream_next(b1, 10, &data, &len, &err), PM_ECLOSED) << "dropping a database closes its streams";
  EXPECT_EQ(pm_wrapper_stream_count(w.w, nullptr), 0u);
  pm_stream_free(a1);
  pm_stream_free(a2);
  pm_stream_free(b1);
}

TEST_F(Streams, AnOpenStreamPinsItsPoolAgainstTtl) {
  std::string db = unique_db("st_ttl");
  std::string spec =
      "{\"mongoURI\": \"" + txn_uri() + "\", \"autoClose\": true, \"ttl\": " + std::to_string(slow(200)) + "}";
  const char *names[] = {db.c_str()};
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_db(w.w, names, 1, spec.c_str(), &err), PM_OK);
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_POOL_CLOSED);
  write(m.m, db, "{\"_id\": 1}");
  pm_stream *s = nullptr;
  Db d;
  d.d = bind_db(m.m, db);
  ASSERT_EQ(pm_db_watch(d.d, nullptr, 0, nullptr, 0, &s, &err), PM_OK) << err.message;
  std::this_thread::sleep_for(std::chrono::milliseconds(slow(800)));
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  EXPECT_EQ(rec.count(PM_EVENT_POOL_CLOSED), 0u) << "a watched database is never auto-closed";
  pm_stream_free(s);
  EXPECT_TRUE(wait_until([&] {
    pm_wrapper_flush_events(w.w, 1000, nullptr);
    return rec.count(PM_EVENT_POOL_CLOSED, "*", "ttl") == 1;
  }, 5000)) << "closed by its TTL once the stream is gone";
}

TEST_F(Streams, AThousandSubscribersShareOneServerStream) {
  constexpr int kSubscribers = 1000;
  std::vector<pm_stream *> subs(kSubscribers, nullptr);
  pm_error err;
  for (auto &s : subs) ASSERT_EQ(pm_wrapper_subscribe_stream(w.w, a.c_str(), "events", &s, &err), PM_OK) << err.message;
  char *stats = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &stats, &err), PM_OK);
  std::string st = stats;
  pm_free(stats);
  EXPECT_NE(st.find("\"pinned\":{\"cursors\":0,\"sessions\":0,\"streams\":1}"), std::string::npos)
      << "one server-side stream, one client, for all of them: " << st;
  EXPECT_NE(st.find("\"inUse\":1,"), std::string::npos) << st;
  for (int i = 0; i < 5; ++i) write(m.m, a, "{\"_id\": \"e" + std::to_string(i) + "\"}");
  // One subscriber leaves after the first event; everyone else gets all five, in order, once.
  for (int k = 0; k < kSubscribers; ++k) {
    int expected = k == 7 ? 1 : 5;
    for (int i = 0; i < expected; ++i) {
      ASSERT_EQ(next_field(subs[k], "documentKey"), "{ \"_id\" : \"e" + std::to_string(i) + "\" }") << "subscriber " << k;
    }
    if (k == 7) {
      pm_stream_free(subs[k]);
      subs[k] = nullptr;
    }
  }
  for (int k = 0; k < kSubscribers; k += 97) {
    if (subs[k]) {
      EXPECT_EQ(next_field(subs[k], "documentKey", 100), "") << "exactly once";
    }
  }
  EXPECT_EQ(pm_wrapper_stream_count(w.w, a.c_str()), static_cast<size_t>(kSubscribers - 1));
  for (auto &s : subs) pm_stream_free(s);
  EXPECT_EQ(pm_wrapper_stream_count(w.w, nullptr), 0u);
}

TEST(StreamRefusal, FerretDbRefusesChangeStreamsWithAClearError) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "events");
  Db d;
  d.d = bind_db(m.m, unique_db("st_ferret"));
  insert_json(d.d, "{}");
  pm_stream *s = nullptr;
  pm_error err;
  int rc = pm_db_watch(d.d, nullptr, 0, nullptr, 0, &s, &err);
  if (rc == PM_OK) {
    pm_stream_free(s);
    GTEST_SKIP() << "this server has change streams";
  }
  EXPECT_TRUE(rc == PM_ENOTSUP || rc == PM_ESERVER) << pm_code_name(rc) << ": " << err.message;
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(pm_wrapper_stream_count(w.w, nullptr), 0u);
  EXPECT_EQ(pm_db_watch(d.d, "{\"pipeline\": 3}", PM_JSON, nullptr, 0, &s, &err) < 0, true);
}
