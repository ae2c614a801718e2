#include "base/db_name.hpp"

#include "base/error.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace pm::core {

bool is_valid_utf8(std::string_view s) {
  const auto *p = reinterpret_cast<const unsigned char *>(s.data());
  const unsigned char *end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {  // eight ASCII bytes at once (documents' strings are mostly ASCII)
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;       // continuation bytes
    uint32_t min;   // the smallest code point that needs this many bytes (no overlong forms)
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) n = 1, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 2, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 3, min = 0x10000, cp = c & 0x07;
    else return false;  // a continuation byte without a lead, or 0xF8..0xFF
    if (static_cast<size_t>(end - p) < n + 1) return false;  // truncated
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // UTF-16 surrogates are not characters
    p += n + 1;
  }
  return true;
}

std::optional<std::string> db_name_problem(std::string_view name, bool allow_system) {
  if (name.empty()) return "database name is empty";
  // MongoDB limits names to 63 bytes (64 including the terminator).
  if (name.size() > 63) return "database name is longer than 63 bytes";
  // One table lookup per character: this check runs on every database switch.
  static constexpr char kForbidden[] = "/\\. \"$*<>:|?";
  static const std::array<bool, 256> forbidden = [] {
    std::array<bool, 256> t{};
    for (char c : kForbidden) t[static_cast<unsigned char>(c)] = true;  // includes the NUL
    return t;
  }();
  for (char c : name) {
    if (!forbidden[static_cast<unsigned char>(c)]) continue;
    if (c == '\0') return "database name contains a NUL byte";
    return std::string("database name contains '") + c + "'";
  }
  if (!is_valid_utf8(name)) return "database name is not valid UTF-8";
  if (!allow_system && (name == "admin" || name == "config" || name == "local"))
    return "'" + std::string(name) + "' is a system database (set allowSystemDatabases)";
  return std::nullopt;
}

// Falling back to the default would turn an empty string (a missing argument, a bug upstream)
// into the loss of the application's main database.
void refuse_default_for(const char *what) {
  throw Error(Code::invalid_db_name,
              std::string(what) + ": no database named; a destructive call never falls back to the "
                                  "default database (name it explicitly)");
}

}  // namespace pm::core
