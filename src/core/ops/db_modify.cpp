// A Db's find-and-modify: one document updated, replaced or deleted, and returned as it was
// before or after.
#include <cstring>

#include "ops/db_run.hpp"
#include "ops/op_checks.hpp"

namespace pm::core {

std::optional<Bytes> Db::find_one_and_modify(Modify kind, DocView filter, DocView change,
                                             DocView opts) const {
  refuse_in_compensation("find-and-modify");
  Doc f(filter, "filter");
  Doc o(opts, "options");
  std::unique_ptr<Doc> c;
  if (kind != Modify::remove) {
    if (change.data == nullptr) fail(Code::invalid_argument, "find-and-modify: the update is NULL");
    c = std::make_unique<Doc>(change, kind == Modify::update ? "update" : "replacement",
                              kind == Modify::update ? Doc::Accept::pipeline : Doc::Accept::document);
    if (kind == Modify::update) check_update(c->get(), "update");
    else check_replacement(c->get(), "replacement");
  }
  mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
  struct Free {
    mongoc_find_and_modify_opts_t *p;
    ~Free() { mongoc_find_and_modify_opts_destroy(p); }
  } free_fam{fam};
  int flags = kind == Modify::remove ? MONGOC_FIND_AND_MODIFY_REMOVE : MONGOC_FIND_AND_MODIFY_NONE;
  bson_t extra = BSON_INITIALIZER;
  bson_iter_t it;
  bson_iter_init(&it, o.get());
  std::string bad;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (std::strcmp(key, "sort") == 0 || std::strcmp(key, "projection") == 0 ||
        std::strcmp(key, "fields") == 0) {
      bson_t sub;
      DocView v = sub_document(&it);
      if (v.data == nullptr) { bad = std::string(key) + " must be a document"; break; }
      bson_init_static(&sub, static_cast<const uint8_t *>(v.data), v.len);
      if (key[0] == 's') mongoc_find_and_modify_opts_set_sort(fam, &sub);
      else mongoc_find_and_modify_opts_set_fields(fam, &sub);
    } else if (std::strcmp(key, "upsert") == 0) {
      if (bson_iter_as_bool(&it)) flags |= MONGOC_FIND_AND_MODIFY_UPSERT;
    } else if (std::strcmp(key, "returnDocument") == 0) {
      const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
      if (std::strcmp(v, "after") == 0) flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW;
      else if (std::strcmp(v, "before") != 0) { bad = "returnDocument must be \"before\" or \"after\""; break; }
    } else {
      bson_append_iter(&extra, key, -1, &it);
    }
  }
  if (!bad.empty()) {
    bson_destroy(&extra);
    fail(Code::invalid_argument, "find-and-modify: " + bad);
  }
  mongoc_find_and_modify_opts_set_flags(fam, static_cast<mongoc_find_and_modify_flags_t>(flags));
  if (c) mongoc_find_and_modify_opts_set_update(fam, c->get());
  if (const Session *s = pinned()) s->append_to(&extra);
  mongoc_find_and_modify_opts_append(fam, &extra);
  bson_destroy(&extra);

  return run(Op{"findAndModify", true, f.get()}, [&](Target &t) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_find_and_modify_with_opts(t.coll, f.get(), fam, &reply, &error);
  std::optional<Bytes> out;
  if (ok && bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    DocView v = sub_document(&it);
    const uint8_t *p = static_cast<const uint8_t *>(v.data);
    out = Bytes(p, p + v.len);
  }
  if (!ok) {
    Error e = Error::from_driver(error, "find-and-modify in " + where(), &reply);
    bson_destroy(&reply);
    throw e;
  }
  bson_destroy(&reply);
  return out;
  });
}

}  // namespace pm::core
