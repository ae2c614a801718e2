// A Db's reads: find, find one, counts, distinct and aggregate.
#include <utility>

#include "ops/db_run.hpp"
#include "ops/op_checks.hpp"

namespace pm::core {

std::unique_ptr<Cursor> Db::find(DocView filter, DocView opts) const {
  Doc f(filter, "filter");
  Doc o(opts, "options");
  check_read_options(o.get(), "find");
  return run(Op{"find", false, f.get()}, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_find_with_opts(t.coll, f.get(), OpOpts(o.get(), pinned()).get(), nullptr);
  return std::make_unique<Cursor>(shared_from_this(), std::move(t.lease),
                                  std::exchange(t.coll, nullptr), c, "find in " + where());
  });
}

std::optional<Bytes> Db::find_one(DocView filter, DocView opts) const {
  Doc f(filter, "filter");
  Doc o(opts, "options");
  check_read_options(o.get(), "find one");
  bson_t one = BSON_INITIALIZER;
  copy_except(o.get(), &one, {"limit", "singleBatch", "batchSize"});
  BSON_APPEND_INT64(&one, "limit", 1);  // the server closes the cursor once the limit is met
  BsonGuard one_guard{&one};
  return run(Op{"findOne", false, f.get()}, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_find_with_opts(t.coll, f.get(), OpOpts(&one, pinned()).get(), nullptr);
  const bson_t *doc = nullptr;
  std::optional<Bytes> out;
  if (mongoc_cursor_next(c, &doc)) out = to_bytes(doc);
  bson_error_t error;
  bool failed = !out && mongoc_cursor_error(c, &error);
  mongoc_cursor_destroy(c);
  if (failed) throw Error::from_driver(error, "find in " + where());
  return out;
  });
}

int64_t Db::count(DocView filter, DocView opts) const {
  Doc f(filter, "filter");
  Doc o(opts, "options");
  check_read_options(o.get(), "count");
  return run(Op{"count", false, f.get()}, [&](Target &t) {
  bson_error_t error;
  int64_t n = mongoc_collection_count_documents(t.coll, f.get(), OpOpts(o.get(), pinned()).get(), nullptr, nullptr, &error);
  if (n < 0) throw Error::from_driver(error, "count in " + where());
  return n;
  });
}

int64_t Db::estimated_count(DocView opts) const {
  Doc o(opts, "options");
  return run(Op{"estimatedCount", false}, [&](Target &t) {
  bson_error_t error;
  // Without the session id even on a session's connection: libmongoc 1.23 frees memory it
  // does not own when this call is given a sessionId (a double free), and the count command
  // it sends reads metadata only and is not allowed in a transaction anyway.
  int64_t n = mongoc_collection_estimated_document_count(t.coll, o.get(), nullptr, nullptr, &error);
  if (n < 0) throw Error::from_driver(error, "estimated count in " + where());
  return n;
  });
}

Bytes Db::distinct(const std::string &field, DocView filter, DocView opts) const {
  if (field.empty()) fail(Code::invalid_argument, "distinct: the field name is empty");
  Doc f(filter, "filter");
  Doc o(opts, "options");
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&cmd, "distinct", collection().c_str());
  BSON_APPEND_UTF8(&cmd, "key", field.c_str());
  BSON_APPEND_DOCUMENT(&cmd, "query", f.get());
  BsonGuard cmd_guard{&cmd};
  return run(Op{"distinct", false, f.get()}, [&](Target &t) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_read_command_with_opts(t.coll, &cmd, nullptr, OpOpts(o.get(), pinned()).get(), &reply, &error);
  bson_t values = BSON_INITIALIZER;
  bson_iter_t it;
  if (ok && bson_iter_init_find(&it, &reply, "values")) bson_append_iter(&values, "values", 6, &it);
  bson_destroy(&reply);
  if (!ok) {
    bson_destroy(&values);
    throw Error::from_driver(error, "distinct in " + where());
  }
  Bytes out = to_bytes(&values);
  bson_destroy(&values);
  return out;
  });
}

std::unique_ptr<Cursor> Db::aggregate(DocView pipeline, DocView opts) const {
  if (pipeline.data == nullptr) fail(Code::invalid_argument, "aggregate: the pipeline is NULL");
  // Extended JSON parsers take a document; a bare JSON array is wrapped as {"pipeline": [...]}.
  std::string wrapped;
  if (pipeline.len == kJsonLength) {
    const char *s = static_cast<const char *>(pipeline.data);
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') ++s;
    if (*s == '[') {
      wrapped = std::string("{\"pipeline\": ") + s + "}";
      pipeline.data = wrapped.c_str();
    }
  }
  Doc p(pipeline, "pipeline");
  Doc o(opts, "options");
  check_read_options(o.get(), "aggregate");
  // Either {"pipeline": [...]} or the array itself (keys "0", "1", ...): anything else would
  // reach libmongoc malformed.
  bson_iter_t it;
  if (bson_iter_init_find(&it, p.get(), "pipeline") ? !BSON_ITER_HOLDS_ARRAY(&it)
                                                    : !(p.empty() || looks_like_pipeline(p.get())))
    fail(Code::invalid_argument, "aggregate: the pipeline must be an array of stages");
  return run(Op{"aggregate", false, p.get()}, [&](Target &t) {
  mongoc_cursor_t *c = mongoc_collection_aggregate(t.coll, MONGOC_QUERY_NONE, p.get(), OpOpts(o.get(), pinned()).get(), nullptr);
  return std::make_unique<Cursor>(shared_from_this(), std::move(t.lease),
                                  std::exchange(t.coll, nullptr), c, "aggregate in " + where());
  });
}

}  // namespace pm::core
