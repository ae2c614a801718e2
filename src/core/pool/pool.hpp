// One libmongoc client pool with a bounded checkout, a lifecycle (open lazily, close on TTL,
// idleness, eviction or request, reopen on next use) and the events that describe it.
#pragma once

#include <mongoc/mongoc.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.hpp"
#include "config/options.hpp"

namespace pm::core {

class Log;
class Events;
class Usage;
class Error;
class Pool;
class ClusterBudget;

enum class PoolState { not_initialized = 0, connecting, connected, disconnecting, disconnected };
enum class CloseReason { ttl, idle, evicted, closed, forced, budget };
const char *close_reason_name(CloseReason reason);

// A pooled client checked out of a Pool; returned when the lease dies. Move-only.
class Lease {
 public:
  Lease() = default;
  // `pool` stays alive for the lease's life: the lease holds it.
  Lease(std::shared_ptr<Pool> pool, mongoc_client_t *client, mongoc_client_pool_t *origin, uint64_t generation,
        int64_t out_since_us = 0)
      : pool_(std::move(pool)), client_(client), origin_(origin), generation_(generation),
        out_since_us_(out_since_us) {}
  Lease(Lease &&other) noexcept { *this = std::move(other); }
  Lease &operator=(Lease &&other) noexcept;
  Lease(const Lease &) = delete;
  Lease &operator=(const Lease &) = delete;
  ~Lease() { release(); }

  mongoc_client_t *client() const { return client_; }
  Pool *pool() const { return pool_.get(); }
  // True once the pool was force-closed after this lease was taken.
  bool revoked() const;
  void release() noexcept;

 private:
  std::shared_ptr<Pool> pool_;
  mongoc_client_t *client_ = nullptr;
  mongoc_client_pool_t *origin_ = nullptr;
  uint64_t generation_ = 0;
  int64_t out_since_us_ = 0;  // when it was checked out, when someone listens for checked-in events
};


// Histogram bounds in microseconds (OpenTelemetry's seconds: 0.001 .. 10), the last bucket +Inf.
constexpr int64_t kHistogramBoundsUs[] = {1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000, 10000000};
constexpr size_t kHistogramBuckets = sizeof(kHistogramBoundsUs) / sizeof(kHistogramBoundsUs[0]) + 1;
struct Histogram {
  uint64_t buckets[kHistogramBuckets] = {};  // per bucket, not cumulative
  uint64_t count = 0, sum_us = 0;
  void add(int64_t us);
};

// A point-in-time view of a pool, for statistics.
struct PoolSnapshot {
  std::string label, uri;
  PoolState state = PoolState::not_initialized;
  bool dedicated = false, open = false, ready = false;
  int max_size = 0, min_size = 0, limit = 0;
  int open_connections = 0, in_use = 0, idle = 0, waiting = 0;
  int pinned_cursors = 0, pinned_sessions = 0, pinned_streams = 0;
  uint64_t errors = 0, commands = 0, failed_commands = 0;
  uint64_t server_errors = 0;  // the server's refusals (duplicate keys, write errors, ...)
  uint64_t timeouts = 0;       // checkouts that waited waitQueueTimeoutMS in vain
  Histogram wait_time;         // checkouts' waits for a client (0 when one was free)
  Histogram command_time;      // the server round trips of its clients' commands
  std::string last_error, last_server_error;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;
  int64_t created_ms = 0, last_used_ms = 0;  // wall clock; last_used 0: never
  std::vector<std::string> databases;       // every database this pool has served
};

enum class PinKind { cursor, session, stream };

// A long-lived holder of a lease (an open cursor) that a forced close ends at once: revoke()
// destroys what uses the client and gives the client back, unless the holder is in a call
// (then it finds its lease revoked when the call returns). Holders register with their pool.
class Revocable {
 public:
  virtual void revoke() noexcept = 0;

