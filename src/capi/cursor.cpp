// pm_cursor_*: iterating results.
#include "shim.hpp"

using namespace pm;

extern "C" {

int pm_cursor_next(pm_cursor *cursor, const uint8_t **data, size_t *len, pm_error *err) {
  return capi::guard(err, [&] {
    if (cursor == nullptr) capi::null_argument("cursor");
    const bson_t *doc = cursor->impl->next();
    if (data) *data = doc ? bson_get_data(doc) : nullptr;
    if (len) *len = doc ? doc->len : 0;
    return doc ? 1 : 0;
  });
}

int pm_cursor_next_json(pm_cursor *cursor, pm_json_mode mode, const char **json, pm_error *err) {
  return capi::guard(err, [&] {
    if (cursor == nullptr) capi::null_argument("cursor");
    const bson_t *doc = cursor->impl->next();
    if (doc) cursor->json = core::to_json(doc, mode == PM_JSON_CANONICAL);
    if (json) *json = doc ? cursor->json.c_str() : nullptr;
    return doc ? 1 : 0;
  });
}

int64_t pm_cursor_id(const pm_cursor *cursor) { return cursor ? cursor->impl->id() : 0; }

void pm_cursor_free(pm_cursor *cursor) { delete cursor; }

}  // extern "C"
