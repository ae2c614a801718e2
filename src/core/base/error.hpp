// The core's one exception type, and the mapping from driver errors to pm_code values.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pm::core {

// Mirrors pm_code in include/polymongo/common.h; the C shims copy the number across.
enum class Code : int {
  ok = 0,
  invalid_argument = -1,
  invalid_db_name = -2,
  connection = -3,
  timeout = -4,
  auth = -5,
  duplicate_key = -6,
  server = -7,
  closed = -8,
  not_supported = -9,
  internal = -10,
  write = -11,
  throttled = -12,  // a database's limit (tenantLimits) refused or outwaited the operation
  canceled = -13,   // submitted work that never ran (cancelled, or its executor closed)
  moving = -14,     // a write held by a move's fence (fleet/) past its bound
};

class Error : public std::runtime_error {
 public:
  // `before_send`: the failure happened before anything reached a server (no server
  // selected, no pooled connection), so retrying cannot apply a write twice.
  Error(Code code, const std::string &message, int32_t server_code = 0, bool before_send = false)
      : std::runtime_error(message), code_(code), server_code_(server_code),
        before_send_(before_send) {}

  Code code() const noexcept { return code_; }
  int32_t server_code() const noexcept { return server_code_; }
  bool before_send() const noexcept { return before_send_; }

  // Classifies an error reported by libmongoc (error API version 2). `context` prefixes the
  // message, e.g. "insert into tenant_1.users".
  static Error from_driver(const bson_error_t &error, const std::string &context);
  // The same, keeping the transaction labels of the server's (or libmongoc's) reply.
  static Error from_driver(const bson_error_t &error, const std::string &context, const bson_t *reply);

  bool transient_transaction_error() const noexcept { return transient_; }
  bool unknown_commit_result() const noexcept { return unknown_commit_; }
  void set_labels(bool transient, bool unknown_commit) {
    transient_ = transient;
    unknown_commit_ = unknown_commit;
  }

 private:
  Code code_;
  int32_t server_code_;
  bool before_send_;
  bool transient_ = false;
  bool unknown_commit_ = false;
};

// Server error codes that decide a classification.
bool is_duplicate_key_code(int32_t code);

[[noreturn]] inline void fail(Code code, const std::string &message) {
  throw Error(code, message);
}

}  // namespace pm::core
