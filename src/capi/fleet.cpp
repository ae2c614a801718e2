// pm_wrapper_tenants ... and pm_model_fleet_*: the tenant fleet (include/polymongo/fleet.h).
#include <cstring>

#include "base/json_writer.hpp"
#include "shim.hpp"

using namespace pm;

extern "C" {

int pm_wrapper_tenants(pm_wrapper *wrapper, char **json, pm_error *err) {
  if (json != nullptr) *json = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (json == nullptr) capi::null_argument("json");
    *json = capi::give_string(wrapper->impl->tenants_json());
    return PM_OK;
  });
}

int pm_wrapper_tenant(pm_wrapper *wrapper, const char *db, char **json, pm_error *err) {
  if (json != nullptr) *json = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (db == nullptr) capi::null_argument("db");
    if (json == nullptr) capi::null_argument("json");
    *json = capi::give_string(wrapper->impl->tenant_json(db));
    return PM_OK;
  });
}

int pm_wrapper_place_tenant(pm_wrapper *wrapper, const char *db, const char *cluster, char **json, pm_error *err) {
  if (json != nullptr) *json = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (db == nullptr) capi::null_argument("db");
    std::string entry = wrapper->impl->place_tenant(db, cluster != nullptr ? cluster : "");
    if (json != nullptr) *json = capi::give_string(entry);
    return PM_OK;
  });
}

int pm_wrapper_set_placement(pm_wrapper *wrapper, pm_placement_fn fn, void *user_data, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    core::Directory::Chooser chooser;
    if (fn != nullptr)
      chooser = [fn, user_data](const std::string &db, const std::vector<core::ClusterLoad> &clusters) {
        core::JsonWriter j;
        j.begin_array();
        for (const auto &c : clusters) j.begin_object().key("name").value(c.name).key("tenants").value(c.tenants).end_object();
        std::string json = j.end_array().take();
        char name[256] = {0};
        if (fn(db.c_str(), json.c_str(), name, sizeof name, user_data) != 0)
          core::fail(core::Code::invalid_argument, "the placement callback refused to place " + db);
        name[sizeof name - 1] = '\0';
        return std::string(name);
      };
    wrapper->impl->directory().set_chooser(std::move(chooser));
    return PM_OK;
  });
}

int pm_model_fleet_sync(pm_model *model, const char *target_json, char **report, pm_error *err) {
  if (report != nullptr) *report = nullptr;
  return capi::guard(err, [&] {
    if (model == nullptr) capi::null_argument("model");
    std::string r = model->wrapper->sync_schema(*model->impl, target_json);
    if (report != nullptr) *report = capi::give_string(r);
    if (!core::Wrapper::sync_succeeded(r))
      return capi::set_error(err, PM_EWRITE, 0, "fleet sync: some databases failed (see the report)");
    return static_cast<int>(PM_OK);
  });
}

int pm_model_fleet_drift(pm_model *model, const char *target_json, char **report, pm_error *err) {
  if (report != nullptr) *report = nullptr;
  return capi::guard(err, [&] {
    if (model == nullptr) capi::null_argument("model");
    if (report == nullptr) capi::null_argument("report");
    *report = capi::give_string(model->wrapper->schema_drift(*model->impl, target_json));
    return PM_OK;
  });
}

}  // extern "C"

namespace {
// The moves' shims: one wrapper call each, its JSON handed out.
template <class F>
int fleet_call(pm_wrapper *wrapper, const char *db, char **out, pm_error *err, F call) {
  if (out != nullptr) *out = nullptr;
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (db == nullptr) capi::null_argument("db");
    std::string json = call(*wrapper->impl, std::string(db));
    if (out != nullptr) *out = capi::give_string(json);
    return static_cast<int>(PM_OK);
  });
}
}  // namespace

extern "C" {

int pm_wrapper_move_tenant(pm_wrapper *wrapper, const char *db, const char *to, char **report, pm_error *err) {
  if (to == nullptr) {
    if (report != nullptr) *report = nullptr;
    return capi::guard(err, []() -> int { capi::null_argument("to"); });
  }
  return fleet_call(wrapper, db, report, err, [to](core::Wrapper &w, const std::string &d) { return w.move_tenant(d, to); });
}

int pm_wrapper_reverse_move(pm_wrapper *wrapper, const char *db, char **report, pm_error *err) {
  return fleet_call(wrapper, db, report, err, [](core::Wrapper &w, const std::string &d) { return w.reverse_tenant(d); });
}

int pm_wrapper_complete_move(pm_wrapper *wrapper, const char *db, char **json, pm_error *err) {
  return fleet_call(wrapper, db, json, err, [](core::Wrapper &w, const std::string &d) { return w.complete_move(d); });
}

int pm_wrapper_abort_move(pm_wrapper *wrapper, const char *db, char **json, pm_error *err) {
  return fleet_call(wrapper, db, json, err, [](core::Wrapper &w, const std::string &d) { return w.abort_move(d); });
}

}  // extern "C"
