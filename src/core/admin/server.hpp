// The admin endpoint's HTTP listener (cpp-httplib), on library threads (`pm-admin` accepts,
// a small pool serves): it turns each request into an AdminRequest for AdminApi, and serves
// the live event feed (/api/events/stream, server-sent events) itself. Built by the wrapper
// when the admin option is given, stopped first when the wrapper goes.
#pragma once

#include <memory>
#include <string>

#include "config/options.hpp"

namespace pm::core {

class Wrapper;

class AdminServer {
 public:
  // Binds and starts listening; throws Error(invalid_argument) when the address cannot be bound.
  AdminServer(Wrapper &wrapper, const AdminOptions &options);
  ~AdminServer();
  AdminServer(const AdminServer &) = delete;
  AdminServer &operator=(const AdminServer &) = delete;

  std::string url() const;  // "http://127.0.0.1:9400", the port bound (admin.listen's port 0: a free one)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm::core
