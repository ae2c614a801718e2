#include "pool/tenants.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "base/error.hpp"
#include "observe/usage.hpp"

namespace pm::core {

namespace {
int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::string rate_text(double rate) {
  std::ostringstream out;
  out << rate;
  return out.str();
}
}  // namespace

Permit &Permit::operator=(Permit &&other) noexcept {
  if (this != &other) {
    release();
    tenants_ = other.tenants_;
    state_ = other.state_;
    other.state_ = nullptr;
  }
  return *this;
}

void Permit::release() noexcept {
  if (state_ != nullptr) tenants_->release(static_cast<Tenants::State *>(state_));
  state_ = nullptr;
}

Tenants::Tenants(const Options &options, std::shared_ptr<Usage> usage)
    : usage_(std::move(usage)),
      max_states_(static_cast<size_t>(std::max<int64_t>(16, options.max_tracked_databases))),
      default_(options.tenant_limits) {
  bool any = default_.any();
  for (const DedicatedPoolOptions &d : options.db_specific) any = any || d.spec.tenant_limits.has_value();
  for (const RouteOptions &r : options.routes) any = any || r.spec.tenant_limits.has_value();
  active_ = any;
}

void Tenants::note(const std::optional<TenantLimits> &spec_limits) {
  if (spec_limits) active_.store(true, std::memory_order_release);
}

void Tenants::set(const std::string *db, const std::optional<TenantLimits> &limits) {
  std::lock_guard<std::mutex> lock(mu_);
  if (db == nullptr) default_ = limits.value_or(TenantLimits{});
  else if (limits) own_[*db] = *limits;
  else own_.erase(*db);
  // Raising a cap lets waiters in at once; once active, admission stays on (in-flight counts
  // must stay exact for limits set later).
  for (auto &[name, state] : states_) state.slot_free.notify_all();
  active_.store(true, std::memory_order_release);
}

Permit Tenants::admit(const std::string &db, const std::optional<TenantLimits> &spec_limits) {
  std::unique_lock<std::mutex> lock(mu_);
  auto limits_now = [&]() -> TenantLimits {
    if (auto it = own_.find(db); it != own_.end()) return it->second;
    return spec_limits ? *spec_limits : default_;
  };
  TenantLimits limits = limits_now();
  if (states_.size() >= max_states_) forget_idle_locked();
  State &s = states_[db];
  auto throttled = [&](const std::string &why) {
    lock.unlock();
    usage_->count(db, Usage::Counter::throttled);
    throw Error(Code::throttled, "database " + db + " throttled: " + why + " (tenantLimits)", 0, true);
  };
  // The rate: a token now, or a reserved one within maxWaitMS (tokens go below zero, so that
  // callers waiting for tokens are served in the order they came).
  if (limits.rate_per_second > 0) {
    double burst = limits.burst > 0 ? limits.burst : std::max(1.0, limits.rate_per_second);
    int64_t now = now_us();
    if (s.tokens < 0 && s.refilled_us == 0) s.tokens = burst;
    else s.tokens = std::min(burst, s.tokens + static_cast<double>(now - s.refilled_us) * limits.rate_per_second / 1e6);
    s.refilled_us = now;
    if (s.tokens < 1) {
      auto wait_us = static_cast<int64_t>((1 - s.tokens) * 1e6 / limits.rate_per_second);
      if (limits.fail_fast || wait_us > limits.max_wait_ms * 1000)
        throttled("over " + rate_text(limits.rate_per_second) + " operations per second");
      s.tokens -= 1;
      ++s.waiting;
      usage_->count(db, Usage::Counter::queued);
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
      lock.lock();
      --s.waiting;
      limits = limits_now();  // may have changed meanwhile
    } else {
      s.tokens -= 1;
    }
  }
  if (limits.max_concurrent > 0 && s.in_flight >= limits.max_concurrent) {
    if (limits.fail_fast) throttled(std::to_string(s.in_flight) + " operations in flight (maxConcurrent)");
    ++s.waiting;
    usage_->count(db, Usage::Counter::queued);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.max_wait_ms);
    bool ok = s.slot_free.wait_until(lock, deadline, [&] {
      TenantLimits l = limits_now();
      return l.max_concurrent <= 0 || s.in_flight < l.max_concurrent;
    });
    --s.waiting;
    if (!ok) throttled("no slot within maxWaitMS " + std::to_string(limits.max_wait_ms) + " (maxConcurrent " +
                       std::to_string(limits.max_concurrent) + ")");
  }
  ++s.in_flight;
  return Permit(this, &s);
}

void Tenants::release(State *state) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  --state->in_flight;
  if (state->waiting > 0) state->slot_free.notify_all();
}

// Databases with nothing in flight or waiting; their buckets start full when they come back.
void Tenants::forget_idle_locked() {
  for (auto it = states_.begin(); it != states_.end();)
    it = it->second.in_flight == 0 && it->second.waiting == 0 ? states_.erase(it) : std::next(it);
}

}  // namespace pm::core
