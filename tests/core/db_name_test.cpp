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

TEST_F(Fixture, InvalidUtf8NamesAreRefusedBeforeTheServer) {
  const std::vector<std::string> bad = {
      std::string("ab\xff\xfe" "cd"),     // bytes that never occur in UTF-8
      std::string("ab\xc3"),              // a lone lead byte at the end
      std::string("a\xc3" "b"),           // a lead byte without its continuation
      std::string("ab\xed\xa0\x80"),      // U+D800, a UTF-16 surrogate encoded in UTF-8
      std::string("ab\xe2\x82"),          // a 3-byte sequence cut short
      std::string("ab\xc0\xaf"),          // an overlong '/'
      std::string("ab\x80" "cd"),         // a continuation byte without a lead
      std::string("ab\xf4\x90\x80\x80"),  // past U+10FFFF
  };
  for (const std::string &name : bad) {
    expect_bad(name);
    pm_model *model = nullptr;
    pm_error err;
    EXPECT_EQ(pm_model_new(w.w, name.c_str(), nullptr, 0, &model, &err), PM_EINVAL) << name;
    EXPECT_NE(std::string(err.message).find("UTF-8"), std::string::npos) << err.message;
    EXPECT_EQ(model, nullptr);
    pm_model_free(model);
  }
  // Well-formed multi-byte names are still names (the server may have its own rules).
  for (const char *good : {"caf\xc3\xa9", "\xe5\x90\x8d\xe5\x89\x8d", "emoji\xf0\x9f\x98\x80"}) {
    Db d;
    pm_error err;
    EXPECT_EQ(pm_model_db(m.m, good, &d.d, &err), PM_OK) << good << ": " << err.message;
    Model gm;
    EXPECT_EQ(pm_model_new(w.w, good, nullptr, 0, &gm.m, &err), PM_OK) << good << ": " << err.message;
  }
}
