#include <algorithm>
#include <random>

#include "ops/db_run.hpp"

namespace pm::core {

// Exponential backoff with jitter: half the delay fixed, half random, so that many clients
// failing together do not retry together.
std::chrono::milliseconds backoff(const RetryOptions &r, int attempt) {
  int64_t delay = r.initial_delay_ms;
  for (int i = 1; i < attempt && delay < r.max_delay_ms; ++i) delay *= 2;
  delay = std::min(delay, r.max_delay_ms);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t jitter = delay / 2 > 0 ? std::uniform_int_distribution<int64_t>(0, delay / 2)(rng) : 0;
  return std::chrono::milliseconds(delay - delay / 2 + jitter);
}


}  // namespace pm::core
