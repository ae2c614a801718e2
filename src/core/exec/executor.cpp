#include "exec/executor.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <algorithm>
#include <list>
#include <unordered_map>

#include "base/error.hpp"
#include "base/fork.hpp"

namespace pm::core {

namespace {
using Clock = std::chrono::steady_clock;

struct Entry {
  uint64_t id = 0;
  Job job;
  Clock::time_point deadline = Clock::time_point::max();
};
}  // namespace

// The queue: `ready_keyed` holds the first job of each key, `ready` the jobs without a key
// (started only while fewer than max_unkeyed of them run); the other jobs of a key wait in
// `behind[key]` until the one before them finished. A key is in `busy` while one of its jobs
// is ready or running.
struct Executor::State {
  mutable std::mutex mu;
  std::condition_variable work;    // a job became ready, or closing
  std::condition_variable reaper;  // a nearer deadline, or closing
  explicit State(size_t max_unkeyed_) : max_unkeyed(max_unkeyed_) {}
  const size_t max_unkeyed;
  std::list<Entry> ready_keyed;
  std::list<Entry> ready;
  size_t running_unkeyed = 0;
  std::unordered_map<uintptr_t, std::deque<Entry>> behind;
  std::unordered_map<uintptr_t, bool> busy;
  std::vector<std::thread> threads;
  std::thread reaper_thread;
  size_t idle = 0;      // threads waiting for work
  size_t starting = 0;  // threads made but not yet waiting
  uint64_t next_id = 1;
  bool closed = false;
  Clock::time_point reaper_target = Clock::time_point::max();

  // Under mu: the key's job ended (ran or skipped): the next one behind it becomes ready.
  void release(uintptr_t key) {
    if (key == 0) return;
    auto it = behind.find(key);
    if (it == behind.end() || it->second.empty()) {
      if (it != behind.end()) behind.erase(it);
      busy.erase(key);
      return;
    }
    ready_keyed.push_back(std::move(it->second.front()));
    it->second.pop_front();
    if (it->second.empty()) behind.erase(it);
    work.notify_one();
  }

  // Under mu: removes the queued job `pred` selects, wherever it waits; the key moves on.
  template <class Pred>
  std::vector<Entry> take(Pred &&pred) {
    std::vector<Entry> out;
    for (auto *list : {&ready, &ready_keyed}) {
      for (auto it = list->begin(); it != list->end();) {
        if (pred(*it)) {
          uintptr_t key = it->job.key;
          out.push_back(std::move(*it));
          it = list->erase(it);
          release(key);  // may append to ready_keyed: the loop visits it too
        } else {
          ++it;
        }
      }
    }
    for (auto it = behind.begin(); it != behind.end();) {
      auto &q = it->second;
      for (auto e = q.begin(); e != q.end();) {
        if (pred(*e)) {
          out.push_back(std::move(*e));
          e = q.erase(e);
        } else {
          ++e;
        }
      }
      it = q.empty() ? behind.erase(it) : std::next(it);
    }
    return out;
  }

  static void skip_all(std::vector<Entry> &entries, JobEnd why) {
    for (auto &e : entries) {
      if (e.job.skip) e.job.skip(e.id, why);
    }
  }

  void worker() {
    std::unique_lock<std::mutex> lock(mu);
    --starting;
    for (;;) {
      ++idle;
      work.wait(lock, [&] { return closed || runnable(); });
      --idle;
      if (!runnable()) return;  // closed
      std::list<Entry> &from = ready_keyed.empty() ? ready : ready_keyed;
      Entry e = std::move(from.front());
      from.pop_front();
      bool unkeyed = e.job.key == 0;
      if (unkeyed) ++running_unkeyed;
      lock.unlock();
      if (Clock::now() > e.deadline) {
        if (e.job.skip) e.job.skip(e.id, JobEnd::timed_out);
      } else {
        e.job.run(e.id);
      }
      uintptr_t key = e.job.key;
      e.job = Job{};  // what the job holds is released outside the lock
      lock.lock();
      release(key);
      if (unkeyed) {
        --running_unkeyed;
        if (!ready.empty()) work.notify_one();  // one more may start now
      }
    }
  }

  // Under mu: a job a thread may start now.
  bool runnable() const { return !ready_keyed.empty() || (!ready.empty() && running_unkeyed < max_unkeyed); }
  // Under mu: how many jobs could start now.
  size_t startable() const {
    size_t unkeyed = running_unkeyed < max_unkeyed ? std::min(ready.size(), max_unkeyed - running_unkeyed) : 0;
    return ready_keyed.size() + unkeyed;
  }

