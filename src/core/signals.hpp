// The opt-in graceful shutdown on SIGINT/SIGTERM. The signal handler only writes to a pipe
// (async-signal-safe); a helper thread closes the wrapper's pools, restores the handler that was
// installed before, and raises the signal again so that handler (or the default action) runs.
#pragma once

#include <cstdint>
#include <memory>

namespace pm::core {

class Wrapper;

void handle_signals(const std::shared_ptr<Wrapper> &wrapper, int64_t timeout_ms);

}  // namespace pm::core
