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
  // What a parameter accepts besides one valid BSON document (see well_formed).
  enum class Accept {
    document,
    pipeline,  // also a JSON array (an update pipeline); as BSON an array is a document anyway
    framing,   // a container whose elements are checked one by one (an import): only lengths
  };
  Doc();  // the empty document
  // Parses `view`; `what` names the parameter in error messages ("filter", "update"...).
  // A NULL view is the empty document. BSON input is borrowed (must outlive the Doc).
  Doc(DocView view, const char *what, Accept accept = Accept::document);
  ~Doc();
  Doc(const Doc &) = delete;
  Doc &operator=(const Doc &) = delete;

  const bson_t *get() const { return &doc_; }
  bson_t *mut() { return &doc_; }
  bool empty() const { return bson_empty(&doc_); }

 private:
  void parse(DocView view, const char *what, Accept accept);
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
// Why `len` bytes at `data` are not one valid BSON document, or "" when they are. Strictly the
// BSON specification (libbson 1.23's bson_validate lets several breaches through, invalid UTF-8
// among them): every length and terminator, nothing after a document's terminating 0, known
// element types, booleans 0 or 1, UTF-8 (RFC 3629) in keys, strings, code, symbols, DBPointer
// names and regular expressions (strings, code and symbols may hold NUL bytes), binary subtype
// 2's inner length, code-with-scope sizes; nested at most kMaxBsonDepth levels.
std::string bson_problem(const uint8_t *data, size_t len);
inline std::string bson_problem(const bson_t *b) { return bson_problem(bson_get_data(b), b->len); }
// bson_problem finds none: valid BSON that every reader can walk to its end.
inline bool well_formed(const bson_t *b) { return bson_problem(b).empty(); }

// Extended JSON text (`len` bytes; -1: up to its NUL) parsed into `out` (initialised here, also
// on failure). libbson's bson_init_from_json, except where it is wrong (see doc.cpp).
bool json_to_bson(const char *json, ssize_t len, bson_t *out, bson_error_t *error);
// The same on the heap; null on failure.
BsonPtr json_to_new_bson(const char *json, ssize_t len, bson_error_t *error);

// Whether canonical Extended JSON of `b` reads back as the same bytes: false when `b` holds a
// NaN with a payload or sign, or a Decimal128 in a non-canonical encoding (the text has one
// spelling for each).
bool json_exact(const bson_t *b);

// {"validate": false}, the options of every insert: documents are checked here (bson_problem)
// before they are sent, and libmongoc 1.23's own check would walk them again, let invalid UTF-8
// through and refuse empty keys in embedded documents, which servers store.
const bson_t *driver_skips_validation();

// Appends every field of `src` to `dst` except the listed keys.
void copy_except(const bson_t *src, bson_t *dst, std::initializer_list<const char *> skip);

}  // namespace pm::core
