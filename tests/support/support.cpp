#include "support.hpp"

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace pmtest {

std::string server_uri() {
  if (const char *u = std::getenv("PM_TEST_URI"); u && *u) return u;
  const char *dir = std::getenv("PM_TEST_SERVER_DIR");
  if (!dir) return "";
  std::ifstream f(std::string(dir) + "/uri");
  std::string uri;
  std::getline(f, uri);
  return uri;
}

int server_port() {
  bson_error_t error;
  mongoc_uri_t *uri = mongoc_uri_new_with_error(server_uri().c_str(), &error);
  if (!uri) return 0;
  const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri);
  int port = h ? h->port : 0;
  mongoc_uri_destroy(uri);
  return port;
}

std::string second_uri() {
  if (const char *u = std::getenv("PM_TEST_URI2"); u && *u) return u;
  const char *dir = std::getenv("PM_TEST_SERVER2_DIR");
  if (!dir) dir = PM_DEFAULT_SERVER2_DIR;
  std::ifstream f(std::string(dir) + "/uri");
  std::string uri;
  std::getline(f, uri);
  return uri;
}

std::string txn_uri() {
  if (const char *u = std::getenv("PM_TEST_TXN_URI"); u && *u) return u;
  const char *dir = std::getenv("PM_TEST_TXN_DIR");
  if (!dir) dir = PM_DEFAULT_TXN_DIR;
  std::ifstream f(std::string(dir) + "/uri");
  std::string uri;
  std::getline(f, uri);
  return uri;
}

int port_of(const std::string &u) {
  bson_error_t error;
  mongoc_uri_t *uri = mongoc_uri_new_with_error(u.c_str(), &error);
  if (!uri) return 0;
  const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri);
  int port = h ? h->port : 0;
  mongoc_uri_destroy(uri);
  return port;
}

const char *const kSecret = "Pa55w0rdXYZ";

std::string add_query(const std::string &uri, const std::string &options) {
  return uri + (uri.find('?') == std::string::npos ? (uri.back() == '/' ? "?" : "/?") : "&") + options;
}

std::string with_secret(const std::string &uri) {
  if (const char *u = std::getenv("PM_TEST_URI"); u && *u) return uri;
  if (uri.find('@') != std::string::npos) return uri;
  std::string out = uri;
  out.insert(out.find("://") + 3, std::string("pmuser:") + kSecret + "@");
  return add_query(out, "authMechanism=PLAIN");
}

int slow(int ms) {
  static const int factor = [] {
    const char *s = std::getenv("PM_TEST_SLOW");
    int f = s ? std::atoi(s) : 1;
    return f < 1 ? 1 : f > 100 ? 100 : f;
  }();
  return ms * factor;
}

bool wait_until(const std::function<bool()> &pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(slow(timeout_ms));
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

void Recorder::callback(const pm_event *e, void *self) {
  auto *r = static_cast<Recorder *>(self);
  std::lock_guard<std::mutex> lock(r->mu_);
  r->events_.push_back(EventRecord{e->type, e->db, e->pool, e->reason, e->message, e->code, e->duration_us, e->connection_id});
}

std::vector<EventRecord> Recorder::events() {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

size_t Recorder::count(int type, const std::string &db, const std::string &reason) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto &e : events_)
    if (e.type == type && (db == "*" || e.db == db) && (reason == "*" || e.reason == reason)) ++n;
  return n;
}

Recorder::~Recorder() {
  for (auto &[w, id] : subscriptions_) pm_wrapper_unsubscribe(w, id, nullptr);
}

uint64_t Recorder::subscribe(pm_wrapper *w, uint32_t mask, const std::vector<std::string> &dbs) {
  std::vector<const char *> names;
  for (auto &d : dbs) names.push_back(d.c_str());
  uint64_t id = 0;
  pm_error err;
  EXPECT_EQ(pm_wrapper_subscribe(w, mask, names.data(), names.size(), &Recorder::callback, this, nullptr, &id, &err),
            PM_OK)
      << err.message;
  subscriptions_.emplace_back(w, id);
  return id;
}

const char *ferretdb_script() {
  const char *s = std::getenv("PM_FERRETDB_SH");
  return s ? s : PM_DEFAULT_FERRETDB_SH;
}

