// The tenant fleet (label fleet): the shared tenant directory and the placement of new tenants,
// on two FerretDB instances as two clusters ("a" and "b"), with the catalog on FerretDB (no
// change streams: polling) or on SecantusDB (change streams). Entries written "by hand" go
// through an independent libmongoc client, with the catalog's protocol (docs/fleet.md).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>
#include <set>
#include <string>

#include "support.hpp"

using namespace pmtest;

namespace {

struct Catalog {
  std::string uri, db, coll = "tenants";
};

Catalog new_catalog(const std::string &uri = server_uri()) { return Catalog{uri, unique_db("fleetdir")}; }

// {"directory": {...}} for the options, clusters a (the first server) and b (the second).
std::string directory_option(const Catalog &c, const std::string &extra = "") {
  std::string o = "\"directory\": {\"mongoURI\": \"" + c.uri + "\", \"db\": \"" + c.db + "\", \"collection\": \"" +
                  c.coll + "\", \"clusters\": {\"a\": \"" + server_uri() + "\", \"b\": \"" + second_uri() + "\"}";
  if (!extra.empty()) o += ", " + extra;
  return o + "}";
}

// Writes (or moves) an entry as every writer of the catalog does: a new seq from the counter,
// the version one up.
void put_entry(const Catalog &c, const std::string &tenant, const std::string &cluster) {
  mongoc_client_t *client = mongoc_client_new(c.uri.c_str());
  ASSERT_NE(client, nullptr);
  mongoc_collection_t *coll = mongoc_client_get_collection(client, c.db.c_str(), c.coll.c_str());
  bson_error_t error;
  bson_t reply;
  bson_t *q = BCON_NEW("_id", BCON_UTF8("$seq")), *u = BCON_NEW("$inc", "{", "n", BCON_INT64(1), "}");
  ASSERT_TRUE(mongoc_collection_find_and_modify(coll, q, nullptr, u, nullptr, false, true, true, &reply, &error))
      << error.message;
  bson_iter_t it, n;
  ASSERT_TRUE(bson_iter_init_find(&it, &reply, "value") && bson_iter_recurse(&it, &n) && bson_iter_find(&n, "n"));
  int64_t seq = bson_iter_as_int64(&n);
  bson_destroy(&reply);
  bson_destroy(q);
  bson_destroy(u);
  q = BCON_NEW("_id", BCON_UTF8(tenant.c_str()));
  u = BCON_NEW("$set", "{", "cluster", BCON_UTF8(cluster.c_str()), "seq", BCON_INT64(seq), "}", "$inc", "{", "version",
               BCON_INT64(1), "}");
  bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
  ASSERT_TRUE(mongoc_collection_update_one(coll, q, u, opts, nullptr, &error)) << error.message;
  bson_destroy(q);
  bson_destroy(u);
  bson_destroy(opts);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
}

std::string explain(pm_wrapper *w, const std::string &db) {
  char *json = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_explain_route(w, db.c_str(), &json, &err), PM_OK) << err.message;
  std::string out = json != nullptr ? json : "";
  pm_free(json);
  return out;
}

bool has(const std::string &haystack, const std::string &needle) { return haystack.find(needle) != std::string::npos; }

void insert(pm_wrapper *w, const std::string &db, const std::string &doc_json) {
  Model m;
  Db d;
  pm_error err;
  ASSERT_EQ(pm_model_new(w, "items", nullptr, 0, &m.m, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_model_db(m.m, db.c_str(), &d.d, &err), PM_OK) << err.message;
  ASSERT_EQ(pm_db_insert_one(d.d, doc_json.c_str(), PM_JSON, nullptr, 0, nullptr, &err), PM_OK) << err.message;
}

// The cluster ("a", "b", "" when neither, "both") holding `db`.items.
std::string where(const std::string &db) {
  int64_t a = Checker(server_uri()).count(db, "items"), b = Checker(second_uri()).count(db, "items");
  return a > 0 && b > 0 ? "both" : a > 0 ? "a" : b > 0 ? "b" : "";
}

std::string entry_cluster(const Catalog &c, const std::string &tenant) {
  auto docs = Checker(c.uri).find_json(c.db, c.coll, "{\"_id\": \"" + tenant + "\"}");
  if (docs.size() != 1) return "";
  for (const char *name : {"a", "b"})
    if (has(docs[0], std::string("\"cluster\" : \"") + name + "\"")) return name;
  return "?";
}

}  // namespace

TEST(Fleet, DirectoryOptionsAreCheckedAndNamed) {
  Catalog c = new_catalog();
  struct Case {
    std::string directory, message;
  } cases[] = {
      {"\"directory\": {\"db\": \"x\", \"clusters\": {\"a\": \"" + server_uri() + "\"}}", "directory.mongoURI is required"},
      {"\"directory\": {\"mongoURI\": \"" + c.uri + "\"}", "directory.clusters"},
      {"\"directory\": {\"mongoURI\": \"" + c.uri + "\", \"clusters\": {\"a\": \"nope://x\"}}", "directory.clusters.a"},
      {directory_option(c, "\"placement\": {\"policy\": \"fixed\", \"cluster\": \"z\"}"), "'z' is not one of directory.clusters"},
      {directory_option(c, "\"placement\": {\"policy\": \"fixed\"}"), "directory.placement.cluster is required"},
      {directory_option(c, "\"placement\": {\"policy\": \"random\"}"), "directory.placement.policy must be"},
      {directory_option(c, "\"refreshMS\": 1"), "directory.refreshMS must be >= 10"},
      {directory_option(c, "\"colection\": \"x\""), "unknown option 'colection'"},
  };
  for (const Case &k : cases) {
    pm_wrapper *w = nullptr;
    pm_error err;
    EXPECT_EQ(pm_wrapper_new(options(k.directory).c_str(), &w, &err), PM_EINVAL) << k.directory;
    EXPECT_TRUE(has(err.message, k.message)) << err.message;
    EXPECT_EQ(w, nullptr);
  }
}

TEST(Fleet, AnEntryRoutesItsTenantToItsCluster) {
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_t");
  put_entry(c, t, "b");
  Wrapper w;
  w.w = new_wrapper(directory_option(c));
  ASSERT_NE(w.w, nullptr);
  std::string e = explain(w.w, t);
  EXPECT_TRUE(has(e, "\"reason\":\"directory\"")) << e;
  EXPECT_TRUE(has(e, "\"directoryCluster\":\"b\"")) << e;
  EXPECT_TRUE(has(e, "\"pool\":\"cluster:b\"")) << e;
  insert(w.w, t, "{\"_id\": 1}");
  EXPECT_EQ(where(t), "b");
  std::string other = unique_db("fleet_none");  // no entry, no placement: the shared pool
  EXPECT_TRUE(has(explain(w.w, other), "\"reason\":\"shared\""));
  insert(w.w, other, "{\"_id\": 1}");
  EXPECT_EQ(where(other), "a");
}

// The directory's entry first, then dbSpecific, then the rules, then placement, then the shared pool.
TEST(Fleet, DirectoryPrecedesDbSpecificAndRulesWhichPrecedePlacement) {
  Catalog c = new_catalog();
  std::string listed = unique_db("fleet_listed"), pinned = unique_db("fleet_pinned"), ruled = unique_db("fleet_ruled"),
              placed = unique_db("fleet_placed");
  put_entry(c, listed, "b");
  std::string extra = directory_option(c, "\"placement\": {\"policy\": \"fixed\", \"cluster\": \"b\"}") +
                      ", \"dbSpecific\": [{\"dbName\": \"" + listed + "\", \"mongoURI\": \"" + server_uri() +
                      "\"}, {\"dbName\": \"" + pinned + "\", \"mongoURI\": \"" + server_uri() + "\"}]" +
                      ", \"routes\": [{\"match\": \"" + ruled + "\", \"mongoURI\": \"" + server_uri() + "\"}]";
  Wrapper w;
  w.w = new_wrapper(extra);
  ASSERT_NE(w.w, nullptr);
  EXPECT_TRUE(has(explain(w.w, listed), "\"reason\":\"directory\""));
  EXPECT_TRUE(has(explain(w.w, pinned), "\"reason\":\"exact\""));
  EXPECT_TRUE(has(explain(w.w, ruled), "\"reason\":\"rule\""));
  for (const std::string &db : {listed, pinned, ruled, placed}) insert(w.w, db, "{\"_id\": 1}");
  EXPECT_EQ(where(listed), "b");
  EXPECT_EQ(where(pinned), "a");
  EXPECT_EQ(where(ruled), "a");
  EXPECT_EQ(where(placed), "b");
  // Placement wrote entries for the database that had none, and only for it.
  EXPECT_EQ(entry_cluster(c, placed), "b");
  EXPECT_EQ(entry_cluster(c, pinned), "");
  EXPECT_EQ(entry_cluster(c, ruled), "");
  EXPECT_TRUE(has(explain(w.w, placed), "\"reason\":\"directory\""));
}

