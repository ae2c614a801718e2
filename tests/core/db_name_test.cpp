// Database names: MongoDB's rules, system databases, and PolyMongo's injection cases.
#include "support.hpp"

using namespace pmtest;

namespace {

struct Fixture : ::testing::Test {
  Wrapper w;
  Model m;
  void SetUp() override {
    w.w = new_wrapper();
    m.m = new_model(w.w, "names");
  }
  void expect_bad(const std::string &name) {
    pm_db *d = nullptr;
    pm_error err;
    EXPECT_EQ(pm_model_db(m.m, name.c_str(), &d, &err), PM_EDBNAME) << "'" << name << "'";
    EXPECT_EQ(d, nullptr);
    EXPECT_EQ(pm_wrapper_check_db_name(w.w, name.c_str(), &err), PM_EDBNAME);
  }
};

}  // namespace

TEST_F(Fixture, ForbiddenCharactersAndLengthsAreRefused) {
  for (const char *c : {"/", "\\", ".", " ", "\"", "$", "*", "<", ">", ":", "|", "?"})
    expect_bad(std::string("ab") + c + "cd");
  expect_bad(std::string(64, 'a'));
  Db ok;
  pm_error err;
  EXPECT_EQ(pm_model_db(m.m, std::string(63, 'a').c_str(), &ok.d, &err), PM_OK) << err.message;
}

TEST_F(Fixture, SystemDatabasesNeedAnOption) {
  for (const char *name : {"admin", "config", "local"}) expect_bad(name);
  Wrapper allowed;
  allowed.w = new_wrapper("\"allowSystemDatabases\": true");
  Model am;
  am.m = new_model(allowed.w, "names");
  Db d;
  pm_error err;
  EXPECT_EQ(pm_model_db(am.m, "admin", &d.d, &err), PM_OK) << err.message;
}

TEST_F(Fixture, InjectionNamesTouchNothing) {
  Checker checker;
  std::string before;
  ASSERT_TRUE(checker.command_ok("admin", "{\"listDatabases\": 1, \"nameOnly\": true}", &before));
  for (const char *name : {"$admin", "db; drop database", "test.injection.db", "test/../../etc"})
    expect_bad(name);
  std::string after;
  ASSERT_TRUE(checker.command_ok("admin", "{\"listDatabases\": 1, \"nameOnly\": true}", &after));
  for (const char *frag : {"injection", "etc", "drop database"})
    EXPECT_EQ(after.find(frag), std::string::npos) << after;
}

TEST_F(Fixture, EmptyNameMeansDefaultOrFailsWithoutOne) {
  Db d;
  pm_error err;
  ASSERT_EQ(pm_model_db(m.m, "", &d.d, &err), PM_OK);
  EXPECT_STREQ(pm_db_name(d.d), "pm_default");
  Db n;
  ASSERT_EQ(pm_model_db(m.m, nullptr, &n.d, &err), PM_OK);
  EXPECT_STREQ(pm_db_name(n.d), "pm_default");

  Wrapper nodefault;
  ASSERT_EQ(pm_wrapper_new(("{\"mongoURI\": \"" + server_uri() + "\"}").c_str(), &nodefault.w, &err), PM_OK);
  Model nm;
  nm.m = new_model(nodefault.w, "names");
  pm_db *x = nullptr;
  EXPECT_EQ(pm_model_db(nm.m, "", &x, &err), PM_EDBNAME);
  EXPECT_NE(std::string(err.message).find("no default database"), std::string::npos) << err.message;
  EXPECT_EQ(pm_model_db(nm.m, nullptr, &x, &err), PM_EDBNAME);
  EXPECT_EQ(x, nullptr);
}

TEST_F(Fixture, BindingDoesNoIo) {
  // Binding 1,000 databases opens no socket: the pool is untouched until an operation runs.
  int port = server_port();
  int before = count_sockets_to_port(port);
  for (int i = 0; i < 1000; ++i) {
    Db d;
    d.d = bind_db(m.m, "tenant_" + std::to_string(i));
    ASSERT_NE(d.d, nullptr);
  }
  EXPECT_EQ(count_sockets_to_port(port), before);
}
