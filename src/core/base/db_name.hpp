// MongoDB's rules for database names, checked before anything reaches the driver.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pm::core {

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates, or code points past
// U+10FFFF; NUL bytes pass, callers decide). Names and every string of a document use it.
bool is_valid_utf8(std::string_view s);

// Why `name` may not be used as a database name, or nullopt when it may.
std::optional<std::string> db_name_problem(std::string_view name, bool allow_system);

// The one rule for destructive calls (drop database, drop collection, drop index, copy onto):
// they name their database, never falling back to the default. Throws Error(invalid_db_name)
// saying so; `what` names the call.
[[noreturn]] void refuse_default_for(const char *what);

}  // namespace pm::core
