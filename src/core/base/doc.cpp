#include "base/doc.hpp"
#include "base/db_name.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "base/error.hpp"

namespace pm::core {

Doc::Doc() { bson_init(&doc_); }

Doc::Doc(DocView view, const char *what, Accept accept) { parse(view, what, accept); }

void Doc::parse(DocView view, const char *what, Accept accept) {
  if (view.data == nullptr) {
    bson_init(&doc_);
    return;
  }
  if (view.len == kJsonLength) {
    const char *text = static_cast<const char *>(view.data);
    // libbson reads a top-level JSON array as the document {"0": ..., "1": ...}: only a
    // pipeline may be one.
    if (accept != Accept::pipeline && text[std::strspn(text, " \t\r\n")] == '[')
      fail(Code::invalid_argument,
           std::string(what) + ": a JSON array is not a document (arrays are accepted only as pipelines)");
    bson_error_t error;
    if (!json_to_bson(text, -1, &doc_, &error)) {
      bson_destroy(&doc_);
      bson_init(&doc_);
      fail(Code::invalid_argument, std::string(what) + ": invalid Extended JSON: " + error.message);
    }
    std::string why = accept == Accept::framing ? std::string() : bson_problem(&doc_);
    if (!why.empty()) {
      bson_destroy(&doc_);
      bson_init(&doc_);
      fail(Code::invalid_argument, std::string(what) + ": " + why);
    }
    return;
  }
  std::string why;
  if (view.len < 5 || !bson_init_static(&doc_, static_cast<const uint8_t *>(view.data), view.len)) {
    why = view.len < 5 ? "shorter than the 5 bytes of the empty document"
                       : "its length field does not match its " + std::to_string(view.len) + " bytes";
  } else if (accept == Accept::framing) {
    size_t offset = 0;
    if (!walkable(&doc_) || !bson_validate(&doc_, BSON_VALIDATE_NONE, &offset))
      why = "its elements cannot be walked, or it is nested deeper than " + std::to_string(kMaxBsonDepth) + " levels";
  } else {
    why = bson_problem(static_cast<const uint8_t *>(view.data), view.len);
  }
  if (!why.empty()) {
    bson_init(&doc_);
    fail(Code::invalid_argument,
         std::string(what) + ": not a valid BSON document (" + std::to_string(view.len) + " bytes): " + why);
  }
}

Doc::~Doc() { bson_destroy(&doc_); }

Bytes::Bytes(const uint8_t *begin, const uint8_t *end) : size_(static_cast<size_t>(end - begin)) {
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

const bson_t *driver_skips_validation() {
  static const BsonPtr opts = [] {
    BsonPtr b = make_bson();
    BSON_APPEND_BOOL(b.get(), "validate", false);
    return b;
  }();
  return opts.get();
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

bool walkable(const bson_t *b) {
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

namespace {
std::string placeholder_for(const std::string &text);
std::string replace_all(const char *s, size_t n, const std::string &from, const std::string &to);
bool map_strings(const bson_t *src, bson_t *dst, const std::string &mark, const std::string &to, bson_error_t *error);

// libbson 1.23's JSON writer prints a DBPointer's name as a C string, cutting it at its first NUL
// (its code, strings and symbols keep theirs). Such a document is printed with each NUL of its
// strings as a placeholder code point it does not contain, turned into \u0000 in the text.
bool dbpointer_name_has_nul(const bson_t *b) {
  bool found = false;
  walk(b, [&](const bson_iter_t &it) {
    if (BSON_ITER_HOLDS_DBPOINTER(&it)) {
      uint32_t len = 0;
      const char *name = nullptr;
      const bson_oid_t *oid = nullptr;
      bson_iter_dbpointer(&it, &len, &name, &oid);
      found = std::memchr(name, 0, len) != nullptr;
    }
    return !found;
  });
  return found;
}

std::string to_json_with_nul_names(const bson_t *b, bool canonical) {
  std::string bytes(reinterpret_cast<const char *>(bson_get_data(b)), b->len);
  std::string mark = placeholder_for(bytes);
  if (mark.empty()) return std::string();
  bson_t marked = BSON_INITIALIZER;
  bson_error_t error;
  std::string out;
  if (map_strings(b, &marked, std::string(1, '\0'), mark, &error)) {
    size_t len = 0;
    char *s = canonical ? bson_as_canonical_extended_json(&marked, &len) : bson_as_relaxed_extended_json(&marked, &len);
    if (s != nullptr) out = replace_all(s, len, mark, "\\u0000");
    bson_free(s);
  }
  bson_destroy(&marked);
  return out;
}

}  // namespace

std::string to_json(const bson_t *b, bool canonical) {
  size_t len = 0;
  if (!canonical && relaxed_would_not_read_back(b)) canonical = true;
  if (dbpointer_name_has_nul(b)) return to_json_with_nul_names(b, canonical);
  char *s = canonical ? bson_as_canonical_extended_json(b, &len)
                      : bson_as_relaxed_extended_json(b, &len);
  if (s == nullptr) return std::string();
  std::string out(s, len);
  bson_free(s);
  return out;
}

namespace {

inline uint32_t le32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

// One pass over the bytes, without recursion: a stack of the ends of the open documents.
std::string bson_problem(const uint8_t *p, size_t n) {
  if (n < 5) return "shorter than the 5 bytes of the empty document";
  if (le32(p) != n) return "its length field says " + std::to_string(le32(p)) + " bytes, but it has " + std::to_string(n);
  if (p[n - 1] != 0) return "it does not end with a 0 byte";
  size_t ends[kMaxBsonDepth];  // ends[i]: the terminating 0 of the document open at level i
  size_t depth = 0;
  size_t end = n - 1, pos = 4;
  auto at = [](size_t offset, const std::string &why) { return "at byte " + std::to_string(offset) + ": " + why; };
  auto text = [&](size_t offset, size_t len) { return std::string_view(reinterpret_cast<const char *>(p + offset), len); };
  // A length-prefixed string at pos (string, code, symbol, DBPointer name, code-with-scope code).
  auto string_at = [&](size_t q, size_t limit, size_t *next) -> std::string {
    if (limit - q < 4) return at(q, "truncated string length");
    uint32_t len = le32(p + q);
    if (len < 1 || len > 0x7FFFFFFF || len > limit - q - 4) return at(q, "string length " + std::to_string(static_cast<int32_t>(len)) + " out of bounds");
    if (p[q + 4 + len - 1] != 0) return at(q, "string not terminated by a 0 byte");
    if (!is_valid_utf8(text(q + 4, len - 1))) return at(q, "string is not valid UTF-8");
    *next = q + 4 + len;
    return std::string();
  };
  // A 0-terminated string (key, regular expression) at q, before limit.
  auto cstring_at = [&](size_t q, size_t limit, size_t *next, const char *what) -> std::string {
    const void *nul = std::memchr(p + q, 0, limit - q);
    if (nul == nullptr) return at(q, std::string(what) + " not terminated");
    size_t len = static_cast<size_t>(static_cast<const uint8_t *>(nul) - (p + q));
    if (!is_valid_utf8(text(q, len))) return at(q, std::string(what) + " is not valid UTF-8");
    *next = q + len + 1;
    return std::string();
  };
  // Opens the document at q (ending at or before limit) as the current level.
  auto open = [&](size_t q, size_t limit, bool exact) -> std::string {
    if (limit - q < 5) return at(q, "truncated embedded document");
    uint32_t len = le32(p + q);
    if (len < 5 || len > limit - q || (exact && len != limit - q)) return at(q, "embedded document length " + std::to_string(static_cast<int32_t>(len)) + " out of bounds");
    if (p[q + len - 1] != 0) return at(q, "embedded document not terminated by a 0 byte");
    if (depth + 2 > kMaxBsonDepth) return at(q, "nested deeper than " + std::to_string(kMaxBsonDepth) + " levels");
    ends[depth++] = end;
    end = q + len - 1;
    pos = q + 4;
    return std::string();
  };
  for (;;) {
    if (pos == end) {  // this document's terminating 0
      if (depth == 0) return std::string();
      pos = end + 1;
      end = ends[--depth];
      continue;
    }
    size_t element = pos;
    uint8_t type = p[pos++];
    if (type == 0) return at(element, "bytes after the end of a document (within its length)");
    std::string why = cstring_at(pos, end, &pos, "key");
    if (!why.empty()) return why;
    size_t room = end - pos;
    auto fixed = [&](size_t size) -> std::string {
      if (end - pos < size) return at(element, "truncated value");
      pos += size;
      return std::string();
    };
    switch (type) {
      case BSON_TYPE_DOUBLE: case BSON_TYPE_DATE_TIME: case BSON_TYPE_TIMESTAMP: case BSON_TYPE_INT64:
        why = fixed(8);
        break;
      case BSON_TYPE_INT32:
        why = fixed(4);
        break;
      case BSON_TYPE_DECIMAL128:
        why = fixed(16);
        break;
      case BSON_TYPE_OID:
        why = fixed(12);
        break;
      case BSON_TYPE_UNDEFINED: case BSON_TYPE_NULL: case BSON_TYPE_MINKEY: case BSON_TYPE_MAXKEY:
        break;
      case BSON_TYPE_BOOL:
        if (room < 1) return at(element, "truncated value");
        if (p[pos] > 1) return at(element, "boolean value " + std::to_string(p[pos]) + " (only 0 or 1)");
        ++pos;
        break;
      case BSON_TYPE_UTF8: case BSON_TYPE_CODE: case BSON_TYPE_SYMBOL:
        why = string_at(pos, end, &pos);
        break;
      case BSON_TYPE_DBPOINTER:
        why = string_at(pos, end, &pos);
        if (why.empty()) why = fixed(12);
        break;
      case BSON_TYPE_REGEX:
        why = cstring_at(pos, end, &pos, "regular expression");
        if (why.empty()) why = cstring_at(pos, end, &pos, "regular expression options");
        break;
      case BSON_TYPE_BINARY: {
        if (room < 5) return at(element, "truncated binary");
        uint32_t len = le32(p + pos);
        if (len > 0x7FFFFFFF || len > room - 5) return at(element, "binary length " + std::to_string(static_cast<int32_t>(len)) + " out of bounds");
        if (p[pos + 4] == BSON_SUBTYPE_BINARY_DEPRECATED && (len < 4 || le32(p + pos + 5) != len - 4))
          return at(element, "binary subtype 2 whose inner length does not match");
        pos += 5 + len;
        break;
      }
      case BSON_TYPE_DOCUMENT: case BSON_TYPE_ARRAY:
        why = open(pos, end, false);
        break;
      case BSON_TYPE_CODEWSCOPE: {
        if (room < 4) return at(element, "truncated code with scope");
        uint32_t total = le32(p + pos);
        if (total < 14 || total > room) return at(element, "code with scope length " + std::to_string(static_cast<int32_t>(total)) + " out of bounds");
        size_t scope = 0;
        why = string_at(pos + 4, pos + total, &scope);
        if (why.empty()) why = open(scope, pos + total, true);  // the scope fills the rest exactly
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", type);
        return at(element, std::string("unknown element type ") + hex);
      }
    }
    if (!why.empty()) return why;
  }
}

// ---- Extended JSON in ---------------------------------------------------------------------
//
// libbson 1.23's JSON reader builds code ($code, with or without $scope) and DBPointer names
// ($dbPointer.$ref) as C strings, so a NUL written \u0000 cuts them short silently
// ({"$code": "ab\u0000c"} reads as Code("ab")). The narrowest workaround: only a text holding a
// \u0000 escape takes another path, where each such escape becomes a placeholder code point that
// the text does not contain, libbson parses that, and the placeholder turns back into a NUL in
// every string, code, symbol and DBPointer name; a key or regular expression holding one is
// refused (BSON cannot hold a NUL there), as libbson refuses it.
namespace {

bool has_nul_escape(const char *s, size_t n) {
  for (const char *q = s; (q = static_cast<const char *>(memmem(q, n - static_cast<size_t>(q - s), "u0000", 5)));) {
    size_t slashes = 0;
    for (const char *b = q; b > s && b[-1] == '\\'; --b) ++slashes;
    if (slashes % 2 == 1) return true;
    ++q;
  }
  return false;
}

std::string utf8_of(uint32_t cp) {
  std::string out;
  out += static_cast<char>(0xF0 | (cp >> 18));
  out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out += static_cast<char>(0x80 | (cp & 0x3F));
  return out;
}

// A supplementary private-use code point that neither appears in `text` as UTF-8 nor as an
// escaped surrogate pair (compared without case); empty when all candidates do.
std::string placeholder_for(const std::string &text) {
  std::string lower = text;
  for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (uint32_t cp = 0x10FFFD; cp > 0x10FF00; --cp) {
    char escaped[16];
    std::snprintf(escaped, sizeof escaped, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                  0xDC00 + ((cp - 0x10000) & 0x3FF));
    std::string utf8 = utf8_of(cp);
    if (text.find(utf8) == std::string::npos && lower.find(escaped) == std::string::npos) return utf8;
  }
  return std::string();
}

std::string replace_all(const char *s, size_t n, const std::string &from, const std::string &to) {
  std::string out(s, n);
  for (size_t at = 0; (at = out.find(from, at)) != std::string::npos; at += to.size()) out.replace(at, from.size(), to);
  return out;
}

// Appends one element whose value is `bytes` verbatim (bson_concat of a one-element document):
// libbson's append functions for code and DBPointer names take C strings.
void append_raw(bson_t *dst, uint8_t type, const char *key, const std::string &value) {
  std::string doc(4, '\0');
  doc += static_cast<char>(type);
  doc.append(key, std::strlen(key) + 1);
  doc += value;
  doc += '\0';
  uint32_t len = static_cast<uint32_t>(doc.size());
  for (int i = 0; i < 4; ++i) doc[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xFF);
  bson_t one;
  bson_init_static(&one, reinterpret_cast<const uint8_t *>(doc.data()), doc.size());
  bson_concat(dst, &one);
}

std::string le32_bytes(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

std::string bson_string(const std::string &s) { return le32_bytes(static_cast<uint32_t>(s.size() + 1)) + s + '\0'; }

bool contains(const char *s, size_t n, const std::string &mark) {
  return n >= mark.size() && memmem(s, n, mark.data(), mark.size()) != nullptr;
}

// Copies src into dst with `mark` replaced by `to` in every string, code, symbol and DBPointer
// name; false (error set) when `mark` is in a key or a regular expression.
bool map_strings(const bson_t *src, bson_t *dst, const std::string &mark, const std::string &to, bson_error_t *error) {
  auto restore_nuls = [&](const char *s, size_t n, const std::string &) { return replace_all(s, n, mark, to); };
  bson_iter_t it;
  if (!bson_iter_init(&it, src)) return false;
  auto refuse = [&](const char *where) {
    bson_set_error(error, BSON_ERROR_JSON, BSON_JSON_ERROR_READ_INVALID_PARAM, "a %s cannot hold a NUL (\\u0000)", where);
    return false;
  };
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (contains(key, std::strlen(key), mark)) return refuse("key");
    uint32_t len = 0;
    switch (bson_iter_type(&it)) {
      case BSON_TYPE_UTF8: {
        const char *s = bson_iter_utf8(&it, &len);
        std::string v = restore_nuls(s, len, mark);
        bson_append_utf8(dst, key, -1, v.data(), static_cast<int>(v.size()));
        break;
      }
      case BSON_TYPE_SYMBOL: {
        const char *s = bson_iter_symbol(&it, &len);
        std::string v = restore_nuls(s, len, mark);
        bson_append_symbol(dst, key, -1, v.data(), static_cast<int>(v.size()));
        break;
      }
      case BSON_TYPE_CODE: {
        const char *s = bson_iter_code(&it, &len);
        append_raw(dst, BSON_TYPE_CODE, key, bson_string(restore_nuls(s, len, mark)));
        break;
      }
      case BSON_TYPE_CODEWSCOPE: {
        uint32_t scope_len = 0;
        const uint8_t *scope_data = nullptr;
        const char *s = bson_iter_codewscope(&it, &len, &scope_len, &scope_data);
        bson_t scope, fixed;
        bson_init_static(&scope, scope_data, scope_len);
        bson_init(&fixed);
        if (!map_strings(&scope, &fixed, mark, to, error)) {
          bson_destroy(&fixed);
          return false;
        }
        std::string code = bson_string(restore_nuls(s, len, mark));
        std::string value = le32_bytes(static_cast<uint32_t>(4 + code.size() + fixed.len)) + code +
                            std::string(reinterpret_cast<const char *>(bson_get_data(&fixed)), fixed.len);
        bson_destroy(&fixed);
        append_raw(dst, BSON_TYPE_CODEWSCOPE, key, value);
        break;
      }
      case BSON_TYPE_DBPOINTER: {
        const char *coll = nullptr;
        const bson_oid_t *oid = nullptr;
        bson_iter_dbpointer(&it, &len, &coll, &oid);
        append_raw(dst, BSON_TYPE_DBPOINTER, key,
                   bson_string(restore_nuls(coll, len, mark)) + std::string(reinterpret_cast<const char *>(oid->bytes), 12));
        break;
      }
      case BSON_TYPE_REGEX: {
        const char *options = nullptr;
        const char *regex = bson_iter_regex(&it, &options);
        if (contains(regex, std::strlen(regex), mark) || contains(options, std::strlen(options), mark))
          return refuse("regular expression");
        bson_append_iter(dst, key, -1, &it);
        break;
      }
      case BSON_TYPE_DOCUMENT:
      case BSON_TYPE_ARRAY: {
        bool array = BSON_ITER_HOLDS_ARRAY(&it);
        const uint8_t *data = nullptr;
        if (array) bson_iter_array(&it, &len, &data);
        else bson_iter_document(&it, &len, &data);
        bson_t sub, child;
        bson_init_static(&sub, data, len);
        if (array) bson_append_array_begin(dst, key, -1, &child);
        else bson_append_document_begin(dst, key, -1, &child);
        bool ok = map_strings(&sub, &child, mark, to, error);
        if (array) bson_append_array_end(dst, &child);
        else bson_append_document_end(dst, &child);
        if (!ok) return false;
        break;
      }
      default:
        bson_append_iter(dst, key, -1, &it);
    }
  }
  return true;
}

}  // namespace

bool json_to_bson(const char *json, ssize_t len, bson_t *out, bson_error_t *error) {
  size_t n = len < 0 ? std::strlen(json) : static_cast<size_t>(len);
  if (!has_nul_escape(json, n)) {
    if (bson_init_from_json(out, json, static_cast<ssize_t>(n), error)) return true;
    bson_init(out);
    return false;
  }
  std::string text(json, n);
  std::string mark = placeholder_for(text);
  if (mark.empty()) {
    bson_init(out);
    bson_set_error(error, BSON_ERROR_JSON, BSON_JSON_ERROR_READ_INVALID_PARAM, "too many private-use characters");
    return false;
  }
  std::string marked;
  marked.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      marked += text[i];
    } else if (text.compare(i + 1, 5, "u0000") == 0) {
      marked += mark;
      i += 5;
    } else {
      marked += text[i];
      marked += text[++i];  // the escaped character, never the start of another escape
    }
  }
  bson_t parsed;
  if (!bson_init_from_json(&parsed, marked.data(), static_cast<ssize_t>(marked.size()), error)) {
    bson_init(out);
    return false;
  }
  bson_init(out);
  bool ok = map_strings(&parsed, out, mark, std::string(1, '\0'), error);
  bson_destroy(&parsed);
  if (!ok) {
    bson_destroy(out);
    bson_init(out);
  }
  return ok;
}

BsonPtr json_to_new_bson(const char *json, ssize_t len, bson_error_t *error) {
  size_t n = len < 0 ? std::strlen(json) : static_cast<size_t>(len);
  if (!has_nul_escape(json, n))
    return BsonPtr(bson_new_from_json(reinterpret_cast<const uint8_t *>(json), static_cast<ssize_t>(n), error));
  bson_t parsed;
  if (!json_to_bson(json, static_cast<ssize_t>(n), &parsed, error)) {
    bson_destroy(&parsed);
    return nullptr;
  }
  BsonPtr out(bson_copy(&parsed));
  bson_destroy(&parsed);
  return out;
}

bool json_exact(const bson_t *b) {
  bool exact = true;
  walk(b, [&](const bson_iter_t &it) {
    if (BSON_ITER_HOLDS_DOUBLE(&it)) {
      double d = bson_iter_double(&it);
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      exact = !std::isnan(d) || bits == 0x7FF8000000000000ull;  // what libbson reads "NaN" as
    } else if (BSON_ITER_HOLDS_DECIMAL128(&it)) {
      bson_decimal128_t dec, back;
      bson_iter_decimal128(&it, &dec);
      char text[BSON_DECIMAL128_STRING];
      bson_decimal128_to_string(&dec, text);
      exact = bson_decimal128_from_string(text, &back) && back.high == dec.high && back.low == dec.low;
    }
    return exact;
  });
  return exact;
}

}  // namespace pm::core