// FerretDB has no change streams: the process polls, and learns of an entry written by
// another process within its period.
TEST(Fleet, ChangesAreLearnedByPollingWithoutChangeStreams) {
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_poll");
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"refreshMS\": 200"));
  ASSERT_NE(w.w, nullptr);
  insert(w.w, t, "{\"_id\": 1}");
  EXPECT_EQ(where(t), "a");  // no entry yet: the shared pool
  put_entry(c, t, "b");
  ASSERT_TRUE(wait_until([&] { return has(explain(w.w, t), "\"directoryCluster\":\"b\""); }, 10000)) << explain(w.w, t);
  insert(w.w, t, "{\"_id\": 2}");
  EXPECT_EQ(Checker(second_uri()).count(t, "items", "{\"_id\": 2}"), 1);
  EXPECT_EQ(Checker(server_uri()).count(t, "items", "{\"_id\": 2}"), 0);
  // A move of the entry (version 2) is followed too.
  put_entry(c, t, "a");
  ASSERT_TRUE(wait_until([&] { return has(explain(w.w, t), "\"directoryVersion\":2"); }, 10000)) << explain(w.w, t);
  insert(w.w, t, "{\"_id\": 3}");
  EXPECT_EQ(Checker(server_uri()).count(t, "items", "{\"_id\": 3}"), 1);
}

// A catalog on a server with change streams: a change is learned without waiting for a poll
// (the poll period here is a minute, longer than the test waits).
TEST(Fleet, ChangesAreLearnedThroughAChangeStreamWhereTheServerHasThem) {
  if (txn_uri().empty()) GTEST_SKIP() << "no server with change streams";
  Catalog c = new_catalog(txn_uri());
  std::string t = unique_db("fleet_stream");
  put_entry(c, unique_db("fleet_seed"), "a");  // the catalog exists before the stream opens
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"refreshMS\": 60000"));
  ASSERT_NE(w.w, nullptr);
  EXPECT_TRUE(has(explain(w.w, t), "\"reason\":\"shared\""));
  // The follower's stream is open once a first change reaches it: write until one does.
  ASSERT_TRUE(wait_until(
      [&] {
        put_entry(c, t, "b");
        return wait_until([&] { return has(explain(w.w, t), "\"directoryCluster\":\"b\""); }, 2000);
      },
      20000))
      << explain(w.w, t);
  insert(w.w, t, "{\"_id\": 1}");
  EXPECT_EQ(where(t), "b");
  put_entry(c, t, "a");
  ASSERT_TRUE(wait_until([&] { return has(explain(w.w, t), "\"directoryCluster\":\"a\""); }, 10000)) << explain(w.w, t);
}

TEST(Fleet, FewestTenantsPlacementFillsTheEmptierCluster) {
  Catalog c = new_catalog();
  put_entry(c, unique_db("fleet_x"), "a");
  put_entry(c, unique_db("fleet_y"), "a");
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"placement\": {\"policy\": \"fewest\", \"match\": \"fleet_few*\"}"));
  ASSERT_NE(w.w, nullptr);
  std::string first = unique_db("fleet_few"), second = unique_db("fleet_few"), third = unique_db("fleet_few");
  insert(w.w, first, "{\"_id\": 1}");  // a 2, b 0: b
  insert(w.w, second, "{\"_id\": 1}");  // a 2, b 1: b
  insert(w.w, third, "{\"_id\": 1}");  // a 2, b 2: the first in order, a
  EXPECT_EQ(entry_cluster(c, first), "b");
  EXPECT_EQ(entry_cluster(c, second), "b");
  EXPECT_EQ(entry_cluster(c, third), "a");
  EXPECT_EQ(where(first), "b");
  EXPECT_EQ(where(third), "a");
  // A name the placement does not match is not placed.
  std::string unmatched = unique_db("fleet_other");
  insert(w.w, unmatched, "{\"_id\": 1}");
  EXPECT_EQ(entry_cluster(c, unmatched), "");
}

TEST(Fleet, LeastDataPlacementPicksTheClusterWithLessData) {
  // Cluster "b" (the second server) gets a database far larger than anything on "a" can be
  // compared with... unless "a" is bigger: weigh both first and make the chosen one the lighter.
  auto total = [](const std::string &uri) {
    std::string reply;
    EXPECT_TRUE(Checker(uri).command_ok("admin", "{\"listDatabases\": 1}", &reply));
    size_t at = reply.find("\"totalSize\"");
    return at == std::string::npos ? 0.0 : std::stod(reply.substr(reply.find(':', at) + 1));
  };
  double a = total(server_uri()), b = total(second_uri());
  std::string expected = b < a ? "b" : "a";
  Catalog c = new_catalog();
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"placement\": {\"policy\": \"leastData\"}"));
  ASSERT_NE(w.w, nullptr);
  std::string t = unique_db("fleet_least");
  insert(w.w, t, "{\"_id\": 1}");
  // Other tests write meanwhile; accept only a clear winner.
  if (std::abs(a - b) > 0.2 * std::max(a, b)) EXPECT_EQ(entry_cluster(c, t), expected) << a << " " << b;
  else EXPECT_NE(entry_cluster(c, t), "");
  EXPECT_EQ(where(t), entry_cluster(c, t));
}

