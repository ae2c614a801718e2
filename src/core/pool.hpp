// One libmongoc client pool with a bounded checkout, a lifecycle (open lazily, close on TTL,
// idleness, eviction or request, reopen on next use) and the events that describe it.
#pragma once

#include <mongoc/mongoc.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace pm::core {

class Log;
class Events;
class Error;
class Pool;

enum class PoolState { not_initialized = 0, connecting, connected, disconnecting, disconnected };
enum class CloseReason { ttl, idle, evicted, closed, forced, error };
const char *close_reason_name(CloseReason reason);

// A pooled client checked out of a Pool; returned when the lease dies. Move-only.
class Lease {
 public:
  Lease() = default;
  Lease(std::shared_ptr<Pool> pool, mongoc_client_t *client, mongoc_client_pool_t *origin,
        uint64_t generation)
      : pool_(std::move(pool)), client_(client), origin_(origin), generation_(generation) {}
  Lease(Lease &&other) noexcept { *this = std::move(other); }
  Lease &operator=(Lease &&other) noexcept;
  Lease(const Lease &) = delete;
  Lease &operator=(const Lease &) = delete;
  ~Lease() { release(); }

  mongoc_client_t *client() const { return client_; }
  const std::shared_ptr<Pool> &pool() const { return pool_; }
  // True once the pool was force-closed after this lease was taken.
  bool revoked() const;
  void release() noexcept;

 private:
  std::shared_ptr<Pool> pool_;
  mongoc_client_t *client_ = nullptr;
  mongoc_client_pool_t *origin_ = nullptr;
  uint64_t generation_ = 0;
};

struct PoolConfig {
  std::string label;  // "shared", or the database (or rule) a dedicated pool serves
  std::string uri;    // with credentials; never logged as is
  int max_size = 10;
  int min_free = 0;
  bool dedicated = false;
  bool auto_close = false;
  int64_t ttl_ms = 0;           // autoClose: close after this long unused
  int64_t idle_timeout_ms = 0;  // close after this long with no connection checked out
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  static std::shared_ptr<Pool> create(PoolConfig config, std::shared_ptr<const Log> log,
                                      std::shared_ptr<Events> events);
  ~Pool();
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;

  // Checks out a client for `db`, waiting at most waitQueueTimeoutMS (Error timeout); opens
  // the libmongoc pool when it is closed (Error connection when it cannot).
  Lease checkout(const std::string &db);

  // Opens the pool now and verifies max(1, min_free) connections with a ping (kept warm).
  void connect();

  // Outcomes of operations: drive the state, connect/error events and usage figures.
  void record_success(const std::string &db);
  void record_failure(const std::string &db, const Error &error);

  // Closes the pool if no client is out and it has been unused for `idle_for_ms`.
  bool close_if_idle(CloseReason reason, int64_t idle_for_ms);
  // Waits up to `timeout_ms` for every client to come back, then closes. New checkouts wait
  // meanwhile. False on timeout (the pool stays open).
  bool close(int64_t timeout_ms);
  // Closes now: waiting checkouts and revoked leases fail with Error closed; clients still out
  // are destroyed when they come back. The next checkout opens a fresh pool.
  void force_close();

  const PoolConfig &config() const { return config_; }
  const std::string &label() const { return config_.label; }
  const std::string &redacted_uri() const { return redacted_uri_; }
  int32_t wait_queue_timeout_ms() const { return wait_ms_; }
  PoolState state() const { return static_cast<PoolState>(state_.load()); }
  bool is_open() const;
  int in_use() const;
  int64_t last_used_ms() const { return last_used_ms_.load(); }  // steady clock
  uint64_t generation() const { return generation_.load(); }

 private:
  Pool(PoolConfig config, std::shared_ptr<const Log> log, std::shared_ptr<Events> events);
  friend class Lease;
  void checkin(mongoc_client_pool_t *origin, mongoc_client_t *client) noexcept;
  mongoc_client_pool_t *open_locked();
  void close_locked(CloseReason reason);
  void set_state(PoolState s) { state_ = static_cast<int>(s); }
  void touch();

  PoolConfig config_;
  std::shared_ptr<const Log> log_;
  std::shared_ptr<Events> events_;
  std::string redacted_uri_;
  mongoc_uri_t *uri_ = nullptr;
  int32_t wait_ms_ = 0;

  mutable std::mutex mu_;
  std::condition_variable available_, idle_;
  mongoc_client_pool_t *pool_ = nullptr;                 // the current pool, opened lazily
  std::unordered_map<mongoc_client_pool_t *, int> out_;  // clients out, per pool (old ones too)
  int in_use_ = 0;
  bool closing_ = false;
  std::unordered_set<std::string> connected_dbs_;

  std::atomic<int64_t> last_used_ms_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> state_{static_cast<int>(PoolState::not_initialized)};
};

int64_t steady_ms();

}  // namespace pm::core
