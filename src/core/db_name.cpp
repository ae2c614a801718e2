#include "db_name.hpp"
#include "hot.hpp"

#include <array>

namespace pm::core {

PM_HOT std::optional<std::string> db_name_problem(std::string_view name, bool allow_system) {
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
  if (!allow_system && (name == "admin" || name == "config" || name == "local"))
    return "'" + std::string(name) + "' is a system database (set allowSystemDatabases)";
  return std::nullopt;
}

}  // namespace pm::core