  // Ends queued jobs whose deadline passed, also while every thread is busy.
  void reap() {
    std::unique_lock<std::mutex> lock(mu);
    while (!closed) {
      auto now = Clock::now();
      auto expired = take([&](const Entry &e) { return e.deadline <= now; });
      if (!expired.empty()) {
        lock.unlock();
        skip_all(expired, JobEnd::timed_out);
        expired.clear();
        lock.lock();
        continue;
      }
      reaper_target = Clock::time_point::max();
      for (auto &e : ready) reaper_target = std::min(reaper_target, e.deadline);
      for (auto &e : ready_keyed) reaper_target = std::min(reaper_target, e.deadline);
      for (auto &[key, q] : behind)
        for (auto &e : q) reaper_target = std::min(reaper_target, e.deadline);
      if (reaper_target == Clock::time_point::max()) reaper.wait(lock);
      else reaper.wait_until(lock, reaper_target);
    }
  }
};

Executor::Executor(int max_threads, int max_unkeyed)
    : max_threads_(max_threads < 1 ? 1 : max_threads),
      max_unkeyed_(std::clamp(max_unkeyed, 1, max_threads_)),
      state_(std::make_shared<State>(static_cast<size_t>(max_unkeyed_))), fork_(fork_generation()) {}

void Executor::renew_after_fork() {
  if (fork_.load(std::memory_order_relaxed) == fork_generation()) return;
  std::lock_guard<std::mutex> lock(fork_mu_);
  if (fork_.load(std::memory_order_relaxed) == fork_generation()) return;
  // The parent's state holds threads this process does not have (destroying it would end the
  // process, joining them would wait forever) and its queued jobs are the parent's: kept, never
  // destroyed.
  static auto *abandoned = new std::vector<std::shared_ptr<State>>();
  abandoned->push_back(std::move(state_));
  state_ = std::make_shared<State>(static_cast<size_t>(max_unkeyed_));
  fork_.store(fork_generation(), std::memory_order_relaxed);
}

Executor::~Executor() { close(); }

uint64_t Executor::submit(Job job) {
  renew_after_fork();
  State &s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.closed) throw Error(Code::closed, "the wrapper is closed");
  Entry e;
  e.id = s.next_id++;
  if (job.queue_timeout_ms > 0) e.deadline = Clock::now() + std::chrono::milliseconds(job.queue_timeout_ms);
  e.job = std::move(job);
  uint64_t id = e.id;
  auto deadline = e.deadline;
  uintptr_t key = e.job.key;
  if (key != 0 && s.busy.count(key) != 0) {
    s.behind[key].push_back(std::move(e));
  } else {
    if (key != 0) s.busy[key] = true;
    (key != 0 ? s.ready_keyed : s.ready).push_back(std::move(e));
    s.work.notify_one();
  }
  // One more thread when more jobs are ready than threads wait for them, up to the bound;
  // the reaper with the first.
  if (s.startable() > s.idle + s.starting && s.threads.size() < static_cast<size_t>(max_threads_)) {
    auto keep = state_;
    s.threads.emplace_back([keep] { keep->worker(); });
    ++s.starting;
  }
  if (!s.reaper_thread.joinable()) {
    auto keep = state_;
    s.reaper_thread = std::thread([keep] { keep->reap(); });
  }
  if (deadline < s.reaper_target) s.reaper.notify_one();
  return id;
}

bool Executor::cancel(uint64_t id) {
  renew_after_fork();
  State &s = *state_;
  std::vector<Entry> taken;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    taken = s.take([&](const Entry &e) { return e.id == id; });
  }
  State::skip_all(taken, JobEnd::cancelled);
  return !taken.empty();
}

void Executor::close() {
  renew_after_fork();
  State &s = *state_;
  std::vector<Entry> taken;
  std::vector<std::thread> threads;
  std::thread reaper;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.closed = true;
    taken = s.take([](const Entry &) { return true; });
    threads.swap(s.threads);
    reaper.swap(s.reaper_thread);
    s.work.notify_all();
    s.reaper.notify_all();
  }
  State::skip_all(taken, JobEnd::closed);
  auto self = std::this_thread::get_id();
  for (auto *t : {&reaper}) {
    if (t->joinable()) (t->get_id() == self ? t->detach() : t->join());
  }
  for (auto &t : threads) {
    if (t.get_id() == self) t.detach();  // a job closing its own executor: it ends after
    else t.join();
  }
}

size_t Executor::threads() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->threads.size();
}

size_t Executor::queued() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  size_t n = state_->ready.size() + state_->ready_keyed.size();
  for (auto &[key, q] : state_->behind) n += q.size();
  return n;
}

}  // namespace pm::core