 protected:
  ~Revocable() = default;
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
  PoolSizing sizing;
  bool fair = true;  // fairQueueing: a saturated pool serves its waiting databases in turn
  std::optional<TenantLimits> tenant_limits;  // the spec's, for each database it serves
  int max_connecting = 2;  // connections being established at once (CMAP's maxConnecting)
  std::shared_ptr<ClusterBudget> budget;  // maxConnectionsPerCluster, shared by the cluster's pools
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  static std::shared_ptr<Pool> create(PoolConfig config, std::shared_ptr<const Log> log,
                                      std::shared_ptr<Events> events, std::shared_ptr<Usage> usage);
  ~Pool();
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;

  // Checks out a client for an operation on `db`, waiting at most waitQueueTimeoutMS (Error
  // timeout); opens the libmongoc pool when it is closed (Error connection when it cannot). The
  // lease keeps the pool alive. When every client is out, checkouts queue by database and are
  // served a database at a time, in turn (first come, first served within one database, and
  // across all of them without fairQueueing).
  Lease checkout(const std::string &db = std::string());

  // Opens the pool now and verifies max(1, min_free) connections with a ping (kept warm).
  void connect();

  // Outcomes of operations: drive the state, connect/error events and usage figures.
  void record_success(const std::string &db, uint64_t latency_us = 0);
  void record_failure(const std::string &db, const Error &error, uint64_t latency_us = 0);

  // Long-lived holders of a connection (cursors, sessions, streams) count themselves here.
  void pin(PinKind kind, int delta);
  // Holders that a forced close revokes (see Revocable). remove waits for a revocation in
  // progress; a holder revoked by force_close is removed already.
  void add_revocable(Revocable *holder);
  void remove_revocable(Revocable *holder);
  // One step of dynamic sizing, when it is due.
  void evaluate_sizing();
  PoolSnapshot snapshot() const;

  // Closes the pool if no client is out and it has been unused for `idle_for_ms`.
  bool close_if_idle(CloseReason reason, int64_t idle_for_ms);
  // Waits up to `timeout_ms` for every client to come back, then closes. New checkouts wait
  // meanwhile. False on timeout (the pool stays open).
  bool close(int64_t timeout_ms);
  // Closes now: waiting checkouts and revoked leases fail with Error closed; idle holders
  // (open cursors between calls) give their clients back at once, so the closed pool and its
  // sockets go now; clients in a call are destroyed when they come back, without counting
  // against the new pool. The next checkout opens a fresh pool.
  void force_close();
  // force_close, for good: every later checkout fails with Error closed (pm_wrapper_close).
  void shut_down();
  bool is_shut_down() const { return shut_down_.load(std::memory_order_acquire); }

  const PoolConfig &config() const { return config_; }
  const std::string &label() const { return config_.label; }
  const std::string &redacted_uri() const { return redacted_uri_; }
  PoolState state() const { return static_cast<PoolState>(state_.load()); }
  bool is_open() const;
  int64_t last_used_ms() const { return last_used_ms_.load(); }  // steady clock
  uint64_t generation() const { return generation_.load(); }
  uint64_t errors() const { return errors_.load(); }
  uint64_t server_errors() const { return server_errors_.load(); }

 private:
  Pool(PoolConfig config, std::shared_ptr<const Log> log, std::shared_ptr<Events> events,
       std::shared_ptr<Usage> usage);
  static void on_command_succeeded(const mongoc_apm_command_succeeded_t *event);
  static void on_command_failed(const mongoc_apm_command_failed_t *event);
  void record_command(int64_t duration_us, bool ok);
  friend class Lease;
  void checkin(mongoc_client_pool_t *origin, mongoc_client_t *client, int64_t out_since_us) noexcept;
  Lease checkout_counted(const std::string &db, int64_t started_us);
  // Reserves budget for what the next client needs (opening the pool, a new connection);
  // returns with the lock held and `reserved` covering it.
  void reserve_budget_locked(std::unique_lock<std::mutex> &lock, int &reserved);
  // Connects a new client under the maxConnecting gate (its handshake and a ping).
  void establish(mongoc_client_t *client, uint64_t id, const std::string &db);
  // After fork(): forgets the parent's libmongoc pool and clients (they are the parent's).
  void forget_parent_locked();
  void emit_checkout_failed(const std::string &db, const Error &error, int64_t started_us);
  mongoc_client_pool_t *open_locked();
  void close_locked(CloseReason reason);
  // A saturated pool's waiting checkouts, by database, and who is served next.
  struct Waiter {
    std::condition_variable turn;
    bool granted = false;  // a client is counted in in_use_ for it
  };
  void wait_turn(std::unique_lock<std::mutex> &lock, const std::string &db, uint64_t generation);
  void grant_locked();  // hands free clients to waiters, a database at a time
  void remove_waiter_locked(const std::string &key, Waiter *waiter);
  void set_state(PoolState s) { state_ = static_cast<int>(s); }
  void touch();

