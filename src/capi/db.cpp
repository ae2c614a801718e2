// pm_db_*: operations on a model bound to one database.
#include "shim.hpp"

using namespace pm;

namespace {

core::Db &db_of(pm_db *db) {
  if (db == nullptr) capi::null_argument("db");
  return *db->impl;
}

std::vector<core::DocView> views(const void *const *docs, const size_t *lens, size_t n) {
  if (n > 0 && (docs == nullptr || lens == nullptr)) capi::null_argument("documents");
  std::vector<core::DocView> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(core::DocView{docs[i], lens[i]});
  return out;
}

// Hands the result to the caller (when wanted) and reports the write's error, if any.
int finish(core::WriteOutcome &&outcome, pm_result **out) {
  if (out != nullptr && outcome.result) *out = new pm_result{std::move(outcome.result)};
  if (outcome.error) throw *outcome.error;
  return PM_OK;
}

template <class F>
int write(pm_result **out, pm_error *err, F &&body) {
  if (out != nullptr) *out = nullptr;
  return capi::guard(err, [&] { return finish(body(), out); });
}

void reset(pm_buf *out) {
  if (out == nullptr) capi::null_argument("out");
  out->data = nullptr;
  out->len = 0;
}

int give_optional(std::optional<core::Bytes> &&doc, pm_buf *out) {
  if (doc) capi::give(std::move(*doc), out);
  return PM_OK;
}

int give_cursor(std::unique_ptr<core::Cursor> cursor, pm_cursor **out) {
  *out = new pm_cursor{std::move(cursor), {}};
  return PM_OK;
}

pm_cursor **cursor_out(pm_cursor **out) {
  if (out == nullptr) capi::null_argument("out");
  *out = nullptr;
  return out;
}

}  // namespace

extern "C" {

void pm_db_free(pm_db *db) { delete db; }

const char *pm_db_name(const pm_db *db) { return db ? db->impl->name().c_str() : nullptr; }
const char *pm_db_collection(const pm_db *db) {
  return db ? db->impl->collection().c_str() : nullptr;
}

int pm_db_wrapper(const pm_db *db, pm_wrapper **out, pm_error *err) {
  if (out != nullptr) *out = nullptr;
  return capi::guard(err, [&] {
    if (db == nullptr) capi::null_argument("db");
    if (out == nullptr) capi::null_argument("out");
    *out = new pm_wrapper{db->wrapper->shared_from_this()};
    return PM_OK;
  });
}

int pm_db_insert_one(pm_db *db, const void *doc, size_t doc_len, const void *opts,
                     size_t opts_len, pm_result **out, pm_error *err) {
  return write(out, err, [&] {
    if (doc == nullptr) capi::null_argument("document");
    return db_of(db).insert_many({capi::view(doc, doc_len)}, capi::view(opts, opts_len), out != nullptr);
  });
}

int pm_db_insert_many(pm_db *db, const void *const *docs, const size_t *lens, size_t n,
                      const void *opts, size_t opts_len, pm_result **out, pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).insert_many(views(docs, lens, n), capi::view(opts, opts_len), out != nullptr);
  });
}

int pm_db_update_one(pm_db *db, const void *filter, size_t filter_len, const void *update,
                     size_t update_len, const void *opts, size_t opts_len, pm_result **out,
                     pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).update(capi::view(filter, filter_len), capi::view(update, update_len),
                            capi::view(opts, opts_len), false);
  });
}

int pm_db_update_many(pm_db *db, const void *filter, size_t filter_len, const void *update,
                      size_t update_len, const void *opts, size_t opts_len, pm_result **out,
                      pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).update(capi::view(filter, filter_len), capi::view(update, update_len),
                            capi::view(opts, opts_len), true);
  });
}

int pm_db_replace_one(pm_db *db, const void *filter, size_t filter_len, const void *replacement,
                      size_t replacement_len, const void *opts, size_t opts_len,
                      pm_result **out, pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).replace_one(capi::view(filter, filter_len),
                                 capi::view(replacement, replacement_len),
                                 capi::view(opts, opts_len));
  });
}

int pm_db_delete_one(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                     size_t opts_len, pm_result **out, pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).remove(capi::view(filter, filter_len), capi::view(opts, opts_len), false);
  });
}

int pm_db_delete_many(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                      size_t opts_len, pm_result **out, pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).remove(capi::view(filter, filter_len), capi::view(opts, opts_len), true);
  });
}

