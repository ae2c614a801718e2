// pm_*_watch, pm_stream_*: change streams.
#include "shim.hpp"

using namespace pm;

namespace {

pm_stream **stream_out(pm_stream **out) {
  if (out == nullptr) capi::null_argument("out");
  *out = nullptr;
  return out;
}

int open(core::Wrapper &w, core::WatchScope scope, const std::string &db, const std::string &coll,
         const void *pipeline, size_t pipeline_len, const void *opts, size_t opts_len, pm_stream **out) {
  auto s = w.watch(scope, db, coll, capi::view(pipeline, pipeline_len), capi::view(opts, opts_len));
  *out = new pm_stream{std::move(s), w.shared_from_this(), {}};
  return PM_OK;
}

}  // namespace

extern "C" {

int pm_db_watch(pm_db *db, const void *pipeline, size_t pipeline_len, const void *opts, size_t opts_len,
                pm_stream **out, pm_error *err) {
  return capi::guard(err, [&] {
    stream_out(out);
    if (db == nullptr) capi::null_argument("db");
    return open(*db->wrapper, core::WatchScope::collection, db->impl->name(), db->impl->collection(), pipeline,
                pipeline_len, opts, opts_len, out);
  });
}

int pm_wrapper_watch_database(pm_wrapper *wrapper, const char *db, const void *pipeline, size_t pipeline_len,
                              const void *opts, size_t opts_len, pm_stream **out, pm_error *err) {
  return capi::guard(err, [&] {
    stream_out(out);
    if (wrapper == nullptr) capi::null_argument("wrapper");
    return open(*wrapper->impl, core::WatchScope::database, wrapper->impl->resolve_db_name(db), "",
                pipeline, pipeline_len, opts, opts_len, out);
  });
}

int pm_wrapper_watch_cluster(pm_wrapper *wrapper, const void *pipeline, size_t pipeline_len, const void *opts,
                             size_t opts_len, pm_stream **out, pm_error *err) {
  return capi::guard(err, [&] {
    stream_out(out);
    if (wrapper == nullptr) capi::null_argument("wrapper");
    return open(*wrapper->impl, core::WatchScope::cluster, "admin", "", pipeline, pipeline_len, opts,
                opts_len, out);
  });
}

int pm_wrapper_subscribe_stream(pm_wrapper *wrapper, const char *db, const char *collection, pm_stream **out,
                                pm_error *err) {
  return capi::guard(err, [&] {
    stream_out(out);
    if (wrapper == nullptr) capi::null_argument("wrapper");
    std::string coll = collection ? collection : "";
    if (coll.find('$') != std::string::npos) throw core::Error(core::Code::invalid_argument, "invalid collection name");
    auto sub = wrapper->impl->streams().subscribe(wrapper->impl->router(), wrapper->impl->resolve_db_name(db), coll);
    *out = new pm_stream{sub, wrapper->impl, {}};
    return PM_OK;
  });
}

int pm_stream_next(pm_stream *stream, int64_t timeout_ms, const uint8_t **data, size_t *len, pm_error *err) {
  return capi::guard(err, [&] {
    if (stream == nullptr) capi::null_argument("stream");
    const bson_t *event = stream->impl->next(timeout_ms);
    if (data) *data = event ? bson_get_data(event) : nullptr;
    if (len) *len = event ? event->len : 0;
    return event ? 1 : 0;
  });
}

int pm_stream_next_json(pm_stream *stream, int64_t timeout_ms, pm_json_mode mode, const char **json, pm_error *err) {
  return capi::guard(err, [&] {
    if (stream == nullptr) capi::null_argument("stream");
    const bson_t *event = stream->impl->next(timeout_ms);
    if (event) stream->json = core::to_json(event, mode == PM_JSON_CANONICAL);
    if (json) *json = event ? stream->json.c_str() : nullptr;
    return event ? 1 : 0;
  });
}

int pm_stream_resume_token(pm_stream *stream, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    if (stream == nullptr) capi::null_argument("stream");
    if (out == nullptr) capi::null_argument("out");
    out->data = nullptr;
    out->len = 0;
    core::BsonPtr token = stream->impl->resume_token();
    capi::give(core::to_bytes(token.get()), out);
    return PM_OK;
  });
}

void pm_stream_free(pm_stream *stream) {
  if (stream == nullptr) return;
  stream->impl->close();
  delete stream;
}

int pm_wrapper_close_streams(pm_wrapper *wrapper, const char *db, size_t *closed, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    std::string name;
    if (db != nullptr) name = wrapper->impl->resolve_db_name(db);
    size_t n = wrapper->impl->streams().close(db ? &name : nullptr);
    if (closed) *closed = n;
    return PM_OK;
  });
}

size_t pm_wrapper_stream_count(pm_wrapper *wrapper, const char *db) {
  if (wrapper == nullptr) return 0;
  std::string name = db ? db : "";
  return wrapper->impl->streams().count(db ? &name : nullptr);
}

}  // extern "C"
