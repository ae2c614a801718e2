// Fuzzes the option JSON the library parses: the wrapper's options (pm_wrapper_new), a pool
// spec (pm_wrapper_set_db), a routing rule (pm_wrapper_add_route) and the import options.
// A refusal must be PM_EINVAL / Error(invalid_argument) with a message; what is accepted must
// keep the documented limits. Wrappers are made only from options that open no socket, write
// no file and start no recovery (coldStart everywhere, no logPath, debug or recoverOnStart),
// so whatever URI the input names is never contacted.
#include <cjson/cJSON.h>
#include <polymongo.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "base/db_name.hpp"
#include "base/error.hpp"
#include "config/options.hpp"
#include "transfer/transfer.hpp"
#include "fuzz_check.hpp"

using namespace pm::core;

namespace {

// Runs `parse`; returns whether it accepted. Any refusal but Error(invalid_argument) with a
// message escapes and crashes the run.
template <class F>
bool accepted(F &&parse) {
  try {
    parse();
    return true;
  } catch (const Error &e) {
    CHECK(e.code() == Code::invalid_argument);
    CHECK(e.what()[0] != '\0');
    return false;
  }
}

void check_spec(const PoolSpec &s) {
  CHECK(s.max_connections >= 1 && s.max_connections <= 100000);
  CHECK(s.ttl_ms >= 0);
  CHECK(!s.auto_close || s.ttl_ms > 0);
}

void check_options(const Options &o) {
  CHECK(!o.mongo_uri.empty());
  CHECK(o.max_pool_size >= 1 && o.max_pool_size <= 100000);
  CHECK(o.min_free_connections >= 0 && o.min_free_connections <= o.max_pool_size);
  CHECK(o.idle_timeout_ms >= 0);
  CHECK(o.retry.attempts >= 1 && o.retry.attempts <= 100);
  CHECK(o.retry.initial_delay_ms >= 0 && o.retry.initial_delay_ms <= o.retry.max_delay_ms);
  CHECK(o.max_open_pools >= 0);
  if (o.default_db) CHECK(!db_name_problem(*o.default_db, o.allow_system_databases));
  CHECK(!db_name_problem(o.journal_db, false));
  std::set<std::string> names;
  for (const DedicatedPoolOptions &d : o.db_specific) {
    CHECK(!db_name_problem(d.db_name, o.allow_system_databases));
    CHECK(names.insert(d.db_name).second);
    check_spec(d.spec);
  }
  for (const RouteOptions &r : o.routes) {
    CHECK(!r.pattern.empty());
    check_spec(r.spec);
  }
  if (o.pool_sizing.enabled) {
    const PoolSizing &z = o.pool_sizing;
    CHECK(z.min >= 1 && z.min <= z.max);
    CHECK(z.scale_down_at > 0 && z.scale_down_at < z.scale_up_at && z.scale_up_at <= 1);
    CHECK(z.interval_ms >= 10);
  }
}

// Whether a wrapper made from `o` does nothing outside this process when created.
bool io_free(const Options &o) {
  if (!o.cold_start || o.debug || !o.log_path.empty() || o.recover_on_start) return false;
  for (const DedicatedPoolOptions &d : o.db_specific)
    if (!d.spec.cold_start) return false;
  return true;
}

// Every line of the Prometheus text is a comment or `name{label="value",...} number`, with
// label values escaped, so no name the options carry can break the format.
void check_prometheus(const std::string &text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    CHECK(end != std::string::npos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# ", 0) == 0) continue;
    size_t i = 0;
    while (i < line.size() && (std::islower(static_cast<unsigned char>(line[i])) || line[i] == '_' ||
                               std::isdigit(static_cast<unsigned char>(line[i]))))
      ++i;
    CHECK(i > 0);
    if (i < line.size() && line[i] == '{') {
      ++i;
      for (;;) {
        size_t name = i;  // a label name: [a-z_][a-z0-9_]*
        while (i < line.size() && (std::islower(static_cast<unsigned char>(line[i])) || line[i] == '_' ||
                                   (i > name && std::isdigit(static_cast<unsigned char>(line[i])))))
          ++i;
        CHECK(i > name);
        CHECK(i + 1 < line.size() && line[i] == '=' && line[i + 1] == '"');
        i += 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            CHECK(i + 1 < line.size() && std::strchr("\\\"n", line[i + 1]) != nullptr);
            ++i;
          }
          ++i;
        }
        CHECK(i < line.size());
        ++i;
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        CHECK(i < line.size() && line[i] == '}');
        ++i;
        break;
      }
    }
    CHECK(i < line.size() && line[i] == ' ');
    char *number_end = nullptr;
    std::strtod(line.c_str() + i + 1, &number_end);
    CHECK(number_end != line.c_str() + i + 1 && *number_end == '\0');
  }
}

// What a live wrapper reports about itself: parseable JSON and well-formed Prometheus text.
void check_reports(pm_wrapper *w) {
  char *text = nullptr;
  pm_error err;
  CHECK(pm_wrapper_stats(w, &text, &err) == PM_OK);
  cJSON *parsed = cJSON_Parse(text);
  CHECK(parsed != nullptr);
  cJSON_Delete(parsed);
  pm_free(text);
  CHECK(pm_wrapper_prometheus(w, &text, &err) == PM_OK);
  check_prometheus(text);
  pm_free(text);
}

// A wrapper on a loopback port nothing listens on (it is never contacted anyway).
constexpr const char *kQuietWrapper =
    "{\"mongoURI\": \"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1\", \"defaultDB\": \"fuzz\"}";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);  // up to a NUL for C
  const char *json = text.c_str();
  pm_error err;

  // The wrapper's options: the core parser, then pm_wrapper_new, which must agree with it.
  Options o;
  bool ok = accepted([&] { o = Options::parse(json); });
  if (ok) check_options(o);
  if (!ok || io_free(o)) {
    pm_wrapper *w = nullptr;
    int rc = pm_wrapper_new(json, &w, &err);
    CHECK(rc == (ok ? PM_OK : PM_EINVAL));
    CHECK((w != nullptr) == ok);
    if (!ok) CHECK(err.message[0] != '\0');
    if (w != nullptr) check_reports(w);
    pm_wrapper_free(w);
  }

  // A pool spec and a routing rule, parsed and then given to a live wrapper.
  PoolSpec spec;
  bool spec_ok = accepted([&] { spec = parse_pool_spec(json, "spec"); });
  if (spec_ok) check_spec(spec);
  RouteOptions route;
  bool route_ok = accepted([&] { route = parse_route(json); });
  if (route_ok) {
    CHECK(!route.pattern.empty());
    check_spec(route.spec);
  }
  if ((spec_ok && spec.cold_start) || route_ok) {
    pm_wrapper *w = nullptr;
    CHECK(pm_wrapper_new(kQuietWrapper, &w, &err) == PM_OK);
    const char *names[] = {"fuzz_dedicated"};
    if (spec.cold_start) CHECK(pm_wrapper_set_db(w, names, 1, json, &err) == (spec_ok ? PM_OK : PM_EINVAL));
    CHECK(pm_wrapper_add_route(w, json, &err) == (route_ok ? PM_OK : PM_EINVAL));
    check_reports(w);
    pm_wrapper_free(w);
  }

  // The import options (Extended JSON).
  ImportOptions import;
  if (accepted([&] { import = ImportOptions::parse(DocView{json, kJsonLength}); }))
    CHECK(import.batch_size >= 1 && import.batch_size <= 100000);
  return 0;
}
