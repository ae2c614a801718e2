// Lifecycle events and the one dispatcher thread that delivers them to subscribers, in order,
// never while polymongo holds a lock, so that a slow or failing subscriber cannot stall a pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/clock.hpp"

namespace pm::core {

// Bit values mirror pm_event_type in include/polymongo/events.h.
enum class EventType : uint32_t {
  connect = 1u << 0,       // a database's first successful operation since its pool opened
  disconnect = 1u << 1,    // a database's pool closed (or its connection failed)
  error = 1u << 2,         // an operation or pool failed; code and message say how
  pool_opened = 1u << 3,   // a pool was opened (first use, connect, or reopen)
  pool_closed = 1u << 4,   // a pool was closed; reason: ttl, idle, evicted, closed, forced, error
  pool_resized = 1u << 5,  // a pool's size limit changed (dynamic sizing)
  log = 1u << 6,           // a log line (message, level in code)
  // The connection pool specification's (CMAP) events.
  pool_ready = 1u << 7,             // the pool's first success since it opened or was cleared
  pool_cleared = 1u << 8,           // a network error cleared its connections
  connection_created = 1u << 9,     // a new connection begins (connection: its id)
  connection_ready = 1u << 10,      // it answered its handshake (duration_us: since created)
  connection_closed = 1u << 11,     // reason: poolClosed, error
  checkout_started = 1u << 12,
  checkout_failed = 1u << 13,       // reason: timeout, poolClosed, connectionError
  checked_out = 1u << 14,           // duration_us: the wait
  checked_in = 1u << 15,            // duration_us: how long it was out
  budget_exhausted = 1u << 16,      // maxConnectionsPerCluster stopped a connection (code: the budget)
};
constexpr uint32_t kEveryEventType = 0x1ffff;
// Every type but the four check-out events, which come once per operation.
constexpr uint32_t kLifecycleEventTypes =
    kEveryEventType & ~(static_cast<uint32_t>(EventType::checkout_started) | static_cast<uint32_t>(EventType::checkout_failed) |
                        static_cast<uint32_t>(EventType::checked_out) | static_cast<uint32_t>(EventType::checked_in));
// The type's name in JSON and logs ("poolOpened", "connectionReady", ...).
const char *event_type_name(EventType type);

struct Event {
  EventType type;
  std::string db;       // empty: not about one database
  std::string pool;     // "shared", or the dedicated pool's label
  std::string reason;   // pool_closed: why; pool_resized: "up"/"down"
  std::string message;  // redacted
  int32_t code = 0;     // error: a pm_code; log: the level; pool_resized: the new size
  int64_t timestamp_ms = 0;
  int64_t duration_us = 0;  // connection ready, check-out events, checked in
  uint64_t connection = 0;  // connection and check-out events: the connection's id in its pool
};

class Events {
 public:
  using Callback = std::function<void(const Event &)>;

  Events() = default;
  ~Events();
  Events(const Events &) = delete;
  Events &operator=(const Events &) = delete;

  // `mask`: EventType bits; `dbs`: only events about these databases (empty: all).
  uint64_t subscribe(uint32_t mask, std::vector<std::string> dbs, Callback callback);
  // Once this returns, the callback is not running and will not run again (unless called
  // from that very callback, which then finishes normally).
  bool unsubscribe(uint64_t id);

  // Queues an event for delivery; never blocks on subscribers. Cheap when nobody listens.
  void emit(Event event);
  bool wants(EventType type) const { return (mask_.load() & static_cast<uint32_t>(type)) != 0; }
  bool wants_any(uint32_t types) const { return (mask_.load(std::memory_order_relaxed) & types) != 0; }

  // Waits (bounded) until every event queued so far has been delivered.
  bool flush(int64_t timeout_ms);
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t hook_failures() const { return hook_failures_.load(); }

 private:
  struct Subscription {
    uint64_t id;
    uint32_t mask;
    std::unordered_set<std::string> dbs;
    Callback callback;
  };
  void run();
  void recompute_mask_locked();
  void start_locked();  // the dispatcher thread, unless it runs in this process

  mutable std::mutex mu_;
  std::condition_variable wake_, drained_, callback_done_;
  uint64_t running_ = 0;  // the subscription whose callback is running, 0: none
  std::deque<Event> queue_;
  std::vector<std::shared_ptr<const Subscription>> subs_;
  std::atomic<uint32_t> mask_{0};
  uint64_t next_id_ = 1;
  uint64_t delivered_ = 0, queued_ = 0;
  std::atomic<uint64_t> dropped_{0}, hook_failures_{0};
  bool stop_ = false;
  std::thread thread_;  // started with the first subscription
  uint64_t thread_fork_ = 0;  // base/fork.hpp's generation when thread_ started
};


}  // namespace pm::core
