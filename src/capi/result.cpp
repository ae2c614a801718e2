// pm_result_*: reading the outcome of a write.
#include "shim.hpp"

using namespace pm;

extern "C" {

int64_t pm_result_inserted_count(const pm_result *r) { return r ? r->impl->inserted_count : 0; }
int64_t pm_result_matched_count(const pm_result *r) { return r ? r->impl->matched_count : 0; }
int64_t pm_result_modified_count(const pm_result *r) { return r ? r->impl->modified_count : 0; }
int64_t pm_result_deleted_count(const pm_result *r) { return r ? r->impl->deleted_count : 0; }
int64_t pm_result_upserted_count(const pm_result *r) { return r ? r->impl->upserted_count : 0; }

size_t pm_result_write_error_count(const pm_result *r) {
  return r ? r->impl->write_errors.size() : 0;
}

int pm_result_write_error(const pm_result *r, size_t i, size_t *index, int32_t *server_code,
                          const char **message, pm_error *err) {
  return capi::guard(err, [&] {
    if (r == nullptr) capi::null_argument("result");
    if (i >= r->impl->write_errors.size())
      throw core::Error(core::Code::invalid_argument,
                        "write error " + std::to_string(i) + " is out of range (" +
                            std::to_string(r->impl->write_errors.size()) + " errors)");
    const core::WriteError &e = r->impl->write_errors[i];
    if (index) *index = e.index;
    if (server_code) *server_code = e.code;
    if (message) *message = e.message.c_str();
    return PM_OK;
  });
}

void pm_result_bson(const pm_result *r, const uint8_t **data, size_t *len) {
  const bson_t *doc = r ? r->impl->document() : nullptr;
  if (data) *data = doc ? bson_get_data(doc) : nullptr;
  if (len) *len = doc ? doc->len : 0;
}

char *pm_result_json(const pm_result *r, pm_json_mode mode) {
  if (r == nullptr) return nullptr;
  try {
    return capi::give_string(core::to_json(r->impl->document(), mode == PM_JSON_CANONICAL));
  } catch (...) {
    return nullptr;
  }
}

void pm_result_free(pm_result *r) { delete r; }

}  // extern "C"
