// polymongo: the command-line tool over the C API (export, import, copy, drop, stats, list-dbs,
// explain-route, tenants) and over a running admin endpoint (top).
//
// Exit codes: 0 success; 1 the operation failed (server error, refused documents);
// 2 bad arguments; 3 the server could not be reached (or authentication failed);
// 4 a malformed or truncated input file.
#include <polymongo.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace {

enum Exit { kOk = 0, kFailed = 1, kUsage = 2, kUnreachable = 3, kMalformed = 4 };

struct Progress {
  bool enabled = false;
  const char *verb = "";
  static void report(uint64_t docs, uint64_t bytes, void *self) {
    auto *p = static_cast<Progress *>(self);
    if (!p->enabled) return;
    std::fprintf(stderr, "\r%s %llu documents, %.1f MB", p->verb, static_cast<unsigned long long>(docs),
                 static_cast<double>(bytes) / 1048576.0);
    std::fflush(stderr);
  }
  void done() {
    if (enabled) std::fputc('\n', stderr);
  }
};

int exit_code(const pm_error &err) {
  switch (err.code) {
    case PM_OK: return kOk;
    case PM_ECONNECT:
    case PM_ETIMEOUT:
    case PM_EAUTH: return kUnreachable;
    case PM_EINVAL: return std::string(err.message).rfind("line ", 0) == 0 ? kMalformed : kUsage;
    case PM_EDBNAME: return kUsage;
    default: return kFailed;
  }
}

int fail(const pm_error &err, bool json) {
  if (json)
    std::printf("{\"ok\":false,\"code\":\"%s\",\"serverCode\":%d,\"message\":\"%s\"}\n", pm_code_name(err.code),
                err.server_code, err.message);
  else
    std::fprintf(stderr, "polymongo: %s (%s)\n", err.message, pm_code_name(err.code));
  return exit_code(err);
}

std::string options_json(const std::string &uri) {
  // URIs have no quotes or backslashes; refuse them rather than escape.
  if (uri.find_first_of("\"\\") != std::string::npos) return "";
  return "{\"mongoURI\": \"" + uri + "\", \"maxPoolSize\": 4}";
}

struct JsonDeleter {
  void operator()(cJSON *j) const { cJSON_Delete(j); }
};
using Json = std::unique_ptr<cJSON, JsonDeleter>;

// GET `path` of the admin endpoint as JSON; null with a message on stderr when it fails.
Json fetch_json(httplib::Client &client, const std::string &path) {
  auto res = client.Get(path);
  if (!res) {
    std::fprintf(stderr, "polymongo top: cannot reach the admin endpoint (%s)\n", httplib::to_string(res.error()).c_str());
    return nullptr;
  }
  if (res->status != 200) {
    std::fprintf(stderr, "polymongo top: %s answered %d\n", path.c_str(), res->status);
    return nullptr;
  }
  return Json(cJSON_Parse(res->body.c_str()));
}

