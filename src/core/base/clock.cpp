#include "base/clock.hpp"

#include <ctime>

namespace pm::core {

namespace {
int64_t clock_ms(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
}  // namespace

int64_t now_wall_ms() { return clock_ms(CLOCK_REALTIME); }
int64_t steady_ms() { return clock_ms(CLOCK_MONOTONIC_COARSE); }
int64_t coarse_wall_ms() { return clock_ms(CLOCK_REALTIME_COARSE); }

}  // namespace pm::core