// Two processes place the same new tenant at the same moment: one entry, both write where it says.
TEST(Fleet, TwoProcessesPlacingTheSameTenantAgree) {
  Catalog c = new_catalog();
  std::string marker = "/tmp/" + unique_db("fleet_race");
  for (int round = 0; round < 5; ++round) {
    std::string t = unique_db("fleet_race");
    pid_t pids[2];
    for (int i = 0; i < 2; ++i) {
      pids[i] = fork();
      ASSERT_GE(pids[i], 0);
      if (pids[i] == 0) {
        // Each child: its own policy, so that only the catalog can make them agree.
        std::string placement = std::string("\"placement\": {\"policy\": \"fixed\", \"cluster\": \"") + (i == 0 ? "a" : "b") + "\"}";
        pm_wrapper *w = nullptr;
        pm_model *m = nullptr;
        pm_db *d = nullptr;
        pm_error e;
        if (pm_wrapper_new(options(directory_option(c, placement)).c_str(), &w, &e) != PM_OK) _exit(10);
        if (pm_model_new(w, "items", nullptr, 0, &m, &e) != PM_OK) _exit(11);
        std::ofstream(marker + std::to_string(round) + "." + std::to_string(i)) << "ready";
        while (!std::ifstream(marker + std::to_string(round) + ".go").good()) usleep(200);
        if (pm_model_db(m, t.c_str(), &d, &e) != PM_OK) _exit(12);
        std::string doc = "{\"_id\": " + std::to_string(i) + "}";
        if (pm_db_insert_one(d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &e) != PM_OK) {
          fprintf(stderr, "child %d: %s\n", i, e.message);
          _exit(13);
        }
        pm_db_free(d);
        pm_model_free(m);
        pm_wrapper_free(w);
        _exit(0);
      }
    }
    std::string r = marker + std::to_string(round);
    ASSERT_TRUE(wait_until([&] { return std::ifstream(r + ".0").good() && std::ifstream(r + ".1").good(); }, 20000));
    std::ofstream(r + ".go") << "go";
    for (pid_t pid : pids) {
      int status = 0;
      waitpid(pid, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
    for (const char *s : {".0", ".1", ".go"}) std::remove((r + s).c_str());
    auto entries = Checker(c.uri).find_json(c.db, c.coll, "{\"_id\": \"" + t + "\"}");
    ASSERT_EQ(entries.size(), 1u);
    std::string cluster = entry_cluster(c, t);
    EXPECT_EQ(where(t), cluster) << "both processes wrote where the one entry says";
    EXPECT_EQ(Checker(cluster == "a" ? server_uri() : second_uri()).count(t, "items"), 2);
  }
}

// ---- the C API of the directory ----

namespace {
std::string take(char *s) {
  std::string out = s != nullptr ? s : "";
  pm_free(s);
  return out;
}
}  // namespace

TEST(Fleet, TenantsAreListedShownAndPlacedThroughTheCApi) {
  Catalog c = new_catalog();
  Wrapper w;
  w.w = new_wrapper(directory_option(c));
  ASSERT_NE(w.w, nullptr);
  std::string t = unique_db("fleet_capi");
  char *json = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_tenant(w.w, t.c_str(), &json, &err), PM_OK) << err.message;
  EXPECT_EQ(take(json), "null");
  ASSERT_EQ(pm_wrapper_place_tenant(w.w, t.c_str(), "b", &json, &err), PM_OK) << err.message;
  std::string placed = take(json);
  EXPECT_TRUE(has(placed, "\"cluster\":\"b\"") && has(placed, "\"placedBy\":\"explicit\"")) << placed;
  EXPECT_EQ(entry_cluster(c, t), "b");
  // Placing it again elsewhere changes nothing: the catalog's entry stands.
  ASSERT_EQ(pm_wrapper_place_tenant(w.w, t.c_str(), "a", &json, &err), PM_OK) << err.message;
  EXPECT_TRUE(has(take(json), "\"cluster\":\"b\""));
  EXPECT_EQ(entry_cluster(c, t), "b");
  ASSERT_EQ(pm_wrapper_tenants(w.w, &json, &err), PM_OK) << err.message;
  std::string list = take(json);
  EXPECT_TRUE(has(list, "\"db\":\"" + t + "\"")) << list;
  // Bad input: a clear error, nothing written.
  std::string other = unique_db("fleet_capi");
  EXPECT_EQ(pm_wrapper_place_tenant(w.w, other.c_str(), "z", nullptr, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "'z' is not one of directory.clusters")) << err.message;
  EXPECT_EQ(pm_wrapper_place_tenant(w.w, "bad.name", "a", nullptr, &err), PM_EDBNAME);
  EXPECT_EQ(entry_cluster(c, other), "");
  // Without a directory: PM_EINVAL, named.
  Wrapper plain;
  plain.w = new_wrapper();
  EXPECT_EQ(pm_wrapper_tenants(plain.w, &json, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "no tenant directory")) << err.message;
}

namespace {
int place_on_b(const char *db, const char *clusters, char *cluster, size_t cap, void *calls) {
  static_cast<std::vector<std::string> *>(calls)->push_back(std::string(db) + " " + clusters);
  if (std::string(db).find("refused") != std::string::npos) return 1;
  snprintf(cluster, cap, "b");
  return 0;
}
}  // namespace

TEST(Fleet, CallbackPlacementAsksTheApplication) {
  Catalog c = new_catalog();
  put_entry(c, unique_db("fleet_cb_seed"), "a");
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"placement\": {\"policy\": \"callback\", \"match\": \"fleet_cb*\"}"));
  ASSERT_NE(w.w, nullptr);
  std::vector<std::string> calls;
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_placement(w.w, place_on_b, &calls, &err), PM_OK) << err.message;
  std::string t = unique_db("fleet_cb");
  insert(w.w, t, "{\"_id\": 1}");
  EXPECT_EQ(entry_cluster(c, t), "b");
  EXPECT_EQ(where(t), "b");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(has(calls[0], "{\"name\":\"a\",\"tenants\":1},{\"name\":\"b\",\"tenants\":0}")) << calls[0];
  // A refusal fails the operation, writes no entry and sends nothing.
  std::string refused = unique_db("fleet_cb_refused");
  Model m;
  Db d;
  ASSERT_EQ(pm_model_new(w.w, "items", nullptr, 0, &m.m, &err), PM_OK);
  ASSERT_EQ(pm_model_db(m.m, refused.c_str(), &d.d, &err), PM_OK);
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"_id\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "refused to place")) << err.message;
  EXPECT_EQ(entry_cluster(c, refused), "");
  EXPECT_EQ(where(refused), "");
}

// ---- fleet schema operations ----

namespace {
const char *kIndexed = "{\"indexes\": [{\"key\": {\"a\": 1}}, {\"key\": {\"b\": -1}, \"unique\": true}]}";

std::string indexes_of(const std::string &uri, const std::string &db, const std::string &coll = "items") {
  std::string reply;
  Checker(uri).command_ok(db, "{\"listIndexes\": \"" + coll + "\"}", &reply);
  return reply;
}

void create_databases(const std::string &uri, const std::vector<std::string> &dbs) {
  mongoc_client_t *client = mongoc_client_new(uri.c_str());
  for (const std::string &db : dbs) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db.c_str(), "items");
    bson_t *doc = BCON_NEW("a", BCON_INT32(1), "b", BCON_INT32(1));
    bson_error_t error;
    EXPECT_TRUE(mongoc_collection_insert_one(coll, doc, nullptr, nullptr, &error)) << error.message;
    bson_destroy(doc);
    mongoc_collection_destroy(coll);
  }
  mongoc_client_destroy(client);
}

int64_t done_count(const Catalog &c, const std::string &job) {
  return Checker(c.uri).count(c.db, c.coll + "_job_status", "{\"job\": \"" + job + "\", \"status\": \"done\"}");
}
}  // namespace

