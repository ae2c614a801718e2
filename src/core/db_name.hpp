// MongoDB's rules for database names, checked before anything reaches the driver.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pm::core {

// Why `name` may not be used as a database name, or nullopt when it may.
std::optional<std::string> db_name_problem(std::string_view name, bool allow_system);

}  // namespace pm::core