  PoolConfig config_;
  std::shared_ptr<const Log> log_;
  std::shared_ptr<Events> events_;
  std::shared_ptr<Usage> usage_;
  const uint64_t id_;  // unique in the process; Usage records who served what
  std::string redacted_uri_;
  mongoc_uri_t *uri_ = nullptr;
  int32_t wait_ms_ = 0;
  int64_t created_ms_ = 0;

  std::atomic<int> state_{static_cast<int>(PoolState::not_initialized)};
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> epoch_{0};  // unique per opening of the libmongoc pool
  std::atomic<int> pinned_[3] = {{0}, {0}, {0}};
  std::atomic<uint64_t> errors_{0};         // connection and pool failures
  std::atomic<uint64_t> server_errors_{0};  // operations the server refused
  std::atomic<bool> ready_{false};
  // Set once by shut_down() (under mu_); the pool never opens again. Atomic so that a native
  // session, which keeps its own lease, can check it without the pool's lock.
  std::atomic<bool> shut_down_{false};
  std::atomic<int64_t> last_used_ms_{0};  // steady clock
  std::atomic<int64_t> last_used_wall_ms_{0};

  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::unordered_map<std::string, std::deque<Waiter *>> queues_;  // by database ("" without fairness)
  std::deque<std::string> turns_;  // the databases with waiters, the next to be served first
  mongoc_client_pool_t *pool_ = nullptr;  // the current pool, opened lazily
  int out_ = 0;                           // clients out of pool_
  int in_use_ = 0;                        // the same (clients of closed pools are not counted)
  int waiting_ = 0;  // checkouts in queues_
  int limit_ = 0;                    // the checkout gate: max_size, or the dynamic size
  int peak_in_use_ = 0;              // since the last sizing evaluation (when sizing)
  int opened_clients_ = 0;           // clients the current libmongoc pool has made (its connections)
  bool closing_ = false;
  int64_t last_sizing_ms_ = 0;
  uint64_t timeouts_ = 0;
  uint64_t immediate_checkouts_ = 0;  // checkouts that found a client free: wait 0
  Histogram waits_;                   // the others'
  std::string last_error_, last_server_error_;
  struct Retired {
    int out = 0;   // its clients still out
    int held = 0;  // budget it holds until destroyed
  };
  std::unordered_map<mongoc_client_pool_t *, Retired> retired_;  // closed pools with clients still out
  int held_ = 0;            // budget the current libmongoc pool holds (monitors + connections)
  uint64_t fork_generation_ = 0;  // base/fork.hpp's, when pool_ was opened
  int connecting_ = 0;      // new connections in their handshake
  std::condition_variable connecting_done_;
  uint64_t next_connection_ = 0;
  std::unordered_map<mongoc_client_t *, uint64_t> connections_;  // the current pool's, by client

  std::mutex revocable_mu_;  // before a holder's own lock; never with mu_ held
  std::unordered_set<Revocable *> revocables_;

  // The commands its clients ran (libmongoc's command monitoring): counts, and the response
  // times of the last kCommandSamples, a ring once full.
  static constexpr size_t kCommandSamples = 1024;
  mutable std::mutex commands_mu_;
  uint64_t commands_ = 0, failed_commands_ = 0, commands_total_us_ = 0;
  Histogram command_time_;
  std::vector<int64_t> command_samples_us_;
  size_t next_sample_ = 0;
};


}  // namespace pm::core
