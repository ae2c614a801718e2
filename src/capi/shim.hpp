// What every C shim shares: the handle structs (a shared_ptr into the core each) and the
// guard that turns C++ exceptions into pm_code values and pm_error contents.
#pragma once

#include <cxxabi.h>
#include <polymongo.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "ops/cursor.hpp"
#include "ops/db.hpp"
#include "base/doc.hpp"
#include "base/error.hpp"
#include "ops/model.hpp"
#include "wrapper.hpp"
#include "ops/write_result.hpp"

struct pm_wrapper {
  std::shared_ptr<pm::core::Wrapper> impl;
};
// A model and the dbs bound from it keep their wrapper alive (through the model's context), so
// the plain pointer stays valid as long as the handle: it is for the calls that go through the
// wrapper (naming the database, watching), and copying it costs nothing on the hot path.
struct pm_model {
  std::shared_ptr<pm::core::Model> impl;
  pm::core::Wrapper *wrapper;
};
struct pm_db {
  std::shared_ptr<pm::core::Db> impl;
  pm::core::Wrapper *wrapper;
};
struct pm_cursor {
  std::unique_ptr<pm::core::Cursor> impl;
  std::string json;  // the JSON form of the current document (pm_cursor_next_json)
};
// A native session or a compensating one: the core decides what each call does.
struct pm_session {
  std::shared_ptr<pm::core::Session> impl;
  std::shared_ptr<pm::core::Wrapper> wrapper;  // children keep their parent alive
};
struct pm_stream {
  std::shared_ptr<pm::core::EventSource> impl;
  std::shared_ptr<pm::core::Wrapper> wrapper;  // children keep their parent alive
  std::string json;
};
struct pm_result {
  std::shared_ptr<pm::core::WriteResult> impl;
};

namespace pm::capi {

// Records an error in *err (when given) and in the thread's last error; returns the code.
int set_error(pm_error *err, int code, int32_t server_code, const char *message);
void clear_error(pm_error *err);

// Runs `body`, mapping every exception to a pm_code. `body` returns PM_OK or a code it
// already reported (for outcomes that carry a result and an error).
template <class F>
int guard(pm_error *err, F &&body) {  // not noexcept: thread cancellation passes through
  try {
    int rc = body();
    if (rc >= 0) clear_error(err);
    return rc;
  } catch (abi::__forced_unwind &) {
    throw;  // thread cancellation must unwind through us
  } catch (const core::Error &e) {
    return set_error(err, static_cast<int>(e.code()), e.server_code(), e.what());
  } catch (const std::bad_alloc &) {
    return set_error(err, PM_EINTERNAL, 0, "out of memory");
  } catch (const std::exception &e) {
    return set_error(err, PM_EINTERNAL, 0, e.what());
  } catch (...) {
    return set_error(err, PM_EINTERNAL, 0, "unknown internal error");
  }
}

[[noreturn]] inline void null_argument(const char *name) {
  throw core::Error(core::Code::invalid_argument, std::string(name) + " is NULL");
}

inline core::DocView view(const void *data, size_t len) { return core::DocView{data, len}; }

}  // namespace pm::capi

namespace pm::capi {

// Hands owned bytes to the caller as a pm_buf (released by pm_buf_free).
inline void give(core::Bytes &&bytes, pm_buf *out) {
  out->len = bytes.size();
  out->data = bytes.release();
}

inline char *give_string(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

}  // namespace pm::capi
