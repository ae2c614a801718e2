#include "base/error.hpp"

#include <mongoc/mongoc.h>

#include <cstring>

namespace pm::core {

bool is_duplicate_key_code(int32_t code) {
  return code == 11000 || code == 11001 || code == 12582;
}

namespace {

Code classify_server_code(int32_t code) {
  if (is_duplicate_key_code(code)) return Code::duplicate_key;
  switch (code) {
    case 18:   // AuthenticationFailed
      return Code::auth;
    case 50:   // MaxTimeMSExpired
    case 262:  // ExceededTimeLimit
      return Code::timeout;
    case 59:   // CommandNotFound
    case 115:  // CommandNotSupported
    case 238:  // NotImplemented
      return Code::not_supported;
    case 6:     // HostUnreachable
    case 7:     // HostNotFound
    case 89:    // NetworkTimeout
    case 91:    // ShutdownInProgress
    case 189:   // PrimarySteppedDown
    case 10107: // NotWritablePrimary
    case 11600: // InterruptedAtShutdown
      return Code::connection;
    default:
      return Code::server;
  }
}

bool mentions_timeout(const char *message) {
  // "socket error or timeout" is libmongoc's wording for any broken read: a connection error.
  return std::strstr(message, "timed out") != nullptr || std::strstr(message, "Timed out") != nullptr;
}

}  // namespace

Error Error::from_driver(const bson_error_t &error, const std::string &context) {
  std::string message = context.empty() ? std::string(error.message)
                                        : context + ": " + error.message;
  switch (error.domain) {
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_WRITE_CONCERN:
    case MONGOC_ERROR_QUERY:
      return Error(classify_server_code(static_cast<int32_t>(error.code)), message,
                   static_cast<int32_t>(error.code));
    case MONGOC_ERROR_STREAM:
      return Error(mentions_timeout(error.message) ? Code::timeout : Code::connection, message);
    case MONGOC_ERROR_SERVER_SELECTION:
      return Error(Code::connection, message, 0, true);
    case MONGOC_ERROR_PROTOCOL:
      return Error(Code::connection, message);
    case MONGOC_ERROR_CLIENT:
      if (error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) return Error(Code::auth, message);
      if (error.code == MONGOC_ERROR_CLIENT_TOO_BIG) return Error(Code::invalid_argument, message);
      // "Server does not support sessions": the server answered, and will answer the same
      // again; a connection error would have callers who retry those retry forever.
      if (error.code == MONGOC_ERROR_CLIENT_SESSION_FAILURE && std::strstr(error.message, "not support") != nullptr)
        return Error(Code::not_supported, message);
      return Error(Code::connection, message);
    case MONGOC_ERROR_BSON:
    case MONGOC_ERROR_NAMESPACE:
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_COLLECTION:
      if (error.domain == MONGOC_ERROR_COMMAND && error.code != MONGOC_ERROR_COMMAND_INVALID_ARG) {
        // Legacy servers report command failures in this domain with the server's code.
        return Error(classify_server_code(static_cast<int32_t>(error.code)), message,
                     static_cast<int32_t>(error.code));
      }
      return Error(Code::invalid_argument, message);
    case MONGOC_ERROR_TRANSACTION:
      return Error(Code::not_supported, message);
    case MONGOC_ERROR_CURSOR:
      // libmongoc refuses a filter or options it cannot send ("Invalid filter: empty key")
      // with this code, before any I/O: the caller's input, not a fault of polymongo.
      if (error.code == MONGOC_ERROR_CURSOR_INVALID_CURSOR) return Error(Code::invalid_argument, message);
      return Error(Code::internal, message);
    default:
      return Error(Code::internal, message);
  }
}

Error Error::from_driver(const bson_error_t &error, const std::string &context, const bson_t *reply) {
  Error e = from_driver(error, context);
  if (reply != nullptr)
    e.set_labels(mongoc_error_has_label(reply, "TransientTransactionError"),
                 mongoc_error_has_label(reply, "UnknownTransactionCommitResult"));
  return e;
}

}  // namespace pm::core
