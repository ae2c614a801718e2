// The wrapper's options, parsed and validated from PolyMongo-style JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pm::core {

// A dedicated pool for one database (PolyMongo's dbSpecific entry).
struct DedicatedPoolOptions {
  std::string db_name;
  std::string mongo_uri;  // empty: the wrapper's mongoURI
  int max_connections = 10;
  bool cold_start = true;
  bool auto_close = false;
  int64_t ttl_ms = 0;
};

struct Options {
  std::string mongo_uri;
  std::optional<std::string> default_db;  // unset: NULL/"" names no database
  int max_pool_size = 10;
  int min_free_connections = 0;
  int64_t idle_timeout_ms = 0;
  bool cold_start = true;
  int64_t retry_ms = 0;
  bool debug = false;
  std::string log_path;
  std::vector<DedicatedPoolOptions> db_specific;
  bool allow_system_databases = false;

  // Throws Error(invalid_argument) with a message naming the offending option.
  static Options parse(const char *json);
};

// Parses a MongoDB URI with libmongoc's parser; throws naming `option` on failure.
// Returns the database named in the URI's path ("" when none).
std::string check_mongo_uri(const std::string &uri, const std::string &option);

// The URI with any password replaced by "***", for logs, statistics and messages.
std::string redact_uri(const std::string &uri);

}  // namespace pm::core
