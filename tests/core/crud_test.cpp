// CRUD through a bound database, each outcome read back with an independent client.
#include <cstring>

#include "support.hpp"

using namespace pmtest;

namespace {

struct Crud : ::testing::Test {
  Wrapper w;
  Model m;
  Db db;
  std::string name;
  Checker check;
  void SetUp() override {
    w.w = new_wrapper("\"maxPoolSize\": 4");
    m.m = new_model(w.w, "items");
    name = unique_db("crud");
    db.d = bind_db(m.m, name);
  }
  int64_t count(const std::string &filter = "{}") { return check.count(name, "items", filter); }
};

// A wrapper, a model and a fresh database on the server at `uri`, with an independent checker
// there: for the tests of features the main server may lack (on_server_with_feature).
struct On {
  Wrapper w;
  Model m;
  Db db;
  std::string name = unique_db("crud");
  Checker check;
  explicit On(const std::string &uri) : check(uri) {
    w.w = new_wrapper_on(uri, "\"maxPoolSize\": 4");
    m.m = new_model(w.w, "items");
    db.d = bind_db(m.m, name);
  }
  int64_t count(const std::string &filter = "{}") { return check.count(name, "items", filter); }
};

}  // namespace

TEST_F(Crud, InsertOneReportsIdAndIsReadBack) {
  Result r;
  pm_error err;
  ASSERT_EQ(pm_db_insert_one(db.d, "{\"sku\": \"a1\", \"qty\": 5}", PM_JSON, nullptr, 0, &r.r, &err), PM_OK)
      << err.message;
  EXPECT_EQ(pm_result_inserted_count(r.r), 1);
  char *json = pm_result_json(r.r, PM_JSON_RELAXED);
  std::string ids = field(json, "insertedIds");
  pm_free(json);
  EXPECT_NE(ids.find("$oid"), std::string::npos) << ids;
  auto docs = check.find_json(name, "items");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_NE(ids.find(field(docs[0], "_id").substr(10, 24)), std::string::npos) << ids << " vs " << docs[0];
  EXPECT_EQ(field(docs[0], "qty"), "5");
}

