// pm_wrapper_* statistics: JSON documents and Prometheus text.
#include "stats.hpp"
#include "shim.hpp"

using namespace pm;

namespace {
template <class F>
int text_out(pm_wrapper *wrapper, char **out, pm_error *err, F &&make) {
  if (out != nullptr) *out = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (out == nullptr) capi::null_argument("out");
    *out = capi::give_string(make(*wrapper->impl));
    return PM_OK;
  });
}
}  // namespace

extern "C" {

int pm_wrapper_stats(pm_wrapper *wrapper, char **json, pm_error *err) {
  return text_out(wrapper, json, err, [](core::Wrapper &w) { return core::general_stats_json(w); });
}

int pm_wrapper_db_stats(pm_wrapper *wrapper, const char *db, char **json, pm_error *err) {
  return text_out(wrapper, json, err, [&](core::Wrapper &w) {
    return core::db_stats_json(w, w.resolve_db_name(db));
  });
}

int pm_wrapper_list_databases(pm_wrapper *wrapper, char **json, pm_error *err) {
  return text_out(wrapper, json, err, [](core::Wrapper &w) { return core::list_databases_json(w); });
}

int pm_wrapper_usage(pm_wrapper *wrapper, size_t top_n, char **json, pm_error *err) {
  return text_out(wrapper, json, err, [&](core::Wrapper &w) { return core::usage_json(w, top_n); });
}

int pm_wrapper_prometheus(pm_wrapper *wrapper, char **text, pm_error *err) {
  return text_out(wrapper, text, err, [](core::Wrapper &w) { return core::prometheus_text(w); });
}

}  // extern "C"
