// Cursors hold one pooled client until exhausted or freed; freeing early kills the server cursor.
#include "support.hpp"

using namespace pmtest;

namespace {

struct Cursors : ::testing::Test {
  Wrapper w;
  Model m;
  Db db;
  std::string name;
  void SetUp() override {
    // One connection, and a short wait for it, so that holding it is observable.
    std::string uri = server_uri();
    std::string sep = uri.find('?') == std::string::npos ? "?" : "&";
    std::string json = "{\"mongoURI\": \"" + uri + sep + "waitQueueTimeoutMS=300\", \"maxPoolSize\": 1}";
    pm_error err;
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    m.m = new_model(w.w, "rows");
    name = unique_db("cursor");
    db.d = bind_db(m.m, name);
    std::vector<std::string> docs;
    for (int i = 0; i < 10; ++i) docs.push_back("{\"_id\": " + std::to_string(i) + "}");
    std::vector<const void *> ptrs;
    std::vector<size_t> lens(docs.size(), PM_JSON);
    for (auto &d : docs) ptrs.push_back(d.c_str());
    ASSERT_EQ(pm_db_insert_many(db.d, ptrs.data(), lens.data(), docs.size(), nullptr, 0, nullptr, &err), PM_OK);
  }
  Cursor open_batched() {
    Cursor c;
    pm_error err;
    EXPECT_EQ(pm_db_find(db.d, nullptr, 0, "{\"batchSize\": 2, \"sort\": {\"_id\": 1}}", PM_JSON, &c.c, &err), PM_OK)
        << err.message;
    return c;
  }
};

}  // namespace

