// Export, import, copy and drop of whole databases, checked against what the servers hold.
#include "support.hpp"

#include <fstream>
#include <sstream>

using namespace pmtest;

namespace {

struct Bulk : ::testing::Test {
  Wrapper w;
  Model users, orders;
  std::string src = unique_db("bulk_src");
  std::string remote = unique_db("bulk_remote");  // served by the second cluster
  void SetUp() override {
    pm_error err;
    std::string json = "{\"mongoURI\": \"" + server_uri() + "\", \"defaultDB\": \"pm_default\", \"dbSpecific\": "
                       "[{\"dbName\": \"" + remote + "\", \"mongoURI\": \"" + second_uri() + "\"}]}";
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    users.m = new_model(w.w, "users", "{\"indexes\": [{\"key\": {\"email\": 1}, \"unique\": true}]}");
    orders.m = new_model(w.w, "orders");
  }
  void fill(const std::string &db, int n_users, int n_orders) {
    Db u, o;
    u.d = bind_db(users.m, db);
    o.d = bind_db(orders.m, db);
    std::vector<std::string> docs;
    for (int i = 0; i < n_users; ++i)
      docs.push_back("{\"_id\": " + std::to_string(i) + ", \"email\": \"u" + std::to_string(i) +
                     "@x\", \"when\": {\"$date\": \"2024-01-02T03:04:05.006Z\"}, \"n\": {\"$numberLong\": \"" +
                     std::to_string(i * 1000000000LL) + "\"}, \"tags\": [\"a\", {\"deep\": [1, 2.5]}], \"s\": \"é漢🙂\"}");
    insert_batch(u.d, docs);
    docs.clear();
    for (int i = 0; i < n_orders; ++i) docs.push_back("{\"o\": " + std::to_string(i) + "}");
    insert_batch(o.d, docs);
  }
  static void insert_batch(pm_db *d, const std::vector<std::string> &docs) {
    if (docs.empty()) return;
    std::vector<const void *> p;
    std::vector<size_t> l(docs.size(), PM_JSON);
    for (auto &s : docs) p.push_back(s.c_str());
    pm_error err;
    ASSERT_EQ(pm_db_insert_many(d, p.data(), l.data(), docs.size(), nullptr, 0, nullptr, &err), PM_OK) << err.message;
  }
  // Every collection's documents (canonical JSON, by _id) and index names, from a checker.
  static std::string contents(const std::string &uri, const std::string &db) {
    Checker c(uri);
    std::string out;
    for (const char *coll : {"orders", "users"}) {
      out += std::string(coll) + ":\n";
      std::string reply;
      c.command_ok(db, "{\"listIndexes\": \"" + std::string(coll) + "\"}", &reply);
      for (const char *idx : {"\"_id_\"", "\"email_1\""})
        if (reply.find(idx) != std::string::npos) out += std::string("index ") + idx + "\n";
      for (auto &d : c.find_json(db, coll)) {
        if (std::string(coll) == "orders") d = d.substr(d.find(','));  // generated ObjectIds differ per run
        out += d + "\n";
      }
    }
    return out;
  }
  static std::string slurp(const std::string &path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
};

struct ProgressLog {
  uint64_t calls = 0, docs = 0, bytes = 0;
  static void cb(uint64_t d, uint64_t b, void *self) {
    auto *p = static_cast<ProgressLog *>(self);
    ++p->calls;
    p->docs = d;
    p->bytes = b;
  }
};

}  // namespace

TEST_F(Bulk, ExportThenImportReproducesDocumentsIndexesAndTypes) {
  fill(src, 1500, 20);  // more than one import batch
  std::string file = "/tmp/" + unique_db("export") + ".ndjson";
  pm_error err;
  ASSERT_EQ(pm_wrapper_export_file(w.w, src.c_str(), file.c_str(), nullptr, nullptr, &err), PM_OK) << err.message;
  std::string text = slurp(file);
  EXPECT_EQ(text.rfind("{ \"type\" : \"meta\", \"format\" : \"polymongo-export\"", 0), 0u) << text.substr(0, 120);
  EXPECT_NE(text.find("\"$date\" : { \"$numberLong\" : \"1704164645006\" }"), std::string::npos) << "canonical JSON";
  EXPECT_NE(text.find("\"type\" : \"index\""), std::string::npos);
  std::string dst = unique_db("bulk_dst");
  char *report = nullptr;
  ASSERT_EQ(pm_wrapper_import_file(w.w, dst.c_str(), file.c_str(), "{\"batchSize\": 500}", nullptr, nullptr, &report, &err),
            PM_OK)
      << err.message;
  std::string r = report;
  pm_free(report);
  EXPECT_NE(r.find("{\"name\":\"users\",\"documents\":1500,\"indexes\":1,\"failures\":0"), std::string::npos) << r;
  EXPECT_NE(r.find("\"ok\":true"), std::string::npos) << r;
  EXPECT_EQ(contents(server_uri(), dst), contents(server_uri(), src));
  std::remove(file.c_str());
}

TEST_F(Bulk, ImportCountsRefusedDocumentsAndCanStopOnError) {
  fill(src, 30, 0);
  std::string file = "/tmp/" + unique_db("dups") + ".ndjson";
  pm_error err;
  ASSERT_EQ(pm_wrapper_export_file(w.w, src.c_str(), file.c_str(), nullptr, nullptr, &err), PM_OK);
  std::string dst = unique_db("bulk_dups");
  Db pre;
  pre.d = bind_db(users.m, dst);
  insert_json(pre.d, "{\"_id\": 5, \"email\": \"other@x\"}");  // collides with _id 5
  char *report = nullptr;
  EXPECT_EQ(pm_wrapper_import_file(w.w, dst.c_str(), file.c_str(), "{\"batchSize\": 10}", nullptr, nullptr, &report, &err),
            PM_EWRITE);
  std::string r = report ? report : "";
  pm_free(report);
  EXPECT_NE(r.find("\"documents\":29,\"indexes\":1,\"failures\":1"), std::string::npos) << r;
  EXPECT_EQ(Checker().count(dst, "users"), 30);
  std::string stop = unique_db("bulk_stop");
  Db pre2;
  pre2.d = bind_db(users.m, stop);
  insert_json(pre2.d, "{\"_id\": 5}");
  EXPECT_EQ(pm_wrapper_import_file(w.w, stop.c_str(), file.c_str(), "{\"batchSize\": 10, \"stopOnError\": true}",
                                   nullptr, nullptr, &report, &err),
            PM_EWRITE);
  r = report ? report : "";
  pm_free(report);
  EXPECT_NE(r.find("\"stopped\":true"), std::string::npos) << r;
  EXPECT_EQ(Checker().count(stop, "users"), 10) << "the first batch (9 + the existing one) and nothing after";
  EXPECT_EQ(pm_wrapper_import_file(w.w, stop.c_str(), file.c_str(), "{\"batchSize\": 0}", nullptr, nullptr, &report, &err),
            PM_EINVAL);
  std::remove(file.c_str());
}

TEST_F(Bulk, MalformedOrTruncatedFilesNameTheLineAndKeepWhatWasImported) {
  std::string file = "/tmp/" + unique_db("bad") + ".ndjson";
  {
    std::ofstream f(file);
    f << "{\"type\":\"meta\",\"format\":\"polymongo-export\",\"version\":1,\"database\":\"x\"}\n"
         "{\"type\":\"collection\",\"name\":\"users\",\"options\":{}}\n";
    for (int i = 0; i < 5; ++i) f << "{\"type\":\"document\",\"collection\":\"users\",\"doc\":{\"_id\":" << i << "}}\n";
    f << "{\"type\":\"document\",\"collection\":\"users\",\"doc\":{\"_id\":99\n";  // line 8: cut off
  }
  std::string dst = unique_db("bulk_bad");
  char *report = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_import_file(w.w, dst.c_str(), file.c_str(), nullptr, nullptr, nullptr, &report, &err), PM_EINVAL);
  EXPECT_EQ(std::string(err.message).rfind("line 8:", 0), 0u) << err.message;
  ASSERT_NE(report, nullptr);
  EXPECT_NE(std::string(report).find("\"documents\":5"), std::string::npos) << report;
  pm_free(report);
  EXPECT_EQ(Checker().count(dst, "users"), 5) << "nothing already imported is lost";
  {
    std::ofstream f(file);
    f << "{\"type\":\"meta\",\"format\":\"someone-else\",\"version\":1}\n";
  }
  EXPECT_EQ(pm_wrapper_import_file(w.w, dst.c_str(), file.c_str(), nullptr, nullptr, nullptr, &report, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("line 1: not a polymongo export"), std::string::npos) << err.message;
  pm_free(report);
  EXPECT_EQ(pm_wrapper_import_file(w.w, dst.c_str(), "/nonexistent/file", nullptr, nullptr, nullptr, &report, &err), PM_EINVAL);
  std::remove(file.c_str());
}

TEST_F(Bulk, CopyStreamsToAnotherCluster) {
  fill(src, 1200, 7);
  char *report = nullptr;
  pm_error err;
  ProgressLog progress;
  ASSERT_EQ(pm_wrapper_copy_database(w.w, src.c_str(), remote.c_str(), nullptr, &ProgressLog::cb, &progress, &report, &err),
            PM_OK)
      << err.message;
  pm_free(report);
  EXPECT_EQ(contents(second_uri(), remote), contents(server_uri(), src));
  EXPECT_EQ(Checker(server_uri()).count(remote, "users"), 0) << "the copy went to the other cluster only";
  EXPECT_EQ(progress.docs, 1207u);
  EXPECT_EQ(pm_wrapper_copy_database(w.w, src.c_str(), src.c_str(), nullptr, nullptr, nullptr, &report, &err), PM_EINVAL);
}

TEST_F(Bulk, InMemoryExportAndImportCarryTheSameContent) {
  fill(src, 12, 3);
  Buf doc;
  pm_error err;
  ASSERT_EQ(pm_wrapper_export_document(w.w, src.c_str(), &doc.b, &err), PM_OK) << err.message;
  std::string json = doc.json();
  EXPECT_NE(json.find("\"collections\""), std::string::npos);
  EXPECT_NE(json.find("\"users\""), std::string::npos);
  std::string dst = unique_db("bulk_mem");
  char *report = nullptr;
  ASSERT_EQ(pm_wrapper_import_document(w.w, dst.c_str(), doc.b.data, doc.b.len, nullptr, &report, &err), PM_OK) << err.message;
  pm_free(report);
  EXPECT_EQ(contents(server_uri(), dst), contents(server_uri(), src));
  EXPECT_EQ(pm_wrapper_import_document(w.w, dst.c_str(), "{\"nope\": 1}", PM_JSON, nullptr, &report, &err), PM_EINVAL);
  pm_free(report);  // a failed import still reports what it did
}

TEST_F(Bulk, ProgressReportsDocumentsAndBytes) {
  fill(src, 2500, 0);
  uint64_t expected_bytes = 0;
  {
    // The BSON sizes as the server returns them, read with libmongoc directly.
    mongoc_client_t *c = mongoc_client_new(server_uri().c_str());
    mongoc_collection_t *coll = mongoc_client_get_collection(c, src.c_str(), "users");
    bson_t empty = BSON_INITIALIZER;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &empty, nullptr, nullptr);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) expected_bytes += doc->len;
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
  }
  ProgressLog progress;
  pm_error err;
  std::string file = "/tmp/" + unique_db("progress") + ".ndjson";
  ASSERT_EQ(pm_wrapper_export_file(w.w, src.c_str(), file.c_str(), &ProgressLog::cb, &progress, &err), PM_OK);
  EXPECT_EQ(progress.docs, 2500u);
  EXPECT_EQ(progress.bytes, expected_bytes);
  EXPECT_GE(progress.calls, 3u) << "every 1,000 documents and at the end";
  std::remove(file.c_str());
}

