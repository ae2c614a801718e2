// Option validation: every bad option fails at creation with PM_EINVAL and a message naming it.
#include "support.hpp"

using namespace pmtest;

namespace {

// Expects pm_wrapper_new to fail with PM_EINVAL and a message containing `needle`.
void expect_rejected(const std::string &json, const std::string &needle) {
  pm_wrapper *w = nullptr;
  pm_error err;
  int rc = pm_wrapper_new(json.c_str(), &w, &err);
  EXPECT_EQ(rc, PM_EINVAL) << json;
  EXPECT_EQ(err.code, PM_EINVAL);
  EXPECT_EQ(w, nullptr);
  EXPECT_NE(std::string(err.message).find(needle), std::string::npos)
      << "message '" << err.message << "' does not name '" << needle << "'";
  EXPECT_STREQ(pm_last_error()->message, err.message);
  pm_wrapper_free(w);
}

std::string with_uri(const std::string &uri, const std::string &extra = "") {
  return "{\"mongoURI\": \"" + uri + "\"" + (extra.empty() ? "" : ", " + extra) + "}";
}

}  // namespace

TEST(Options, MissingOrNonStringUriIsRejected) {
  expect_rejected("{}", "mongoURI");
  expect_rejected("{\"mongoURI\": 42}", "mongoURI");
  expect_rejected("{\"mongoURI\": null}", "mongoURI");
}

TEST(Options, NonMongoSchemesAreRejected) {
  for (const char *uri : {"http://localhost:27017", "javascript:alert(1)", "not-a-valid-uri",
                          "", "mongodb://", "ftp://x/y"})
    expect_rejected(with_uri(uri), "mongoURI");
}

TEST(Options, MultiHostAndSrvUrisParse) {
  // SRV resolution happens on first use; coldStart keeps creation free of DNS and sockets.
  for (const char *uri : {"mongodb://user:secret@h1:27017,h2:27018,h3/app?replicaSet=rs0",
                          "mongodb+srv://user:secret@cluster0.example.net/app"}) {
    Wrapper w;
    pm_error err;
    ASSERT_EQ(pm_wrapper_new(with_uri(uri).c_str(), &w.w, &err), PM_OK) << uri << ": " << err.message;
    EXPECT_STREQ(pm_wrapper_default_db(w.w), "app");
  }
}

TEST(Options, PoolSizeBounds) {
  std::string uri = server_uri();
  expect_rejected(with_uri(uri, "\"maxPoolSize\": 0"), "maxPoolSize");
  expect_rejected(with_uri(uri, "\"maxPoolSize\": -5"), "maxPoolSize");
  expect_rejected(with_uri(uri, "\"maxPoolSize\": \"ten\""), "maxPoolSize");
  expect_rejected(with_uri(uri, "\"maxPoolSize\": 2.5"), "maxPoolSize");
  expect_rejected(with_uri(uri, "\"minFreeConnections\": -1"), "minFreeConnections");
  expect_rejected(with_uri(uri, "\"maxPoolSize\": 2, \"minFreeConnections\": 3"), "minFreeConnections");
  expect_rejected(with_uri(uri, "\"idleTimeoutMS\": -1"), "idleTimeoutMS");
  expect_rejected(with_uri(uri, "\"retry\": -100"), "retry");
}

TEST(Options, WrongTypesAndUnknownNamesAreRejected) {
  std::string uri = server_uri();
  expect_rejected(with_uri(uri, "\"coldStart\": \"yes\""), "coldStart");
  expect_rejected(with_uri(uri, "\"debug\": 1"), "debug");
  expect_rejected(with_uri(uri, "\"logPath\": false"), "logPath");
  expect_rejected(with_uri(uri, "\"maxPoolsize\": 3"), "maxPoolsize");
  expect_rejected(with_uri(uri, "\"dbSpecific\": {}"), "dbSpecific");
  expect_rejected(with_uri(uri, "\"dbSpecific\": [{\"dbName\": \"a\", \"options\": {\"maxConnections\": 0}}]"),
                  "dbSpecific[0].options.maxConnections");
  expect_rejected(with_uri(uri, "\"dbSpecific\": [{\"dbName\": \"a$b\"}]"), "dbSpecific[0].dbName");
  expect_rejected(with_uri(uri, "\"dbSpecific\": [{\"dbName\": \"a\", \"mongoURI\": \"http://x\"}]"),
                  "dbSpecific[0].mongoURI");
  expect_rejected(with_uri(uri, "\"dbSpecific\": [{\"dbName\": \"a\"}, {\"dbName\": \"a\"}]"), "twice");
  expect_rejected(with_uri(uri, "\"defaultDB\": \"bad.name\""), "defaultDB");
}

TEST(Options, MalformedJsonIsRejected) {
  expect_rejected("{\"mongoURI\": ", "malformed JSON");
  expect_rejected("[1,2]", "JSON object");
  expect_rejected("not json", "malformed JSON");
  pm_wrapper *w = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_new(nullptr, &w, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_new("{}", nullptr, &err), PM_EINVAL);  // no out-parameter
}

