#include "signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "base/error.hpp"
#include "base/thread_name.hpp"
#include "wrapper.hpp"

namespace pm::core {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM};

struct SignalState {
  std::mutex mu;
  std::weak_ptr<Wrapper> wrapper;  // weak: the duty never keeps a wrapper alive
  int64_t timeout_ms = 0;
  bool installed = false;
  struct sigaction previous[2];
  int pipe_fds[2] = {-1, -1};
};

SignalState &state() {
  static SignalState *s = new SignalState();  // lives as long as the process
  return *s;
}

void on_signal(int sig) {
  int saved = errno;
  char c = static_cast<char>(sig);
  ssize_t ignored = write(state().pipe_fds[1], &c, 1);
  (void)ignored;
  errno = saved;
}

void watch() {
  SignalState &s = state();
  for (;;) {
    char c;
    ssize_t n = read(s.pipe_fds[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    int sig = static_cast<unsigned char>(c);
    std::shared_ptr<Wrapper> w;
    int64_t timeout;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      w = s.wrapper.lock();
      timeout = s.timeout_ms;
    }
    if (w) {
      w->log().info("signal " + std::to_string(sig) + ": closing all pools");
      w->close_all(timeout);
      w->events().flush(timeout);
      w.reset();
    }
    // Chain: put back what was there before us and deliver the signal to it.
    {
      std::lock_guard<std::mutex> lock(s.mu);
      for (size_t i = 0; i < 2; ++i)
        if (kSignals[i] == sig) sigaction(sig, &s.previous[i], nullptr);
    }
    kill(getpid(), sig);
  }
}

}  // namespace

void handle_signals(const std::shared_ptr<Wrapper> &wrapper, int64_t timeout_ms) {
  SignalState &s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.wrapper = wrapper;
  s.timeout_ms = timeout_ms;
  if (s.installed) return;
  if (pipe2(s.pipe_fds, O_CLOEXEC) != 0) throw Error(Code::internal, "handle_signals: pipe() failed");
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // SA_ONSTACK: runtimes such as Go run threads on small stacks and require it of foreign
  // handlers; it is harmless elsewhere.
  action.sa_flags = SA_RESTART | SA_ONSTACK;
  for (size_t i = 0; i < 2; ++i) sigaction(kSignals[i], &action, &s.previous[i]);
  std::thread([] {
    name_this_thread("pm-signals");
    watch();
  }).detach();
  s.installed = true;
}

}  // namespace pm::core