// 500 databases over two clusters; the sync's process is killed (SIGKILL) midway; a new run
// skips what was done and finishes; every database then has the indexes (read back
// independently) and the drift report is empty, until databases are changed by hand: then it
// lists exactly those, and how.
TEST(Fleet, SyncOverFiveHundredDatabasesKilledMidwayResumesAndFinishes) {
  Catalog c = new_catalog();
  std::string prefix = unique_db("fsync");
  std::vector<std::string> on_a, on_b;
  for (int i = 0; i < 500; ++i) (i % 2 == 0 ? on_a : on_b).push_back(prefix + "_" + std::to_string(1000 + i));
  create_databases(server_uri(), on_a);
  create_databases(second_uri(), on_b);
  std::string target = "{\"match\": \"" + prefix + "_*\", \"concurrency\": 4, \"job\": \"" + prefix + "\"}";
  std::string opts = options(directory_option(c));

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    pm_wrapper *w = nullptr;
    pm_model *m = nullptr;
    pm_error e;
    if (pm_wrapper_new(opts.c_str(), &w, &e) != PM_OK) _exit(10);
    if (pm_model_new(w, "items", kIndexed, PM_JSON, &m, &e) != PM_OK) _exit(11);
    pm_model_fleet_sync(m, target.c_str(), nullptr, &e);
    _exit(0);
  }
  ASSERT_TRUE(wait_until([&] { return done_count(c, prefix) >= 100; }, 120000));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sync finished before it was killed";
  int64_t before = done_count(c, prefix);
  ASSERT_LT(before, 500);

  Wrapper w;
  w.w = new_wrapper(directory_option(c));
  ASSERT_NE(w.w, nullptr);
  Model m;
  pm_error err;
  ASSERT_EQ(pm_model_new(w.w, "items", kIndexed, PM_JSON, &m.m, &err), PM_OK) << err.message;
  char *report = nullptr;
  int rc = pm_model_fleet_sync(m.m, target.c_str(), &report, &err);
  std::string r = take(report);
  ASSERT_EQ(rc, PM_OK) << err.message << " " << r.substr(0, 2000);
  EXPECT_TRUE(has(r, "\"total\":500")) << r;
  EXPECT_TRUE(has(r, "\"failed\":0,")) << r;
  // What the killed run finished is skipped (a status or two it had sent may land after the
  // count above), and the rest applied now.
  auto number = [&](const std::string &key) {
    size_t at = r.find("\"" + key + "\":");
    return at == std::string::npos ? -1 : std::stoll(r.substr(at + key.size() + 3));
  };
  EXPECT_GE(number("already"), before) << r;
  EXPECT_LT(number("already"), 500) << r;
  EXPECT_EQ(number("applied") + number("already"), 500) << r;
  EXPECT_EQ(done_count(c, prefix), 500);
  for (const auto &db : on_a) {
    std::string ix = indexes_of(server_uri(), db);
    ASSERT_TRUE(has(ix, "\"a_1\"") && has(ix, "\"b_-1\"")) << db << ": " << ix;
  }
  for (const auto &db : on_b) {
    std::string ix = indexes_of(second_uri(), db);
    ASSERT_TRUE(has(ix, "\"a_1\"") && has(ix, "\"b_-1\"")) << db << ": " << ix;
  }
  std::string drift_target = "{\"match\": \"" + prefix + "_*\", \"concurrency\": 8}";
  ASSERT_EQ(pm_model_fleet_drift(m.m, drift_target.c_str(), &report, &err), PM_OK) << err.message;
  r = take(report);
  EXPECT_TRUE(has(r, "\"databases\":500,\"drifted\":[]")) << r;

  // By hand: one index dropped on a, one replaced by a non-unique one of the same name and an
  // extra one added on b.
  Checker a(server_uri()), b(second_uri());
  ASSERT_TRUE(a.command_ok(on_a[7], "{\"dropIndexes\": \"items\", \"index\": \"a_1\"}"));
  ASSERT_TRUE(b.command_ok(on_b[100], "{\"dropIndexes\": \"items\", \"index\": \"b_-1\"}"));
  ASSERT_TRUE(b.command_ok(on_b[100], "{\"createIndexes\": \"items\", \"indexes\": [{\"key\": {\"b\": -1}, \"name\": \"b_-1\"}, {\"key\": {\"c\": 1}, \"name\": \"c_1\"}]}"));
  ASSERT_EQ(pm_model_fleet_drift(m.m, drift_target.c_str(), &report, &err), PM_OK) << err.message;
  r = take(report);
  EXPECT_TRUE(has(r, "\"drifted\":[{\"db\":\"" + on_a[7] + "\",\"cluster\":\"a\",\"missing\":[\"a_1\"],\"extra\":[],\"different\":[],\"validator\":null},"
                     "{\"db\":\"" + on_b[100] + "\",\"cluster\":\"b\",\"missing\":[],\"extra\":[\"c_1\"],\"different\":[\"b_-1\"],\"validator\":null}]}")) << r;

  // The finished job changes nothing when run again; a new job applies everything again
  // (idempotent), which restores the missing index and leaves the others as they are.
  ASSERT_EQ(pm_model_fleet_sync(m.m, target.c_str(), &report, &err), PM_OK) << err.message;
  EXPECT_TRUE(has(take(report), "\"applied\":0,\"already\":500"));
  std::string again = "{\"match\": \"" + prefix + "_*\", \"concurrency\": 8, \"job\": \"" + prefix + "_again\"}";
  ASSERT_EQ(pm_model_fleet_sync(m.m, again.c_str(), &report, &err), PM_EWRITE) << "b_-1 differs on one: createIndexes fails there";
  r = take(report);
  EXPECT_TRUE(has(r, "\"applied\":499,\"already\":0,\"failed\":1,\"failures\":[{\"database\":\"b/" + on_b[100] + "\"")) << r;
  EXPECT_TRUE(has(indexes_of(server_uri(), on_a[7]), "\"a_1\""));
}

TEST(Fleet, SyncOverTheDirectoryTenantsAndItsBadInput) {
  Catalog c = new_catalog();
  std::string prefix = unique_db("fleet_ten");
  std::vector<std::string> tenants = {prefix + "_1", prefix + "_2", prefix + "_3"};
  put_entry(c, tenants[0], "a");
  put_entry(c, tenants[1], "b");
  put_entry(c, tenants[2], "b");
  create_databases(server_uri(), {tenants[0], prefix + "_stray"});  // the stray one has no entry
  create_databases(second_uri(), {tenants[1]});                      // tenants[2] has no data yet
  Wrapper w;
  w.w = new_wrapper(directory_option(c));
  ASSERT_NE(w.w, nullptr);
  Model m;
  pm_error err;
  ASSERT_EQ(pm_model_new(w.w, "items", kIndexed, PM_JSON, &m.m, &err), PM_OK) << err.message;
  std::string target = "{\"match\": \"" + prefix + "_*\", \"tenants\": true}";
  char *report = nullptr;
  ASSERT_EQ(pm_model_fleet_sync(m.m, target.c_str(), &report, &err), PM_OK) << err.message;
  std::string r = take(report);
  EXPECT_TRUE(has(r, "\"total\":3,\"applied\":3")) << r;
  EXPECT_TRUE(has(indexes_of(second_uri(), tenants[2]), "\"b_-1\""));
  EXPECT_FALSE(has(indexes_of(server_uri(), prefix + "_stray"), "\"b_-1\""));
  EXPECT_FALSE(has(indexes_of(second_uri(), tenants[0]), "\"b_-1\"")) << "each tenant on its own cluster only";
  // The same job name with another model: refused, nothing applied.
  std::string job = "{\"match\": \"" + prefix + "_*\", \"tenants\": true, \"job\": \"" + prefix + "\"}";
  ASSERT_EQ(pm_model_fleet_sync(m.m, job.c_str(), nullptr, &err), PM_OK) << err.message;
  Model other;
  ASSERT_EQ(pm_model_new(w.w, "items", "{\"indexes\": [{\"key\": {\"z\": 1}}]}", PM_JSON, &other.m, &err), PM_OK);
  EXPECT_EQ(pm_model_fleet_sync(other.m, job.c_str(), nullptr, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "was started with another model or target")) << err.message;
  EXPECT_FALSE(has(indexes_of(server_uri(), tenants[0]), "\"z_1\""));
  EXPECT_EQ(pm_model_fleet_sync(m.m, "{\"concurrency\": 0}", nullptr, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "concurrency must be >= 1")) << err.message;
  EXPECT_EQ(pm_model_fleet_drift(m.m, "{\"tenant\": true}", &report, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "unknown option 'tenant'")) << err.message;
}

