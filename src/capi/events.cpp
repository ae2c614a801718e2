// pm_wrapper_subscribe and friends: C callbacks over the core's event dispatcher.
#include "shim.hpp"

using namespace pm;

static_assert(PM_EVENT_EVERY == pm::core::kEveryEventType, "pm_event_type mirrors core::EventType");
static_assert(PM_EVENT_ALL == pm::core::kLifecycleEventTypes, "PM_EVENT_ALL leaves out the check-out events");
static_assert(PM_EVENT_BUDGET_EXHAUSTED == static_cast<int>(pm::core::EventType::budget_exhausted), "same bits");
static_assert(PM_EVENT_CHECKED_IN == static_cast<int>(pm::core::EventType::checked_in), "same bits");

namespace {

// Owns the caller's user_data: freed once the last copy of the callback is gone, i.e. after
// unsubscribing and after any delivery in progress has finished.
struct UserData {
  void *data;
  void (*free_fn)(void *);
  ~UserData() {
    if (free_fn) free_fn(data);
  }
};

}  // namespace

extern "C" {

int pm_wrapper_subscribe(pm_wrapper *wrapper, uint32_t mask, const char *const *dbs, size_t n_dbs,
                         pm_event_fn fn, void *user_data, void (*free_user_data)(void *),
                         uint64_t *id, pm_error *err) {
  UserData *raw = new (std::nothrow) UserData{user_data, free_user_data};
  if (raw == nullptr) {
    if (free_user_data) free_user_data(user_data);
    return capi::set_error(err, PM_EINTERNAL, 0, "out of memory");
  }
  return capi::guard(err, [&] {
    std::shared_ptr<UserData> owned(raw);  // from here on, freed with the last reference
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (fn == nullptr) capi::null_argument("fn");
    if ((mask & ~static_cast<uint32_t>(PM_EVENT_EVERY)) != 0 || mask == 0)
      throw core::Error(core::Code::invalid_argument, "mask has no known event type");
    if (n_dbs > 0 && dbs == nullptr) capi::null_argument("dbs");
    std::vector<std::string> names;
    for (size_t i = 0; i < n_dbs; ++i) {
      if (dbs[i] == nullptr) capi::null_argument("a database name");
      wrapper->impl->check_db_name(dbs[i]);
      names.emplace_back(dbs[i]);
    }
    uint64_t sub = wrapper->impl->events().subscribe(
        mask, std::move(names), [fn, owned](const core::Event &e) {
          pm_event event{static_cast<pm_event_type>(e.type), e.db.c_str(),     e.pool.c_str(),
                         e.reason.c_str(),                  e.message.c_str(), e.code,
                         e.timestamp_ms,                    e.duration_us,     e.connection};
          fn(&event, owned->data);
        });
    if (id) *id = sub;
    return PM_OK;
  });
}

int pm_wrapper_unsubscribe(pm_wrapper *wrapper, uint64_t id, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (!wrapper->impl->events().unsubscribe(id))
      throw core::Error(core::Code::invalid_argument, "no subscription " + std::to_string(id));
    return PM_OK;
  });
}

int pm_wrapper_flush_events(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err) {
  return capi::guard(err, [&] {
    if (wrapper == nullptr) capi::null_argument("wrapper");
    if (!wrapper->impl->events().flush(timeout_ms))
      throw core::Error(core::Code::timeout, "events not delivered within " + std::to_string(timeout_ms) + " ms");
    return PM_OK;
  });
}

uint64_t pm_wrapper_dropped_events(pm_wrapper *wrapper) {
  return wrapper ? wrapper->impl->events().dropped() + wrapper->impl->events().hook_failures() : 0;
}

}  // extern "C"