std::string unique_db(const std::string &prefix) {
  static const std::string run = [] {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 100000000) +
           "_" + std::to_string(getpid() % 100000);
  }();
  static std::atomic<int> counter{0};
  return prefix + "_" + run + "_" + std::to_string(counter++);
}

std::string options(const std::string &extra) {
  std::string o = "{\"mongoURI\": \"" + server_uri() + "\", \"defaultDB\": \"pm_default\"";
  if (!extra.empty()) o += ", " + extra;
  return o + "}";
}

std::vector<int> sockets_to_port(int port) {
  // Inodes of this process's sockets...
  std::set<std::string> inodes;
  if (DIR *d = opendir("/proc/self/fd")) {
    while (dirent *e = readdir(d)) {
      char target[256];
      std::string path = std::string("/proc/self/fd/") + e->d_name;
      ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      std::string t(target);
      if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  // ...that are TCP connections whose remote port is the server's. Each socket counts once,
  // by inode: the kernel writes these tables a page per read() and resumes each read by its
  // position in the hash chains, so when other processes open and close connections in the
  // meantime (another test beside this one) a row can come out twice or more. Counting rows
  // once saw 13 sockets where there were 9 distinct ones (the same local ports repeated).
  std::vector<int> local_ports;
  std::set<std::string> counted;
  for (const char *table : {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
    std::ifstream f(table);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::istringstream in(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      in >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state != "01") continue;  // ESTABLISHED
      int rport = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16);
      if (rport == port && inodes.count(inode) && counted.insert(inode).second)
        local_ports.push_back(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
    }
  }
  return local_ports;
}

int count_sockets_to_port(int port) { return static_cast<int>(sockets_to_port(port).size()); }

Checker::Checker() : Checker(server_uri()) {}

Checker::Checker(const std::string &uri) {
  mongoc_init();
  client_ = mongoc_client_new(uri.c_str());
  mongoc_client_set_error_api(client_, MONGOC_ERROR_API_VERSION_2);
}

Checker::~Checker() { mongoc_client_destroy(client_); }

int64_t Checker::count(const std::string &db, const std::string &coll, const std::string &filter_json) {
  bson_error_t error;
  bson_t *filter = bson_new_from_json(reinterpret_cast<const uint8_t *>(filter_json.c_str()), -1, &error);
  mongoc_collection_t *c = mongoc_client_get_collection(client_, db.c_str(), coll.c_str());
  int64_t n = mongoc_collection_count_documents(c, filter, nullptr, nullptr, nullptr, &error);
  mongoc_collection_destroy(c);
  bson_destroy(filter);
  EXPECT_GE(n, 0) << error.message;
  return n;
}

std::vector<std::string> Checker::find_json(const std::string &db, const std::string &coll,
                                            const std::string &filter_json) {
  bson_error_t error;
  bson_t *filter = bson_new_from_json(reinterpret_cast<const uint8_t *>(filter_json.c_str()), -1, &error);
  mongoc_collection_t *c = mongoc_client_get_collection(client_, db.c_str(), coll.c_str());
  bson_t opts = BSON_INITIALIZER;
  BCON_APPEND(&opts, "sort", "{", "_id", BCON_INT32(1), "}");
  mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, &opts, nullptr);
  std::vector<std::string> out;
  const bson_t *doc;
  while (mongoc_cursor_next(cur, &doc)) {
    char *j = bson_as_relaxed_extended_json(doc, nullptr);
    out.emplace_back(j);
    bson_free(j);
  }
  EXPECT_FALSE(mongoc_cursor_error(cur, &error)) << error.message;
  mongoc_cursor_destroy(cur);
  bson_destroy(&opts);
  mongoc_collection_destroy(c);
  bson_destroy(filter);
  return out;
}

bool Checker::command_ok(const std::string &db, const std::string &cmd_json, std::string *reply_json) {
  bson_error_t error;
  bson_t *cmd = bson_new_from_json(reinterpret_cast<const uint8_t *>(cmd_json.c_str()), -1, &error);
  bson_t reply;
  bool ok = mongoc_client_command_simple(client_, db.c_str(), cmd, nullptr, &reply, &error);
  if (reply_json) {
    char *j = bson_as_relaxed_extended_json(&reply, nullptr);
    *reply_json = j ? j : "";
    bson_free(j);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return ok;
}

std::string Buf::json() const {
  if (!b.data) return "";
  char *j = pm_bson_to_json(b.data, b.len, PM_JSON_RELAXED);
  std::string s = j ? j : "";
  pm_free(j);
  return s;
}

pm_wrapper *new_wrapper(const std::string &extra_options) {
  pm_wrapper *w = nullptr;
  pm_error err;
  int rc = pm_wrapper_new(options(extra_options).c_str(), &w, &err);
  EXPECT_EQ(rc, PM_OK) << err.message;
  return w;
}

pm_model *new_model(pm_wrapper *w, const char *collection, const char *opts_json) {
  pm_model *m = nullptr;
  pm_error err;
  int rc = pm_model_new(w, collection, opts_json, opts_json ? PM_JSON : 0, &m, &err);
  EXPECT_EQ(rc, PM_OK) << err.message;
  return m;
}

pm_db *bind_db(pm_model *m, const std::string &db) {
  pm_db *d = nullptr;
  pm_error err;
  int rc = pm_model_db(m, db.c_str(), &d, &err);
  EXPECT_EQ(rc, PM_OK) << err.message;
  return d;
}

void insert_json(pm_db *db, const std::string &json) {
  pm_error err;
  int rc = pm_db_insert_one(db, json.c_str(), PM_JSON, nullptr, 0, nullptr, &err);
  ASSERT_EQ(rc, PM_OK) << err.message;
}

std::vector<std::string> drain(pm_cursor *c) {
  std::vector<std::string> out;
  const char *json;
  pm_error err;
  int rc;
  while ((rc = pm_cursor_next_json(c, PM_JSON_RELAXED, &json, &err)) == 1) out.emplace_back(json);
  EXPECT_EQ(rc, 0) << err.message;
  return out;
}

std::string field(const std::string &json_doc, const std::string &name) {
  bson_error_t error;
  bson_t *b = bson_new_from_json(reinterpret_cast<const uint8_t *>(json_doc.c_str()), -1, &error);
  if (!b) return "<invalid json>";
  bson_iter_t it;
  std::string out = "<missing>";
  if (bson_iter_init_find(&it, b, name.c_str())) {
    bson_t tmp = BSON_INITIALIZER;
    bson_append_value(&tmp, "v", 1, bson_iter_value(&it));
    char *j = bson_as_relaxed_extended_json(&tmp, nullptr);
    std::string s = j;
    bson_free(j);
    bson_destroy(&tmp);
    // {"v" : X } -> X
    size_t colon = s.find(':');
    out = s.substr(colon + 2, s.size() - colon - 4);
  }
  bson_destroy(b);
  return out;
}

pm_wrapper *new_wrapper_on(const std::string &uri, const std::string &extra_options) {
  std::string json = "{\"mongoURI\": \"" + uri + "\", \"defaultDB\": \"pm_default\"";
  if (!extra_options.empty()) json += ", " + extra_options;
  json += "}";
  pm_wrapper *w = nullptr;
  pm_error err;
  int rc = pm_wrapper_new(json.c_str(), &w, &err);
  EXPECT_EQ(rc, PM_OK) << err.message;
  return w;
}

void on_server_with_feature(const std::string &feature, const std::function<void(FeatureRun &)> &body) {
  FeatureRun main_run{server_uri()};
  body(main_run);
  if (!main_run.refused) return;  // the main server has it: the body's checks ran there
  std::string uri = txn_uri();
  if (uri.empty())
    GTEST_SKIP() << "the main server lacks " << feature << " (" << main_run.why
                 << ") and the suite has no server that has it (SecantusDB did not start)";
  FeatureRun txn_run{uri};
  body(txn_run);
  if (txn_run.refused) {
    ADD_FAILURE() << "the transaction server refused " << feature << " too: " << txn_run.why;
  } else if (!::testing::Test::HasFailure()) {
    std::printf("the main server refused %s (%s); verified on the transaction server\n", feature.c_str(),
                main_run.why.c_str());
    std::fflush(stdout);
  }
}

}  // namespace pmtest
