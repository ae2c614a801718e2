// The admin endpoint's requests, independent of the HTTP server that carries them (admin/
// server.*, cpp-httplib), so that the request path can be tested and fuzzed as a function.
//
//   GET  /, /dashboard        the dashboard page (embedded; no external request)
//   GET  /metrics             Prometheus text
//   GET  /healthz, /readyz    liveness (the wrapper is open) and readiness (the shared pool warm)
//   GET  /api/overview        state, pauses, slow operations, closes by reason, event counts
//   GET  /api/pools           the general statistics (pm_wrapper_stats)
//   GET  /api/databases       ?top=N&by=operations|errors|latency
//   GET  /api/latency         histogram of the databases' mean latencies
//   GET  /api/events          ?since=SEQ&max=N, the recent events
//   GET  /api/slow            the slow-operation log
//   POST /api/pause, /api/resume {name}; /api/drain {pool, timeoutMS?}; /api/explain {db};
//        /api/reload {routes: [...]}: only with "Authorization: Bearer <admin.token>" (compared
//        in constant time); without a configured token every action is refused (403).
// The live feed (/api/events/stream, server-sent events) is the server's.
#pragma once

#include <map>
#include <string>

#include "config/options.hpp"

namespace pm::core {

class Wrapper;
class EventFeed;

struct AdminRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::map<std::string, std::string> params;  // the query's, decoded
  std::string authorization;  // the Authorization header, as sent
  std::string body;
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class AdminApi {
 public:
  AdminApi(Wrapper &wrapper, const AdminOptions &options, const EventFeed &feed)
      : wrapper_(wrapper), options_(options), feed_(feed) {}
  // Never throws: a malformed request gets a 4xx, a failure a 5xx, each with {"error": ...}.
  AdminResponse handle(const AdminRequest &request) const;

 private:
  AdminResponse route(const AdminRequest &request) const;
  AdminResponse action(const AdminRequest &request) const;
  AdminResponse databases(const AdminRequest &request) const;
  AdminResponse overview() const;
  AdminResponse latency() const;
  AdminResponse events(uint64_t since, uint64_t max) const;
  AdminResponse page() const;

  Wrapper &wrapper_;
  const AdminOptions &options_;
  const EventFeed &feed_;
};

// Whether `presented` equals `expected`, in time that depends on the length of `presented` only.
bool same_token(const std::string &presented, const std::string &expected);

// The dashboard page (src/core/admin/dashboard.html, embedded at build time).
const std::string &dashboard_html();

}  // namespace pm::core
