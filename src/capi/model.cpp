// pm_model_*: collection definitions and binding them to databases.
#include "shim.hpp"

using namespace pm;

extern "C" {

int pm_model_new(pm_wrapper *wrapper, const char *collection, const void *opts, size_t opts_len,
                 pm_model **out, pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = nullptr;
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (collection == nullptr) capi::null_argument("collection");
    auto impl = std::make_shared<core::Model>(wrapper->impl->ops_context(), collection, capi::view(opts, opts_len));
    wrapper->impl->register_model(impl);
    *out = new pm_model{std::move(impl), wrapper->impl.get()};
    return PM_OK;
  });
}

void pm_model_free(pm_model *model) { delete model; }

const char *pm_model_collection(const pm_model *model) {
  return model != nullptr ? model->impl->collection().c_str() : nullptr;
}

int pm_model_db(pm_model *model, const char *db_name, pm_db **out, pm_error *err) {
  return capi::guard(err, [&] {
    if (out == nullptr) capi::null_argument("out");
    *out = nullptr;
    if (model == nullptr) capi::null_argument("model");
    bool by_default = false;
    std::string name = model->wrapper->resolve_db_name(db_name, &by_default);
    *out = new pm_db{std::make_shared<core::Db>(model->impl, std::move(name), by_default), model->wrapper};
    return PM_OK;
  });
}

}  // extern "C"
