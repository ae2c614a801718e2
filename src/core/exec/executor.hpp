// The executor: a bounded set of threads that run work submitted from anywhere, so that a
// caller never waits for I/O (the C API's pm_async_submit). Work with the same non-zero key
// (a cursor, a stream, a session) runs one job at a time, in the order it was submitted; other
// work runs in any order on any thread. Keyed work goes first and may use every thread, while
// work without a key uses at most `max_unkeyed` of them: a key stands for something that holds
// a pooled connection between jobs (an open cursor, a stream, a session), so new work waiting
// for a connection can never take every thread from the work that would give one back. Queued work can be cancelled, can carry a bound on how
// long it waits in the queue, and ends (without running) when the executor closes. Threads
// start on the first submissions, up to the bound, and live until the executor closes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pm::core {

// Why a job ended without running.
enum class JobEnd { cancelled, timed_out, closed };

struct Job {
  uintptr_t key = 0;             // 0: no order; else jobs of one key run one at a time, in order
  int64_t queue_timeout_ms = 0;  // > 0: ends timed_out when not started within this time
  std::function<void(uint64_t id)> run;  // the work, on an executor thread; must not throw
  std::function<void(uint64_t id, JobEnd)> skip;  // instead of run, once, when it will not run
};

class Executor {
 public:
  Executor(int max_threads, int max_unkeyed);
  ~Executor();  // close()
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  // Queues a job and returns its id (never 0). Throws Error(closed) once closed (the job's
  // skip is not called then: the caller still owns the outcome).
  uint64_t submit(Job job);
  // Ends a job that has not started: its skip(cancelled) runs on this thread before the call
  // returns. False when the id is unknown, already running or finished.
  bool cancel(uint64_t id);
  // Refuses new jobs, ends every queued one with skip(closed) on this thread, and waits for
  // the running ones (except the calling thread's own, when called from a job). Idempotent.
  void close();

  int max_threads() const { return max_threads_; }
  int max_unkeyed() const { return max_unkeyed_; }
  size_t threads() const;  // started so far
  size_t queued() const;   // waiting to start

  struct State;  // shared with the threads, which may outlive the executor when one closes it

 private:
  const int max_threads_;
  const int max_unkeyed_;
  std::shared_ptr<State> state_;
  // base/fork.hpp: in a forked child the parent's threads do not run; the first submit, cancel
  // or close there leaves the parent's state alone (never destroyed) and starts a new one.
  void renew_after_fork();
  std::atomic<uint64_t> fork_;
  std::mutex fork_mu_;
};

}  // namespace pm::core
