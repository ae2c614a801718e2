// Milliseconds, as the library's timestamps and timers use them.
#pragma once

#include <cstdint>

namespace pm::core {

int64_t now_wall_ms();  // wall clock, for timestamps users read

// The coarse clocks read the kernel's last tick (a few ms old) instead of the time stamp
// counter: cheap enough for every operation, precise enough for idle, TTL and last-used times.
int64_t steady_ms();       // monotonic
int64_t coarse_wall_ms();  // wall clock

}  // namespace pm::core
