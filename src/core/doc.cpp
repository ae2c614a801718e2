#include "doc.hpp"
#include "hot.hpp"

#include <cstring>
#include <new>
#include <vector>

#include "error.hpp"

namespace pm::core {

Doc::Doc() { bson_init(&doc_); }

PM_HOT Doc::Doc(DocView view, const char *what) { parse(view, what, true); }

PM_HOT Doc::Doc(DocView view, const char *what, Framing) { parse(view, what, false); }

PM_HOT void Doc::parse(DocView view, const char *what, bool validate) {
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
  bool ok = view.len >= 5 && bson_init_static(&doc_, static_cast<const uint8_t *>(view.data), view.len);
  // Unvalidated, the nesting is still bounded: libmongoc's validation recurses once per level.
  // A document shorter than kMaxBsonDepth * 7 bytes cannot be that deep (7: the smallest level).
  if (ok) ok = validate ? well_formed(&doc_) : view.len < kMaxBsonDepth * 7 || walkable(&doc_);
  if (!ok) {
    bson_init(&doc_);
    fail(Code::invalid_argument, std::string(what) + ": not a valid BSON document, or nested deeper than " +
                                     std::to_string(kMaxBsonDepth) + " levels (" + std::to_string(view.len) +
                                     " bytes)");
  }
}

PM_HOT Doc::~Doc() { bson_destroy(&doc_); }

PM_HOT Bytes::Bytes(const uint8_t *begin, const uint8_t *end) : size_(static_cast<size_t>(end - begin)) {
  data_ = static_cast<uint8_t *>(std::malloc(size_ > 0 ? size_ : 1));
  if (data_ == nullptr) throw std::bad_alloc();
  if (size_ > 0) std::memcpy(data_, begin, size_);
}

Bytes &Bytes::operator=(Bytes &&other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = other.size_;
  }
  return *this;
}

PM_HOT void copy_except(const bson_t *src, bson_t *dst, std::initializer_list<const char *> skip) {
  bson_iter_t it;
  if (!bson_iter_init(&it, src)) return;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bool skipped = false;
    for (const char *s : skip) skipped = skipped || std::strcmp(key, s) == 0;
    if (!skipped) bson_append_value(dst, key, -1, bson_iter_value(&it));
  }
}

namespace {

// Visits every element of b, depth first, without recursion; visit returns false to stop early.
// False when b cannot be walked to its end (see walkable).
template <class Visit>
bool walk(const bson_t *b, Visit &&visit) {
  // Two gaps in libbson 1.23's bson_validate, closed by walking the document first, without
  // recursion: it recurses once per level, so a document nested deeply enough overflows the
  // stack (a 160 KB one 20,000 levels deep did); and it passes over an embedded document,
  // array or code-with-scope scope that it cannot open (e.g. one whose last byte is not 0),
  // where every reader, JSON output included, then stops short.
  //
  // Iterators are held in a struct: bson_iter_t's 128-byte alignment is a typedef attribute,
  // which template arguments drop, so std::vector<bson_iter_t> allocates it misaligned. The
  // first levels live on the stack: this walk runs for every filter, and an aligned heap
  // allocation per call was a measurable part of a find's CPU.
  struct Frame {
    bson_iter_t it;
  };
  constexpr size_t kOnStack = 16;
  Frame shallow[kOnStack];
  std::vector<Frame> deep;  // levels past kOnStack, rarely used
  size_t depth = 0;
  auto top = [&]() -> bson_iter_t & {
    return depth <= kOnStack ? shallow[depth - 1].it : deep[depth - 1 - kOnStack].it;
  };
  if (!bson_iter_init(&shallow[0].it, b)) return false;
  depth = 1;
  while (depth > 0) {
    bson_iter_t &it = top();
    if (!bson_iter_next(&it)) {
      if (it.err_off != 0) return false;  // corrupt, not the end
      if (depth-- > kOnStack) deep.pop_back();
      continue;
    }
    if (!visit(it)) return true;
    uint32_t len = 0, code_len = 0;
    const uint8_t *data = nullptr;
    if (BSON_ITER_HOLDS_DOCUMENT(&it)) bson_iter_document(&it, &len, &data);
    else if (BSON_ITER_HOLDS_ARRAY(&it)) bson_iter_array(&it, &len, &data);
    else if (BSON_ITER_HOLDS_CODEWSCOPE(&it)) bson_iter_codewscope(&it, &code_len, &len, &data);
    else continue;
    // Opened as readers open them (bson_iter_recurse alone lets a bad last byte through).
    bson_t sub;
    bson_iter_t child;
    if (data == nullptr || !bson_init_static(&sub, data, len) || !bson_iter_init(&child, &sub)) return false;
    if (depth >= kMaxBsonDepth) return false;
    if (depth < kOnStack) shallow[depth].it = child;
    else deep.push_back(Frame{child});
    ++depth;
  }
  return true;
}

}  // namespace

PM_HOT bool walkable(const bson_t *b) {
  return walk(b, [](const bson_iter_t &) { return true; });
}

namespace {
// Relaxed Extended JSON that would not read back as the same document (both found by
// fuzz_document), printed canonically instead:
// - a date after year 9999: libbson 1.23 prints it as an ISO string with a longer year
//   ("287396-10-12T..."), which no parser, libbson's included, reads (the spec keeps the ISO
//   form for years 1970-9999);
// - a key starting with '$': it can collide with a type wrapper ({"$type": 1600000000000} reads
//   back as a malformed legacy binary), and the canonical form keeps the value's type, which
//   is what makes such documents read back.
bool relaxed_would_not_read_back(const bson_t *b) {
  constexpr int64_t kLastIsoMs = 253402300799999;  // 9999-12-31T23:59:59.999Z
  bool found = false;
  walk(b, [&](const bson_iter_t &it) {
    found = bson_iter_key(&it)[0] == '$' ||
            (BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) > kLastIsoMs);
    return !found;
  });
  return found;
}
}  // namespace

std::string to_json(const bson_t *b, bool canonical) {
  size_t len = 0;
  if (!canonical && relaxed_would_not_read_back(b)) canonical = true;
  char *s = canonical ? bson_as_canonical_extended_json(b, &len)
                      : bson_as_relaxed_extended_json(b, &len);
  if (s == nullptr) return std::string();
  std::string out(s, len);
  bson_free(s);
  return out;
}

PM_HOT bool well_formed(const bson_t *b) {
  size_t offset = 0;
  return walkable(b) && bson_validate(b, BSON_VALIDATE_NONE, &offset);
}

}  // namespace pm::core