double number(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
const char *text(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

// `polymongo admin ACTION TARGET`: one admin action on a running endpoint (POST /api/ACTION
// with the token as a bearer token); prints the endpoint's answer. The token comes from
// --token or POLYMONGO_ADMIN_TOKEN (which keeps it out of the process list).
int admin_action(const std::string &url, std::string token, const std::string &action,
                 const std::string &target, int64_t timeout_ms) {
  if (token.empty() && std::getenv("POLYMONGO_ADMIN_TOKEN") != nullptr) token = std::getenv("POLYMONGO_ADMIN_TOKEN");
  Json body(cJSON_CreateObject());
  if (action == "pause" || action == "resume") {
    cJSON_AddStringToObject(body.get(), "name", target.c_str());
  } else if (action == "drain") {
    cJSON_AddStringToObject(body.get(), "pool", target.c_str());
    if (timeout_ms >= 0) cJSON_AddNumberToObject(body.get(), "timeoutMS", static_cast<double>(timeout_ms));
  } else if (action == "explain") {
    cJSON_AddStringToObject(body.get(), "db", target.c_str());
  } else {  // reload: TARGET is the routes array
    cJSON *routes = cJSON_Parse(target.c_str());
    if (!cJSON_IsArray(routes)) {
      cJSON_Delete(routes);
      std::fprintf(stderr, "polymongo admin reload: ROUTES must be a JSON array\n");
      return kUsage;
    }
    cJSON_AddItemToObject(body.get(), "routes", routes);
  }
  char *text = cJSON_PrintUnformatted(body.get());
  std::string payload = text != nullptr ? text : "{}";
  cJSON_free(text);
  httplib::Client client(url);
  client.set_connection_timeout(3, 0);
  client.set_read_timeout(timeout_ms > 0 ? static_cast<time_t>(timeout_ms / 1000 + 10) : 30, 0);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto res = client.Post("/api/" + action, headers, payload, "application/json");
  if (!res) {
    std::fprintf(stderr, "polymongo admin: cannot reach the admin endpoint (%s)\n", httplib::to_string(res.error()).c_str());
    return kUnreachable;
  }
  std::printf("%s\n", res->body.c_str());
  if (res->status == 200) return kOk;
  std::fprintf(stderr, "polymongo admin %s: the endpoint answered %d%s\n", action.c_str(), res->status,
               res->status == 401 ? " (a missing or wrong token: --token or POLYMONGO_ADMIN_TOKEN)"
               : res->status == 403 ? " (the endpoint has no token configured: no action is possible)" : "");
  return res->status == 400 || res->status == 401 || res->status == 403 ? kUsage : kFailed;
}

// `polymongo top`: the busiest tenants and the pools of a running admin endpoint, refreshed
// every `interval` seconds (ops/s over the last interval), or one frame with --once.
int top(const std::string &url, int n, double interval, bool once) {
  httplib::Client client(url);
  client.set_connection_timeout(3, 0);
  client.set_read_timeout(10, 0);
  std::map<std::string, double> before;
  auto last = std::chrono::steady_clock::now();
  bool first = true;
  for (;;) {
    Json stats = fetch_json(client, "/api/pools");
    Json dbs = fetch_json(client, "/api/databases?top=" + std::to_string(n));
    Json overview = fetch_json(client, "/api/overview");
    if (!stats || !dbs || !overview) return kUnreachable;
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - last).count();
    last = now;
    std::string frame;
    char line[512];
    std::time_t t = std::time(nullptr);
    char clock[16];
    std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&t));
    std::snprintf(line, sizeof line, "polymongo top  %s  %s  %s  slow operations: %.0f\n", url.c_str(),
                  text(overview.get(), "state"), clock, number(overview.get(), "slowOperations"));
    frame += line;
    const cJSON *paused = cJSON_GetObjectItemCaseSensitive(overview.get(), "paused");
    if (cJSON_GetArraySize(paused) > 0) {
      frame += "paused:";
      const cJSON *p;
      cJSON_ArrayForEach(p, paused) frame += std::string(" ") + (cJSON_IsString(p) ? p->valuestring : "?");
      frame += "\n";
    }
    std::snprintf(line, sizeof line, "\n%-24s %-14s %8s %6s %5s %6s %7s\n", "POOL", "STATE", "SOCKETS", "INUSE",
                  "WAIT", "LIMIT", "ERRORS");
    frame += line;
    const cJSON *pool;
    cJSON_ArrayForEach(pool, cJSON_GetObjectItemCaseSensitive(stats.get(), "pools")) {
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(pool, "connections");
      std::snprintf(line, sizeof line, "%-24.24s %-14.14s %8.0f %6.0f %5.0f %6.0f %7.0f\n", text(pool, "name"),
                    text(pool, "state"), number(c, "open"), number(c, "inUse"), number(c, "waiting"),
                    number(pool, "sizeLimit"), number(pool, "errors"));
      frame += line;
    }
    std::snprintf(line, sizeof line, "\n%-32s %-16s %12s %9s %7s %9s\n", "DATABASE", "POOL", "OPERATIONS", "OPS/S",
                  "ERRORS", "MEAN MS");
    frame += line;
    std::map<std::string, double> ops;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(dbs.get(), "databases")) {
      std::string name = text(d, "db");
      double count = number(d, "operations");
      ops[name] = count;
      char rate[32] = "-";
      if (!first && seconds > 0 && before.count(name))
        std::snprintf(rate, sizeof rate, "%.1f", (count - before[name]) / seconds);
      std::snprintf(line, sizeof line, "%-32.32s %-16.16s %12.0f %9s %7.0f %9.2f\n", name.c_str(), text(d, "pool"),
                    count, rate, number(d, "errors"), number(d, "meanLatencyMs"));
      frame += line;
    }
    before = std::move(ops);
    first = false;
    if (!once) std::fputs("\033[H\033[2J", stdout);
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    if (once) return kOk;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
}

}  // namespace