// Validators where the server has them (SecantusDB): synced, then a hand-changed validator is
// reported as different and a removed one as missing.
TEST(Fleet, ValidatorsAreSyncedAndTheirDriftReported) {
  if (txn_uri().empty()) GTEST_SKIP() << "no server with validators";
  Catalog c = new_catalog(txn_uri());
  std::string dir = "\"directory\": {\"mongoURI\": \"" + c.uri + "\", \"db\": \"" + c.db + "\", \"clusters\": {\"s\": \"" +
                    txn_uri() + "\"}}";
  std::string prefix = unique_db("fleet_val");
  std::vector<std::string> dbs = {prefix + "_1", prefix + "_2", prefix + "_3"};
  create_databases(txn_uri(), dbs);
  Wrapper w;
  w.w = new_wrapper(dir);
  ASSERT_NE(w.w, nullptr);
  Model m;
  pm_error err;
  const char *model = "{\"validator\": {\"$jsonSchema\": {\"required\": [\"a\"]}}, \"indexes\": [{\"key\": {\"a\": 1}}]}";
  ASSERT_EQ(pm_model_new(w.w, "items", model, PM_JSON, &m.m, &err), PM_OK) << err.message;
  std::string target = "{\"match\": \"" + prefix + "_*\"}";
  char *report = nullptr;
  ASSERT_EQ(pm_model_fleet_sync(m.m, target.c_str(), &report, &err), PM_OK) << err.message;
  std::string r = take(report);
  EXPECT_TRUE(has(r, "\"total\":3,\"applied\":3")) << r;
  ASSERT_EQ(pm_model_fleet_drift(m.m, target.c_str(), &report, &err), PM_OK) << err.message;
  r = take(report);
  EXPECT_TRUE(has(r, "\"drifted\":[]")) << r;
  // The validator is in place, read back independently.
  Checker s(txn_uri());
  for (const auto &db : dbs) {
    std::string reply;
    ASSERT_TRUE(s.command_ok(db, "{\"listCollections\": 1, \"filter\": {\"name\": \"items\"}}", &reply));
    EXPECT_TRUE(has(reply, "\"$jsonSchema\"")) << reply;
  }
  ASSERT_TRUE(s.command_ok(dbs[1], "{\"collMod\": \"items\", \"validator\": {\"b\": {\"$exists\": true}}}"));
  ASSERT_TRUE(s.command_ok(dbs[2], "{\"collMod\": \"items\", \"validator\": {}}"));
  ASSERT_EQ(pm_model_fleet_drift(m.m, target.c_str(), &report, &err), PM_OK) << err.message;
  r = take(report);
  EXPECT_TRUE(has(r, "{\"db\":\"" + dbs[1] + "\",\"cluster\":\"s\",\"missing\":[],\"extra\":[],\"different\":[],\"validator\":\"different\"}")) << r;
  EXPECT_TRUE(has(r, "{\"db\":\"" + dbs[2] + "\",\"cluster\":\"s\",\"missing\":[],\"extra\":[],\"different\":[],\"validator\":\"missing\"}")) << r;
  EXPECT_FALSE(has(r, dbs[0])) << r;
}

// ---- online moves ----

namespace {
void fill(const std::string &uri, const std::string &db, int n) {
  mongoc_client_t *client = mongoc_client_new(uri.c_str());
  mongoc_collection_t *coll = mongoc_client_get_collection(client, db.c_str(), "items");
  mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, nullptr);
  for (int i = 0; i < n; ++i) {
    bson_t *doc = BCON_NEW("_id", BCON_INT32(i), "n", BCON_INT64(i), "d", BCON_DOUBLE(i / 3.0), "s",
                           BCON_UTF8("some text to give the document a body of a hundred bytes or so, more or less"));
    mongoc_bulk_operation_insert(bulk, doc);
    bson_destroy(doc);
  }
  bson_error_t error;
  EXPECT_TRUE(mongoc_bulk_operation_execute(bulk, nullptr, &error)) << error.message;
  mongoc_bulk_operation_destroy(bulk);
  bson_t *ix = BCON_NEW("createIndexes", "items", "indexes", "[", "{", "key", "{", "n", BCON_INT32(1), "}", "name", "n_1", "}", "]");
  EXPECT_TRUE(mongoc_collection_write_command_with_opts(coll, ix, nullptr, nullptr, &error)) << error.message;
  bson_destroy(ix);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
}

std::vector<std::string> lines_of(const std::string &path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string entry_json_of(const Catalog &c, const std::string &tenant) {
  auto docs = Checker(c.uri).find_json(c.db, c.coll, "{\"_id\": \"" + tenant + "\"}");
  return docs.size() == 1 ? docs[0] : "";
}

// Two processes that write to `t` about 200 times a second each until `base`.stop exists,
// each keeping a ledger (`base`0, `base`1) of its acknowledged writes; at the end each writes
// its route to `base`N.route.
void start_writers(const std::string &opts, const std::string &t, const std::string &base, pid_t pids[2]) {
  for (int i = 0; i < 2; ++i) {
    pids[i] = fork();
    ASSERT_GE(pids[i], 0);
    if (pids[i] == 0) {
      pm_wrapper *w = nullptr;
      pm_model *m = nullptr;
      pm_db *d = nullptr;
      pm_error e;
      if (pm_wrapper_new(opts.c_str(), &w, &e) != PM_OK || pm_model_new(w, "items", nullptr, 0, &m, &e) != PM_OK ||
          pm_model_db(m, t.c_str(), &d, &e) != PM_OK)
        _exit(10);
      std::ofstream ledger(base + std::to_string(i));
      int held = 0;
      for (int n = 0; !std::ifstream(base + ".stop").good();) {
        std::string doc = "{\"_id\": \"w" + std::to_string(i) + "-" + std::to_string(n) + "\", \"w\": " + std::to_string(i) + "}";
        int rc = pm_db_insert_one(d, doc.c_str(), PM_JSON, nullptr, 0, nullptr, &e);
        if (rc == PM_OK) {
          ledger << "w" << i << "-" << n << std::endl;
          ++n;
        } else if (pm_code_is_retryable(rc)) {
          ++held;  // the fence: the same write again
        } else {
          fprintf(stderr, "writer %d: %s\n", i, e.message);
        }
        usleep(5000);  // about 200 writes a second from each
      }
      char *route = nullptr;
      pm_wrapper_explain_route(w, t.c_str(), &route, &e);
      std::ofstream(base + std::to_string(i) + ".route") << (route ? route : "") << "\nheld " << held;
      pm_free(route);
      pm_db_free(d);
      pm_model_free(m);
      pm_wrapper_free(w);
      _exit(0);
    }
  }
}

// The ids a ledger-keeping writer wrote that `uri` has in `t`.items.
std::set<std::string> written_ids(const std::string &uri, const std::string &t) {
  std::set<std::string> out;
  for (const std::string &doc : Checker(uri).find_json(t, "items", "{\"w\": {\"$exists\": true}}")) {
    size_t at = doc.find("\"_id\" : \"");
    if (at != std::string::npos) out.insert(doc.substr(at + 9, doc.find('"', at + 9) - at - 9));
  }
  return out;
}

size_t ledgers(const std::string &base) { return lines_of(base + "0").size() + lines_of(base + "1").size(); }

// Every acknowledged write of both ledgers is on the target (b), and both writers route there.
void expect_ledgers_on_b(const std::string &base, const std::string &t) {
  std::set<std::string> on_b = written_ids(second_uri(), t);
  for (int i = 0; i < 2; ++i) {
    auto ledger = lines_of(base + std::to_string(i));
    size_t missing = 0;
    for (const auto &id : ledger) missing += on_b.count(id) == 0 ? 1 : 0;
    EXPECT_EQ(missing, 0u) << "writer " << i << ": acknowledged writes not on the target, of " << ledger.size();
    std::string route = lines_of(base + std::to_string(i) + ".route").front();
    EXPECT_TRUE(has(route, "\"directoryCluster\":\"b\"")) << route;
  }
}

void stop_writers(const std::string &base, pid_t pids[2]) {
  std::ofstream(base + ".stop") << "stop";
  for (int i = 0; i < 2; ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}

// The writers' ledgers, their routes and the stop file.
void remove_ledgers(const std::string &base) {
  for (const char *x : {"0", "1", "0.route", "1.route", ".stop"}) std::remove((base + x).c_str());
}

// A move refused at once because another mover's lease is live (PM_EMOVING, naming it).
void expect_leased(pm_wrapper *w, const std::string &t, const std::string &to) {
  pm_error err;
  EXPECT_EQ(pm_wrapper_move_tenant(w, t.c_str(), to.c_str(), nullptr, &err), PM_EMOVING)
      << "the killed mover's lease holds: " << err.message;
  EXPECT_TRUE(has(err.message, "lease")) << err.message;
}

// The move retried while another mover's lease holds it; returns the report.
std::string move_when_free(pm_wrapper *w, const std::string &t, const std::string &to) {
  pm_error err;
  char *report = nullptr;
  int rc = PM_EMOVING;
  for (int i = 0; i < 300 && rc == PM_EMOVING; ++i) {
    rc = pm_wrapper_move_tenant(w, t.c_str(), to.c_str(), &report, &err);
    if (rc == PM_EMOVING) usleep(100000);
  }
  EXPECT_EQ(rc, PM_OK) << err.message;
  return rc == PM_OK ? take(report) : "";
}

// Both: refused while the dead mover's lease holds, resumed once it ran out.
std::string move_after_lease(pm_wrapper *w, const std::string &t, const std::string &to) {
  expect_leased(w, t, to);
  return move_when_free(w, t, to);
}

}  // namespace

// Two processes write to a tenant continuously, each keeping a ledger of its acknowledged
// writes, while the tenant moves from a to b: afterwards every acknowledged write is on b,
// nothing reached a after the flip, and both processes route to b. Then reverse and complete.
TEST(Fleet, MoveWhileTwoProcessesWriteLosesNoAcknowledgedWrite) {
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_move");
  fill(server_uri(), t, 2000);
  put_entry(c, t, "a");
  std::string opts = options(directory_option(c, "\"refreshMS\": 100"));
  std::string base = "/tmp/" + unique_db("fleet_ledger");
  pid_t pids[2];
  start_writers(opts, t, base, pids);
  ASSERT_TRUE(wait_until([&] { return lines_of(base + "0").size() >= 50 && lines_of(base + "1").size() >= 50; }, 20000));
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"refreshMS\": 100"));
  ASSERT_NE(w.w, nullptr);
  char *report = nullptr;
  pm_error err;
  ASSERT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "b", &report, &err), PM_OK) << err.message;
  std::string r = take(report);
  EXPECT_TRUE(has(r, "\"from\":\"a\",\"to\":\"b\"")) << r;
  int64_t source_after_flip = Checker(server_uri()).count(t, "items");
  size_t at_flip0 = lines_of(base + "0").size(), at_flip1 = lines_of(base + "1").size();
  ASSERT_TRUE(wait_until([&] { return lines_of(base + "0").size() >= at_flip0 + 50 && lines_of(base + "1").size() >= at_flip1 + 50; }, 20000))
      << "both writers go on after the flip";
  stop_writers(base, pids);
  expect_ledgers_on_b(base, t);
  EXPECT_EQ(Checker(server_uri()).count(t, "items"), source_after_flip) << "nothing reached the source after the flip";
  EXPECT_EQ(Checker(second_uri()).count(t, "items", "{\"w\": {\"$exists\": false}}"), 2000);
  EXPECT_TRUE(has(indexes_of(second_uri(), t), "\"n_1\"")) << "indexes moved too";
  std::string entry = entry_json_of(c, t);
  EXPECT_TRUE(has(entry, "\"cluster\" : \"b\"") && has(entry, "\"source\" : \"a\"") && !has(entry, "\"move\"")) << entry;

  // Reverse: back on a, with everything b had.
  int64_t on_b_now = Checker(second_uri()).count(t, "items");
  ASSERT_EQ(pm_wrapper_reverse_move(w.w, t.c_str(), &report, &err), PM_OK) << err.message;
  EXPECT_TRUE(has(take(report), "\"from\":\"b\",\"to\":\"a\""));
  EXPECT_EQ(Checker(server_uri()).count(t, "items"), on_b_now);
  EXPECT_TRUE(has(explain(w.w, t), "\"directoryCluster\":\"a\""));
  // Complete: b's copy dropped.
  char *json = nullptr;
  ASSERT_EQ(pm_wrapper_complete_move(w.w, t.c_str(), &json, &err), PM_OK) << err.message;
  EXPECT_FALSE(has(take(json), "\"source\""));
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), 0);
  EXPECT_EQ(pm_wrapper_complete_move(w.w, t.c_str(), nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "a", nullptr, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "is on a already")) << err.message;
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "z", nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, unique_db("fleet_nobody").c_str(), "b", nullptr, &err), PM_EINVAL);
  EXPECT_TRUE(has(err.message, "has no entry")) << err.message;
  remove_ledgers(base);
}

