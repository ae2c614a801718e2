// The tenant fleet (label fleet): the shared tenant directory and the placement of new tenants,
// on two FerretDB instances as two clusters ("a" and "b"), with the catalog on FerretDB (no
// change streams: polling) or on SecantusDB (change streams). Entries written "by hand" go
// through an independent libmongoc client, with the catalog's protocol (docs/fleet.md).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
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
