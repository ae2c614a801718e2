#include "options.hpp"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <set>

#include "db_name.hpp"
#include "error.hpp"

namespace pm::core {

namespace {

struct JsonDeleter {
  void operator()(cJSON *j) const { cJSON_Delete(j); }
};

[[noreturn]] void bad(const std::string &message) { fail(Code::invalid_argument, message); }

void check_keys(const cJSON *object, const std::string &where,
                std::initializer_list<const char *> known) {
  for (const cJSON *item = object->child; item != nullptr; item = item->next) {
    bool ok = false;
    for (const char *k : known) ok = ok || std::strcmp(item->string, k) == 0;
    if (!ok) bad(where + "unknown option '" + item->string + "'");
  }
}

int64_t integer(const cJSON *item, const std::string &name, int64_t min, int64_t max) {
  if (!cJSON_IsNumber(item)) bad(name + " must be a number");
  double d = item->valuedouble;
  if (!std::isfinite(d) || std::floor(d) != d) bad(name + " must be an integer");
  if (d < static_cast<double>(min)) bad(name + " must be >= " + std::to_string(min));
  if (d > static_cast<double>(max)) bad(name + " must be <= " + std::to_string(max));
  return static_cast<int64_t>(d);
}

bool boolean(const cJSON *item, const std::string &name) {
  if (!cJSON_IsBool(item)) bad(name + " must be true or false");
  return cJSON_IsTrue(item);
}

std::string string(const cJSON *item, const std::string &name) {
  if (!cJSON_IsString(item)) bad(name + " must be a string");
  return item->valuestring;
}

constexpr int64_t kMaxPool = 100000;
constexpr int64_t kMaxMs = std::numeric_limits<int32_t>::max();

DedicatedPoolOptions parse_dedicated(const cJSON *entry, size_t index, bool allow_system) {
  std::string where = "dbSpecific[" + std::to_string(index) + "]";
  if (!cJSON_IsObject(entry)) bad(where + " must be an object");
  check_keys(entry, where + ": ", {"dbName", "mongoURI", "options"});
  DedicatedPoolOptions d;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "dbName");
  if (name == nullptr) bad(where + ".dbName is required");
  d.db_name = string(name, where + ".dbName");
  if (auto why = db_name_problem(d.db_name, allow_system)) bad(where + ".dbName: " + *why);
  if (const cJSON *uri = cJSON_GetObjectItemCaseSensitive(entry, "mongoURI")) {
    d.mongo_uri = string(uri, where + ".mongoURI");
    check_mongo_uri(d.mongo_uri, where + ".mongoURI");
  }
  if (const cJSON *o = cJSON_GetObjectItemCaseSensitive(entry, "options")) {
    std::string ow = where + ".options";
    if (!cJSON_IsObject(o)) bad(ow + " must be an object");
    check_keys(o, ow + ": ", {"maxConnections", "coldStart", "autoClose", "ttl"});
    if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "maxConnections"))
      d.max_connections = static_cast<int>(integer(v, ow + ".maxConnections", 1, kMaxPool));
    if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "coldStart"))
      d.cold_start = boolean(v, ow + ".coldStart");
    if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "autoClose"))
      d.auto_close = boolean(v, ow + ".autoClose");
    if (auto *v = cJSON_GetObjectItemCaseSensitive(o, "ttl"))
      d.ttl_ms = integer(v, ow + ".ttl", 0, kMaxMs);
  }
  return d;
}

}  // namespace

std::string check_mongo_uri(const std::string &uri, const std::string &option) {
  bson_error_t error;
  mongoc_uri_t *parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
  if (parsed == nullptr) {
    // libmongoc's messages describe the problem without echoing credentials.
    bad(option + " is not a valid MongoDB URI (mongodb:// or mongodb+srv://): " + error.message);
  }
  const char *db = mongoc_uri_get_database(parsed);
  std::string name = db != nullptr ? db : "";
  mongoc_uri_destroy(parsed);
  return name;
}

