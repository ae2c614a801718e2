// Rules every binding needs the same answer to, stated once here instead of once per language:
// the default name of an index, and which server error codes mean a duplicate key.
#include "ops/op_checks.hpp"
#include "shim.hpp"

using namespace pm;

int pm_index_name(const void *keys, size_t keys_len, char **name, pm_error *err) {
  if (name != nullptr) *name = nullptr;
  return capi::guard(err, [&] {
    if (name == nullptr) capi::null_argument("name");
    if (keys == nullptr) capi::null_argument("keys");
    core::Doc k(capi::view(keys, keys_len), "keys");
    if (k.empty()) throw core::Error(core::Code::invalid_argument, "index name: the keys are empty");
    // The core's own naming, so a name computed here finds the index made there.
    std::optional<std::string> generated = core::default_index_name(k.get());
    if (!generated)
      throw core::Error(core::Code::invalid_argument,
                        "index name: key values must be integers (1, -1) or index type strings "
                        "(\"text\" ...)");
    *name = capi::give_string(*generated);
    return PM_OK;
  });
}

int pm_is_duplicate_key(int32_t server_code) { return core::is_duplicate_key_code(server_code) ? 1 : 0; }
