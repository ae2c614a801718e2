#include "db_name.hpp"

#include <cstring>

namespace pm::core {

std::optional<std::string> db_name_problem(std::string_view name, bool allow_system) {
  if (name.empty()) return "database name is empty";
  // MongoDB limits names to 63 bytes (64 including the terminator).
  if (name.size() > 63) return "database name is longer than 63 bytes";
  static constexpr char kForbidden[] = "/\\. \"$*<>:|?";
  for (char c : name) {
    if (c == '\0') return "database name contains a NUL byte";
    if (std::memchr(kForbidden, c, sizeof kForbidden - 1) != nullptr)
      return std::string("database name contains '") + c + "'";
  }
  if (!allow_system && (name == "admin" || name == "config" || name == "local"))
    return "'" + std::string(name) + "' is a system database (set allowSystemDatabases)";
  return std::nullopt;
}

}  // namespace pm::core
