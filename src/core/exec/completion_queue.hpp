// A completion queue: finished work waits here until its owner takes it. Its file descriptor
// (an eventfd) is readable exactly while the queue holds something, so that an event loop
// (asyncio's add_reader, epoll, a runtime's reactor) waits on it with no thread of its own.
// `T` is what a completion is (the C API's pm_completion); `drop` releases one that nobody
// will take (the queue freed with completions in it).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "base/error.hpp"

namespace pm::core {

template <class T>
class CompletionQueue {
 public:
  explicit CompletionQueue(std::function<void(T &)> drop) : drop_(std::move(drop)) {
    fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) throw Error(Code::internal, "eventfd failed (errno " + std::to_string(errno) + ")");
  }
  ~CompletionQueue() {
    for (auto &item : items_) drop_(item);
    close(fd_);
  }
  CompletionQueue(const CompletionQueue &) = delete;
  CompletionQueue &operator=(const CompletionQueue &) = delete;

  int fd() const { return fd_; }

  void push(const T &item) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(item);
    if (items_.size() == 1) signal();
    ready_.notify_all();
  }

  // Moves up to `max` completions into `out`, waiting up to timeout_ms for the first one
  // (0: no wait; < 0: as long as it takes). Returns how many.
  size_t pop(T *out, size_t max, int64_t timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    auto has = [&] { return !items_.empty(); };
    if (timeout_ms < 0) ready_.wait(lock, has);
    else if (timeout_ms > 0) ready_.wait_for(lock, std::chrono::milliseconds(timeout_ms), has);
    size_t n = 0;
    while (n < max && !items_.empty()) {
      out[n++] = items_.front();
      items_.pop_front();
    }
    if (items_.empty()) drain();
    return n;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }

 private:
  // Under mu_: the descriptor is readable iff items_ is not empty.
  void signal() {
    uint64_t one = 1;
    while (write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
  void drain() {
    uint64_t count;
    while (read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
  }

  std::function<void(T &)> drop_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<T> items_;
  int fd_ = -1;
};

}  // namespace pm::core
