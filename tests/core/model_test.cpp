// Models: index specifications and validators applied once per database, on first use there.
#include "support.hpp"

using namespace pmtest;

namespace {
std::string index_names(Checker &check, const std::string &db, const std::string &coll) {
  std::string reply;
  check.command_ok(db, "{\"listIndexes\": \"" + coll + "\"}", &reply);
  return reply;
}
}  // namespace

TEST(Models, IndexesAreAppliedOncePerDatabaseOnFirstUse) {
  Wrapper w;
  w.w = new_wrapper();
  Model m;
  m.m = new_model(w.w, "users", "{\"indexes\": [{\"key\": {\"email\": 1}, \"unique\": true},"
                               " {\"key\": {\"age\": -1}, \"name\": \"by_age\"}]}");
  std::string a = unique_db("model_a"), b = unique_db("model_b");
  Db da, db_b;
  da.d = bind_db(m.m, a);
  db_b.d = bind_db(m.m, b);
  Checker check;
  insert_json(da.d, "{\"email\": \"x@y\", \"age\": 3}");
  std::string idx = index_names(check, a, "users");
  EXPECT_NE(idx.find("email_1"), std::string::npos) << idx;
  EXPECT_NE(idx.find("by_age"), std::string::npos) << idx;
  EXPECT_EQ(check.count(b, "users"), 0);
  EXPECT_EQ(index_names(check, b, "users").find("email_1"), std::string::npos) << "b not used yet";
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(da.d, "{\"email\": \"x@y\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);

  // Once: an index dropped behind the model's back is not re-created by later operations.
  ASSERT_TRUE(check.command_ok(a, "{\"dropIndexes\": \"users\", \"index\": \"by_age\"}"));
  insert_json(da.d, "{\"email\": \"z@y\"}");
  EXPECT_EQ(index_names(check, a, "users").find("by_age"), std::string::npos);

  // A new handle on b (any model handle, any thread) applies them there on its first use.
  int64_t n;
  ASSERT_EQ(pm_db_count(db_b.d, nullptr, 0, nullptr, 0, &n, &err), PM_OK);
  EXPECT_NE(index_names(check, b, "users").find("email_1"), std::string::npos);
}

TEST(Models, ValidatorIsAppliedOrRefusedByTheServer) {
  on_server_with_feature("validators", [](FeatureRun &run) {
    Wrapper w;
    w.w = new_wrapper_on(run.uri);
    Model m;
    m.m = new_model(w.w, "validated",
                    "{\"validator\": {\"$jsonSchema\": {\"bsonType\": \"object\", \"required\": [\"name\"]}},"
                    " \"validationAction\": \"error\"}");
    Db d;
    std::string name = unique_db("validator");
    d.d = bind_db(m.m, name);
    pm_error err;
    int rc = pm_db_insert_one(d.d, "{\"name\": \"ok\"}", PM_JSON, nullptr, 0, nullptr, &err);
    Checker check(run.uri);
    if (rc != PM_OK) {
      // The first use applies the validator; a server without validation says so, and the
      // error reaches the caller instead of the write silently going through unvalidated.
      EXPECT_TRUE(rc == PM_ENOTSUP || rc == PM_ESERVER) << pm_code_name(rc) << ": " << err.message;
      EXPECT_NE(std::string(err.message).find("validator"), std::string::npos) << err.message;
      EXPECT_EQ(check.count(name, "validated"), 0);
      run.refuse(err.message);
      return;
    }
    // The validator is enforced: the invalid document is refused as a validation failure.
    EXPECT_EQ(pm_db_insert_one(d.d, "{\"other\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EWRITE);
    EXPECT_EQ(err.server_code, 121) << err.message;
    EXPECT_EQ(check.count(name, "validated"), 1);
  });
}

TEST(Models, BadDefinitionsAreRefused) {
  Wrapper w;
  w.w = new_wrapper();
  pm_model *m = nullptr;
  pm_error err;
  EXPECT_EQ(pm_model_new(w.w, "", nullptr, 0, &m, &err), PM_EINVAL);
  EXPECT_EQ(pm_model_new(w.w, "a$b", nullptr, 0, &m, &err), PM_EINVAL);
  EXPECT_EQ(pm_model_new(w.w, "system.users", nullptr, 0, &m, &err), PM_EINVAL);
  EXPECT_EQ(pm_model_new(nullptr, "x", nullptr, 0, &m, &err), PM_EINVAL);
  EXPECT_EQ(pm_model_new(w.w, "x", "{\"indexes\": {}}", PM_JSON, &m, &err), PM_EINVAL);
  EXPECT_EQ(pm_model_new(w.w, "x", "{\"indexes\": [{\"unique\": true}]}", PM_JSON, &m, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("key"), std::string::npos) << err.message;
  EXPECT_EQ(pm_model_new(w.w, "x", "{\"colour\": 1}", PM_JSON, &m, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("colour"), std::string::npos) << err.message;
  EXPECT_EQ(m, nullptr);
  Model ok;
  ASSERT_EQ(pm_model_new(w.w, "x", nullptr, 0, &ok.m, &err), PM_OK);
  EXPECT_STREQ(pm_model_collection(ok.m), "x");
}