// The mover is killed (SIGKILL) in the fence, copy and verify phases: the next move to the same
// cluster finishes the move, or abort rolls it back; the data ends whole where the entry says.
TEST(Fleet, MoverKilledInEachPhaseIsResumedOrRolledBack) {
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_kill");
  const int kDocs = 20000;
  fill(server_uri(), t, kDocs);
  put_entry(c, t, "a");
  // The mover is the command-line tool (exec'd: this process has threads by then).
  std::string cli = PM_CLI_PATH;
  std::string dir = "{\"mongoURI\": \"" + c.uri + "\", \"db\": \"" + c.db +
                    "\", \"refreshMS\": 300, \"moveLeaseMS\": 1500, \"clusters\": {\"a\": \"" + server_uri() + "\", \"b\": \"" +
                    second_uri() + "\"}}";
  std::string uri_arg = server_uri();
  auto kill_in = [&](const std::string &to, const std::string &phase) {
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl(cli.c_str(), cli.c_str(), "--uri", uri_arg.c_str(), "tenants", "--directory", dir.c_str(), "move", t.c_str(),
            to.c_str(), static_cast<char *>(nullptr));
      _exit(127);
    }
    Checker checker(c.uri);
    bool seen = false;
    for (int i = 0; i < 20000 && !seen; ++i) {
      auto docs = checker.find_json(c.db, c.coll, "{\"_id\": \"" + t + "\"}");
      seen = docs.size() == 1 && has(docs[0], "\"phase\" : \"" + phase + "\"");
      if (!seen) usleep(1000);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(seen) << "phase " << phase << " never seen";
    EXPECT_TRUE(WIFSIGNALED(status)) << "the mover finished before it was killed in " << phase;
  };
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"refreshMS\": 300, \"moveLeaseMS\": 1500"));
  ASSERT_NE(w.w, nullptr);
  pm_error err;

  // Killed while fencing: writes are held meanwhile (PM_EMOVING, retryable); a new move finishes.
  kill_in("b", "fence");
  expect_leased(w.w, t, "b");
  std::string entry = entry_json_of(c, t);
  EXPECT_TRUE(has(entry, "\"fenced\" : true")) << entry;
  ASSERT_TRUE(wait_until([&] { return has(explain(w.w, t), "\"directoryVersion\":2"); }, 10000)) << "the fence (version 2) is seen";
  {
    Model m;
    Db d;
    ASSERT_EQ(pm_model_new(w.w, "items", nullptr, 0, &m.m, &err), PM_OK);
    ASSERT_EQ(pm_model_db(m.m, t.c_str(), &d.d, &err), PM_OK);
    int rc = pm_db_insert_one(d.d, "{\"_id\": \"held\"}", PM_JSON, nullptr, 0, nullptr, &err);
    EXPECT_EQ(rc, PM_EMOVING) << err.message;
    EXPECT_EQ(pm_code_is_retryable(rc), 1);
    EXPECT_EQ(Checker(server_uri()).count(t, "items", "{\"_id\": \"held\"}"), 0) << "nothing was sent";
  }
  EXPECT_TRUE(has(move_when_free(w.w, t, "b"), "\"resumed\":true"));
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), kDocs);

  // Killed while copying back to a: aborted (once the dead mover's lease ran out), it stays on
  // b, a's partial copy dropped.
  kill_in("a", "copy");
  char *json = nullptr;
  int rc = pm_wrapper_abort_move(w.w, t.c_str(), &json, &err);
  EXPECT_EQ(rc, PM_EMOVING) << "the killed mover's lease holds: " << err.message;
  for (int i = 0; i < 300 && rc == PM_EMOVING; ++i) {
    usleep(100000);
    rc = pm_wrapper_abort_move(w.w, t.c_str(), &json, &err);
  }
  ASSERT_EQ(rc, PM_OK) << err.message;
  std::string after = take(json);
  EXPECT_TRUE(has(after, "\"cluster\":\"b\"")) << after;
  EXPECT_EQ(Checker(server_uri()).count(t, "items"), 0);
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), kDocs);
  EXPECT_EQ(pm_wrapper_abort_move(w.w, t.c_str(), nullptr, &err), PM_EINVAL) << "nothing left to abort";

  // Killed while verifying: a new move finishes it.
  kill_in("a", "verify");
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "c", nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "b", nullptr, &err), PM_EINVAL) << "a move to a is in progress";
  EXPECT_TRUE(has(err.message, "is in progress")) << err.message;
  EXPECT_TRUE(has(move_after_lease(w.w, t, "a"), "\"resumed\":true"));
  EXPECT_EQ(Checker(server_uri()).count(t, "items"), kDocs);
  EXPECT_TRUE(has(indexes_of(server_uri(), t), "\"n_1\""));
  ASSERT_TRUE(wait_until([&] { return has(explain(w.w, t), "\"directoryCluster\":\"a\""); }, 10000));
}

