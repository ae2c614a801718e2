// Health: connection state through the lifecycle, ping with latency, retry policy.
#include "support.hpp"

#include <chrono>

using namespace pmtest;

TEST(Health, StateFollowsTheLifecycleAndPingMeasuresLatency) {
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"defaultDB\": \"health_db\"}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_wrapper_state(w.w), PM_STATE_NOT_INITIALIZED);
  EXPECT_EQ(pm_wrapper_is_connected(w.w), 0);
  double ms = -1;
  ASSERT_EQ(pm_wrapper_ping(w.w, nullptr, &ms, &err), PM_OK) << err.message;
  EXPECT_GT(ms, 0.0);
  EXPECT_LT(ms, slow(5000));
  EXPECT_EQ(pm_wrapper_state(w.w), PM_STATE_CONNECTED);
  EXPECT_EQ(pm_wrapper_is_connected(w.w), 1);
  EXPECT_STREQ(pm_state_name(pm_wrapper_state(w.w)), "connected");
  ASSERT_EQ(pm_wrapper_close_all(w.w, 1000, &err), PM_OK);
  EXPECT_EQ(pm_wrapper_state(w.w), PM_STATE_DISCONNECTED);
  ASSERT_EQ(pm_wrapper_ping(w.w, "health_other", &ms, &err), PM_OK) << "usable after close_all";
  EXPECT_EQ(pm_wrapper_state(w.w), PM_STATE_CONNECTED);
  EXPECT_EQ(pm_wrapper_ping(w.w, "bad$name", &ms, &err), PM_EDBNAME);
  EXPECT_EQ(pm_wrapper_ping(nullptr, "x", &ms, &err), PM_EINVAL);
}

TEST(Health, UnreachableServerIsDisconnected) {
  Wrapper w;
  pm_error err;
  ASSERT_EQ(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200\","
                           " \"defaultDB\": \"d\"}", &w.w, &err), PM_OK);
  double ms;
  EXPECT_EQ(pm_wrapper_ping(w.w, nullptr, &ms, &err), PM_ECONNECT);
  EXPECT_EQ(pm_wrapper_state(w.w), PM_STATE_DISCONNECTED);
  EXPECT_EQ(pm_wrapper_is_connected(w.w), 0);
}

TEST(Health, ConnectionFailuresAreRetriedWithBackoffAndAuthFailuresAreNot) {
  // Unreachable: every attempt fails before sending, so the policy retries it.
  Wrapper w;
  pm_error err;
  ASSERT_EQ(pm_wrapper_new("{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100\","
                           " \"defaultDB\": \"d\", \"retry\": {\"attempts\": 3, \"initialDelayMS\": 50,"
                           " \"maxDelayMS\": 200}}", &w.w, &err), PM_OK) << err.message;
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_ERROR | PM_EVENT_LOG);
  Model m;
  m.m = new_model(w.w, "r");
  Db d;
  d.d = bind_db(m.m, "");
  EXPECT_EQ(pm_db_insert_one(d.d, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_ECONNECT);
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  EXPECT_EQ(rec.count(PM_EVENT_ERROR), 3u) << "three attempts";
  size_t retries = 0;
  for (auto &e : rec.events()) retries += e.message.find("retrying") != std::string::npos;
  EXPECT_EQ(retries, 2u);

  // A mechanism the server refuses is an authentication error: never retried.
  Wrapper a;
  std::string json = "{\"mongoURI\": \"" + add_query(server_uri().substr(0, 10) + "pmuser:" + kSecret + "@" +
                                                     server_uri().substr(10),
                                                 "authMechanism=SCRAM-SHA-256") +
                     "\", \"defaultDB\": \"d\", \"retry\": {\"attempts\": 3, \"initialDelayMS\": 50}}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &a.w, &err), PM_OK) << err.message;
  Recorder arec;
  arec.subscribe(a.w, PM_EVENT_ERROR);
  Model am;
  am.m = new_model(a.w, "r");
  Db ad;
  ad.d = bind_db(am.m, "");
  int rc = pm_db_insert_one(ad.d, "{}", PM_JSON, nullptr, 0, nullptr, &err);
  if (std::getenv("PM_TEST_URI") != nullptr && rc == PM_OK) GTEST_SKIP() << "the given server accepted these credentials";
  EXPECT_EQ(rc, PM_EAUTH) << pm_code_name(rc) << ": " << err.message;
  EXPECT_EQ(std::string(err.message).find(kSecret), std::string::npos);
  ASSERT_EQ(pm_wrapper_flush_events(a.w, 2000, &err), PM_OK);
  EXPECT_EQ(arec.count(PM_EVENT_ERROR), 1u) << "one attempt only";
}
