// One libmongoc client pool with a bounded checkout: the unit every database is routed to.
#pragma once

#include <mongoc/mongoc.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace pm::core {

class Log;
class Pool;

// A pooled client checked out of a Pool; returned when the lease dies. Move-only.
class Lease {
 public:
  Lease() = default;
  Lease(std::shared_ptr<Pool> pool, mongoc_client_t *client)
      : pool_(std::move(pool)), client_(client) {}
  Lease(Lease &&other) noexcept;
  Lease &operator=(Lease &&other) noexcept;
  Lease(const Lease &) = delete;
  Lease &operator=(const Lease &) = delete;
  ~Lease() { release(); }

  mongoc_client_t *client() const { return client_; }
  void release() noexcept;

 private:
  std::shared_ptr<Pool> pool_;
  mongoc_client_t *client_ = nullptr;
};

struct PoolConfig {
  std::string label;  // "shared", or the database a dedicated pool serves
  std::string uri;    // with credentials; never logged as is
  int max_size = 10;
  int min_free = 0;
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  static std::shared_ptr<Pool> create(PoolConfig config, std::shared_ptr<const Log> log);
  ~Pool();
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;

  // Checks out a client, waiting at most the URI's waitQueueTimeoutMS (Error timeout).
  // Opens the libmongoc pool on first use (Error connection when it cannot, e.g. SRV lookup).
  Lease checkout();

  // Opens the pool now and verifies it with a ping on max(1, min_free) connections, which
  // then stay open in the pool (warm).
  void connect();

  const std::string &label() const { return config_.label; }
  const std::string &redacted_uri() const { return redacted_uri_; }
  int max_size() const { return config_.max_size; }
  int32_t wait_queue_timeout_ms() const { return wait_ms_; }

 private:
  Pool(PoolConfig config, std::shared_ptr<const Log> log);
  friend class Lease;
  void checkin(mongoc_client_t *client) noexcept;
  mongoc_client_pool_t *open_locked();

  PoolConfig config_;
  std::shared_ptr<const Log> log_;
  std::string redacted_uri_;
  mongoc_uri_t *uri_ = nullptr;
  int32_t wait_ms_ = 0;

  std::mutex mu_;
  std::condition_variable available_;
  mongoc_client_pool_t *pool_ = nullptr;  // opened lazily, under mu_
  int in_use_ = 0;
};

}  // namespace pm::core
