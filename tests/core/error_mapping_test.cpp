// How libmongoc's errors map to pm_code values, for errors no server in the suite produces:
// the core's classifier called with the error exactly as libmongoc 1.23 reports it. Linked with
// the static library (the classifier is internal); needs no server.
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <polymongo.h>

#include <cstring>

#include "base/error.hpp"

using pm::core::Code;
using pm::core::Error;

namespace {
bson_error_t driver_error(uint32_t domain, uint32_t code, const char *message) {
  bson_error_t e;
  std::memset(&e, 0, sizeof e);
  bson_set_error(&e, domain, code, "%s", message);
  return e;
}
}  // namespace

// mongoc_client_start_session's error on a server without sessions (a standalone that
// advertises no logicalSessionTimeoutMinutes): FerretDB and SecantusDB both support sessions,
// so the suite cannot provoke it from a server.
TEST(ErrorMapping, ServerWithoutSessionsIsNotSupportedNotAConnectionError) {
  Error e = Error::from_driver(
      driver_error(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_SESSION_FAILURE, "Server does not support sessions"),
      "start a session");
  EXPECT_EQ(static_cast<int>(e.code()), PM_ENOTSUP) << e.what();
  EXPECT_FALSE(e.before_send());
  EXPECT_STREQ(e.what(), "start a session: Server does not support sessions");
}

TEST(ErrorMapping, OtherClientErrorsKeepTheirCodes) {
  EXPECT_EQ(static_cast<int>(Error::from_driver(driver_error(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE,
                                                             "Authentication failed"), "").code()),
            PM_EAUTH);
  EXPECT_EQ(static_cast<int>(Error::from_driver(driver_error(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_TOO_BIG,
                                                             "too big"), "").code()),
            PM_EINVAL);
  EXPECT_EQ(static_cast<int>(Error::from_driver(driver_error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET,
                                                             "Failed to read 4 bytes"), "").code()),
            PM_ECONNECT);
  EXPECT_EQ(static_cast<int>(Error::from_driver(driver_error(MONGOC_ERROR_SERVER_SELECTION,
                                                             MONGOC_ERROR_SERVER_SELECTION_FAILURE,
                                                             "No suitable servers found"), "").code()),
            PM_ECONNECT);
}