int pm_db_bulk_write(pm_db *db, const void *const *ops, const size_t *lens, size_t n,
                     const void *opts, size_t opts_len, pm_result **out, pm_error *err) {
  return write(out, err, [&] {
    return db_of(db).bulk_write(views(ops, lens, n), capi::view(opts, opts_len));
  });
}

int pm_db_find(pm_db *db, const void *filter, size_t filter_len, const void *opts,
               size_t opts_len, pm_cursor **out, pm_error *err) {
  return capi::guard(err, [&] {
    return give_cursor(
        db_of(db).find(capi::view(filter, filter_len), capi::view(opts, opts_len)),
        cursor_out(out));
  });
}

int pm_db_find_one(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                   size_t opts_len, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    reset(out);
    return give_optional(
        db_of(db).find_one(capi::view(filter, filter_len), capi::view(opts, opts_len)), out);
  });
}

int pm_db_find_one_and_update(pm_db *db, const void *filter, size_t filter_len,
                              const void *update, size_t update_len, const void *opts,
                              size_t opts_len, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    reset(out);
    return give_optional(db_of(db).find_one_and_modify(
                             core::Modify::update, capi::view(filter, filter_len),
                             capi::view(update, update_len), capi::view(opts, opts_len)),
                         out);
  });
}

int pm_db_find_one_and_replace(pm_db *db, const void *filter, size_t filter_len,
                               const void *replacement, size_t replacement_len,
                               const void *opts, size_t opts_len, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    reset(out);
    return give_optional(db_of(db).find_one_and_modify(
                             core::Modify::replace, capi::view(filter, filter_len),
                             capi::view(replacement, replacement_len),
                             capi::view(opts, opts_len)),
                         out);
  });
}

int pm_db_find_one_and_delete(pm_db *db, const void *filter, size_t filter_len,
                              const void *opts, size_t opts_len, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    reset(out);
    return give_optional(db_of(db).find_one_and_modify(core::Modify::remove,
                                                       capi::view(filter, filter_len), {},
                                                       capi::view(opts, opts_len)),
                         out);
  });
}

int pm_db_count(pm_db *db, const void *filter, size_t filter_len, const void *opts,
                size_t opts_len, int64_t *out, pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = db_of(db).count(capi::view(filter, filter_len), capi::view(opts, opts_len));
    return PM_OK;
  });
}

int pm_db_estimated_count(pm_db *db, const void *opts, size_t opts_len, int64_t *out,
                          pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = db_of(db).estimated_count(capi::view(opts, opts_len));
    return PM_OK;
  });
}

int pm_db_distinct(pm_db *db, const char *field, const void *filter, size_t filter_len,
                   const void *opts, size_t opts_len, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    reset(out);
    if (field == nullptr) capi::null_argument("field");
    capi::give(db_of(db).distinct(field, capi::view(filter, filter_len),
                                  capi::view(opts, opts_len)),
               out);
    return PM_OK;
  });
}

int pm_db_aggregate(pm_db *db, const void *pipeline, size_t pipeline_len, const void *opts,
                    size_t opts_len, pm_cursor **out, pm_error *err) {
  return capi::guard(err, [&] {
    return give_cursor(db_of(db).aggregate(capi::view(pipeline, pipeline_len),
                                           capi::view(opts, opts_len)),
                       cursor_out(out));
  });
}

int pm_db_create_index(pm_db *db, const void *keys, size_t keys_len, const void *opts,
                       size_t opts_len, char **name_out, pm_error *err) {
  if (name_out != nullptr) *name_out = nullptr;
  return capi::guard(err, [&] {
    std::string name = db_of(db).create_index(capi::view(keys, keys_len), capi::view(opts, opts_len));
    if (name_out != nullptr) *name_out = capi::give_string(name);
    return PM_OK;
  });
}

int pm_db_list_indexes(pm_db *db, pm_cursor **out, pm_error *err) {
  return capi::guard(err, [&] { return give_cursor(db_of(db).list_indexes(), cursor_out(out)); });
}

int pm_db_drop_index(pm_db *db, const char *name, pm_error *err) {
  return capi::guard(err, [&] {
    if (name == nullptr) capi::null_argument("name");
    db_of(db).drop_index(name);
    return PM_OK;
  });
}

int pm_db_drop_collection(pm_db *db, pm_error *err) {
  return capi::guard(err, [&] {
    db_of(db).drop_collection();
    return PM_OK;
  });
}

int pm_db_command(pm_db *db, const void *command, size_t command_len, pm_buf *reply,
                  pm_error *err) {
  return capi::guard(err, [&] {
    reset(reply);
    capi::give(db_of(db).command(capi::view(command, command_len)), reply);
    return PM_OK;
  });
}

}  // extern "C"