TEST(Options, CredentialsNeverAppearInMessages) {
  pm_wrapper *w = nullptr;
  pm_error err;
  std::string json = "{\"mongoURI\": \"mongodb://alice:s3cr3tpw@localhost:1/?serverSelectionTimeoutMS=200\","
                     " \"coldStart\": false}";
  EXPECT_EQ(pm_wrapper_new(json.c_str(), &w, &err), PM_ECONNECT);
  EXPECT_EQ(std::string(err.message).find("s3cr3tpw"), std::string::npos) << err.message;
  pm_wrapper_free(w);
}

TEST(Options, DefaultDatabaseComesFromOptionThenUriPath) {
  std::string uri = server_uri();  // e.g. mongodb://127.0.0.1:PORT/
  Wrapper a, b, c;
  pm_error err;
  ASSERT_EQ(pm_wrapper_new(with_uri(uri, "\"defaultDB\": \"tenant_x\"").c_str(), &a.w, &err), PM_OK);
  EXPECT_STREQ(pm_wrapper_default_db(a.w), "tenant_x");
  ASSERT_EQ(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/fromuri\"}", &b.w, &err), PM_OK);
  EXPECT_STREQ(pm_wrapper_default_db(b.w), "fromuri");
  ASSERT_EQ(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/\"}", &c.w, &err), PM_OK);
  EXPECT_EQ(pm_wrapper_default_db(c.w), nullptr);
}

TEST(Options, LoggingWritesRedactedRotatingFiles) {
  std::string dir = "/tmp/" + unique_db("pm_logs");
  std::string json = "{\"mongoURI\": \"mongodb://bob:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=200\","
                     " \"logPath\": \"" + dir + "\", \"coldStart\": false}";
  pm_wrapper *w = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_new(json.c_str(), &w, &err), PM_ECONNECT);
  std::string all, errors;
  for (auto [name, out] : {std::pair<const char *, std::string *>{"/polymongo.log", &all},
                           {"/errors.log", &errors}}) {
    FILE *f = fopen((dir + name).c_str(), "r");
    ASSERT_NE(f, nullptr) << name;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
    fclose(f);
  }
  EXPECT_NE(all.find("bob:***@"), std::string::npos) << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
  EXPECT_NE(errors.find("connect pool 'shared'"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("wrapper created"), std::string::npos) << "errors.log has only errors";
}

TEST(Options, ColdStartFalseConnectsAndFailsFastWhenUnreachable) {
  Wrapper ok;
  pm_error err;
  int port = server_port();
  int before = count_sockets_to_port(port);
  ASSERT_EQ(pm_wrapper_new(options("\"coldStart\": false, \"maxPoolSize\": 3").c_str(), &ok.w, &err), PM_OK)
      << err.message;
  EXPECT_GT(count_sockets_to_port(port), before) << "coldStart:false opens a connection at creation";

  pm_wrapper *bad = nullptr;
  EXPECT_EQ(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300\","
                           " \"coldStart\": false}", &bad, &err), PM_ECONNECT);
  EXPECT_EQ(bad, nullptr);
}

TEST(Options, UriMaxPoolSizeIsHonouredAndAConflictIsRefused) {
  std::string uri = add_query(server_uri(), "maxPoolSize=3&waitQueueTimeoutMS=" + std::to_string(slow(300)));
  Wrapper w;
  pm_error err;
  ASSERT_EQ(pm_wrapper_new(("{\"mongoURI\": \"" + uri + "\", \"defaultDB\": \"pm_default\"}").c_str(), &w.w, &err),
            PM_OK) << err.message;
  // Three cursors with a batch left each hold the pool's three connections...
  Model m;
  m.m = new_model(w.w, "uri_pool_size");
  Db d;
  d.d = bind_db(m.m, unique_db("uripool"));
  for (int i = 0; i < 4; ++i) insert_json(d.d, "{\"i\": " + std::to_string(i) + "}");
  std::vector<Cursor> held(3);
  for (Cursor &c : held)
    ASSERT_EQ(pm_db_find(d.d, nullptr, 0, "{\"batchSize\": 1}", PM_JSON, &c.c, &err), PM_OK) << err.message;
  // ...so a fourth operation waits for one and times out: the pool has 3, not the default 10.
  int64_t n = 0;
  EXPECT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_ETIMEOUT) << err.message;
  EXPECT_NE(std::string(err.message).find("all 3 in use"), std::string::npos) << err.message;
  char *stats = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &stats, &err), PM_OK);
  EXPECT_NE(std::string(stats).find("\"maxSize\":3"), std::string::npos) << stats;
  pm_free(stats);
  held.clear();
  EXPECT_EQ(pm_db_count(d.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
  EXPECT_EQ(n, 4);

  // Both given: the same value is fine, different values are refused naming both.
  Wrapper same;
  EXPECT_EQ(pm_wrapper_new(with_uri(uri, "\"maxPoolSize\": 3").c_str(), &same.w, &err), PM_OK) << err.message;
  expect_rejected(with_uri(uri, "\"maxPoolSize\": 5"), "maxPoolSize (5)");
  expect_rejected(with_uri(uri, "\"maxPoolSize\": 5"), "mongoURI's maxPoolSize=3");
}
