// Fuzzes database names: db_name_problem on any bytes (NUL included) against MongoDB's rules
// as the user guide (docs/guide.md) states them (not empty, at most 63 bytes, none of /\. "$*<>:|? or NUL, and
// admin/config/local only with allowSystemDatabases), and every public way to name one: the
// calls that check or bind a name (pm_wrapper_check_db_name, pm_model_db, pm_wrapper_set_db)
// and the options that carry one (defaultDB, dbSpecific, journalDb, the URI's path). A bad
// name must be refused with PM_EDBNAME / PM_EINVAL and a message, never crash. Nothing here
// does I/O; the wrappers' URI names a loopback port nothing listens on.
#include <cjson/cJSON.h>
#include <polymongo.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "base/db_name.hpp"
#include "base/error.hpp"
#include "config/options.hpp"
#include "fuzz_check.hpp"

using namespace pm::core;

namespace {

constexpr const char *kUri = "mongodb://127.0.0.1:1/";

struct Handles {
  pm_wrapper *w = nullptr;
  pm_model *m = nullptr;
};
Handles g_plain, g_system;  // without and with allowSystemDatabases

// The rules, written out independently of db_name_problem.
// Well-formed UTF-8 by the Unicode standard's table of byte sequences (Table 3-7), written apart
// from the library's decoder.
bool well_formed_utf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  for (size_t i = 0; i < s.size();) {
    auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100; };
    unsigned char c = b(0);
    size_t len = 0;
    if (c <= 0x7F) len = 1;
    else if (in(c, 0xC2, 0xDF)) len = in(b(1), 0x80, 0xBF) ? 2 : 0;
    else if (c == 0xE0) len = in(b(1), 0xA0, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
    else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) len = in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xED) len = in(b(1), 0x80, 0x9F) && in(b(2), 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xF0) len = in(b(1), 0x90, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
    else if (in(c, 0xF1, 0xF3)) len = in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
    else if (c == 0xF4) len = in(b(1), 0x80, 0x8F) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
    if (len == 0) return false;
    i += len;
  }
  return true;
}

bool valid(std::string_view name, bool allow_system) {
  if (name.empty() || name.size() > 63 || !well_formed_utf8(name)) return false;
  for (char c : name)
    if (c == '\0' || std::strchr("/\\. \"$*<>:|?", c) != nullptr) return false;
  if (allow_system) return true;
  return name != "admin" && name != "config" && name != "local";
}

Handles make(bool allow_system) {
  Handles h;
  pm_error err;
  std::string json = std::string("{\"mongoURI\": \"") + kUri + "\", \"defaultDB\": \"fuzz\"" +
                     (allow_system ? ", \"allowSystemDatabases\": true}" : "}");
  CHECK(pm_wrapper_new(json.c_str(), &h.w, &err) == PM_OK);
  CHECK(pm_model_new(h.w, "names", nullptr, 0, &h.m, &err) == PM_OK);
  return h;
}

void release(Handles &h) {
  pm_model_free(h.m);
  pm_wrapper_free(h.w);
  h = Handles{};
}

void check_refusal(int rc, int code, const pm_error &err) {
  CHECK(rc == code);
  CHECK(err.code == code);
  CHECK(err.message[0] != '\0');
}

// pm_wrapper_check_db_name and pm_model_db agree with the rules (an empty name is the default).
void check_binding(const Handles &h, const char *name, bool allow_system) {
  bool ok = valid(name, allow_system);
  pm_error err;
  int rc = pm_wrapper_check_db_name(h.w, name, &err);
  if (ok) CHECK(rc == PM_OK);
  else check_refusal(rc, PM_EDBNAME, err);
  if (!ok) CHECK(std::strncmp(err.message, "invalid database name: ", 23) == 0);

  pm_db *d = nullptr;
  rc = pm_model_db(h.m, name, &d, &err);
  if (*name == '\0') {
    CHECK(rc == PM_OK && std::strcmp(pm_db_name(d), "fuzz") == 0);
  } else if (ok) {
    CHECK(rc == PM_OK && std::strcmp(pm_db_name(d), name) == 0);
  } else {
    check_refusal(rc, PM_EDBNAME, err);
    CHECK(d == nullptr);
  }
  pm_db_free(d);
}

// Options naming `name`: accepted exactly when the name is valid.
void check_option(const char *key, const char *name, bool allow_system) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "mongoURI", kUri);
  if (std::strcmp(key, "dbSpecific") == 0) {
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "dbName", name);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "dbSpecific"), entry);
  } else {
    cJSON_AddStringToObject(root, key, name);
  }
  if (allow_system) cJSON_AddTrueToObject(root, "allowSystemDatabases");
  char *json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  bool ok = true;
  try {
    Options::parse(json);
  } catch (const Error &e) {
    CHECK(e.code() == Code::invalid_argument && e.what()[0] != '\0');
    ok = false;
  }
  CHECK(ok == valid(name, allow_system && std::strcmp(key, "journalDb") != 0));
  std::free(json);
}

// The database in the URI's path becomes the default database, when it is valid.
void check_uri_path(const char *name) {
  std::string uri = kUri;
  for (const char *p = name; *p != '\0'; ++p) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(*p));
    uri += hex;
  }
  std::string json = "{\"mongoURI\": \"" + uri + "\"}";
  try {
    Options o = Options::parse(json.c_str());
    CHECK(*name == '\0' ? !o.default_db : valid(name, false) && o.default_db && *o.default_db == name);
  } catch (const Error &e) {
    CHECK(e.code() == Code::invalid_argument && e.what()[0] != '\0');
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  g_plain = make(false);
  g_system = make(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string raw(reinterpret_cast<const char *>(data), size);
  for (bool allow_system : {false, true}) {
    auto problem = db_name_problem(raw, allow_system);
    CHECK(problem.has_value() != valid(raw, allow_system));
    if (problem) CHECK(!problem->empty());
  }

  const char *name = raw.c_str();  // what a C caller can pass: up to the first NUL
  check_binding(g_plain, name, false);
  check_binding(g_system, name, true);

  // A dedicated pool for the name, on a wrapper of its own (each bound name keeps a pool).
  pm_error err;
  const char *names[] = {name};
  if (valid(name, false)) {
    Handles h = make(false);
    CHECK(pm_wrapper_set_db(h.w, names, 1, nullptr, &err) == PM_OK);
    release(h);
  } else {
    check_refusal(pm_wrapper_set_db(g_plain.w, names, 1, nullptr, &err), PM_EDBNAME, err);
  }

  for (const char *key : {"defaultDB", "dbSpecific", "journalDb"}) {
    check_option(key, name, false);
    check_option(key, name, true);
  }
  check_uri_path(name);
  return 0;
}
