// pm_wrapper_* health: state and ping.
#include "shim.hpp"

using namespace pm;

extern "C" {

pm_state pm_wrapper_state(const pm_wrapper *wrapper) {
  return wrapper ? static_cast<pm_state>(wrapper->impl->state()) : PM_STATE_NOT_INITIALIZED;
}

const char *pm_state_name(pm_state state) {
  switch (state) {
    case PM_STATE_NOT_INITIALIZED: return "not initialized";
    case PM_STATE_CONNECTING: return "connecting";
    case PM_STATE_CONNECTED: return "connected";
    case PM_STATE_DISCONNECTING: return "disconnecting";
    case PM_STATE_DISCONNECTED: return "disconnected";
  }
  return "unknown";
}

int pm_wrapper_is_connected(const pm_wrapper *wrapper) {
  return pm_wrapper_state(wrapper) == PM_STATE_CONNECTED ? 1 : 0;
}

int pm_wrapper_ping(pm_wrapper *wrapper, const char *db, double *latency_ms, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    double ms = wrapper->impl->ping(wrapper->impl->resolve_db_name(db));
    if (latency_ms) *latency_ms = ms;
    return PM_OK;
  });
}

}  // extern "C"
