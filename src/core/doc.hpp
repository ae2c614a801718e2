// Documents crossing the core boundary: a (pointer, length) view that is BSON bytes, or
// Extended JSON text when the length is kJsonLength, parsed into a bson_t without copying
// BSON input.
#pragma once

#include <bson/bson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pm::core {

constexpr size_t kJsonLength = static_cast<size_t>(-1);

struct DocView {
  const void *data = nullptr;
  size_t len = 0;
};

// A parsed document. Not movable: bson_t may point into itself.
class Doc {
 public:
  Doc();  // the empty document
  // Parses `view`; `what` names the parameter in error messages ("filter", "update"...).
  // A NULL view is the empty document. BSON input is borrowed (must outlive the Doc).
  Doc(DocView view, const char *what);
  // For a document to insert: libmongoc validates those itself (keys and structure, before
  // anything is sent), so only the length framing is checked here, which keeps an insert from
  // walking its document twice.
  enum class Framing { checked_by_driver };
  Doc(DocView view, const char *what, Framing);
  ~Doc();
  Doc(const Doc &) = delete;
  Doc &operator=(const Doc &) = delete;

  const bson_t *get() const { return &doc_; }
  bson_t *mut() { return &doc_; }
  bool empty() const { return bson_empty(&doc_); }

 private:
  void parse(DocView view, const char *what, bool validate);
  bson_t doc_;
};

// An owned, heap-allocated bson_t.
struct BsonDeleter {
  void operator()(bson_t *b) const { bson_destroy(b); }
};
using BsonPtr = std::unique_ptr<bson_t, BsonDeleter>;

inline BsonPtr make_bson() { return BsonPtr(bson_new()); }

// Owned bytes of a document, as handed out through the C API: malloc'd, so that handing them
// to the caller (a pm_buf, released by pm_buf_free) is no copy.
class Bytes {
 public:
  Bytes(const uint8_t *begin, const uint8_t *end);  // copies [begin, end)
  Bytes(Bytes &&other) noexcept : data_(other.data_), size_(other.size_) { other.data_ = nullptr; }
  Bytes &operator=(Bytes &&other) noexcept;
  Bytes(const Bytes &) = delete;
  Bytes &operator=(const Bytes &) = delete;
  ~Bytes() { std::free(data_); }

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  uint8_t *release() { return std::exchange(data_, nullptr); }  // now the caller's to free

 private:
  uint8_t *data_;
  size_t size_;
};

inline Bytes to_bytes(const bson_t *b) {
  const uint8_t *p = bson_get_data(b);
  return Bytes(p, p + b->len);
}

// Extended JSON of a document; relaxed unless canonical. Empty string for invalid input.
std::string to_json(const bson_t *b, bool canonical);

// The deepest nesting accepted: the server's own limit (maxBSONDepth) by default.
constexpr size_t kMaxBsonDepth = 200;

// Whether every embedded document of `b` opens, nested at most kMaxBsonDepth levels: what
// bson_validate misses (see doc.cpp).
bool walkable(const bson_t *b);
// bson_validate and walkable: well-formed BSON that every reader can walk to its end.
bool well_formed(const bson_t *b);

// Appends every field of `src` to `dst` except the listed keys.
void copy_except(const bson_t *src, bson_t *dst, std::initializer_list<const char *> skip);

}  // namespace pm::core
