// polymongo: the command-line tool over the C API (export, import, copy, drop, stats, list-dbs).
//
// Exit codes: 0 success; 1 the operation failed (server error, refused documents);
// 2 bad arguments; 3 the server could not be reached (or authentication failed);
// 4 a malformed or truncated input file.
#include <polymongo.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  if (uri.empty()) {
    std::fprintf(stderr, "polymongo: no server: pass --uri or set MONGODB_URI\n");
    return kUsage;
  }
  std::string opts = options_json(uri);
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
