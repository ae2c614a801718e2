#include "admin/server.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "admin/api.hpp"
#include "admin/feed.hpp"
#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/thread_name.hpp"
#include "wrapper.hpp"

namespace pm::core {

namespace {
constexpr size_t kMaxBody = 1 << 20;     // routing rules fit; anything larger is refused (413)
constexpr int kWorkers = 8;              // connections served at once (live feeds included)
constexpr int kMaxFeeds = kWorkers / 2;  // workers always left for the other requests
// The dashboard talks to its own origin only; the page makes no external request.
constexpr const char *kPolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}  // namespace

struct AdminServer::Impl {
  Impl(Wrapper &w, const AdminOptions &o) : options(o), feed(w.events()), api(w, options, feed) {}

  AdminOptions options;
  EventFeed feed;
  AdminApi api;
  httplib::Server server;
  std::thread thread;
  uint64_t fork = fork_generation();  // when the thread started (base/fork.hpp)
  int port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<int> feeds{0};

  void serve(const httplib::Request &req, httplib::Response &res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy", kPolicy);
    if (req.path == "/api/events/stream" && req.method == "GET") return live_feed(req, res);
    AdminRequest r;
    r.method = req.method;
    r.path = req.path;
    for (const auto &[k, v] : req.params) r.params.emplace(k, v);
    r.authorization = req.get_header_value("Authorization");
    r.body = req.body;
    AdminResponse out = api.handle(r);
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  }

  // Server-sent events: each event as `id: SEQ` / `data: JSON`, a comment every second
  // otherwise (so that a closed connection is noticed); resumes after Last-Event-ID.
  void live_feed(const httplib::Request &req, httplib::Response &res) {
    if (feeds.fetch_add(1) >= kMaxFeeds) {
      feeds.fetch_sub(1);
      res.status = 503;
      res.set_content("{\"error\": \"too many live feeds open\"}", "application/json");
      return;
    }
    uint64_t start = feed.last_seq();
    std::string last = req.get_header_value("Last-Event-ID");
    if (!last.empty() && last.size() < 20 && last.find_first_not_of("0123456789") == std::string::npos)
      start = std::min<uint64_t>(std::stoull(last), start);
    auto seq = std::make_shared<uint64_t>(start);
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, seq](size_t, httplib::DataSink &sink) {
          if (stopping.load() || !feed.wait_after(*seq, 1000) || stopping.load()) return false;
          auto entries = feed.since(*seq, 100);
          std::string out;
          for (const auto &e : entries) {
            out += "id: " + std::to_string(e.seq) + "\ndata: " + e.json + "\n\n";
            *seq = e.seq;
          }
          if (out.empty()) out = ": keep-alive\n\n";
          return sink.write(out.data(), out.size()) && sink.is_writable();
        },
        [this](bool) { feeds.fetch_sub(1); });
  }
};

AdminServer::AdminServer(Wrapper &wrapper, const AdminOptions &options)
    : impl_(std::make_unique<Impl>(wrapper, options)) {
  Impl *impl = impl_.get();
  httplib::Server &s = impl->server;
  s.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  s.set_payload_max_length(kMaxBody);
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second process could
  // bind the same port and take a share of the requests (and a port in use would not be noticed).
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_keep_alive_max_count(100);
  s.set_keep_alive_timeout(1);  // an idle browser connection gives its worker back soon
  auto handler = [impl](const httplib::Request &req, httplib::Response &res) { impl->serve(req, res); };
  s.Get(".*", handler);
  s.Post(".*", handler);
  s.Put(".*", handler);
  s.Patch(".*", handler);
  s.Delete(".*", handler);
  s.Options(".*", handler);
  s.set_exception_handler([](const httplib::Request &, httplib::Response &res, const std::exception_ptr &) {
    res.status = 500;
    res.set_content("{\"error\": \"internal error\"}", "application/json");
  });
  std::string host = options.host;
  if (options.port == 0) {
    impl->port = s.bind_to_any_port(host);
  } else {
    impl->port = s.bind_to_port(host, options.port) ? options.port : -1;
  }
  if (impl->port <= 0)
    fail(Code::invalid_argument, "admin.listen: cannot listen on " + host + ":" + std::to_string(options.port) +
                                     " (address in use, or not an address of this machine)");
  impl->thread = std::thread([impl] {
    name_this_thread("pm-admin");
    impl->server.listen_after_bind();
  });
  // stop() before the loop runs would be lost (httplib stops only a running server): the
  // constructor returns once it runs.
  for (int i = 0; i < 5000 && !s.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  wrapper.log().info("admin endpoint listening on " + url() +
                     (options.token.empty() ? " (read-only: no admin.token)" : ""));
}

AdminServer::~AdminServer() {
  if (impl_->fork != fork_generation()) {
    // A forked child: the listener and its worker threads are the parent's. Left alone.
    (void)impl_.release();
    return;
  }
  impl_->stopping = true;
  impl_->feed.stop();  // live feeds end at once
  impl_->server.stop();
  if (impl_->thread.joinable()) join_or_forget(impl_->thread, impl_->fork);
}

std::string AdminServer::url() const {
  const std::string &h = impl_->options.host;
  std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return "http://" + host + ":" + std::to_string(impl_->port);
}

}  // namespace pm::core