int run(int argc, char **argv) {
  CLI::App app{"polymongo " + std::string(pm_version()) +
               ": export, import, copy and inspect MongoDB databases.\n"
               "The server is --uri, or the MONGODB_URI environment variable.\n"
               "Exit codes: 0 ok, 1 operation failed, 2 bad arguments, 3 server unreachable, "
               "4 malformed input file."};
  app.require_subcommand(1);
  std::string uri;
  bool json = false;
  app.add_option("--uri", uri, "MongoDB URI (mongodb:// or mongodb+srv://)")->envname("MONGODB_URI");
  app.add_flag("--json", json, "machine-readable output (JSON) instead of text");

  std::string db, file = "-", to, import_opts;
  int batch = 1000;
  bool stop_on_error = false, yes = false;

  auto *exp = app.add_subcommand("export", "export a database to NDJSON (canonical Extended JSON)");
  exp->add_option("db", db, "database to export")->required();
  exp->add_option("-o,--out", file, "output file; - for standard output (default)");

  auto *imp = app.add_subcommand("import", "import an NDJSON export into a database");
  imp->add_option("db", db, "database to import into")->required();
  imp->add_option("-i,--in", file, "input file; - for standard input (default)");
  imp->add_option("--batch-size", batch, "documents per unordered insert batch (default 1000)")->check(CLI::Range(1, 100000));
  imp->add_flag("--stop-on-error", stop_on_error, "stop at the first batch with refused documents");

  auto *cp = app.add_subcommand("copy", "copy a database to another name (pool or cluster), streaming");
  cp->add_option("from", db, "source database")->required();
  cp->add_option("to", to, "target database")->required();
  cp->add_option("--batch-size", batch, "documents per insert batch (default 1000)")->check(CLI::Range(1, 100000));

  auto *drop = app.add_subcommand("drop", "drop a database");
  drop->add_option("db", db, "database to drop")->required();
  drop->add_flag("--yes", yes, "confirm; required")->required();

  auto *stats = app.add_subcommand("stats", "statistics of a database, or of the connection");
  stats->add_option("db", db, "database (omit for connection statistics)");

  auto *list = app.add_subcommand("list-dbs", "list databases with their sizes");

  std::string routes;
  auto *explain = app.add_subcommand("explain-route", "which pool and cluster a database routes to, and why");
  explain->add_option("db", db, "database name")->required();
  explain->add_option("--routes", routes, "routing rules as a JSON array (the routes option)");

  // The tenant fleet (docs/fleet.md): the directory option as JSON, then one action.
  std::string directory, cluster, collection = "items", model_json, fleet_target;
  auto *tenants = app.add_subcommand("tenants", "the tenant directory: list, show, place, move, complete, reverse, abort, sync-indexes, drift");
  tenants->add_option("--directory", directory, "the directory option as JSON: {mongoURI, db?, collection?, clusters: {name: uri}, ...}")
      ->required();
  tenants->require_subcommand(1);
  auto *t_list = tenants->add_subcommand("list", "every entry of the directory");
  auto *t_show = tenants->add_subcommand("show", "one entry (null when none)");
  t_show->add_option("db", db, "database")->required();
  auto *t_place = tenants->add_subcommand("place", "place a database with no entry (by the policy, or on --cluster)");
  t_place->add_option("db", db, "database")->required();
  t_place->add_option("--cluster", cluster, "the cluster (default: the placement policy)");
  auto *t_move = tenants->add_subcommand("move", "move a tenant to another cluster, online (or finish a move left unfinished)");
  t_move->add_option("db", db, "database")->required();
  t_move->add_option("cluster", cluster, "target cluster")->required();
  auto *t_complete = tenants->add_subcommand("complete", "drop the copy a move left on the source");
  t_complete->add_option("db", db, "database")->required();
  auto *t_reverse = tenants->add_subcommand("reverse", "move a tenant back to the cluster its last move left");
  t_reverse->add_option("db", db, "database")->required();
  auto *t_abort = tenants->add_subcommand("abort", "roll back a move in progress");
  t_abort->add_option("db", db, "database")->required();
  auto *t_sync = tenants->add_subcommand("sync-indexes", "apply a model's indexes and validator over the fleet (resumable)");
  auto *t_drift = tenants->add_subcommand("drift", "databases whose indexes or validator differ from a model, and how");
  for (auto *sub : {t_sync, t_drift}) {
    sub->add_option("--collection", collection, "the model's collection (default items)");
    sub->add_option("--model", model_json, "the model's options as JSON: {indexes?, validator?, ...}")->required();
    sub->add_option("--target", fleet_target, "{match?, tenants?, concurrency?, job?} as JSON (default: every database)");
  }

  std::string url = "http://127.0.0.1:9400";
  int top_n = 20;
  double interval = 2;
  bool once = false;
  auto *topcmd = app.add_subcommand("top", "the busiest tenants and pools of a running admin endpoint, refreshed");
  topcmd->add_option("--url", url, "the admin endpoint (default http://127.0.0.1:9400)");
  topcmd->add_option("-n,--top", top_n, "how many databases (default 20)")->check(CLI::Range(1, 10000));
  topcmd->add_option("--interval", interval, "seconds between frames (default 2)")->check(CLI::Range(0.1, 3600.0));
  topcmd->add_flag("--once", once, "print one frame and exit");

  std::string action, target, token;
  int64_t drain_ms = -1;
  auto *admin = app.add_subcommand("admin", "an admin action on a running admin endpoint (needs its token)");
  admin->add_option("action", action, "pause | resume (a database or pool), drain (a pool), explain (a database), reload (routes)")
      ->required()
      ->check(CLI::IsMember({"pause", "resume", "drain", "explain", "reload"}));
  admin->add_option("target", target, "the database or pool; for reload, the routes as a JSON array")->required();
  admin->add_option("--url", url, "the admin endpoint (default http://127.0.0.1:9400)");
  admin->add_option("--token", token, "the endpoint's token (default: $POLYMONGO_ADMIN_TOKEN)");
  admin->add_option("--timeout-ms", drain_ms, "drain: how long to wait for connections in use")->check(CLI::Range(int64_t{0}, int64_t{86400000}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  if (*topcmd) return top(url, top_n, interval, once);
  if (*admin) return admin_action(url, token, action, target, drain_ms);
  if (uri.empty()) {
    std::fprintf(stderr, "polymongo: no server: pass --uri or set MONGODB_URI\n");
    return kUsage;
  }
  std::string opts = options_json(uri);
  if (*tenants && !opts.empty()) opts = opts.substr(0, opts.size() - 1) + ", \"directory\": " + directory + "}";
  pm_error err;
  pm_wrapper *w = nullptr;
  if (opts.empty() || pm_wrapper_new(opts.c_str(), &w, &err) != PM_OK) {
    if (opts.empty()) std::fprintf(stderr, "polymongo: --uri: not a valid MongoDB URI\n");
    return opts.empty() ? kUsage : fail(err, json);
  }
  Progress progress;
  progress.enabled = !json && isatty(STDERR_FILENO);
  std::string io = "{\"batchSize\": " + std::to_string(batch) + ", \"stopOnError\": " + (stop_on_error ? "true" : "false") + "}";
  char *out = nullptr;
  int rc = PM_OK;

  if (*exp) {
    progress.verb = "exported";
    rc = pm_wrapper_export_file(w, db.c_str(), file.c_str(), &Progress::report, &progress, &err);
    progress.done();
    if (rc == PM_OK && json) std::printf("{\"ok\":true}\n");
  } else if (*imp || *cp) {
    progress.verb = *imp ? "imported" : "copied";
    rc = *imp ? pm_wrapper_import_file(w, db.c_str(), file.c_str(), io.c_str(), &Progress::report, &progress, &out, &err)
              : pm_wrapper_copy_database(w, db.c_str(), to.c_str(), io.c_str(), &Progress::report, &progress, &out, &err);
    progress.done();
    if (out) std::printf("%s\n", out);
  } else if (*drop) {
    rc = pm_wrapper_drop_database(w, db.c_str(), &err);
    if (rc == PM_OK) std::printf(json ? "{\"ok\":true}\n" : "dropped %s\n", db.c_str());
  } else if (*stats) {
    rc = db.empty() ? pm_wrapper_stats(w, &out, &err) : pm_wrapper_db_stats(w, db.c_str(), &out, &err);
    if (out) std::printf("%s\n", out);
  } else if (*list) {
    rc = pm_wrapper_list_databases(w, &out, &err);
    if (out) std::printf("%s\n", out);
  } else if (*tenants) {
    pm_model *model = nullptr;
    if (*t_list) rc = pm_wrapper_tenants(w, &out, &err);
    else if (*t_show) rc = pm_wrapper_tenant(w, db.c_str(), &out, &err);
    else if (*t_place) rc = pm_wrapper_place_tenant(w, db.c_str(), cluster.empty() ? nullptr : cluster.c_str(), &out, &err);
    else if (*t_move) rc = pm_wrapper_move_tenant(w, db.c_str(), cluster.c_str(), &out, &err);
    else if (*t_complete) rc = pm_wrapper_complete_move(w, db.c_str(), &out, &err);
    else if (*t_reverse) rc = pm_wrapper_reverse_move(w, db.c_str(), &out, &err);
    else if (*t_abort) rc = pm_wrapper_abort_move(w, db.c_str(), &out, &err);
    else if ((rc = pm_model_new(w, collection.c_str(), model_json.c_str(), PM_JSON, &model, &err)) == PM_OK) {
      const char *target_arg = fleet_target.empty() ? nullptr : fleet_target.c_str();
      rc = *t_sync ? pm_model_fleet_sync(model, target_arg, &out, &err) : pm_model_fleet_drift(model, target_arg, &out, &err);
    }
    pm_model_free(model);
    if (out) std::printf("%s\n", out);
  } else if (*explain) {
    if (!routes.empty()) rc = pm_wrapper_reload_routes(w, routes.c_str(), &err);
    if (rc == PM_OK) rc = pm_wrapper_explain_route(w, db.c_str(), &out, &err);
    if (out) std::printf("%s\n", out);
  }
  pm_free(out);
  pm_wrapper_free(w);
  return rc == PM_OK ? kOk : fail(err, json);
}

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {  // out of memory, say: a message and an exit code, not abort()
    std::fprintf(stderr, "polymongo: %s\n", e.what());
    return kFailed;
  }
}