TEST_F(Cursors, HoldsItsClientUntilExhausted) {
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_find(db.d, nullptr, 0, "{\"batchSize\": 2, \"sort\": {\"_id\": 1}}", PM_JSON, &c.c, &err), PM_OK);
  int64_t n = 0;
  EXPECT_EQ(pm_db_count(db.d, nullptr, 0, nullptr, 0, &n, &err), PM_ETIMEOUT) << "the only client is held";
  EXPECT_NE(std::string(err.message).find("waiting for a connection"), std::string::npos) << err.message;
  auto docs = drain(c.c);  // exhausting it gives the client back, before the handle is freed
  EXPECT_EQ(docs.size(), 10u);
  EXPECT_EQ(pm_cursor_id(c.c), 0);
  ASSERT_EQ(pm_db_count(db.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
  EXPECT_EQ(n, 10);
  const uint8_t *data;
  size_t len;
  EXPECT_EQ(pm_cursor_next(c.c, &data, &len, &err), 0) << "an exhausted cursor stays exhausted";
}

TEST_F(Cursors, FreeingEarlyReturnsClientAndKillsServerCursor) {
  Checker check;
  pm_error err;
  // Control: a live cursor of ours is visible to, and killable by, another connection.
  Cursor control = open_batched();
  int64_t live = pm_cursor_id(control.c);
  ASSERT_NE(live, 0);
  std::string reply;
  ASSERT_TRUE(check.command_ok(name, "{\"killCursors\": \"rows\", \"cursors\": [{\"$numberLong\": \"" +
                                         std::to_string(live) + "\"}]}", &reply));
  ASSERT_NE(field(reply, "cursorsKilled").find(std::to_string(live)), std::string::npos) << reply;
  pm_cursor_free(control.c);
  control.c = nullptr;

  Cursor c = open_batched();
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(pm_cursor_next(c.c, &data, &len, &err), 1);
  int64_t id = pm_cursor_id(c.c);
  ASSERT_NE(id, 0);
  pm_cursor_free(c.c);
  c.c = nullptr;
  ASSERT_TRUE(check.command_ok(name, "{\"killCursors\": \"rows\", \"cursors\": [{\"$numberLong\": \"" +
                                         std::to_string(id) + "\"}]}", &reply));
  EXPECT_EQ(field(reply, "cursorsKilled").find(std::to_string(id)), std::string::npos) << reply;
  EXPECT_NE(field(reply, "cursorsNotFound").find(std::to_string(id)), std::string::npos)
      << "already killed by pm_cursor_free: " << reply;
  int64_t n = 0;
  EXPECT_EQ(pm_db_count(db.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << "the client is back";
}

TEST_F(Cursors, YieldsBsonAndJson) {
  Cursor c = open_batched();
  pm_error err;
  const uint8_t *data = nullptr;
  size_t len = 0;
  ASSERT_EQ(pm_cursor_next(c.c, &data, &len, &err), 1);
  char *j = pm_bson_to_json(data, len, PM_JSON_RELAXED);
  EXPECT_STREQ(j, "{ \"_id\" : 0 }");
  pm_free(j);
  const char *json = nullptr;
  ASSERT_EQ(pm_cursor_next_json(c.c, PM_JSON_CANONICAL, &json, &err), 1);
  EXPECT_STREQ(json, "{ \"_id\" : { \"$numberInt\" : \"1\" } }");
  EXPECT_EQ(pm_cursor_next(nullptr, &data, &len, &err), PM_EINVAL);
  pm_cursor_free(nullptr);
}

TEST_F(Cursors, OutliveTheirParentHandles) {
  Cursor c = open_batched();
  // Free everything the cursor came from: it keeps what it needs alive.
  pm_db_free(db.d);
  db.d = nullptr;
  pm_model_free(m.m);
  m.m = nullptr;
  pm_wrapper_free(w.w);
  w.w = nullptr;
  EXPECT_EQ(drain(c.c).size(), 10u);
}

TEST(FindOptions, WrongTypesAreRefusedBeforeAnythingIsSent) {
  // A cold wrapper: a call that sends anything opens the pool and a socket.
  int port = server_port();
  int before = count_sockets_to_port(port);
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "rows");
  Db d;
  d.d = bind_db(m.m, unique_db("findopts"));
  struct Case {
    const char *opts, *option;
  };
  for (Case c : {Case{"{\"limit\": \"5\"}", "'limit'"}, Case{"{\"skip\": \"2\"}", "'skip'"},
                 Case{"{\"batchSize\": \"10\"}", "'batchSize'"}, Case{"{\"skip\": -1}", "'skip'"},
                 Case{"{\"batchSize\": -3}", "'batchSize'"}, Case{"{\"limit\": 2.5}", "'limit'"},
                 Case{"{\"limit\": -1}", "'limit'"},
                 Case{"{\"maxTimeMS\": \"100\"}", "'maxTimeMS'"}, Case{"{\"sort\": \"_id\"}", "'sort'"},
                 Case{"{\"projection\": 1}", "'projection'"}, Case{"{\"limit\": true}", "'limit'"}}) {
    Cursor cur;
    pm_error err;
    EXPECT_EQ(pm_db_find(d.d, nullptr, 0, c.opts, PM_JSON, &cur.c, &err), PM_EINVAL) << c.opts;
    EXPECT_NE(std::string(err.message).find(c.option), std::string::npos) << c.opts << ": " << err.message;
    EXPECT_EQ(cur.c, nullptr);
    Buf one;
    EXPECT_EQ(pm_db_find_one(d.d, nullptr, 0, c.opts, PM_JSON, &one.b, &err), PM_EINVAL) << c.opts;
    EXPECT_NE(std::string(err.message).find(c.option), std::string::npos) << c.opts << ": " << err.message;
  }
  int64_t n = 0;
  pm_error err;
  EXPECT_EQ(pm_db_count(d.d, nullptr, 0, "{\"limit\": \"5\"}", PM_JSON, &n, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("'limit'"), std::string::npos) << err.message;
  Cursor agg;
  EXPECT_EQ(pm_db_aggregate(d.d, "[]", PM_JSON, "{\"batchSize\": \"10\"}", PM_JSON, &agg.c, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("'batchSize'"), std::string::npos) << err.message;
  EXPECT_EQ(count_sockets_to_port(port), before) << "nothing may reach the server";
  char *stats = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &stats, &err), PM_OK);
  EXPECT_NE(std::string(stats).find("\"open\":false"), std::string::npos) << stats;
  pm_free(stats);

  // The right types still work (an integral double too).
  insert_json(d.d, "{\"_id\": 1}");
  insert_json(d.d, "{\"_id\": 2}");
  insert_json(d.d, "{\"_id\": 3}");
  Cursor ok;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"limit\": 2, \"skip\": 0, \"batchSize\": 1, \"sort\": {\"_id\": 1}}",
                       PM_JSON, &ok.c, &err), PM_OK) << err.message;
  EXPECT_EQ(drain(ok.c).size(), 2u);
  Cursor dbl;
  ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"limit\": 1, \"skip\": 1.0}", PM_JSON, &dbl.c, &err), PM_OK)
      << err.message;
  EXPECT_EQ(drain(dbl.c).size(), 1u);
}