std::string redact_uri(const std::string &uri) {
  size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return "<invalid uri>";
  size_t start = scheme + 3;
  size_t end = uri.find_first_of("/?", start);
  size_t at = uri.rfind('@', end == std::string::npos ? uri.size() : end);
  if (at == std::string::npos || at < start) return uri;
  std::string userinfo = uri.substr(start, at - start);
  size_t colon = userinfo.find(':');
  std::string user = colon == std::string::npos ? userinfo : userinfo.substr(0, colon);
  return uri.substr(0, start) + user + ":***" + uri.substr(at);
}

Options Options::parse(const char *json) {
  if (json == nullptr) bad("options: NULL options (expected a JSON object with mongoURI)");
  std::unique_ptr<cJSON, JsonDeleter> root(cJSON_Parse(json));
  if (!root) {
    const char *where = cJSON_GetErrorPtr();
    size_t at = where != nullptr && where >= json ? static_cast<size_t>(where - json) : 0;
    bad("options: malformed JSON near offset " + std::to_string(at));
  }
  if (!cJSON_IsObject(root.get())) bad("options: expected a JSON object");
  check_keys(root.get(), "options: ",
             {"mongoURI", "defaultDB", "maxPoolSize", "minFreeConnections", "idleTimeoutMS",
              "coldStart", "retry", "debug", "logPath", "dbSpecific", "allowSystemDatabases"});

  Options o;
  auto get = [&](const char *key) { return cJSON_GetObjectItemCaseSensitive(root.get(), key); };

  if (auto *v = get("allowSystemDatabases"))
    o.allow_system_databases = boolean(v, "allowSystemDatabases");

  const cJSON *uri = get("mongoURI");
  if (uri == nullptr) bad("mongoURI is required");
  o.mongo_uri = string(uri, "mongoURI");
  std::string uri_db = check_mongo_uri(o.mongo_uri, "mongoURI");

  if (auto *v = get("defaultDB")) {
    o.default_db = string(v, "defaultDB");
    if (auto why = db_name_problem(*o.default_db, o.allow_system_databases))
      bad("defaultDB: " + *why);
  } else if (!uri_db.empty()) {
    if (auto why = db_name_problem(uri_db, o.allow_system_databases))
      bad("mongoURI: the database in its path: " + *why);
    o.default_db = uri_db;
  }

  if (auto *v = get("maxPoolSize"))
    o.max_pool_size = static_cast<int>(integer(v, "maxPoolSize", 1, kMaxPool));
  if (auto *v = get("minFreeConnections"))
    o.min_free_connections = static_cast<int>(integer(v, "minFreeConnections", 0, kMaxPool));
  if (o.min_free_connections > o.max_pool_size)
    bad("minFreeConnections (" + std::to_string(o.min_free_connections) +
        ") must be <= maxPoolSize (" + std::to_string(o.max_pool_size) + ")");
  if (auto *v = get("idleTimeoutMS")) o.idle_timeout_ms = integer(v, "idleTimeoutMS", 0, kMaxMs);
  if (auto *v = get("coldStart")) o.cold_start = boolean(v, "coldStart");
  if (auto *v = get("retry")) o.retry_ms = integer(v, "retry", 0, kMaxMs);
  if (auto *v = get("debug")) o.debug = boolean(v, "debug");
  if (auto *v = get("logPath")) o.log_path = string(v, "logPath");

  if (auto *v = get("dbSpecific")) {
    if (!cJSON_IsArray(v)) bad("dbSpecific must be an array");
    std::set<std::string> seen;
    size_t i = 0;
    for (const cJSON *entry = v->child; entry != nullptr; entry = entry->next, ++i) {
      DedicatedPoolOptions d = parse_dedicated(entry, i, o.allow_system_databases);
      if (!seen.insert(d.db_name).second)
        bad("dbSpecific[" + std::to_string(i) + "].dbName '" + d.db_name + "' is listed twice");
      o.db_specific.push_back(std::move(d));
    }
  }
  return o;
}

}  // namespace pm::core
