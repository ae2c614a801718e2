#include "base/redact.hpp"

namespace pm::core {

std::string redact_uri(const std::string &uri) {
  if (uri.find("://") == std::string::npos) return "<invalid uri>";
  return redact_text(uri);
}

std::string redact_text(const std::string &text) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t scheme = text.find("://", pos);
    if (scheme == std::string::npos) break;
    size_t start = scheme + 3;
    size_t end = text.find_first_of("/?# \t\n\"'", start);
    if (end == std::string::npos) end = text.size();
    size_t at = text.rfind('@', end == 0 ? 0 : end - 1);
    size_t colon = text.find(':', start);
    out.append(text, pos, start - pos);
    if (at != std::string::npos && at >= start && colon != std::string::npos && colon < at) {
      out.append(text, start, colon - start);  // the user name stays, for diagnosis
      out.append(":***");
      out.append(text, at, end - at);
    } else {
      out.append(text, start, end - start);
    }
    pos = end;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace pm::core

#include <bson/bson.h>

#include "base/json_writer.hpp"

namespace pm::core {

namespace {

constexpr int kMaxShapeDepth = 32;

void shape_value(JsonWriter &j, const bson_iter_t *it, int depth);

void shape_document(JsonWriter &j, bson_iter_t *children, bool array, int depth) {
  if (array) j.begin_array();
  else j.begin_object();
  bool scalar_written = false;
  while (bson_iter_next(children)) {
    if (array) {
      bool nested = BSON_ITER_HOLDS_DOCUMENT(children) || BSON_ITER_HOLDS_ARRAY(children);
      if (!nested) {  // a list of values is one "?"
        if (!scalar_written) j.value("?");
        scalar_written = true;
        continue;
      }
    } else {
      j.key(bson_iter_key(children));
    }
    shape_value(j, children, depth + 1);
  }
  if (array) j.end_array();
  else j.end_object();
}

void shape_value(JsonWriter &j, const bson_iter_t *it, int depth) {
  bool doc = BSON_ITER_HOLDS_DOCUMENT(it), arr = BSON_ITER_HOLDS_ARRAY(it);
  bson_iter_t child;
  if ((doc || arr) && depth < kMaxShapeDepth && bson_iter_recurse(it, &child)) {
    shape_document(j, &child, arr, depth);
  } else {
    j.value("?");
  }
}

}  // namespace

std::string redact_shape(const bson_t *doc) {
  JsonWriter j;
  bson_iter_t it;
  if (doc == nullptr || !bson_iter_init(&it, doc)) return "{}";
  shape_document(j, &it, false, 0);
  return j.take();
}

}  // namespace pm::core
