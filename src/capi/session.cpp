// pm_session_*: transactions, native or compensating (the core decides what each call does).
#include "shim.hpp"

using namespace pm;

namespace {
pm_session &session_of(pm_session *s) {
  if (s == nullptr) capi::null_argument("session");
  return *s;
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
    *out = new pm_session{wrapper->impl->start_session(name, capi::view(opts, opts_len)), wrapper->impl};
    return PM_OK;
  });
}

int pm_wrapper_start_compensating(pm_wrapper *wrapper, const void *opts, size_t opts_len, pm_session **out,
                                  pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = nullptr;
    if (wrapper == nullptr) capi::null_argument("wrapper");
    *out = new pm_session{wrapper->impl->start_compensating(capi::view(opts, opts_len)), wrapper->impl};
    return PM_OK;
  });
}

int pm_session_rollback_report(const pm_session *session, char **json) {
  if (json != nullptr) *json = nullptr;
  if (session == nullptr || json == nullptr) return PM_EINVAL;
  std::optional<std::string> report = session->impl->rollback_report();
  if (!report) return PM_EINVAL;  // a native session makes no report
  const std::string &r = *report;
  if (r.empty()) return PM_OK;
  *json = static_cast<char *>(std::malloc(r.size() + 1));
  if (*json == nullptr) return PM_EINTERNAL;
  std::memcpy(*json, r.c_str(), r.size() + 1);
  return PM_OK;
}

int pm_wrapper_recover(pm_wrapper *wrapper, int64_t older_than_ms, char **report_json, pm_error *err) {
  if (report_json != nullptr) *report_json = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    std::string r = wrapper->impl->recover(older_than_ms);
    if (report_json != nullptr) *report_json = capi::give_string(r);
    return PM_OK;
  });
}

int pm_session_start_transaction(pm_session *session, const void *opts, size_t opts_len, pm_error *err) {
  return capi::guard(err, [&] {
    session_of(session).impl->start_transaction(capi::view(opts, opts_len));
    return PM_OK;
  });
}

int pm_session_commit(pm_session *session, pm_error *err) {
  return capi::guard(err, [&] {
    session_of(session).impl->commit();
    return PM_OK;
  });
}

int pm_session_abort(pm_session *session, pm_error *err) {
  return capi::guard(err, [&] {
    session_of(session).impl->abort();
    return PM_OK;
  });
}

int pm_session_in_transaction(const pm_session *session) {
  if (session == nullptr) return 0;
  return session->impl->in_transaction() ? 1 : 0;
}

int pm_session_transaction_labels(const pm_session *session) {
  if (session == nullptr) return 0;
  return session->impl->transaction_labels();
}

int pm_session_with_transaction(pm_session *session, pm_transaction_fn fn, void *user_data,
                                const void *opts, size_t opts_len, int64_t timeout_ms, pm_error *err) {
  int callback_rc = PM_OK;
  pm_error callback_err = {PM_OK, 0, {0}};
  int rc = capi::guard(err, [&]() -> int {
    if (fn == nullptr) capi::null_argument("fn");
    pm_session &s = session_of(session);
    bool committed = s.impl->with_transaction(
        [&] {
          callback_rc = fn(session, user_data);
          if (callback_rc < 0) callback_err = *pm_last_error();  // the failed operation's error
          return callback_rc == PM_OK;
        },
        capi::view(opts, opts_len), timeout_ms);
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
    *out = new pm_db{db->impl->with_session(session->impl), db->wrapper};
    return PM_OK;
  });
}

void pm_session_free(pm_session *session) { delete session; }

}  // extern "C"
