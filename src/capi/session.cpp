// pm_session_*: native transactions.
#include "shim.hpp"

using namespace pm;

namespace {
core::Session &session_of(pm_session *s) {
  if (s == nullptr) capi::null_argument("session");
  return *s->impl;
}
}  // namespace

extern "C" {

int pm_wrapper_start_session(pm_wrapper *wrapper, const char *db, const void *opts, size_t opts_len,
                             pm_session **out, pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = nullptr;
    if (wrapper == nullptr) capi::null_argument("wrapper");
    std::string name = wrapper->impl->resolve_db_name(db);
    *out = new pm_session{std::make_shared<core::Session>(wrapper->impl, name, capi::view(opts, opts_len))};
    return PM_OK;
  });
}

int pm_session_start_transaction(pm_session *session, const void *opts, size_t opts_len, pm_error *err) {
  return capi::guard(err, [&] {
    session_of(session).start_transaction(capi::view(opts, opts_len));
    return PM_OK;
  });
}

int pm_session_commit(pm_session *session, pm_error *err) {
  return capi::guard(err, [&] {
    session_of(session).commit();
    return PM_OK;
  });
}

int pm_session_abort(pm_session *session, pm_error *err) {
  return capi::guard(err, [&] {
    session_of(session).abort();
    return PM_OK;
  });
}

int pm_session_in_transaction(const pm_session *session) {
  return session != nullptr && session->impl->in_transaction() ? 1 : 0;
}

int pm_session_with_transaction(pm_session *session, pm_transaction_fn fn, void *user_data,
                                const void *opts, size_t opts_len, int64_t timeout_ms, pm_error *err) {
  int callback_rc = PM_OK;
  pm_error callback_err = {PM_OK, 0, {0}};
  int rc = capi::guard(err, [&] {
    if (fn == nullptr) capi::null_argument("fn");
    bool committed = session_of(session).with_transaction(
        [&] {
          callback_rc = fn(session, user_data);
          if (callback_rc < 0) callback_err = *pm_last_error();  // the failed operation's error
          return callback_rc == PM_OK;
        },
        capi::view(opts, opts_len), timeout_ms > 0 ? timeout_ms : 120000);
    return committed ? PM_OK : 1;
  });
  if (rc != 1) return rc;
  // Aborted by the callback: its value, with the error of the operation that failed (if any).
  if (callback_rc < 0) return capi::set_error(err, callback_err.code, callback_err.server_code, callback_err.message);
  if (err != nullptr) *err = pm_error{PM_OK, 0, {0}};
  return callback_rc;
}

int pm_db_with_session(const pm_db *db, pm_session *session, pm_db **out, pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = nullptr;
    if (db == nullptr) capi::null_argument("db");
    if (session == nullptr) capi::null_argument("session");
    *out = new pm_db{db->impl->with_session(session->impl)};
    return PM_OK;
  });
}

void pm_session_free(pm_session *session) { delete session; }

}  // extern "C"
