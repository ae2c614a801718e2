// Routing rules: globs, precedence (exact names, then rules in order, then shared), shared
// pools per rule, rules added at run time.
#include "support.hpp"

using namespace pmtest;

namespace {

struct Routing : ::testing::Test {
  Wrapper w;
  Model m;
  std::string run = unique_db("r");  // a unique stem for this test's database names
  void make(const std::string &extra) {
    pm_error err;
    std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"defaultDB\": \"pm_default\", " + extra + "}";
    ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
    m.m = new_model(w.w, "rows");
  }
  void write(const std::string &db) {
    Db d;
    d.d = bind_db(m.m, db);
    insert_json(d.d, "{\"at\": \"" + db + "\"}");
  }
  std::string remote_rule(const std::string &pattern, const std::string &extra = "") {
    return "{\"match\": \"" + pattern + "\", \"mongoURI\": \"" + with_secret(second_uri()) + "\"" +
           (extra.empty() ? "" : ", " + extra) + "}";
  }
};

}  // namespace

TEST_F(Routing, GlobRuleSendsMatchesToAnotherCluster) {
  make("\"routes\": [" + remote_rule(run + "_eu_*") + "]");
  write(run + "_eu_1");
  write(run + "_eu_2");
  write(run + "_us_1");
  Checker first(server_uri()), second(second_uri());
  EXPECT_EQ(second.count(run + "_eu_1", "rows"), 1);
  EXPECT_EQ(second.count(run + "_eu_2", "rows"), 1);
  EXPECT_EQ(first.count(run + "_eu_1", "rows"), 0);
  EXPECT_EQ(first.count(run + "_us_1", "rows"), 1);
  EXPECT_EQ(second.count(run + "_us_1", "rows"), 0);
  EXPECT_EQ(pm_wrapper_open_pools(w.w), 3u) << "the shared pool and one pool per matching database";
}

TEST_F(Routing, ExactNamesBeatRulesAndTheFirstMatchingRuleWins) {
  // run_eu_vip matches both rules, but has its own entry on the first cluster.
  make("\"dbSpecific\": [{\"dbName\": \"" + run + "_eu_vip\"}], \"routes\": [" + remote_rule(run + "_eu_*") +
       ", {\"match\": \"" + run + "_*\", \"options\": {\"maxConnections\": 1}}]");
  write(run + "_eu_vip");
  write(run + "_eu_7");
  write(run + "_other");
  Checker first(server_uri()), second(second_uri());
  EXPECT_EQ(first.count(run + "_eu_vip", "rows"), 1) << "exact name first";
  EXPECT_EQ(second.count(run + "_eu_vip", "rows"), 0);
  EXPECT_EQ(second.count(run + "_eu_7", "rows"), 1) << "first matching rule";
  EXPECT_EQ(first.count(run + "_other", "rows"), 1) << "second rule, first cluster";
  EXPECT_EQ(pm_wrapper_open_pools(w.w), 3u) << "vip, eu_7 and other each got a dedicated pool";
}

TEST_F(Routing, SharedPoolRuleServesAllMatchesWithOnePool) {
  make("\"routes\": [" + remote_rule(run + "_t*", "\"sharedPool\": true, \"options\": {\"maxConnections\": 2}") + "]");
  int port2 = port_of(second_uri());
  int before = count_sockets_to_port(port2);
  for (int i = 0; i < 20; ++i) write(run + "_t" + std::to_string(i));
  Checker second(second_uri());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(second.count(run + "_t" + std::to_string(i), "rows"), 1);
  EXPECT_EQ(pm_wrapper_open_pools(w.w), 1u) << "one pool for twenty databases (the shared one unused)";
  EXPECT_LE(count_sockets_to_port(port2) - before, 2 + 2) << "maxConnections plus monitoring";
}

TEST_F(Routing, RulesAddedAtRunTimeApplyToNamesAlreadySeen) {
  make("\"maxPoolSize\": 2");
  write(run + "_late");
  pm_error err;
  ASSERT_EQ(pm_wrapper_add_route(w.w, remote_rule(run + "_late").c_str(), &err), PM_OK) << err.message;
  write(run + "_late");
  EXPECT_EQ(Checker(server_uri()).count(run + "_late", "rows"), 1);
  EXPECT_EQ(Checker(second_uri()).count(run + "_late", "rows"), 1);
  EXPECT_EQ(pm_wrapper_add_route(w.w, "{\"match\": \"\"}", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_add_route(w.w, "{\"pattern\": \"x\"}", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_add_route(w.w, "{\"match\": \"x\", \"mongoURI\": \"http://x\"}", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_add_route(w.w, "not json", &err), PM_EINVAL);
}