TEST_F(Crud, InsertManyWithBsonBytesKeepsGivenIds) {
  std::vector<Buf> bufs(3);
  std::vector<const void *> ptrs;
  std::vector<size_t> lens;
  pm_error err;
  for (int i = 0; i < 3; ++i) {
    std::string j = "{\"_id\": " + std::to_string(i + 10) + ", \"n\": " + std::to_string(i) + "}";
    ASSERT_EQ(pm_json_to_bson(j.c_str(), &bufs[i].b, &err), PM_OK);
    ptrs.push_back(bufs[i].b.data);
    lens.push_back(bufs[i].b.len);
  }
  Result r;
  ASSERT_EQ(pm_db_insert_many(db.d, ptrs.data(), lens.data(), 3, nullptr, 0, &r.r, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_result_inserted_count(r.r), 3);
  char *json = pm_result_json(r.r, PM_JSON_RELAXED);
  EXPECT_EQ(field(json, "insertedIds"), "{ \"0\" : 10, \"1\" : 11, \"2\" : 12 }") << json;
  pm_free(json);
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(count("{\"_id\": 12, \"n\": 2}"), 1);
}

TEST_F(Crud, DuplicateKeyInOrderedInsertStopsAndReportsIndexAndCode) {
  insert_json(db.d, "{\"_id\": 1}");
  const char *docs[] = {"{\"_id\": 2}", "{\"_id\": 1}", "{\"_id\": 3}"};
  size_t lens[] = {PM_JSON, PM_JSON, PM_JSON};
  Result r;
  pm_error err;
  EXPECT_EQ(pm_db_insert_many(db.d, (const void *const *)docs, lens, 3, nullptr, 0, &r.r, &err), PM_EDUPKEY);
  EXPECT_EQ(err.server_code, 11000);
  ASSERT_NE(r.r, nullptr);
  EXPECT_EQ(pm_result_inserted_count(r.r), 1);
  ASSERT_EQ(pm_result_write_error_count(r.r), 1u);
  size_t index;
  int32_t code;
  const char *msg;
  ASSERT_EQ(pm_result_write_error(r.r, 0, &index, &code, &msg, &err), PM_OK);
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(code, 11000);
  char *json = pm_result_json(r.r, PM_JSON_RELAXED);
  EXPECT_EQ(field(json, "insertedIds"), "{ \"0\" : 2 }") << json;
  pm_free(json);
  EXPECT_EQ(count(), 2);  // 1 and 2; 3 was never attempted
  EXPECT_EQ(pm_result_write_error(r.r, 5, &index, &code, &msg, &err), PM_EINVAL);
}

TEST_F(Crud, UnorderedInsertContinuesPastErrors) {
  insert_json(db.d, "{\"_id\": 1}");
  const char *docs[] = {"{\"_id\": 1}", "{\"_id\": 2}", "{\"_id\": 1}", "{\"_id\": 4}"};
  size_t lens[] = {PM_JSON, PM_JSON, PM_JSON, PM_JSON};
  Result r;
  pm_error err;
  EXPECT_EQ(pm_db_insert_many(db.d, (const void *const *)docs, lens, 4, "{\"ordered\": false}", PM_JSON, &r.r, &err),
            PM_EDUPKEY);
  ASSERT_NE(r.r, nullptr);
  EXPECT_EQ(pm_result_inserted_count(r.r), 2);
  ASSERT_EQ(pm_result_write_error_count(r.r), 2u);
  size_t i0, i1;
  pm_result_write_error(r.r, 0, &i0, nullptr, nullptr, &err);
  pm_result_write_error(r.r, 1, &i1, nullptr, nullptr, &err);
  EXPECT_EQ(i0, 0u);
  EXPECT_EQ(i1, 2u);
  char *json = pm_result_json(r.r, PM_JSON_RELAXED);
  EXPECT_EQ(field(json, "insertedIds"), "{ \"1\" : 2, \"3\" : 4 }") << json;
  pm_free(json);
  EXPECT_EQ(count(), 3);
}

// Without a result pointer no result is built (the writes' fast path), and nothing else changes:
// the documents are written, generated _ids included, and errors carry their codes.
TEST_F(Crud, WritesWithoutAResultPointerStillWriteAndReportErrors) {
  pm_error err;
  ASSERT_EQ(pm_db_insert_one(db.d, "{\"_id\": 1, \"v\": \"a\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_OK)
      << err.message;
  ASSERT_EQ(pm_db_insert_one(db.d, "{\"v\": \"generated id\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_OK)
      << err.message;
  EXPECT_EQ(pm_db_insert_one(db.d, "{\"_id\": 1, \"v\": \"b\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);
  EXPECT_EQ(err.server_code, 11000);
  const char *docs[] = {"{\"_id\": 2}", "{\"_id\": 1}", "{\"_id\": 3}"};
  size_t lens[] = {PM_JSON, PM_JSON, PM_JSON};
  EXPECT_EQ(pm_db_insert_many(db.d, (const void *const *)docs, lens, 3, "{\"ordered\": false}", PM_JSON,
                              nullptr, &err),
            PM_EDUPKEY);
  EXPECT_EQ(err.server_code, 11000);
  EXPECT_EQ(count(), 4);  // 1, the generated one, 2 and 3
  EXPECT_EQ(count("{\"_id\": 1, \"v\": \"a\"}"), 1);  // the duplicate changed nothing
  auto generated = check.find_json(name, "items", "{\"v\": \"generated id\"}");
  ASSERT_EQ(generated.size(), 1u);
  EXPECT_NE(field(generated[0], "_id").find("$oid"), std::string::npos) << generated[0];
}

TEST_F(Crud, FindWithFilterProjectionSortSkipLimitBatchSize) {
  for (int i = 0; i < 25; ++i)
    insert_json(db.d, "{\"_id\": " + std::to_string(i) + ", \"g\": " + std::to_string(i % 2) + ", \"x\": \"v" +
                          std::to_string(i) + "\"}");
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_find(db.d, "{\"g\": 0}", PM_JSON,
                       "{\"projection\": {\"x\": 1, \"_id\": 0}, \"sort\": {\"_id\": -1}, \"skip\": 1,"
                       " \"limit\": 5, \"batchSize\": 2}",
                       PM_JSON, &c.c, &err),
            PM_OK)
      << err.message;
  auto docs = drain(c.c);
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(docs[0], "{ \"x\" : \"v22\" }");
  EXPECT_EQ(docs[4], "{ \"x\" : \"v14\" }");
}

TEST_F(Crud, FindOneReturnsFirstOrNothing) {
  insert_json(db.d, "{\"_id\": 1, \"k\": \"b\"}");
  insert_json(db.d, "{\"_id\": 2, \"k\": \"a\"}");
  Buf found, none;
  pm_error err;
  ASSERT_EQ(pm_db_find_one(db.d, nullptr, 0, "{\"sort\": {\"k\": 1}}", PM_JSON, &found.b, &err), PM_OK);
  EXPECT_EQ(field(found.json(), "_id"), "2");
  ASSERT_EQ(pm_db_find_one(db.d, "{\"k\": \"zzz\"}", PM_JSON, nullptr, 0, &none.b, &err), PM_OK);
  EXPECT_EQ(none.b.data, nullptr);
  EXPECT_EQ(none.b.len, 0u);
}

TEST_F(Crud, UpdateOneManyAndUpsert) {
  for (int i = 0; i < 4; ++i) insert_json(db.d, "{\"_id\": " + std::to_string(i) + ", \"s\": \"new\"}");
  pm_error err;
  Result one, many, up;
  ASSERT_EQ(pm_db_update_one(db.d, "{\"s\": \"new\"}", PM_JSON, "{\"$set\": {\"s\": \"one\"}}", PM_JSON, nullptr, 0,
                             &one.r, &err),
            PM_OK);
  EXPECT_EQ(pm_result_matched_count(one.r), 1);
  EXPECT_EQ(pm_result_modified_count(one.r), 1);
  ASSERT_EQ(pm_db_update_many(db.d, "{\"s\": \"new\"}", PM_JSON, "{\"$set\": {\"s\": \"many\"}}", PM_JSON, nullptr,
                              0, &many.r, &err),
            PM_OK);
  EXPECT_EQ(pm_result_modified_count(many.r), 3);
  ASSERT_EQ(pm_db_update_one(db.d, "{\"_id\": 99}", PM_JSON, "{\"$set\": {\"s\": \"up\"}}", PM_JSON,
                             "{\"upsert\": true}", PM_JSON, &up.r, &err),
            PM_OK)
      << err.message;
  EXPECT_EQ(pm_result_upserted_count(up.r), 1);
  char *json = pm_result_json(up.r, PM_JSON_RELAXED);
  EXPECT_EQ(field(json, "upsertedIds"), "{ \"0\" : 99 }") << json;
  pm_free(json);
  EXPECT_EQ(count("{\"s\": \"one\"}"), 1);
  EXPECT_EQ(count("{\"s\": \"many\"}"), 3);
  EXPECT_EQ(count("{\"_id\": 99, \"s\": \"up\"}"), 1);
}

TEST_F(Crud, UpdateWithArrayFilters) {
  on_server_with_feature("arrayFilters", [](FeatureRun &run) {
    On on(run.uri);
    insert_json(on.db.d, "{\"_id\": 1, \"grades\": [95, 80, 101, 102]}");
    pm_error err;
    Result r;
    int rc = pm_db_update_one(on.db.d, "{\"_id\": 1}", PM_JSON, "{\"$set\": {\"grades.$[g]\": 100}}", PM_JSON,
                              "{\"arrayFilters\": [{\"g\": {\"$gte\": 100}}]}", PM_JSON, &r.r, &err);
    if (rc == PM_ENOTSUP || (rc == PM_ESERVER && err.server_code == 238)) {
      // The option reached the server, which said it cannot do this: the caller gets that
      // error and the document is unchanged.
      EXPECT_NE(err.server_code, 0) << err.message;
      EXPECT_EQ(on.count("{\"grades\": [95, 80, 101, 102]}"), 1);
      run.refuse(err.message);
      return;
    }
    ASSERT_EQ(rc, PM_OK) << err.message;
    EXPECT_EQ(on.count("{\"grades\": [95, 80, 100, 100]}"), 1);
  });
}

TEST_F(Crud, ReplaceOneAndRejectsOperators) {
  insert_json(db.d, "{\"_id\": 1, \"a\": 1, \"b\": 2}");
  pm_error err;
  Result r;
  ASSERT_EQ(pm_db_replace_one(db.d, "{\"_id\": 1}", PM_JSON, "{\"c\": 3}", PM_JSON, nullptr, 0, &r.r, &err), PM_OK);
  EXPECT_EQ(pm_result_modified_count(r.r), 1);
  auto docs = check.find_json(name, "items");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], "{ \"_id\" : 1, \"c\" : 3 }");
  Result bad;
  EXPECT_EQ(pm_db_replace_one(db.d, "{\"_id\": 1}", PM_JSON, "{\"$set\": {\"c\": 4}}", PM_JSON, nullptr, 0, &bad.r,
                              &err),
            PM_EINVAL);
  EXPECT_EQ(bad.r, nullptr);
  EXPECT_EQ(check.find_json(name, "items")[0], "{ \"_id\" : 1, \"c\" : 3 }");
}

TEST_F(Crud, DeleteOneAndMany) {
  for (int i = 0; i < 5; ++i) insert_json(db.d, "{\"t\": " + std::to_string(i < 4 ? 1 : 2) + "}");
  pm_error err;
  Result one, many;
  ASSERT_EQ(pm_db_delete_one(db.d, "{\"t\": 1}", PM_JSON, nullptr, 0, &one.r, &err), PM_OK);
  EXPECT_EQ(pm_result_deleted_count(one.r), 1);
  ASSERT_EQ(pm_db_delete_many(db.d, "{\"t\": 1}", PM_JSON, nullptr, 0, &many.r, &err), PM_OK);
  EXPECT_EQ(pm_result_deleted_count(many.r), 3);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(count("{\"t\": 2}"), 1);
}

TEST_F(Crud, FindOneAndUpdateReplaceDelete) {
  insert_json(db.d, "{\"_id\": 1, \"v\": 1}");
  insert_json(db.d, "{\"_id\": 2, \"v\": 5}");
  pm_error err;
  Buf before, after, replaced, deleted, nothing;
  ASSERT_EQ(pm_db_find_one_and_update(db.d, "{\"_id\": 1}", PM_JSON, "{\"$inc\": {\"v\": 10}}", PM_JSON, nullptr,
                                      0, &before.b, &err),
            PM_OK)
      << err.message;
  EXPECT_EQ(field(before.json(), "v"), "1");
  ASSERT_EQ(pm_db_find_one_and_update(db.d, "{}", PM_JSON, "{\"$inc\": {\"v\": 1}}", PM_JSON,
                                      "{\"sort\": {\"v\": -1}, \"returnDocument\": \"after\"}",
                                      PM_JSON, &after.b, &err),
            PM_OK)
      << err.message;
  EXPECT_EQ(after.json(), "{ \"_id\" : 1, \"v\" : 12 }");
  ASSERT_EQ(pm_db_find_one_and_replace(db.d, "{\"_id\": 2}", PM_JSON, "{\"r\": true}", PM_JSON,
                                       "{\"returnDocument\": \"after\"}", PM_JSON, &replaced.b, &err),
            PM_OK);
  EXPECT_EQ(replaced.json(), "{ \"_id\" : 2, \"r\" : true }");
  ASSERT_EQ(pm_db_find_one_and_delete(db.d, "{\"_id\": 2}", PM_JSON, nullptr, 0, &deleted.b, &err), PM_OK);
  EXPECT_EQ(field(deleted.json(), "r"), "true");
  ASSERT_EQ(pm_db_find_one_and_delete(db.d, "{\"_id\": 77}", PM_JSON, nullptr, 0, &nothing.b, &err), PM_OK);
  EXPECT_EQ(nothing.b.data, nullptr);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(count("{\"_id\": 1, \"v\": 12}"), 1);
  Buf bad;
  EXPECT_EQ(pm_db_find_one_and_update(db.d, "{}", PM_JSON, "{\"v\": 1}", PM_JSON, nullptr, 0, &bad.b, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_find_one_and_update(db.d, "{}", PM_JSON, "{\"$set\": {\"v\": 1}}", PM_JSON,
                                      "{\"returnDocument\": \"sideways\"}", PM_JSON, &bad.b, &err),
            PM_EINVAL);
  EXPECT_EQ(count("{\"_id\": 1, \"v\": 12}"), 1);
}

TEST_F(Crud, CountEstimatedCountDistinct) {
  for (int i = 0; i < 9; ++i) insert_json(db.d, "{\"c\": \"" + std::string(1, char('a' + i % 3)) + "\"}");
  pm_error err;
  int64_t n = -1, est = -1;
  ASSERT_EQ(pm_db_count(db.d, "{\"c\": \"a\"}", PM_JSON, nullptr, 0, &n, &err), PM_OK);
  EXPECT_EQ(n, 3);
  ASSERT_EQ(pm_db_count(db.d, nullptr, 0, "{\"limit\": 4}", PM_JSON, &n, &err), PM_OK);
  EXPECT_EQ(n, 4);
  ASSERT_EQ(pm_db_estimated_count(db.d, nullptr, 0, &est, &err), PM_OK) << err.message;
  EXPECT_EQ(est, 9);
  Buf values;
  ASSERT_EQ(pm_db_distinct(db.d, "c", nullptr, 0, nullptr, 0, &values.b, &err), PM_OK) << err.message;
  std::string v = field(values.json(), "values");
  for (const char *x : {"\"a\"", "\"b\"", "\"c\""}) EXPECT_NE(v.find(x), std::string::npos) << v;
}

TEST_F(Crud, AggregateGroupsAndSorts) {
  for (int i = 0; i < 10; ++i)
    insert_json(db.d, "{\"k\": " + std::to_string(i % 3) + ", \"v\": " + std::to_string(i) + "}");
  Cursor c;
  pm_error err;
  ASSERT_EQ(pm_db_aggregate(db.d,
                            "[{\"$match\": {\"v\": {\"$gte\": 1}}}, {\"$group\": {\"_id\": \"$k\", "
                            "\"total\": {\"$sum\": \"$v\"}}}, {\"$sort\": {\"_id\": 1}}]",
                            PM_JSON, nullptr, 0, &c.c, &err),
            PM_OK)
      << err.message;
  auto docs = drain(c.c);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0], "{ \"_id\" : 0, \"total\" : 18 }");  // 3 + 6 + 9
  EXPECT_EQ(docs[1], "{ \"_id\" : 1, \"total\" : 12 }");  // 1 + 4 + 7
  EXPECT_EQ(docs[2], "{ \"_id\" : 2, \"total\" : 15 }");  // 2 + 5 + 8
}

TEST_F(Crud, AggregateRejectsMalformedPipelinesBeforeSending) {
  insert_json(db.d, "{\"a\": 1}");
  Cursor c;
  pm_error err;
  for (const char *bad : {"{\"pipeline\": 42}", "{\"$match\": {}}", "{\"pipeline\": {\"$match\": {}}}"}) {
    EXPECT_EQ(pm_db_aggregate(db.d, bad, PM_JSON, nullptr, 0, &c.c, &err), PM_EINVAL) << bad;
    EXPECT_EQ(c.c, nullptr);
  }
  ASSERT_EQ(pm_db_aggregate(db.d, "{\"pipeline\": [{\"$count\": \"n\"}]}", PM_JSON, nullptr, 0, &c.c, &err), PM_OK)
      << err.message;
  auto docs = drain(c.c);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], "{ \"n\" : 1 }");
}

TEST_F(Crud, DroppedCollectionGetsTheModelsIndexesAgain) {
  Model indexed;
  indexed.m = new_model(w.w, "uniq", "{\"indexes\": [{\"key\": {\"u\": 1}, \"unique\": true}]}");
  Db d;
  d.d = bind_db(indexed.m, name);
  insert_json(d.d, "{\"u\": 1}");
  pm_error err;
  ASSERT_EQ(pm_db_drop_collection(d.d, &err), PM_OK);
  insert_json(d.d, "{\"u\": 1}");
  EXPECT_EQ(pm_db_insert_one(d.d, "{\"u\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY)
      << "the unique index was re-applied after the drop";
}

TEST_F(Crud, BulkWriteOrderedAndUnordered) {
  const char *ops[] = {
      "{\"insertOne\": {\"document\": {\"_id\": 1, \"v\": 1}}}",
      "{\"insertOne\": {\"document\": {\"_id\": 2, \"v\": 2}}}",
      "{\"updateOne\": {\"filter\": {\"_id\": 1}, \"update\": {\"$set\": {\"v\": 10}}}}",
      "{\"updateMany\": {\"filter\": {}, \"update\": {\"$inc\": {\"v\": 1}}}}",
      "{\"replaceOne\": {\"filter\": {\"_id\": 3}, \"replacement\": {\"v\": 30}, \"upsert\": true}}",
      "{\"deleteOne\": {\"filter\": {\"_id\": 2}}}",
  };
  size_t lens[6];
  for (size_t &l : lens) l = PM_JSON;
  Result r;
  pm_error err;
  ASSERT_EQ(pm_db_bulk_write(db.d, (const void *const *)ops, lens, 6, nullptr, 0, &r.r, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_result_inserted_count(r.r), 2);
  EXPECT_EQ(pm_result_matched_count(r.r), 3);
  EXPECT_EQ(pm_result_upserted_count(r.r), 1);
  EXPECT_EQ(pm_result_deleted_count(r.r), 1);
  EXPECT_EQ(count("{\"_id\": 1, \"v\": 11}"), 1);
  EXPECT_EQ(count("{\"_id\": 3, \"v\": 30}"), 1);
  EXPECT_EQ(count(), 2);

  const char *unordered[] = {"{\"insertOne\": {\"document\": {\"_id\": 1}}}",
                             "{\"insertOne\": {\"document\": {\"_id\": 5}}}",
                             "{\"deleteMany\": {\"filter\": {\"_id\": 3}}}"};
  Result u;
  EXPECT_EQ(pm_db_bulk_write(db.d, (const void *const *)unordered, lens, 3, "{\"ordered\": false}", PM_JSON, &u.r,
                             &err),
            PM_EDUPKEY);
  ASSERT_NE(u.r, nullptr);
  EXPECT_EQ(pm_result_inserted_count(u.r), 1);
  EXPECT_EQ(pm_result_deleted_count(u.r), 1);
  EXPECT_EQ(count(), 2);  // 1 and 5
}

TEST_F(Crud, BulkWriteRejectsMalformedModelsBeforeWriting) {
  const char *ops[] = {"{\"insertOne\": {\"document\": {\"_id\": 1}}}",
                       "{\"upsertEverything\": {\"filter\": {}}}"};
  size_t lens[] = {PM_JSON, PM_JSON};
  Result r;
  pm_error err;
  EXPECT_EQ(pm_db_bulk_write(db.d, (const void *const *)ops, lens, 2, nullptr, 0, &r.r, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("bulk write 1"), std::string::npos) << err.message;
  EXPECT_EQ(count(), 0);
  const char *noupdate[] = {"{\"updateOne\": {\"filter\": {}}}"};
  EXPECT_EQ(pm_db_bulk_write(db.d, (const void *const *)noupdate, lens, 1, nullptr, 0, &r.r, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_bulk_write(db.d, nullptr, nullptr, 0, nullptr, 0, &r.r, &err), PM_EINVAL);
}

TEST_F(Crud, IndexesCreateListDrop) {
  pm_error err;
  char *idx = nullptr;
  ASSERT_EQ(pm_db_create_index(db.d, "{\"email\": 1}", PM_JSON, "{\"unique\": true}", PM_JSON, &idx, &err), PM_OK)
      << err.message;
  EXPECT_STREQ(idx, "email_1");
  pm_free(idx);
  insert_json(db.d, "{\"email\": \"a@x\"}");
  EXPECT_EQ(pm_db_insert_one(db.d, "{\"email\": \"a@x\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_EDUPKEY);
  Cursor c;
  ASSERT_EQ(pm_db_list_indexes(db.d, &c.c, &err), PM_OK);
  auto names = drain(c.c);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(field(names[1], "name"), "\"email_1\"");
  ASSERT_EQ(pm_db_drop_index(db.d, "email_1", &err), PM_OK) << err.message;
  EXPECT_EQ(pm_db_insert_one(db.d, "{\"email\": \"a@x\"}", PM_JSON, nullptr, 0, nullptr, &err), PM_OK);
  EXPECT_EQ(pm_db_drop_index(db.d, "no_such_index", &err), PM_ESERVER);
  EXPECT_NE(err.server_code, 0);
}

// pm_index_name is the name the server-side creation used (checked against the server's own
// list), so a binding can drop an index by its keys; and pm_is_duplicate_key classifies the
// server's own duplicate-key code, per document as for the whole call.
TEST_F(Crud, IndexNameMatchesTheCreatedIndexAndDuplicateKeyCodesAreClassified) {
  pm_error err;
  const char *keys = "{\"email\": 1, \"age\": -1, \"bio\": \"text\"}";
  char *created = nullptr;
  ASSERT_EQ(pm_db_create_index(db.d, "{\"email\": 1, \"age\": -1}", PM_JSON, "{\"unique\": true}", PM_JSON,
                               &created, &err), PM_OK) << err.message;
  char *named = nullptr;
  ASSERT_EQ(pm_index_name("{\"email\": 1, \"age\": -1}", PM_JSON, &named, &err), PM_OK) << err.message;
  EXPECT_STREQ(named, created);
  EXPECT_STREQ(named, "email_1_age_-1");
  Cursor c;
  ASSERT_EQ(pm_db_list_indexes(db.d, &c.c, &err), PM_OK) << err.message;
  auto listed = drain(c.c);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(field(listed[1], "name"), std::string("\"") + named + "\"") << "the server knows it by this name";

  insert_json(db.d, "{\"email\": \"a@x\", \"age\": 3}");
  EXPECT_EQ(pm_db_insert_one(db.d, "{\"email\": \"a@x\", \"age\": 3}", PM_JSON, nullptr, 0, nullptr, &err),
            PM_EDUPKEY);
  EXPECT_EQ(pm_is_duplicate_key(err.server_code), 1) << err.server_code;
  EXPECT_EQ(pm_db_drop_index(db.d, "no_such_index", &err), PM_ESERVER);
  EXPECT_EQ(pm_is_duplicate_key(err.server_code), 0) << err.server_code;

  ASSERT_EQ(pm_db_drop_index(db.d, named, &err), PM_OK) << err.message;
  EXPECT_EQ(pm_db_insert_one(db.d, "{\"email\": \"a@x\", \"age\": 3}", PM_JSON, nullptr, 0, nullptr, &err),
            PM_OK) << "the index the name named is gone";
  pm_free(created);
  pm_free(named);

  char *text = nullptr;
  ASSERT_EQ(pm_index_name(keys, PM_JSON, &text, &err), PM_OK) << err.message;
  EXPECT_STREQ(text, "email_1_age_-1_bio_text");
  pm_free(text);
  char *bad = reinterpret_cast<char *>(1);
  EXPECT_EQ(pm_index_name("{\"a\": 1.5}", PM_JSON, &bad, &err), PM_EINVAL);
  EXPECT_EQ(bad, nullptr);
  EXPECT_EQ(pm_index_name("{}", PM_JSON, &bad, &err), PM_EINVAL);
  EXPECT_EQ(pm_index_name(nullptr, 0, &bad, &err), PM_EINVAL);
  EXPECT_EQ(pm_index_name("{\"a\": 1}", PM_JSON, nullptr, &err), PM_EINVAL);
}

TEST_F(Crud, DropCollectionAndCommand) {
  insert_json(db.d, "{\"a\": 1}");
  pm_error err;
  ASSERT_EQ(pm_db_drop_collection(db.d, &err), PM_OK) << err.message;
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(pm_db_drop_collection(db.d, &err), PM_OK) << "dropping a missing collection is fine";
  Buf reply;
  ASSERT_EQ(pm_db_command(db.d, "{\"ping\": 1}", PM_JSON, &reply.b, &err), PM_OK);
  EXPECT_EQ(field(reply.json(), "ok"), "1.0");
  Buf bad;
  EXPECT_EQ(pm_db_command(db.d, "{\"noSuchCommand\": 1}", PM_JSON, &bad.b, &err), PM_ENOTSUP);
  EXPECT_EQ(err.server_code, 59);
}

TEST_F(Crud, BadInputGetsClearErrorsAndWritesNothing) {
  pm_error err;
  EXPECT_EQ(pm_db_insert_one(db.d, "{not json", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("document"), std::string::npos) << err.message;
  uint8_t garbage[] = {0x10, 0, 0, 0, 0x02, 'a', 0, 0xff, 0xff, 0xff, 0x7f, 'x', 0, 0, 0, 0};
  EXPECT_EQ(pm_db_insert_one(db.d, garbage, sizeof garbage, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_insert_one(db.d, garbage, 3, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_insert_one(db.d, nullptr, 0, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_insert_one(nullptr, "{}", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_EQ(pm_db_update_many(db.d, "{}", PM_JSON, "{\"plain\": 1}", PM_JSON, nullptr, 0, nullptr, &err), PM_EINVAL);
  // Key rules are the server's to enforce: it refuses, and the result says which write failed.
  Result bad;
  EXPECT_EQ(pm_db_insert_one(db.d, "{\"$bad\": 1}", PM_JSON, nullptr, 0, &bad.r, &err), PM_EWRITE) << err.message;
  EXPECT_EQ(pm_result_write_error_count(bad.r), 1u);
  EXPECT_EQ(count(), 0);
  insert_json(db.d, "{\"a\": 1}");
  Cursor c;
  EXPECT_EQ(pm_db_find(db.d, "{\"a\": {\"$nosuchop\": 1}}", PM_JSON, nullptr, 0, &c.c, &err), PM_ESERVER);
  EXPECT_EQ(c.c, nullptr);
  EXPECT_NE(err.server_code, 0);
  EXPECT_EQ(count(), 1);
}

TEST_F(Crud, DatabasesAreIsolated) {
  Db other;
  std::string other_name = unique_db("crud_other");
  other.d = bind_db(m.m, other_name);
  insert_json(db.d, "{\"who\": \"first\"}");
  insert_json(other.d, "{\"who\": \"second\"}");
  insert_json(other.d, "{\"who\": \"second\"}");
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(count("{\"who\": \"second\"}"), 0);
  EXPECT_EQ(check.count(other_name, "items"), 2);
  EXPECT_EQ(check.count(other_name, "items", "{\"who\": \"first\"}"), 0);
}

TEST_F(Crud, JsonAndBsonConversionsRoundTripTypes) {
  const char *canonical =
      "{\"i\": {\"$numberInt\": \"1\"}, \"l\": {\"$numberLong\": \"2\"}, \"d\": {\"$numberDouble\": \"1.5\"},"
      " \"t\": {\"$date\": {\"$numberLong\": \"1700000000000\"}},"
      " \"o\": {\"$oid\": \"5f0000000000000000000001\"}, \"b\": {\"$binary\": {\"base64\": \"AQI=\", \"subType\": \"04\"}}}";
  pm_error err;
  Result r;
  ASSERT_EQ(pm_db_insert_one(db.d, canonical, PM_JSON, nullptr, 0, &r.r, &err), PM_OK) << err.message;
  Buf got;
  ASSERT_EQ(pm_db_find_one(db.d, nullptr, 0, "{\"projection\": {\"_id\": 0}}", PM_JSON, &got.b, &err), PM_OK);
  char *out = pm_bson_to_json(got.b.data, got.b.len, PM_JSON_CANONICAL);
  ASSERT_NE(out, nullptr);
  std::string s = out;
  pm_free(out);
  for (const char *frag : {"\"$numberInt\" : \"1\"", "\"$numberLong\" : \"2\"", "\"$numberDouble\" : \"1.5\"",
                           "\"$numberLong\" : \"1700000000000\"",
                           "\"$oid\" : \"5f0000000000000000000001\"", "\"subType\" : \"04\""})
    EXPECT_NE(s.find(frag), std::string::npos) << frag << " in " << s;
  EXPECT_EQ(pm_bson_to_json("xx", 2, PM_JSON_RELAXED), nullptr);
  // Client-side conversion keeps types the test server cannot store (FerretDB lacks Decimal128).
  Buf dec;
  ASSERT_EQ(pm_json_to_bson("{\"d\": {\"$numberDecimal\": \"1.10\"}}", &dec.b, &err), PM_OK);
  char *d = pm_bson_to_json(dec.b.data, dec.b.len, PM_JSON_CANONICAL);
  EXPECT_STREQ(d, "{ \"d\" : { \"$numberDecimal\" : \"1.10\" } }");
  pm_free(d);
  EXPECT_EQ(pm_json_to_bson("{oops", &dec.b, &err), PM_EINVAL);
}

// Found by fuzz_document: libbson's relaxed printer writes a date after year 9999 as an ISO
// string no parser reads back, and a '$' key's relaxed value can read back as a type wrapper;
// polymongo prints such documents canonically instead.
namespace {
// The document `in` (Extended JSON), printed relaxed, reads back byte for byte.
void expect_relaxed_reads_back(const std::string &in) {
  pm_error err;
  Buf bson;
  ASSERT_EQ(pm_json_to_bson(in.c_str(), &bson.b, &err), PM_OK) << err.message;
  char *relaxed = pm_bson_to_json(bson.b.data, bson.b.len, PM_JSON_RELAXED);
  ASSERT_NE(relaxed, nullptr);
  Buf again;
  EXPECT_EQ(pm_json_to_bson(relaxed, &again.b, &err), PM_OK) << relaxed << ": " << err.message;
  pm_free(relaxed);
  ASSERT_EQ(again.b.len, bson.b.len) << in;
  EXPECT_EQ(std::memcmp(again.b.data, bson.b.data, bson.b.len), 0) << in;
}
}  // namespace

TEST(Json, RelaxedOutputOfDatesPastYear9999AndDollarKeysReadsBackExactly) {
  for (const char *ms : {"253402300799999", "253402300800000", "9007199254740993"})
    expect_relaxed_reads_back(std::string("{\"when\": {\"$date\": {\"$numberLong\": \"") + ms + "\"}}, \"n\": 1}");
  // Also found by fuzz_document: a '$' key can read back as a type wrapper when its value is
  // printed relaxed ({"$type": 1600000000000} reads as a malformed legacy binary).
  expect_relaxed_reads_back("{\"when\": {\"$type\": {\"$numberLong\": \"1600000000000\"}}}");
  // Dates up to 9999 keep the relaxed ISO form.
  Buf bson;
  pm_error err;
  ASSERT_EQ(pm_json_to_bson("{\"when\": {\"$date\": {\"$numberLong\": \"1700000000000\"}}}", &bson.b, &err), PM_OK);
  char *relaxed = pm_bson_to_json(bson.b.data, bson.b.len, PM_JSON_RELAXED);
  EXPECT_STREQ(relaxed, "{ \"when\" : { \"$date\" : \"2023-11-14T22:13:20Z\" } }");
  pm_free(relaxed);
}

TEST_F(Crud, FindOneAndUpdateWithProjection) {
  on_server_with_feature("findAndModify projections", [](FeatureRun &run) {
    On on(run.uri);
    insert_json(on.db.d, "{\"_id\": 1, \"v\": 1, \"hidden\": true}");
    Buf out;
    pm_error err;
    int rc = pm_db_find_one_and_update(on.db.d, "{\"_id\": 1}", PM_JSON, "{\"$inc\": {\"v\": 1}}", PM_JSON,
                                       "{\"projection\": {\"v\": 1}, \"returnDocument\": \"after\"}", PM_JSON,
                                       &out.b, &err);
    if (rc == PM_ENOTSUP) {
      // The server said it cannot: no document comes back and the update was not applied.
      EXPECT_EQ(out.b.data, nullptr);
      EXPECT_EQ(on.count("{\"_id\": 1, \"v\": 1, \"hidden\": true}"), 1);
      run.refuse(err.message);
      return;
    }
    ASSERT_EQ(rc, PM_OK) << err.message;
    EXPECT_EQ(out.json(), "{ \"_id\" : 1, \"v\" : 2 }");
    EXPECT_EQ(on.count("{\"_id\": 1, \"v\": 2, \"hidden\": true}"), 1);
  });
}

TEST_F(Crud, Decimal128IsStoredAndReadBack) {
  on_server_with_feature("Decimal128", [](FeatureRun &run) {
    On on(run.uri);
    pm_error err;
    Result r;
    int rc = pm_db_insert_one(on.db.d, "{\"_id\": 1, \"price\": {\"$numberDecimal\": \"1.10\"}}", PM_JSON,
                              nullptr, 0, &r.r, &err);
    if (rc != PM_OK) {
      // FerretDB drops the connection on a Decimal128; another server may refuse it. Either
      // way the caller gets the error and nothing is written.
      EXPECT_TRUE(rc == PM_ECONNECT || rc == PM_ESERVER || rc == PM_ENOTSUP || rc == PM_EINVAL)
          << pm_code_name(rc) << ": " << err.message;
      EXPECT_EQ(on.count(), 0);
      run.refuse(err.message);
      return;
    }
    Buf got;
    ASSERT_EQ(pm_db_find_one(on.db.d, "{\"price\": {\"$numberDecimal\": \"1.10\"}}", PM_JSON, nullptr, 0,
                             &got.b, &err),
              PM_OK)
        << err.message;
    char *json = pm_bson_to_json(got.b.data, got.b.len, PM_JSON_CANONICAL);
    EXPECT_STREQ(json, "{ \"_id\" : { \"$numberInt\" : \"1\" }, \"price\" : { \"$numberDecimal\" : \"1.10\" } }");
    pm_free(json);
    EXPECT_EQ(on.count("{\"price\": {\"$numberDecimal\": \"1.10\"}}"), 1);
  });
}

TEST_F(Crud, InputsFoundByFuzzingAreRefusedBeforeSending) {
  insert_json(db.d, "{\"a\": 1}");
  insert_json(db.d, "{\"a\": 2}");
  pm_error err;
  // A filter that is not a document is refused, not taken for the empty filter (match all).
  const char *ops[] = {"{\"deleteMany\": {\"filter\": 5}}"};
  size_t lens[] = {PM_JSON};
  Result r;
  EXPECT_EQ(pm_db_bulk_write(db.d, (const void *const *)ops, lens, 1, nullptr, 0, &r.r, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("filter must be a document"), std::string::npos) << err.message;
  EXPECT_EQ(count(), 2);
  // Keys libmongoc cannot name an index after (it returned NULL, which crashed).
  char *idx = nullptr;
  EXPECT_EQ(pm_db_create_index(db.d, "{\"a\": 1.5}", PM_JSON, nullptr, 0, &idx, &err), PM_EINVAL);
  EXPECT_EQ(idx, nullptr);
  pm_model *bad_model = nullptr;
  EXPECT_EQ(pm_model_new(w.w, "items", "{\"indexes\": [{\"key\": {\"a\": {\"b\": 1}}}]}", PM_JSON, &bad_model,
                         &err), PM_EINVAL);
  EXPECT_EQ(bad_model, nullptr);
  // A filter libmongoc refuses itself is the caller's error, not an internal one.
  Cursor c;
  EXPECT_EQ(pm_db_find(db.d, "{\"\": 1}", PM_JSON, nullptr, 0, &c.c, &err), PM_EINVAL) << err.message;
  // BSON whose embedded document ends in a non-zero byte, and BSON nested 20,000 levels deep
  // (libbson's recursive validation overflowed the stack on it).
  const uint8_t bad_end[] = {0x14, 0, 0, 0, 0x03, 's', 0, 0x0c, 0, 0, 0, 0x10, 'x', 0, 1, 0, 0, 0, 0xff, 0};
  EXPECT_EQ(pm_bson_to_json(bad_end, sizeof bad_end, PM_JSON_CANONICAL), nullptr);
  EXPECT_EQ(pm_db_find(db.d, bad_end, sizeof bad_end, nullptr, 0, &c.c, &err), PM_EINVAL);
  const size_t depth = 20000, size = 5 + 8 * depth;
  std::vector<uint8_t> deep(size, 0);
  for (size_t i = 0; i <= depth; ++i) {  // document i: {"a": document i + 1}, from 7 * i to size - i
    uint32_t len = static_cast<uint32_t>(size - 8 * i);
    std::memcpy(&deep[7 * i], &len, 4);
    if (i < depth) {
      deep[7 * i + 4] = 0x03;  // a document ...
      deep[7 * i + 5] = 'a';   // ... under key "a"
    }
  }
  EXPECT_EQ(pm_bson_to_json(deep.data(), deep.size(), PM_JSON_CANONICAL), nullptr);
  EXPECT_EQ(pm_db_insert_one(db.d, deep.data(), deep.size(), nullptr, 0, nullptr, &err), PM_EINVAL);
  EXPECT_NE(std::string(err.message).find("nested deeper than 200 levels"), std::string::npos) << err.message;
  EXPECT_EQ(count(), 2);
}
