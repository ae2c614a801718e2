#include "base/fork.hpp"

#include <pthread.h>

#include <atomic>

namespace pm::core {

namespace {
std::atomic<uint64_t> generation{0};

void in_child() { generation.fetch_add(1, std::memory_order_relaxed); }

// Registered once, when the library loads.
const bool registered = [] { return pthread_atfork(nullptr, nullptr, &in_child) == 0; }();
}  // namespace

uint64_t fork_generation() {
  (void)registered;
  return generation.load(std::memory_order_relaxed);
}

void join_or_forget(std::thread &thread, uint64_t started_in) {
  if (started_in != fork_generation()) thread.detach();  // it ran in the parent: nothing to join
  else thread.join();
}

}  // namespace pm::core
