// Shared by the C/C++ tests: where the real server is, an independent libmongoc client to check
// what polymongo wrote, OS socket counts, and small helpers around the C API.
#pragma once

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <polymongo.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace pmtest {

// PM_TEST_URI, or the URI of the FerretDB instance the CTest fixture started.
std::string server_uri();
// The server's TCP port (from the URI's first host).
int server_port();
// A second, independent server ("another cluster"): PM_TEST_URI2 or the second fixture.
std::string second_uri();
int port_of(const std::string &uri);
// A server with transactions and change streams: PM_TEST_TXN_URI, or the fixture's
// SecantusDB; "" when there is none (tests then skip visibly).
std::string txn_uri();
// The script that builds, starts, stops and kills FerretDB instances (tests/server/ferretdb.sh).
const char *ferretdb_script();
// The password the suite puts in every URI it can (FerretDB accepts PLAIN credentials), so
// that tests can assert it never shows up in logs, events, statistics or errors.
extern const char *const kSecret;
// `uri` with credentials added (user pmuser, password kSecret, authMechanism=PLAIN), unless
// the suite runs against PM_TEST_URI, which is used as given.
std::string with_secret(const std::string &uri);
// `uri` plus query options, e.g. add_query(uri, "waitQueueTimeoutMS=200").
std::string add_query(const std::string &uri, const std::string &options);
// PM_TEST_SLOW: a factor (default 1) by which this run is slower than a normal one, e.g. under
// valgrind (the PM_VALGRIND build sets it). slow(ms) scales a timing margin by it.
int slow(int ms);
// Polls `pred` until true or `timeout_ms` (scaled by slow()) passes; returns the last value.
bool wait_until(const std::function<bool()> &pred, int timeout_ms);

// Records events delivered by pm_wrapper_subscribe.
struct EventRecord {
  int type;
  std::string db, pool, reason, message;
  int32_t code;
  int64_t duration_us = 0;
  uint64_t connection_id = 0;
};
// Unsubscribes when destroyed: declare it after the wrapper it listens to.
class Recorder {
 public:
  ~Recorder();
  static void callback(const pm_event *e, void *self);
  std::vector<EventRecord> events();
  size_t count(int type, const std::string &db = "*", const std::string &reason = "*");
  uint64_t subscribe(pm_wrapper *w, uint32_t mask, const std::vector<std::string> &dbs = {});

 private:
  std::mutex mu_;
  std::vector<EventRecord> events_;
  std::vector<std::pair<pm_wrapper *, uint64_t>> subscriptions_;
};
// A database name no other test (or earlier run) uses: prefix + run id + counter.
std::string unique_db(const std::string &prefix);
// JSON options for pm_wrapper_new with the test server's URI plus `extra` ("a":1,...).
std::string options(const std::string &extra = "");

// Sockets of this process connected to 127.0.0.1:port / any host on `port`, read from /proc:
// its ESTABLISHED TCP sockets whose inode is one of its open file descriptors, each counted
// once (a row /proc/net/tcp repeats while other processes' sockets change is not a socket).
int count_sockets_to_port(int port);
// The local ports of those sockets (one per socket).
std::vector<int> sockets_to_port(int port);

// A client independent of polymongo, to read back what polymongo wrote.
class Checker {
 public:
  Checker();
  explicit Checker(const std::string &uri);
  ~Checker();
  int64_t count(const std::string &db, const std::string &coll, const std::string &filter_json = "{}");
  std::vector<std::string> find_json(const std::string &db, const std::string &coll,
                                     const std::string &filter_json = "{}");
  bool command_ok(const std::string &db, const std::string &cmd_json, std::string *reply = nullptr);

 private:
  mongoc_client_t *client_;
};

// RAII owners for the C handles, so that a failed ASSERT does not leak.
struct Wrapper {
  pm_wrapper *w = nullptr;
  ~Wrapper() { pm_wrapper_free(w); }
};
struct Model {
  pm_model *m = nullptr;
  ~Model() { pm_model_free(m); }
};
struct Db {
  pm_db *d = nullptr;
  ~Db() { pm_db_free(d); }
};
struct Cursor {
  pm_cursor *c = nullptr;
  ~Cursor() { pm_cursor_free(c); }
};
struct Result {
  pm_result *r = nullptr;
  ~Result() { pm_result_free(r); }
};
struct Buf {
  pm_buf b = {nullptr, 0};
  ~Buf() { pm_buf_free(&b); }
  std::string json() const;
};

// Shorthands: a new wrapper (asserting success), a model, a db.
pm_wrapper *new_wrapper(const std::string &extra_options = "");
pm_model *new_model(pm_wrapper *w, const char *collection, const char *opts_json = nullptr);
pm_db *bind_db(pm_model *m, const std::string &db);

// Inserts a JSON document, asserting success.
void insert_json(pm_db *db, const std::string &json);
// Reads every document of a cursor as relaxed JSON.
std::vector<std::string> drain(pm_cursor *c);
// The value of a top-level field in a JSON-rendered document, e.g. field(doc, "n") -> "3".
std::string field(const std::string &json_doc, const std::string &name);

// A wrapper on the server at `uri` (asserting success), e.g. new_wrapper_on(txn_uri()).
pm_wrapper *new_wrapper_on(const std::string &uri, const std::string &extra_options = "");

// One run of a feature test's body (on_server_with_feature): the server to use, and whether
// that server refused the feature (the body calls refuse() after asserting that the refusal
// reached the caller correctly: the right error, nothing written).
struct FeatureRun {
  std::string uri;
  bool refused = false;
  std::string why;
  void refuse(const std::string &reason) {
    refused = true;
    why = reason;
  }
};
// For features the main server lacks (FerretDB: validators, arrayFilters, findAndModify
// projections, Decimal128). No test is skipped on every server of the suite: `body` runs on
// the main server; when that server refuses the feature, the same body runs on the transaction
// server (SecantusDB, which has them), where it must pass. It skips, visibly, only when the
// suite has no transaction server.
void on_server_with_feature(const std::string &feature, const std::function<void(FeatureRun &)> &body);

}  // namespace pmtest
