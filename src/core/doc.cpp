#include "doc.hpp"

#include <cstring>

#include "error.hpp"

namespace pm::core {

Doc::Doc() { bson_init(&doc_); }

Doc::Doc(DocView view, const char *what) {
  if (view.data == nullptr) {
    bson_init(&doc_);
    return;
  }
  if (view.len == kJsonLength) {
    bson_error_t error;
    if (!bson_init_from_json(&doc_, static_cast<const char *>(view.data), -1, &error)) {
      bson_init(&doc_);
      fail(Code::invalid_argument, std::string(what) + ": invalid Extended JSON: " + error.message);
    }
    return;
  }
  size_t offset = 0;
  if (view.len < 5 || !bson_init_static(&doc_, static_cast<const uint8_t *>(view.data), view.len) ||
      !bson_validate(&doc_, BSON_VALIDATE_NONE, &offset)) {
    bson_init(&doc_);
    fail(Code::invalid_argument, std::string(what) + ": not a valid BSON document (" +
                                     std::to_string(view.len) + " bytes)");
  }
}

Doc::~Doc() { bson_destroy(&doc_); }

std::string to_json(const bson_t *b, bool canonical) {
  size_t len = 0;
  char *s = canonical ? bson_as_canonical_extended_json(b, &len)
                      : bson_as_relaxed_extended_json(b, &len);
  if (s == nullptr) return std::string();
  std::string out(s, len);
  bson_free(s);
  return out;
}

void copy_except(const bson_t *src, bson_t *dst, std::initializer_list<const char *> skip) {
  bson_iter_t it;
  if (!bson_iter_init(&it, src)) return;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bool skipped = false;
    for (const char *s : skip) skipped = skipped || std::strcmp(key, s) == 0;
    if (!skipped) bson_append_value(dst, key, -1, bson_iter_value(&it));
  }
}

}  // namespace pm::core
