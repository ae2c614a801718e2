// pm_wrapper_* admin actions: pause, resume, drain, explain a route, reload the rules, the
// admin endpoint's URL.
#include "shim.hpp"

using namespace pm;

extern "C" {

int pm_wrapper_pause(pm_wrapper *wrapper, const char *name, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (name == nullptr) capi::null_argument("name");
    return wrapper->impl->pause(name) ? 1 : 0;
  });
}

int pm_wrapper_resume(pm_wrapper *wrapper, const char *name, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (name == nullptr) capi::null_argument("name");
    return wrapper->impl->resume(name) ? 1 : 0;
  });
}

int pm_wrapper_drain_pool(pm_wrapper *wrapper, const char *pool, int64_t timeout_ms, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (pool == nullptr) capi::null_argument("pool");
    if (timeout_ms < 0) core::fail(core::Code::invalid_argument, "drain: timeout_ms must be >= 0");
    if (!wrapper->impl->drain_pool(pool, timeout_ms))
      core::fail(core::Code::timeout, std::string("drain: pool ") + pool + " still had connections out after " +
                                          std::to_string(timeout_ms) + " ms");
    return PM_OK;
  });
}

int pm_wrapper_explain_route(pm_wrapper *wrapper, const char *db, char **json, pm_error *err) {
  if (json != nullptr) *json = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (db == nullptr) capi::null_argument("db");
    if (json == nullptr) capi::null_argument("json");
    *json = capi::give_string(wrapper->impl->explain_route(db));
    return PM_OK;
  });
}

int pm_wrapper_reload_routes(pm_wrapper *wrapper, const char *routes_json, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (routes_json == nullptr) capi::null_argument("routes_json");
    wrapper->impl->reload_routes(routes_json);
    return PM_OK;
  });
}

int pm_wrapper_admin_url(pm_wrapper *wrapper, char **url, pm_error *err) {
  if (url != nullptr) *url = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (url == nullptr) capi::null_argument("url");
    *url = capi::give_string(wrapper->impl->admin_url());
    return PM_OK;
  });
}

}  // extern "C"
