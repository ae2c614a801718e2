// pm_wrapper_*: creating and releasing the wrapper.
#include "shim.hpp"

using namespace pm;

extern "C" {

int pm_wrapper_new(const char *options_json, pm_wrapper **out, pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = nullptr;
    auto impl = core::Wrapper::create(options_json);
    *out = new pm_wrapper{std::move(impl)};
    return PM_OK;
  });
}

void pm_wrapper_free(pm_wrapper *wrapper) { delete wrapper; }

const char *pm_wrapper_default_db(const pm_wrapper *wrapper) {
  if (wrapper == nullptr) return nullptr;
  const std::string *d = wrapper->impl->default_db();
  return d != nullptr ? d->c_str() : nullptr;
}

int pm_wrapper_check_db_name(const pm_wrapper *wrapper, const char *name, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (name == nullptr) capi::null_argument("name");
    wrapper->impl->check_db_name(name);
    return PM_OK;
  });
}

}  // extern "C"
