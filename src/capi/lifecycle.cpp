// pm_wrapper_* lifecycle: run-time dedicated pools, routing rules, shutdown, signals.
#include "signals.hpp"
#include "shim.hpp"

#include "base/db_name.hpp"

using namespace pm;

namespace {

core::Wrapper &wrapper_of(pm_wrapper *w) {
  if (w == nullptr) capi::null_argument("wrapper");
  return *w->impl;
}

std::vector<std::string> name_list(const char *const *names, size_t n) {
  if (n == 0) throw core::Error(core::Code::invalid_argument, "no database names given");
  if (names == nullptr) capi::null_argument("names");
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    if (names[i] == nullptr) capi::null_argument("a database name");
    out.emplace_back(names[i]);
  }
  return out;
}

int set_db(pm_wrapper *wrapper, const char *const *names, size_t n, const char *spec_json,
           bool connect_now, pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    core::PoolSpec spec = core::parse_pool_spec(spec_json, "spec");
    auto pools = w.router().set_db(name_list(names, n), spec);
    w.reschedule_maintenance();
    if (connect_now || !spec.cold_start)
      for (auto &p : pools) p->connect();
    return PM_OK;
  });
}

}  // namespace

extern "C" {

int pm_wrapper_set_db(pm_wrapper *wrapper, const char *const *names, size_t n,
                      const char *spec_json, pm_error *err) {
  return set_db(wrapper, names, n, spec_json, false, err);
}

int pm_wrapper_connect_db(pm_wrapper *wrapper, const char *const *names, size_t n,
                          const char *spec_json, pm_error *err) {
  return set_db(wrapper, names, n, spec_json, true, err);
}

int pm_wrapper_add_route(pm_wrapper *wrapper, const char *route_json, pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    w.router().add_route(core::parse_route(route_json));
    w.reschedule_maintenance();
    return PM_OK;
  });
}

int pm_wrapper_set_tenant_limits(pm_wrapper *wrapper, const char *db, const char *limits_json,
                                 pm_error *err) {
  return capi::guard(err, [&] {
    core::Wrapper &w = wrapper_of(wrapper);
    std::optional<core::TenantLimits> limits;
    if (limits_json != nullptr) limits = core::parse_tenant_limits(limits_json, "tenantLimits");
    if (db == nullptr) {
      w.router().set_tenant_limits(nullptr, limits);
      return PM_OK;
    }
    std::string name = db;
    if (auto why = core::db_name_problem(name, w.options().allow_system_databases))
      throw core::Error(core::Code::invalid_db_name, "invalid database name: " + *why);
    w.router().set_tenant_limits(&name, limits);
    return PM_OK;
  });
}

int pm_wrapper_close_all(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err) {
  return capi::guard(err, [&] {
    if (timeout_ms < 0) throw core::Error(core::Code::invalid_argument, "timeout_ms must be >= 0");
    if (!wrapper_of(wrapper).close_all(timeout_ms))
      throw core::Error(core::Code::timeout, "close_all: some pools still had connections out after " +
                                                 std::to_string(timeout_ms) + " ms");
    return PM_OK;
  });
}

int pm_wrapper_close(pm_wrapper *wrapper, pm_error *err) {
  return capi::guard(err, [&] {
    wrapper_of(wrapper).close();
    return PM_OK;
  });
}

int pm_wrapper_force_close_all(pm_wrapper *wrapper, pm_error *err) {
  return capi::guard(err, [&] {
    wrapper_of(wrapper).force_close_all();
    return PM_OK;
  });
}

size_t pm_wrapper_open_pools(pm_wrapper *wrapper) {
  if (wrapper == nullptr) return 0;
  size_t n = 0;
  for (auto &p : wrapper->impl->router().pools()) n += p->is_open() ? 1 : 0;
  return n;
}

uint64_t pm_wrapper_evictions(pm_wrapper *wrapper) {
  return wrapper ? wrapper->impl->router().evictions() : 0;
}

int pm_wrapper_handle_signals(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    core::handle_signals(wrapper->impl, timeout_ms);
    return PM_OK;
  });
}

}  // extern "C"