TEST_F(Bulk, DropRemovesTheDatabaseAndModelsApplyTheirIndexesAgain) {
  fill(src, 3, 0);
  pm_error err;
  ASSERT_EQ(pm_wrapper_drop_database(w.w, src.c_str(), &err), PM_OK) << err.message;
  std::string reply;
  Checker c;
  ASSERT_TRUE(c.command_ok("admin", "{\"listDatabases\": 1, \"nameOnly\": true}", &reply));
  EXPECT_EQ(reply.find("\"" + src + "\""), std::string::npos);
  Db u;
  u.d = bind_db(users.m, src);
  insert_json(u.d, "{\"email\": \"again@x\"}");
  EXPECT_EQ(pm_db_insert_one(u.d, "{\"email\": \"again@x\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY)
      << "the unique index came back with the first use";
  EXPECT_EQ(pm_wrapper_drop_database(w.w, "bad$name", &err), PM_EDBNAME);
}

TEST_F(Bulk, CommandLineToolExportsImportsCopiesAndFailsClearly) {
  fill(src, 40, 2);
  std::string cli = std::getenv("PM_CLI") ? std::getenv("PM_CLI") : PM_CLI_PATH;
  std::string file = "/tmp/" + unique_db("cli") + ".ndjson", out = file + ".out";
  std::string env = "MONGODB_URI='" + server_uri() + "' ";
  auto run = [&](const std::string &args) {
    int status = std::system((env + cli + " " + args + " >" + out + " 2>&1").c_str());
    return WEXITSTATUS(status);
  };
  EXPECT_EQ(run("export " + src + " -o " + file), 0) << slurp(out);
  std::string dst = unique_db("bulk_cli");
  EXPECT_EQ(run("--json import " + dst + " -i " + file), 0) << slurp(out);
  EXPECT_NE(slurp(out).find("\"ok\":true"), std::string::npos) << slurp(out);
  EXPECT_EQ(contents(server_uri(), dst), contents(server_uri(), src));
  std::string copy = unique_db("bulk_clicopy");
  EXPECT_EQ(run("copy " + src + " " + copy), 0) << slurp(out);
  EXPECT_EQ(Checker().count(copy, "users"), 40);
  EXPECT_EQ(run("--json list-dbs"), 0);
  EXPECT_NE(slurp(out).find(copy), std::string::npos);
  EXPECT_EQ(run("--json stats " + copy), 0);
  EXPECT_NE(slurp(out).find("\"numCollections\":2"), std::string::npos) << slurp(out);
  EXPECT_EQ(run("drop " + copy), 2) << "drop needs --yes";
  EXPECT_EQ(run("drop " + copy + " --yes"), 0) << slurp(out);
  EXPECT_EQ(run("frobnicate"), 2);
  EXPECT_EQ(run("export 'bad/name'"), 2) << slurp(out);
  EXPECT_EQ(std::system(("MONGODB_URI='mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200' " + cli + " list-dbs >" + out +
                         " 2>&1").c_str()) >> 8,
            3)
      << slurp(out);
  {
    std::ofstream f(file, std::ios::app);
    f << "{\"type\": \"document\", \"collection\": \"users\", \"doc\": \n";
  }
  EXPECT_EQ(run("import " + unique_db("bulk_clibad") + " -i " + file), 4) << slurp(out);
  EXPECT_NE(slurp(out).find("line "), std::string::npos) << slurp(out);
  EXPECT_EQ(run("--help"), 0);
  for (const char *cmd : {"export", "import", "copy", "drop", "stats", "list-dbs"})
    EXPECT_NE(slurp(out).find(cmd), std::string::npos) << cmd << " is documented by --help";
  std::remove(file.c_str());
  std::remove(out.c_str());
}

namespace {
// `uri` with `db` as the database in its path (the fixture's URIs have none).
std::string uri_with_db(const std::string &uri, const std::string &db) {
  size_t slash = uri.find('/', uri.find("://") + 3);
  if (slash == std::string::npos) return uri + "/" + db;
  return std::string(uri).insert(slash + 1, db);
}
}  // namespace

TEST(Destructive, DropAndCopyNeverFallBackToTheDefaultDatabase) {
  std::string main_db = unique_db("dflt_main"), other = unique_db("dflt_other");
  pm_error err;
  // The default from the defaultDB option, and from the URI's path.
  std::vector<std::string> configs = {
      "{\"mongoURI\": \"" + server_uri() + "\", \"defaultDB\": \"" + main_db + "\"}",
      "{\"mongoURI\": \"" + uri_with_db(server_uri(), main_db) + "\"}"};
  Checker c;
  for (const std::string &json : configs) {
    Wrapper w;
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    ASSERT_STREQ(pm_wrapper_default_db(w.w), main_db.c_str());
    Model users;
    users.m = new_model(w.w, "users", "{\"indexes\": [{\"key\": {\"email\": 1}, \"unique\": true}]}");
    if (&json == &configs.front()) {
      Db named;
      named.d = bind_db(users.m, main_db);
      insert_json(named.d, "{\"email\": \"keep@x\"}");
      Db source;
      source.d = bind_db(users.m, other);
      insert_json(source.d, "{\"email\": \"other@x\"}");
    }

    EXPECT_EQ(pm_wrapper_drop_database(w.w, "", &err), PM_EDBNAME) << json;
    EXPECT_NE(std::string(err.message).find("never falls back"), std::string::npos) << err.message;
    EXPECT_EQ(pm_wrapper_drop_database(w.w, nullptr, &err), PM_EDBNAME) << json;
    char *report = nullptr;
    EXPECT_EQ(pm_wrapper_copy_database(w.w, other.c_str(), "", nullptr, nullptr, nullptr, &report, &err), PM_EDBNAME);
    pm_free(report);
    EXPECT_EQ(pm_wrapper_copy_database(w.w, other.c_str(), nullptr, nullptr, nullptr, nullptr, &report, &err),
              PM_EDBNAME);
    pm_free(report);
    // A db bound to the default (NULL or "") refuses to drop its collection or an index.
    for (const char *none : {"", static_cast<const char *>(nullptr)}) {
      Db dflt;
      ASSERT_EQ(pm_model_db(users.m, none, &dflt.d, &err), PM_OK) << err.message;
      EXPECT_EQ(pm_db_drop_collection(dflt.d, &err), PM_EDBNAME);
      EXPECT_NE(std::string(err.message).find("drop collection"), std::string::npos) << err.message;
      EXPECT_EQ(pm_db_drop_index(dflt.d, "email_1", &err), PM_EDBNAME);
      // Reads and writes there still go to the default.
      int64_t n = 0;
      EXPECT_EQ(pm_db_count(dflt.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK) << err.message;
      EXPECT_EQ(n, 1);
    }
    // Read back independently: the default database, its documents and index are all there,
    // and nothing was copied onto it.
    EXPECT_EQ(c.count(main_db, "users"), 1) << json;
    EXPECT_EQ(c.count(main_db, "users", "{\"email\": \"other@x\"}"), 0) << json;
    std::string reply;
    ASSERT_TRUE(c.command_ok(main_db, "{\"listIndexes\": \"users\"}", &reply));
    EXPECT_NE(reply.find("email_1"), std::string::npos) << reply;
  }
  // Named explicitly, the same calls do what they say.
  Wrapper w;
  ASSERT_EQ(pm_wrapper_new(configs[0].c_str(), &w.w, &err), PM_OK) << err.message;
  Model users;
  users.m = new_model(w.w, "users");
  Db named;
  named.d = bind_db(users.m, main_db);
  EXPECT_EQ(pm_db_drop_collection(named.d, &err), PM_OK) << err.message;
  EXPECT_EQ(c.count(main_db, "users"), 0);
  EXPECT_EQ(pm_wrapper_drop_database(w.w, other.c_str(), &err), PM_OK) << err.message;
  EXPECT_EQ(c.count(other, "users"), 0);
  pm_wrapper_drop_database(w.w, main_db.c_str(), &err);
}

TEST(Destructive, CommandLineDropOfAnEmptyNameDropsNothing) {
  std::string main_db = unique_db("dflt_cli");
  Wrapper w;
  pm_error err;
  ASSERT_EQ(pm_wrapper_new(options().c_str(), &w.w, &err), PM_OK) << err.message;
  Model m;
  m.m = new_model(w.w, "kept");
  Db d;
  d.d = bind_db(m.m, main_db);
  insert_json(d.d, "{\"x\": 1}");
  std::string cli = std::getenv("PM_CLI") ? std::getenv("PM_CLI") : PM_CLI_PATH;
  std::string out = "/tmp/" + unique_db("cli_drop") + ".out";
  std::string uri = uri_with_db(server_uri(), main_db);  // the URI names a default database
  int status = std::system((cli + " --uri '" + uri + "' --json drop '' --yes >" + out + " 2>&1").c_str());
  std::ifstream f(out);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_EQ(WEXITSTATUS(status), 2) << text.str();
  EXPECT_NE(text.str().find("PM_EDBNAME"), std::string::npos) << text.str();
  EXPECT_EQ(Checker().count(main_db, "kept"), 1) << "the URI's database is still there";
  std::remove(out.c_str());
  pm_wrapper_drop_database(w.w, main_db.c_str(), &err);
}
