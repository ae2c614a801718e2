// Per-database limits (tenantLimits): at most maxConcurrent operations of a database at once,
// and a token bucket of ratePerSecond with a burst. An operation over a limit waits (bounded)
// or fails at once with Code::throttled. Limits come, most specific first, from
// pm_wrapper_set_tenant_limits for the database, the spec of its pool (dbSpecific entry or
// routing rule), then the default (the tenantLimits option, or set at run time).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/options.hpp"

namespace pm::core {

class Usage;
class Tenants;

// A database's admission: holds one of its concurrent slots until destroyed. Move-only.
class Permit {
 public:
  Permit() = default;
  Permit(Tenants *tenants, void *state) : tenants_(tenants), state_(state) {}
  Permit(Permit &&other) noexcept : tenants_(other.tenants_), state_(other.state_) { other.state_ = nullptr; }
  Permit &operator=(Permit &&other) noexcept;
  Permit(const Permit &) = delete;
  Permit &operator=(const Permit &) = delete;
  ~Permit() { release(); }
  void release() noexcept;

 private:
  Tenants *tenants_ = nullptr;
  void *state_ = nullptr;  // Tenants::State
};

class Tenants {
 public:
  Tenants(const Options &options, std::shared_ptr<Usage> usage);

  // False while no limit is set anywhere: admit() is then never called.
  bool active() const { return active_.load(std::memory_order_acquire); }
  // A spec with limits was added (dbSpecific, a rule, pm_wrapper_set_db): admit from now on.
  void note(const std::optional<TenantLimits> &spec_limits);

  // Admits one operation on `db` whose pool's spec has `spec_limits`; throws Error throttled.
  Permit admit(const std::string &db, const std::optional<TenantLimits> &spec_limits);

  // Run time: `db` == nullptr sets the default; `limits` unset removes the database's own
  // limits (or, for the default, sets none).
  void set(const std::string *db, const std::optional<TenantLimits> &limits);

 private:
  friend class Permit;
  struct State {
    std::condition_variable slot_free;
    int in_flight = 0;
    int waiting = 0;     // for a slot or a token
    double tokens = -1;  // < 0 before the first use: a full bucket
    int64_t refilled_us = 0;
  };
  void release(State *state) noexcept;
  void forget_idle_locked();

  std::shared_ptr<Usage> usage_;
  const size_t max_states_;
  std::atomic<bool> active_{false};
  std::mutex mu_;
  TenantLimits default_;
  std::unordered_map<std::string, TenantLimits> own_;  // pm_wrapper_set_tenant_limits per database
  std::unordered_map<std::string, State> states_;      // node-based: a State never moves
};

}  // namespace pm::core