namespace {
// Clusters "s" (SecantusDB: change streams) and "b" (FerretDB), the catalog on FerretDB.
std::string stream_directory(const Catalog &c, bool as_option) {
  std::string d = "{\"mongoURI\": \"" + c.uri + "\", \"db\": \"" + c.db + "\", \"refreshMS\": 100, \"moveLeaseMS\": 1500, " +
                  "\"clusters\": {\"s\": \"" + txn_uri() + "\", \"b\": \"" + second_uri() + "\"}}";
  return as_option ? "\"directory\": " + d : d;
}

std::string phase_of(const std::string &entry) {
  size_t at = entry.find("\"phase\" : \"");
  return at == std::string::npos ? "" : entry.substr(at + 11, entry.find('"', at + 11) - at - 11);
}

}  // namespace

// The source has change streams: the copy runs while two processes write (their writes are
// acknowledged while the entry says copy and catch-up, unfenced), the stream carries those
// writes to the target, and only then the fence goes up (phases seen in the order copy,
// catch-up, fence). Afterwards every acknowledged write is on the target, none reached the
// source after the flip, and both processes route to the target.
TEST(Fleet, MoveFromAChangeStreamSourceCatchesUpAndFencesOnlyTheEnd) {
  if (txn_uri().empty()) GTEST_SKIP() << "no server with change streams";
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_cs");
  fill(txn_uri(), t, 10000);
  put_entry(c, t, "s");
  std::string base = "/tmp/" + unique_db("fleet_ledger");
  pid_t pids[2];
  start_writers(options(stream_directory(c, true)), t, base, pids);
  ASSERT_TRUE(wait_until([&] { return lines_of(base + "0").size() >= 50 && lines_of(base + "1").size() >= 50; }, 20000));
  Wrapper w;
  w.w = new_wrapper(stream_directory(c, true));
  ASSERT_NE(w.w, nullptr);
  std::atomic<bool> done{false};
  int rc = 0;
  std::string report;
  pm_error err;
  std::thread mover([&] {
    char *r = nullptr;
    rc = pm_wrapper_move_tenant(w.w, t.c_str(), "b", &r, &err);
    report = r != nullptr ? take(r) : "";
    done = true;
  });
  // What the catalog says, phase by phase, and the writes acknowledged meanwhile.
  std::vector<std::string> phases;
  size_t unfenced_first = 0, unfenced_last = 0;
  while (!done) {
    size_t acked = ledgers(base);
    std::string entry = entry_json_of(c, t);
    std::string phase = phase_of(entry);
    if (phase.empty()) continue;
    if (phases.empty() || phases.back() != phase) phases.push_back(phase);
    if ((phase == "copy" || phase == "catch-up") && !has(entry, "\"fenced\" : true")) {
      if (unfenced_first == 0) unfenced_first = acked;
      unfenced_last = acked;
    }
  }
  mover.join();
  ASSERT_EQ(rc, PM_OK) << err.message;
  EXPECT_TRUE(has(report, "\"catchUp\":true") && !has(report, "\"applied\":0,")) << report;
  std::string seen;
  for (const auto &p : phases) seen += p + " ";
  std::cout << "the move: " << report << "\nphases seen: " << seen << "\n";
  auto at = [&](const std::string &p) { return std::find(phases.begin(), phases.end(), p) - phases.begin(); };
  ASSERT_LT(at("copy"), static_cast<long>(phases.size())) << seen;
  EXPECT_LT(at("copy"), at("catch-up")) << seen;
  EXPECT_LT(at("catch-up"), at("fence")) << seen;
  EXPECT_LT(at("fence"), static_cast<long>(phases.size())) << seen;
  EXPECT_GT(unfenced_last, unfenced_first) << "writes were acknowledged during the copy and the catch-up: " << seen;
  int64_t source_after_flip = Checker(txn_uri()).count(t, "items");
  size_t at_flip = ledgers(base);
  ASSERT_TRUE(wait_until([&] { return ledgers(base) >= at_flip + 100; }, 20000)) << "the writers go on after the flip";
  stop_writers(base, pids);
  expect_ledgers_on_b(base, t);
  EXPECT_EQ(Checker(txn_uri()).count(t, "items"), source_after_flip) << "nothing reached the source after the flip";
  EXPECT_EQ(Checker(second_uri()).count(t, "items", "{\"w\": {\"$exists\": false}}"), 10000);
  EXPECT_TRUE(has(indexes_of(second_uri(), t), "\"n_1\"")) << "indexes moved too";
  std::string entry = entry_json_of(c, t);
  EXPECT_TRUE(has(entry, "\"cluster\" : \"b\"") && has(entry, "\"source\" : \"s\"") && !has(entry, "\"move\"")) << entry;
  remove_ledgers(base);
}

// The mover (another process) is killed (SIGKILL) in the catch-up while two processes write:
// writes go on (no fence is up), a second move is refused while the dead mover's lease holds,
// then resumes the move with a fresh stream; every acknowledged write ends on the target.
TEST(Fleet, MoverKilledInTheCatchUpIsResumedOnceItsLeaseRunsOut) {
  if (txn_uri().empty()) GTEST_SKIP() << "no server with change streams";
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_cskill");
  fill(txn_uri(), t, 3000);
  put_entry(c, t, "s");
  std::string base = "/tmp/" + unique_db("fleet_ledger");
  pid_t pids[2];
  start_writers(options(stream_directory(c, true)), t, base, pids);
  ASSERT_TRUE(wait_until([&] { return lines_of(base + "0").size() >= 20 && lines_of(base + "1").size() >= 20; }, 20000));
  std::string cli = PM_CLI_PATH, dir = stream_directory(c, false), uri_arg = server_uri();
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(cli.c_str(), cli.c_str(), "--uri", uri_arg.c_str(), "tenants", "--directory", dir.c_str(), "move", t.c_str(), "b",
          static_cast<char *>(nullptr));
    _exit(127);
  }
  std::string entry;
  for (int i = 0; i < 60000 && phase_of(entry) != "catch-up"; ++i) {
    entry = entry_json_of(c, t);
    if (phase_of(entry) != "catch-up") usleep(500);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(phase_of(entry), "catch-up") << entry;
  EXPECT_TRUE(WIFSIGNALED(status)) << "the mover finished before it was killed";
  EXPECT_TRUE(has(entry, "\"fenced\" : false") && has(entry, "\"owner\" : \"")) << entry;
  size_t at_kill = ledgers(base);
  ASSERT_TRUE(wait_until([&] { return ledgers(base) >= at_kill + 20; }, 10000)) << "writes go on: no fence is up";
  Wrapper w;
  w.w = new_wrapper(stream_directory(c, true));
  ASSERT_NE(w.w, nullptr);
  std::string report = move_after_lease(w.w, t, "b");
  EXPECT_TRUE(has(report, "\"resumed\":true") && has(report, "\"catchUp\":true")) << report;
  size_t at_flip = ledgers(base);
  ASSERT_TRUE(wait_until([&] { return ledgers(base) >= at_flip + 100; }, 20000)) << "the writers go on after the flip";
  stop_writers(base, pids);
  expect_ledgers_on_b(base, t);
  EXPECT_EQ(Checker(second_uri()).count(t, "items", "{\"w\": {\"$exists\": false}}"), 3000);
  remove_ledgers(base);
}

