// Dedicated pools: from dbSpecific and at run time (set_db / connect_db), on another cluster.
#include "support.hpp"

using namespace pmtest;

namespace {

std::string wrapper_json(const std::string &extra) {
  return "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"defaultDB\": \"pm_default\"" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

pm_wrapper *make(const std::string &extra) {
  pm_wrapper *w = nullptr;
  pm_error err;
  EXPECT_EQ(pm_wrapper_new(wrapper_json(extra).c_str(), &w, &err), PM_OK) << err.message;
  return w;
}

}  // namespace

TEST(Scaling, DbSpecificOnSecondClusterWritesThereAndOnlyThere) {
  std::string remote = unique_db("remote");
  std::string local = unique_db("local");
  Wrapper w;
  w.w = make("\"dbSpecific\": [{\"dbName\": \"" + remote + "\", \"mongoURI\": \"" + with_secret(second_uri()) +
             "\", \"options\": {\"maxConnections\": 3}}]");
  Model m;
  m.m = new_model(w.w, "orders");
  Db r, l;
  r.d = bind_db(m.m, remote);
  l.d = bind_db(m.m, local);
  for (int i = 0; i < 5; ++i) insert_json(r.d, "{\"n\": " + std::to_string(i) + "}");
  insert_json(l.d, "{\"n\": 100}");
  Checker first(server_uri()), second(second_uri());
  EXPECT_EQ(second.count(remote, "orders"), 5);
  EXPECT_EQ(first.count(remote, "orders"), 0) << "model traffic must follow the dedicated pool";
  EXPECT_EQ(first.count(local, "orders"), 1);
  EXPECT_EQ(second.count(local, "orders"), 0);
}

TEST(Scaling, SetDbAtRunTimeIsLazyAndRoutesToItsCluster) {
  std::string name = unique_db("setdb");
  Wrapper w;
  w.w = make("\"maxPoolSize\": 2");
  Model m;
  m.m = new_model(w.w, "events");
  int port2 = port_of(second_uri());
  int before = count_sockets_to_port(port2);
  std::string spec = "{\"mongoURI\": \"" + with_secret(second_uri()) + "\", \"maxConnections\": 2}";
  const char *names[] = {name.c_str()};
  pm_error err;
  ASSERT_EQ(pm_wrapper_set_db(w.w, names, 1, spec.c_str(), &err), PM_OK) << err.message;
  EXPECT_EQ(count_sockets_to_port(port2), before) << "coldStart (the default) connects on first use";
  Db d;
  d.d = bind_db(m.m, name);
  insert_json(d.d, "{\"x\": 1}");
  EXPECT_GT(count_sockets_to_port(port2), before);
  EXPECT_EQ(Checker(second_uri()).count(name, "events"), 1);
  EXPECT_EQ(Checker(server_uri()).count(name, "events"), 0);

  const char *bad[] = {"no/slashes"};
  EXPECT_EQ(pm_wrapper_set_db(w.w, bad, 1, nullptr, &err), PM_EDBNAME);
  EXPECT_EQ(pm_wrapper_set_db(w.w, names, 1, "{\"maxConnections\": 0}", &err), PM_EINVAL);
  EXPECT_EQ(pm_wrapper_set_db(w.w, names, 1, "{\"autoClose\": true}", &err), PM_EINVAL) << "ttl required";
  EXPECT_EQ(pm_wrapper_set_db(w.w, names, 0, nullptr, &err), PM_EINVAL);
}

TEST(Scaling, ConnectDbConnectsNowAndSetDbWithColdStartFalseToo) {
  std::string a = unique_db("conn_a"), b = unique_db("conn_b");
  Wrapper w;
  w.w = make("");
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_POOL_OPENED);
  int port2 = port_of(second_uri());
  int before = count_sockets_to_port(port2);
  std::string spec = "{\"mongoURI\": \"" + with_secret(second_uri()) + "\"}";
  const char *names[] = {a.c_str()};
  pm_error err;
  ASSERT_EQ(pm_wrapper_connect_db(w.w, names, 1, spec.c_str(), &err), PM_OK) << err.message;
  EXPECT_GT(count_sockets_to_port(port2), before);
  int after_a = count_sockets_to_port(port2);
  std::string eager = "{\"mongoURI\": \"" + with_secret(second_uri()) + "\", \"coldStart\": false}";
  const char *names_b[] = {b.c_str()};
  ASSERT_EQ(pm_wrapper_set_db(w.w, names_b, 1, eager.c_str(), &err), PM_OK) << err.message;
  EXPECT_GT(count_sockets_to_port(port2), after_a);
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  EXPECT_EQ(rec.count(PM_EVENT_POOL_OPENED), 2u);
  EXPECT_EQ(pm_wrapper_open_pools(w.w), 2u) << "two dedicated pools; the shared one was never used";

  const char *down[] = {"unreachable_db"};
  EXPECT_EQ(pm_wrapper_connect_db(w.w, down, 1,
                                  "{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200\"}", &err),
            PM_ECONNECT);
}
