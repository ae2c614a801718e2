// fork() detection. A child process inherits the parent's memory, including its libmongoc pools
// and the sockets they hold, but none of its threads. polymongo counts forks (pthread_atfork):
// a pool that sees the count changed since it opened abandons what it inherited and opens anew,
// and a thread owner that finds its thread started before the fork forgets it instead of joining
// a thread that does not exist in this process.
#pragma once

#include <cstdint>
#include <new>
#include <thread>

namespace pm::core {

// How many times this process's ancestors and itself were forked since polymongo loaded: 0 in
// the first process, different in every child (read with one relaxed atomic load).
uint64_t fork_generation();

// Joins `thread`, or detaches it when it was started (`started_in`, the fork_generation() then)
// in a parent of this process, where it does not run. Joinable threads only; not from `thread`.
void join_or_forget(std::thread &thread, uint64_t started_in);

// Makes a synchronisation object (a condition variable) new again, without destroying the old
// one: in a forked child it may count waiters of the parent's threads that do not exist here,
// and destroying it would wait for them forever. Only in a child, before any use there.
template <class T>
void renew_after_fork(T &object) {
  new (&object) T();
}

}  // namespace pm::core