// A collection dropped on the source during a catch-up move (seen by the change stream) fails
// the move with PM_EMOVING naming the drop; it is rolled back: the tenant stays on the source,
// the target's partial copy is gone, and the next move goes through.
TEST(Fleet, ADropDuringACatchUpMoveFailsItAndRollsItBack) {
  if (txn_uri().empty()) GTEST_SKIP() << "no server with change streams";
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_csdrop");
  fill(txn_uri(), t, 10000);
  ASSERT_TRUE(Checker(txn_uri()).command_ok(t, "{\"insert\": \"other\", \"documents\": [{\"_id\": 1}]}"));
  put_entry(c, t, "s");
  Wrapper w;
  w.w = new_wrapper(stream_directory(c, true));
  ASSERT_NE(w.w, nullptr);
  int rc = 0;
  pm_error err;
  std::thread mover([&] { rc = pm_wrapper_move_tenant(w.w, t.c_str(), "b", nullptr, &err); });
  bool in_copy = wait_until([&] { return phase_of(entry_json_of(c, t)) == "copy"; }, 30000);
  bool dropped = in_copy && Checker(txn_uri()).command_ok(t, "{\"drop\": \"other\"}");
  mover.join();
  ASSERT_TRUE(in_copy && dropped);
  EXPECT_EQ(rc, PM_EMOVING) << err.message;
  EXPECT_TRUE(has(err.message, "'drop'") && has(err.message, "rolled back")) << err.message;
  std::string entry = entry_json_of(c, t);
  EXPECT_TRUE(has(entry, "\"cluster\" : \"s\"") && !has(entry, "\"move\"") && has(entry, "\"fenced\" : false")) << entry;
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), 0) << "the target's partial copy is dropped";
  char *report = nullptr;
  ASSERT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "b", &report, &err), PM_OK) << err.message;
  EXPECT_TRUE(has(take(report), "\"catchUp\":true"));
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), 10000);
}

// Two movers of one tenant: while one process moves it (and renews its lease), a move or an
// abort from another process is refused at once (PM_EMOVING, naming the lease); the first
// finishes undisturbed.
TEST(Fleet, ASecondMoverIsRefusedWhileTheFirstHoldsTheLease) {
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_lease");
  const int kDocs = 40000;
  fill(server_uri(), t, kDocs);
  put_entry(c, t, "a");
  std::string cli = PM_CLI_PATH, uri_arg = server_uri();
  std::string dir = "{\"mongoURI\": \"" + c.uri + "\", \"db\": \"" + c.db + "\", \"refreshMS\": 300, \"moveLeaseMS\": 1500, " +
                    "\"clusters\": {\"a\": \"" + server_uri() + "\", \"b\": \"" + second_uri() + "\"}}";
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(cli.c_str(), cli.c_str(), "--uri", uri_arg.c_str(), "tenants", "--directory", dir.c_str(), "move", t.c_str(), "b",
          static_cast<char *>(nullptr));
    _exit(127);
  }
  ASSERT_TRUE(wait_until([&] { return phase_of(entry_json_of(c, t)) == "copy"; }, 30000));
  Wrapper w;
  w.w = new_wrapper(directory_option(c, "\"refreshMS\": 300, \"moveLeaseMS\": 1500"));
  ASSERT_NE(w.w, nullptr);
  pm_error err;
  std::string owner = ":" + std::to_string(pid) + ":";
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "b", nullptr, &err), PM_EMOVING);
  EXPECT_TRUE(has(err.message, "lease") && has(err.message, owner)) << err.message;
  EXPECT_EQ(pm_code_is_retryable(PM_EMOVING), 1);
  EXPECT_EQ(pm_wrapper_abort_move(w.w, t.c_str(), nullptr, &err), PM_EMOVING);
  EXPECT_TRUE(has(err.message, "lease")) << err.message;
  EXPECT_TRUE(has(entry_json_of(c, t), owner)) << "the move stays the first mover's";
  // Renewed: longer than moveLeaseMS after the lease was first taken, while the first mover is
  // still at it (its move still in the entry), a second move is still refused.
  usleep(2000 * 1000);
  std::string during = entry_json_of(c, t);
  ASSERT_TRUE(has(during, "\"move\"") && has(during, owner)) << "the first mover finished too soon to show the renewal";
  EXPECT_EQ(pm_wrapper_move_tenant(w.w, t.c_str(), "b", nullptr, &err), PM_EMOVING) << err.message;
  EXPECT_TRUE(has(err.message, owner)) << err.message;
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::string entry = entry_json_of(c, t);
  EXPECT_TRUE(has(entry, "\"cluster\" : \"b\"") && !has(entry, "\"move\"")) << entry;
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), kDocs);
}

// ---- the command line ----

TEST(Fleet, TheCommandLineListsPlacesMovesSyncsAndReportsDrift) {
  Catalog c = new_catalog();
  std::string t = unique_db("fleet_cli");
  fill(server_uri(), t, 100);
  std::string cli = std::getenv("PM_CLI") ? std::getenv("PM_CLI") : PM_CLI_PATH;
  std::string out = "/tmp/" + unique_db("fleet_cli") + ".out";
  std::string dir = "{\"mongoURI\": \"" + c.uri + "\", \"db\": \"" + c.db + "\", \"refreshMS\": 100, \"clusters\": {\"a\": \"" +
                    server_uri() + "\", \"b\": \"" + second_uri() + "\"}}";
  auto run = [&](const std::string &args) {
    int status = std::system(("MONGODB_URI='" + server_uri() + "' " + cli + " tenants --directory '" + dir + "' " + args +
                              " >" + out + " 2>&1").c_str());
    std::ifstream f(out);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return std::make_pair(WEXITSTATUS(status), text);
  };
  auto [rc, text] = run("place " + t + " --cluster a");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_TRUE(has(text, "\"cluster\":\"a\"")) << text;
  std::tie(rc, text) = run("show " + t);
  EXPECT_TRUE(has(text, "\"placedBy\":\"explicit\"")) << text;
  std::tie(rc, text) = run("list");
  EXPECT_TRUE(has(text, "\"db\":\"" + t + "\"")) << text;
  std::tie(rc, text) = run("move " + t + " b");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_TRUE(has(text, "\"documents\":100")) << text;
  EXPECT_EQ(Checker(second_uri()).count(t, "items"), 100);
  std::tie(rc, text) = run("complete " + t);
  EXPECT_EQ(rc, 0) << text;
  EXPECT_EQ(Checker(server_uri()).count(t, "items"), 0);
  std::string model = "--model '{\"indexes\": [{\"key\": {\"q\": 1}}]}' --target '{\"match\": \"" + t + "\", \"tenants\": true}'";
  std::tie(rc, text) = run("drift " + model);
  EXPECT_TRUE(has(text, "\"missing\":[\"q_1\"]")) << text;
  std::tie(rc, text) = run("sync-indexes " + model);
  EXPECT_EQ(rc, 0) << text;
  EXPECT_TRUE(has(text, "\"total\":1,\"applied\":1")) << text;
  EXPECT_TRUE(has(indexes_of(second_uri(), t), "\"q_1\""));
  std::tie(rc, text) = run("drift " + model);
  EXPECT_TRUE(has(text, "\"missing\":[],\"extra\":[\"n_1\"]")) << "n_1 is not the model's: extra, left alone: " << text;
  // Bad input: exit 2 with the reason.
  std::tie(rc, text) = run("move " + t + " nowhere");
  EXPECT_EQ(rc, 2) << text;
  EXPECT_TRUE(has(text, "'nowhere' is not one of directory.clusters")) << text;
  std::remove(out.c_str());
}
