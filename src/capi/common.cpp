// pm_version, errors, buffers and JSON conversion.
#include <bson/bson.h>

#include <cstdlib>
#include <cstring>

#include "base/redact.hpp"
#include "shim.hpp"

static_assert(sizeof(pm_error) == 512, "pm_error is part of the ABI: keep it 512 bytes");
static_assert(static_cast<int>(pm::core::Code::write) == PM_EWRITE, "core codes mirror pm_code");
static_assert(static_cast<int>(pm::core::Code::throttled) == PM_ETHROTTLED, "core codes mirror pm_code");
static_assert(static_cast<int>(pm::core::Code::canceled) == PM_ECANCELED, "core codes mirror pm_code");
static_assert(static_cast<int>(pm::core::Code::moving) == PM_EMOVING, "core codes mirror pm_code");

namespace pm::capi {

namespace {
thread_local pm_error last_error = {PM_OK, 0, {0}};

// Copies only the message's own bytes: strncpy would zero the rest of the 504 bytes, on every
// successful call too.
void fill(pm_error *e, int code, int32_t server_code, const char *message) {
  e->code = code;
  e->server_code = server_code;
  size_t n = strnlen(message, sizeof e->message - 1);
  std::memcpy(e->message, message, n);
  e->message[n] = '\0';
}
}  // namespace

int set_error(pm_error *err, int code, int32_t server_code, const char *message) {
  // Defence in depth: core messages are built without credentials, but a driver message
  // could quote a URI.
  fill(&last_error, code, server_code, core::redact_text(message).c_str());
  if (err != nullptr) *err = last_error;
  return code;
}

void clear_error(pm_error *err) {
  if (err != nullptr) fill(err, PM_OK, 0, "");
}

}  // namespace pm::capi

using namespace pm;

extern "C" {

const char *pm_version(void) { return PM_VERSION_STRING; }
int pm_version_num(void) { return PM_VERSION_NUM; }

int pm_check_version(int major, int minor, int patch) {
  if (major != PM_VERSION_MAJOR) return 0;
  if (minor != PM_VERSION_MINOR) return major >= 1 && minor < PM_VERSION_MINOR ? 1 : 0;
  return patch <= PM_VERSION_PATCH ? 1 : 0;
}

const char *pm_code_name(int code) {
  switch (code) {
    case PM_OK: return "PM_OK";
    case PM_EINVAL: return "PM_EINVAL";
    case PM_EDBNAME: return "PM_EDBNAME";
    case PM_ECONNECT: return "PM_ECONNECT";
    case PM_ETIMEOUT: return "PM_ETIMEOUT";
    case PM_EAUTH: return "PM_EAUTH";
    case PM_EDUPKEY: return "PM_EDUPKEY";
    case PM_ESERVER: return "PM_ESERVER";
    case PM_ECLOSED: return "PM_ECLOSED";
    case PM_ENOTSUP: return "PM_ENOTSUP";
    case PM_EINTERNAL: return "PM_EINTERNAL";
    case PM_EWRITE: return "PM_EWRITE";
    case PM_ETHROTTLED: return "PM_ETHROTTLED";
    case PM_ECANCELED: return "PM_ECANCELED";
    case PM_EMOVING: return "PM_EMOVING";
    default: return "PM_UNKNOWN";
  }
}

int pm_code_is_retryable(int code) { return code == PM_ETHROTTLED || code == PM_EMOVING ? 1 : 0; }

const pm_error *pm_last_error(void) { return &capi::last_error; }

void pm_buf_free(pm_buf *buf) {
  if (buf == nullptr) return;
  std::free(buf->data);
  buf->data = nullptr;
  buf->len = 0;
}

void pm_free(void *ptr) { std::free(ptr); }

char *pm_bson_to_json(const void *data, size_t len, pm_json_mode mode) {
  if (data == nullptr || len == core::kJsonLength) return nullptr;
  bson_t b;
  if (!bson_init_static(&b, static_cast<const uint8_t *>(data), len)) return nullptr;
  if (!core::well_formed(&b)) return nullptr;
  std::string json = core::to_json(&b, mode == PM_JSON_CANONICAL);
  if (json.empty()) return nullptr;
  return strdup(json.c_str());
}

int pm_json_to_bson(const char *json, pm_buf *out, pm_error *err) {
  return capi::guard(err, [&] {
    if (json == nullptr) capi::null_argument("json");
    if (out == nullptr) capi::null_argument("out");
    core::Doc doc(core::DocView{json, core::kJsonLength}, "json");
    auto *p = static_cast<uint8_t *>(std::malloc(doc.get()->len));
    if (p == nullptr) throw std::bad_alloc();
    std::memcpy(p, bson_get_data(doc.get()), doc.get()->len);
    out->data = p;
    out->len = doc.get()->len;
    return PM_OK;
  });
}

}  // extern "C"
