// Logging: levels, files, libmongoc's log routed in, log events, and the password nowhere.
#include "support.hpp"

#include <fstream>
#include <sstream>

using namespace pmtest;

namespace {
std::string slurp(const std::string &path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST(Logging, PasswordAppearsInNoLogEventOrErrorMessage) {
  std::string dir = "/tmp/" + unique_db("pm_secret_logs");
  std::string uri = with_secret(server_uri());
  if (uri.find(kSecret) == std::string::npos) GTEST_SKIP() << "PM_TEST_URI carries no password of ours";
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + uri + "\", \"defaultDB\": \"pm_default\", \"logPath\": \"" + dir +
                     "\", \"logLevel\": \"debug\", \"dbSpecific\": [{\"dbName\": \"" + unique_db("sec") +
                     "\", \"mongoURI\": \"" + with_secret(second_uri()) + "\"}]}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_ALL);
  Model m;
  m.m = new_model(w.w, "s", "{\"indexes\": [{\"key\": {\"k\": 1}, \"unique\": true}]}");
  Db d;
  d.d = bind_db(m.m, unique_db("secret"));
  insert_json(d.d, "{\"k\": 1}");
  std::vector<std::string> messages;
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"k\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);
  messages.push_back(err.message);
  // A failing pool whose URI carries the password, and its error.
  std::string down = "{\"mongoURI\": \"mongodb://pmuser:" + std::string(kSecret) +
                     "@127.0.0.1:1/?serverSelectionTimeoutMS=200&authMechanism=PLAIN\"}";
  const char *names[] = {"down_secret"};
  EXPECT_EQ(pm_wrapper_connect_db(w.w, names, 1, down.c_str(), &err), PM_ECONNECT);
  messages.push_back(err.message);
  ASSERT_EQ(pm_wrapper_close_all(w.w, 2000, &err), PM_OK);
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  std::string all = slurp(dir + "/polymongo.log") + slurp(dir + "/errors.log");
  EXPECT_NE(all.find("pmuser:***@"), std::string::npos) << "URIs are logged, redacted";
  EXPECT_EQ(all.find(kSecret), std::string::npos);
  ASSERT_GT(rec.events().size(), 5u);
  for (auto &e : rec.events()) {
    EXPECT_EQ(e.message.find(kSecret), std::string::npos) << e.message;
    EXPECT_EQ(e.pool.find(kSecret), std::string::npos) << e.pool;
  }
  for (auto &msg : messages) EXPECT_EQ(msg.find(kSecret), std::string::npos) << msg;
}

TEST(Logging, LevelsFilterAndDriverLogIsRoutedIn) {
  std::string dir = "/tmp/" + unique_db("pm_level_logs");
  Wrapper w;
  pm_error err;
  std::string json = "{\"mongoURI\": \"" + with_secret(server_uri()) + "\", \"defaultDB\": \"pm_default\", "
                     "\"logPath\": \"" + dir + "\", \"logLevel\": \"warn\"}";
  ASSERT_EQ(pm_wrapper_new(json.c_str(), &w.w, &err), PM_OK) << err.message;
  Recorder rec;
  rec.subscribe(w.w, PM_EVENT_LOG);
  Model m;
  m.m = new_model(w.w, "s");
  Db d;
  d.d = bind_db(m.m, unique_db("levels"));
  insert_json(d.d, "{}");
  ASSERT_EQ(pm_wrapper_close_all(w.w, 2000, &err), PM_OK);  // libmongoc warns about endSessions here on FerretDB
  ASSERT_EQ(pm_wrapper_flush_events(w.w, 2000, &err), PM_OK);
  std::string all = slurp(dir + "/polymongo.log");
  EXPECT_EQ(all.find("pool 'shared' opened"), std::string::npos) << "info lines are below the warn level";
  for (auto &e : rec.events()) EXPECT_GE(e.code, 2) << e.message;
  bool driver = all.find("libmongoc") != std::string::npos;
  if (!driver && std::getenv("PM_TEST_URI") != nullptr) GTEST_SKIP() << "the driver logged no warning here";
  EXPECT_TRUE(driver) << "libmongoc's own warnings reach polymongo's log: " << all;

  pm_wrapper *bad = nullptr;
  EXPECT_EQ(pm_wrapper_new(("{\"mongoURI\": \"" + server_uri() + "\", \"logLevel\": \"loud\"}").c_str(), &bad, &err),
            PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("logLevel"), std::string::npos);
}
