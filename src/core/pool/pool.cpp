#include "pool/pool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "base/doc.hpp"
#include "base/error.hpp"
#include "base/fork.hpp"
#include "pool/budget.hpp"
#include "observe/events.hpp"
#include "observe/log.hpp"
#include "base/redact.hpp"
#include "observe/usage.hpp"

namespace pm::core {

namespace {
constexpr int32_t kDefaultWaitQueueTimeoutMs = 10000;
constexpr uint32_t kCheckoutEvents =
    static_cast<uint32_t>(EventType::checkout_started) | static_cast<uint32_t>(EventType::checkout_failed) |
    static_cast<uint32_t>(EventType::checked_out) | static_cast<uint32_t>(EventType::checked_in);
// Set while a new connection's ping runs: the pool's command statistics count operations'
// commands, not this one.
thread_local bool t_establishing = false;
int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}

const char *close_reason_name(CloseReason reason) {
  switch (reason) {
    case CloseReason::ttl: return "ttl";
    case CloseReason::idle: return "idle";
    case CloseReason::evicted: return "evicted";
    case CloseReason::closed: return "closed";
    case CloseReason::forced: return "forced";
    case CloseReason::budget: return "budget";
  }
  return "closed";
}

void Histogram::add(int64_t us) {
  size_t i = 0;
  while (i + 1 < kHistogramBuckets && us > kHistogramBoundsUs[i]) ++i;
  ++buckets[i];
  ++count;
  sum_us += static_cast<uint64_t>(std::max<int64_t>(0, us));
}

// ---- Lease -------------------------------------------------------------------------------------

Lease &Lease::operator=(Lease &&other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    client_ = other.client_;
    origin_ = other.origin_;
    generation_ = other.generation_;
    out_since_us_ = other.out_since_us_;
    other.client_ = nullptr;
  }
  return *this;
}

void Lease::release() noexcept {
  if (client_ != nullptr) pool_->checkin(origin_, client_, out_since_us_);
  client_ = nullptr;
  pool_.reset();
}

bool Lease::revoked() const { return pool_ && pool_->generation() != generation_; }

// ---- Pool --------------------------------------------------------------------------------------

std::shared_ptr<Pool> Pool::create(PoolConfig config, std::shared_ptr<const Log> log,
                                   std::shared_ptr<Events> events, std::shared_ptr<Usage> usage) {
  std::shared_ptr<Pool> pool(new Pool(std::move(config), std::move(log), std::move(events), std::move(usage)));
  if (pool->config_.budget) pool->config_.budget->add_pool(pool);
  return pool;
}

namespace {
// Pool ids and opening epochs come from one counter, so no two are ever equal.
uint64_t next_pool_number() {
  static std::atomic<uint64_t> next{1};
  return next++;
}
}  // namespace

Pool::Pool(PoolConfig config, std::shared_ptr<const Log> log, std::shared_ptr<Events> events,
           std::shared_ptr<Usage> usage)
    : config_(std::move(config)), log_(std::move(log)), events_(std::move(events)), usage_(std::move(usage)),
      id_(next_pool_number()), redacted_uri_(redact_uri(config_.uri)) {
  created_ms_ = now_wall_ms();
  limit_ = config_.max_size;
  if (config_.sizing.enabled) {
    limit_ = std::clamp(config_.max_size, config_.sizing.min, config_.sizing.max);
    config_.max_size = config_.sizing.max;  // libmongoc's bound; the gate enforces limit_
  }
  last_sizing_ms_ = steady_ms();
  bson_error_t error;
  uri_ = mongoc_uri_new_with_error(config_.uri.c_str(), &error);
  if (uri_ == nullptr) throw Error(Code::invalid_argument, std::string("mongoURI: ") + error.message);
  wait_ms_ = mongoc_uri_get_option_as_int32(uri_, MONGOC_URI_WAITQUEUETIMEOUTMS,
                                            kDefaultWaitQueueTimeoutMs);
  if (wait_ms_ <= 0) wait_ms_ = kDefaultWaitQueueTimeoutMs;
  // Set through the URI rather than the pool's setters, which libmongoc guards with a mutex
  // that sanitizers cannot see into.
  mongoc_uri_set_option_as_int32(uri_, MONGOC_URI_MAXPOOLSIZE, config_.max_size);
  if (mongoc_uri_get_appname(uri_) == nullptr) mongoc_uri_set_appname(uri_, "polymongo");
  last_used_ms_ = steady_ms();
}

Pool::~Pool() {
  // Every client is back here: a lease holds its pool alive. In a forked child what the parent
  // opened is the parent's (forget_parent_locked).
  if (fork_generation_ != fork_generation()) {
    mongoc_uri_destroy(uri_);
    return;
  }
  int held = held_;
  for (auto &[pool, r] : retired_) {
    mongoc_client_pool_destroy(pool);
    held += r.held;
  }
  if (pool_ != nullptr) mongoc_client_pool_destroy(pool_);
  if (config_.budget) config_.budget->release(held);
  mongoc_uri_destroy(uri_);
}

// Called on every checkin, hence the coarse clocks.
void Pool::touch() {
  last_used_ms_.store(steady_ms(), std::memory_order_relaxed);
  last_used_wall_ms_.store(coarse_wall_ms(), std::memory_order_relaxed);
}

bool Pool::is_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_ != nullptr;
}

mongoc_client_pool_t *Pool::open_locked() {
  if (pool_ != nullptr) return pool_;
  if (shut_down_.load(std::memory_order_relaxed)) throw Error(Code::closed, "the wrapper is closed (pm_wrapper_close)");
  mongoc_client_pool_t *pool = mongoc_client_pool_new(uri_);
  if (pool == nullptr) {
    // libmongoc refuses a pool only when its topology is invalid, e.g. a failed SRV lookup.
    std::string message = "cannot open a pool for " + redacted_uri_ +
                          " (for mongodb+srv://, the DNS SRV lookup failed)";
    log_->error(message);
    Event e{EventType::error, "", config_.label, "", message, static_cast<int32_t>(Code::connection)};
    events_->emit(std::move(e));
    throw Error(Code::connection, message, 0, true);
  }
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  mongoc_apm_callbacks_t *apm = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_succeeded_cb(apm, &Pool::on_command_succeeded);
  mongoc_apm_set_command_failed_cb(apm, &Pool::on_command_failed);
  mongoc_client_pool_set_apm_callbacks(pool, apm, this);  // copied by libmongoc
  mongoc_apm_callbacks_destroy(apm);
  pool_ = pool;
  fork_generation_ = fork_generation();
  epoch_ = next_pool_number();
  opened_clients_ = 0;
  set_state(PoolState::connecting);
  log_->info("pool '" + config_.label + "' opened for " + redacted_uri_ + " (max " +
             std::to_string(config_.max_size) + ")");
  events_->emit(Event{EventType::pool_opened, "", config_.label});
  return pool_;
}

Lease Pool::checkout(const std::string &db) {
  if (!events_->wants_any(kCheckoutEvents)) return checkout_counted(db, 0);
  int64_t started_us = now_us();
  if (events_->wants(EventType::checkout_started))
    events_->emit(Event{EventType::checkout_started, db, config_.label});
  try {
    Lease lease = checkout_counted(db, started_us);
    if (events_->wants(EventType::checked_out)) {
      Event e{EventType::checked_out, db, config_.label};
      e.duration_us = now_us() - started_us;
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = connections_.find(lease.client()); it != connections_.end()) e.connection = it->second;
      events_->emit(std::move(e));
    }
    return lease;
  } catch (const Error &error) {
    emit_checkout_failed(db, error, started_us);
    throw;
  }
}

void Pool::emit_checkout_failed(const std::string &db, const Error &error, int64_t started_us) {
  if (!events_->wants(EventType::checkout_failed)) return;
  const char *reason = error.code() == Code::timeout     ? "timeout"
                       : error.code() == Code::closed    ? "poolClosed"
                       : error.code() == Code::throttled ? "budget"
                                                         : "connectionError";
  Event e{EventType::checkout_failed, db, config_.label, reason, error.what(), static_cast<int32_t>(error.code())};
  e.duration_us = now_us() - started_us;
  events_->emit(std::move(e));
}

Lease Pool::checkout_counted(const std::string &db, int64_t started_us) {
  mongoc_client_pool_t *pool;
  uint64_t generation;
  mongoc_client_t *client;
  bool fresh;
  uint64_t id = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (fork_generation_ != fork_generation()) forget_parent_locked();
    generation = generation_;
    // The deadline is read, and the queues touched, only when there is something to wait for.
    if (closing_ || in_use_ >= limit_ || waiting_ > 0) {
      wait_turn(lock, db, generation);
    } else {
      ++in_use_;
      ++immediate_checkouts_;
    }
    int reserved = 0;  // budget taken for this checkout
    try {
      // A new connection waits for one of maxConnecting slots, unless a client comes back first.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms_);
      for (;;) {
        if (config_.budget) reserve_budget_locked(lock, reserved);
        if (generation_ != generation)
          throw Error(Code::closed, "pool '" + config_.label + "' was force-closed while waiting", 0, true);
        if (out_ + 1 <= opened_clients_ || connecting_ < config_.max_connecting) break;
        if (connecting_done_.wait_until(lock, deadline) == std::cv_status::timeout && connecting_ >= config_.max_connecting &&
            out_ + 1 > opened_clients_) {
          ++timeouts_;
          throw Error(Code::timeout, "timed out after " + std::to_string(wait_ms_) + " ms waiting for one of pool '" +
                                         config_.label + "''s " + std::to_string(config_.max_connecting) +
                                         " connection slots (maxConnecting)", 0, true);
        }
      }
      bool opening = pool_ == nullptr;
      pool = open_locked();
      fresh = out_ + 1 > opened_clients_;
      int used = config_.budget ? (opening ? ClusterBudget::monitors_of(config_.uri) : 0) + (fresh ? 1 : 0) : 0;
      held_ += used;
      if (reserved > used) config_.budget->release(reserved - used);
    } catch (...) {
      if (generation_ == generation) {  // a forced close let go of every client already
        --in_use_;
        grant_locked();
      }
      if (config_.budget) config_.budget->release(reserved);
      throw;
    }
    peak_in_use_ = std::max(peak_in_use_, in_use_);
    // libmongoc's pool makes a client only when none is idle, and keeps every client it made,
    // so the most ever out at once since it opened is the number of connections it holds.
    ++out_;
    if (fresh) {
      opened_clients_ = out_;
      ++connecting_;
      id = ++next_connection_;
    }
  }
  // Cannot block: fewer than max_size clients are out, and the pool may hold max_size.
  client = mongoc_client_pool_pop(pool);
  Lease lease(shared_from_this(), client, pool, generation, started_us);
  if (fresh) establish(client, id, db);
  return lease;
}

void Pool::reserve_budget_locked(std::unique_lock<std::mutex> &lock, int &reserved) {
  for (;;) {
    int need = (pool_ == nullptr ? ClusterBudget::monitors_of(config_.uri) : 0) + (out_ + 1 > opened_clients_ ? 1 : 0);
    if (need <= reserved) return;
    lock.unlock();
    try {
      config_.budget->acquire(need - reserved, this);
    } catch (...) {
      lock.lock();
      throw;
    }
    reserved = need;
    lock.lock();
  }
}

void Pool::establish(mongoc_client_t *client, uint64_t id, const std::string &db) {
  int64_t started = now_us();
  if (events_->wants(EventType::connection_created)) {
    Event e{EventType::connection_created, db, config_.label};
    e.connection = id;
    events_->emit(std::move(e));
  }
  bson_t ping = BSON_INITIALIZER;
  BSON_APPEND_INT32(&ping, "ping", 1);
  bson_error_t error;
  t_establishing = true;
  bool ok = mongoc_client_command_simple(client, "admin", &ping, nullptr, nullptr, &error);
  t_establishing = false;
  bson_destroy(&ping);
  // The event goes first: while the slot is held, no other connection's "created" comes before it.
  Event e{ok ? EventType::connection_ready : EventType::connection_closed, db, config_.label, ok ? "" : "error"};
  e.duration_us = now_us() - started;
  e.connection = id;
  if (!ok) e.message = error.message;
  if (events_->wants(e.type)) events_->emit(std::move(e));
  {
    std::lock_guard<std::mutex> lock(mu_);
    --connecting_;
    if (ok) connections_[client] = id;
  }
  connecting_done_.notify_all();
  if (!ok) {
    throw Error::from_driver(error, "connect pool '" + config_.label + "'");  // the operation records it
  }
}

void Pool::forget_parent_locked() {
  // The parent's libmongoc pools, their clients and sockets stay as they are: destroying them
  // here would end the parent's sessions on its sockets and join monitor threads this process
  // does not have. They are left alone (a bounded leak, once per fork).
  bool had_pool = pool_ != nullptr || !retired_.empty();
  pool_ = nullptr;
  retired_.clear();
  held_ = 0;
  out_ = in_use_ = waiting_ = connecting_ = opened_clients_ = 0;
  connections_.clear();
  queues_.clear();
  turns_.clear();
  ++generation_;  // leases taken in the parent are revoked
  ready_ = false;
  set_state(PoolState::not_initialized);
  fork_generation_ = fork_generation();
  if (had_pool)
    log_->info("pool '" + config_.label + "': this process was forked; the parent's connections are left to it");
}

// Queues the checkout behind its database's earlier ones; returns once grant_locked counted a
// client for it, throws on timeout or a forced close.
void Pool::wait_turn(std::unique_lock<std::mutex> &lock, const std::string &db, uint64_t generation) {
  const std::string &key = config_.fair ? db : std::string();
  Waiter me;
  auto started = std::chrono::steady_clock::now();
  auto &queue = queues_[key];
  if (queue.empty()) turns_.push_back(key);
  queue.push_back(&me);
  ++waiting_;
  usage_->count(db, Usage::Counter::queued);
  grant_locked();  // a client may be free (a close that ended, a raised limit)
  auto deadline = started + std::chrono::milliseconds(wait_ms_);
  while (!me.granted && generation_ == generation)
    if (me.turn.wait_until(lock, deadline) == std::cv_status::timeout) break;
  --waiting_;
  if (generation_ != generation)  // force_close emptied the queues and let go of every client
    throw Error(Code::closed, "pool '" + config_.label + "' was force-closed while waiting", 0, true);
  if (me.granted) {
    waits_.add(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
                   .count());
    return;
  }
  remove_waiter_locked(key, &me);
  ++timeouts_;
  throw Error(Code::timeout, "timed out after " + std::to_string(wait_ms_) +
                                 " ms waiting for a connection from pool '" + config_.label + "' (all " +
                                 std::to_string(limit_) + " in use)",
              0, true);
}

void Pool::grant_locked() {
  while (!closing_ && in_use_ < limit_ && !turns_.empty()) {
    std::string key = std::move(turns_.front());
    turns_.pop_front();
    auto it = queues_.find(key);
    Waiter *next = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) queues_.erase(it);
    else turns_.push_back(std::move(key));  // its next checkout waits for every other database's
    next->granted = true;
    ++in_use_;
    next->turn.notify_one();
  }
}

void Pool::remove_waiter_locked(const std::string &key, Waiter *waiter) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  auto &queue = it->second;
  queue.erase(std::remove(queue.begin(), queue.end(), waiter), queue.end());
  if (!queue.empty()) return;
  queues_.erase(it);
  turns_.erase(std::remove(turns_.begin(), turns_.end(), key), turns_.end());
}

void Pool::checkin(mongoc_client_pool_t *origin, mongoc_client_t *client, int64_t out_since_us) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (out_since_us != 0 && events_->wants(EventType::checked_in)) {
    Event e{EventType::checked_in, "", config_.label};
    e.duration_us = now_us() - out_since_us;
    if (auto it = connections_.find(client); origin == pool_ && it != connections_.end()) e.connection = it->second;
    events_->emit(std::move(e));
  }
  mongoc_client_pool_push(origin, client);
  if (origin == pool_) {
    --out_;
    --in_use_;
    if (connecting_ > 0) connecting_done_.notify_all();  // a waiting new connection may take this one
  } else if (auto it = retired_.find(origin); it != retired_.end() && --it->second.out == 0) {
    // The last client of a closed pool: now it can go.
    if (config_.budget) config_.budget->release(it->second.held);
    retired_.erase(it);
    mongoc_client_pool_destroy(origin);
  }
  touch();
  if (waiting_ > 0) grant_locked();
  if (in_use_ == 0) idle_.notify_all();
}

void Pool::connect() {
  std::vector<Lease> leases;
  int n = config_.min_free > 0 ? config_.min_free : 1;
  leases.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    try {
      leases.push_back(checkout());  // a new connection answers a ping in there (establish)
    } catch (const Error &e) {
      if (e.code() != Code::connection && e.code() != Code::auth) throw;
      log_->error(e.what());
      record_failure("", e);
      throw;
    }
  }
  for (Lease &lease : leases) {
    bson_t ping = BSON_INITIALIZER;
    BSON_APPEND_INT32(&ping, "ping", 1);
    bson_error_t error;
    bool ok = mongoc_client_command_simple(lease.client(), "admin", &ping, nullptr, nullptr, &error);
    bson_destroy(&ping);
    if (!ok) {
      Error e = Error::from_driver(error, "connect pool '" + config_.label + "'");
      log_->error(e.what());
      record_failure("", e);
      throw e;
    }
  }
  record_success("");
  ready_ = true;  // warm: the minimum connections are open and answered a ping
}

void Pool::record_success(const std::string &db, uint64_t latency_us) {
  // CMAP's "pool ready": the first success since the pool opened or was cleared.
  if (state_.load(std::memory_order_relaxed) != static_cast<int>(PoolState::connected) &&
      state_.exchange(static_cast<int>(PoolState::connected)) != static_cast<int>(PoolState::connected) &&
      events_->wants(EventType::pool_ready))
    events_->emit(Event{EventType::pool_ready, "", config_.label});
  usage_->record(db, true, latency_us, id_, config_.label, epoch_.load(std::memory_order_relaxed));
}

void Pool::record_failure(const std::string &db, const Error &error, uint64_t latency_us) {
  usage_->record(db, false, latency_us, id_, config_.label, 0);
  Code c = error.code();
  // The pool's errors are its own: no connection, authentication, a broken or timed-out
  // socket, a forced close, a wait for a connection that ran out. What the server answered (a
  // duplicate key, a refused write, maxTimeMS) is counted apart: the pool served it fine. The
  // caller's invalid input is in neither (the database's usage counts every failure).
  bool server_answer = c == Code::duplicate_key || c == Code::write || c == Code::server ||
                       c == Code::not_supported || (c == Code::timeout && error.server_code() != 0);
  bool caller_input = c == Code::invalid_argument || c == Code::invalid_db_name || c == Code::throttled;
  if (!caller_input) {
    ++(server_answer ? server_errors_ : errors_);
    std::lock_guard<std::mutex> lock(mu_);
    (server_answer ? last_server_error_ : last_error_) = redact_text(error.what());
  }
  bool connection_level = c == Code::connection || c == Code::auth || c == Code::internal ||
                          (c == Code::timeout && error.before_send());
  if (!connection_level) return;  // the server answered, or the pool was closed: the pool is fine
  if (c == Code::connection || c == Code::auth) {
    // libmongoc drops a server's connections on a network error: CMAP's "pool cleared".
    bool was_ready = state_.exchange(static_cast<int>(PoolState::disconnected)) == static_cast<int>(PoolState::connected);
    if (was_ready && c == Code::connection && events_->wants(EventType::pool_cleared))
      events_->emit(Event{EventType::pool_cleared, db, config_.label, "error", error.what(), static_cast<int32_t>(c)});
  }
  log_->error(error.what());
  events_->emit(Event{EventType::error, db, config_.label, "", error.what(), static_cast<int32_t>(c)});
}

void Pool::close_locked(CloseReason reason) {
  if (fork_generation_ != fork_generation()) forget_parent_locked();  // never the parent's pool
  if (pool_ == nullptr) return;
  mongoc_client_pool_t *old = pool_;
  pool_ = nullptr;
  if (out_ == 0) {
    mongoc_client_pool_destroy(old);
    if (config_.budget) config_.budget->release(held_);
  } else {
    retired_[old] = Retired{out_, held_};  // destroyed when its last client comes back
  }
  held_ = 0;
  if (events_->wants(EventType::connection_closed))
    for (const auto &[client, id] : connections_) {
      Event e{EventType::connection_closed, "", config_.label, "poolClosed"};
      e.connection = id;
      events_->emit(std::move(e));
    }
  connections_.clear();
  out_ = 0;
  opened_clients_ = 0;
  ready_ = false;
  set_state(PoolState::disconnected);
  // After every connect this opening caused (disconnect_all merges the logs first).
  for (const std::string &db : usage_->disconnect_all(id_, epoch_.load()))
    events_->emit(Event{EventType::disconnect, db, config_.label, close_reason_name(reason)});
  log_->info(std::string("pool '") + config_.label + "' closed (" + close_reason_name(reason) + ")");
  events_->emit(Event{EventType::pool_closed, "", config_.label, close_reason_name(reason)});
}

bool Pool::close_if_idle(CloseReason reason, int64_t idle_for_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_ == nullptr || in_use_ > 0 || closing_) return false;
  if (steady_ms() - last_used_ms_ < idle_for_ms) return false;
  close_locked(reason);
  return true;
}

bool Pool::close(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  if (pool_ == nullptr && in_use_ == 0) return true;
  closing_ = true;
  PoolState before = state();
  set_state(PoolState::disconnecting);
  bool drained = idle_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return in_use_ == 0; });
  if (drained) close_locked(CloseReason::closed);
  else set_state(before);
  closing_ = false;
  grant_locked();
  return drained;
}

void Pool::shut_down() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_.store(true, std::memory_order_release);
  }
  force_close();
}

void Pool::force_close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;  // revokes every lease taken so far and fails every waiting checkout
    close_locked(CloseReason::forced);
    // The closed pool's clients no longer count: a call still holding one cannot keep the
    // next operation waiting for a connection it will never give back to the new pool.
    in_use_ = 0;
    for (auto &[key, queue] : queues_)
      for (Waiter *w : queue) w->turn.notify_one();  // each finds the generation changed
    connecting_done_.notify_all();
    queues_.clear();
    turns_.clear();
    idle_.notify_all();
  }
  // Idle holders give their clients back now; the last one back destroys the closed libmongoc
  // pool, and with it every socket it had.
  std::lock_guard<std::mutex> lock(revocable_mu_);
  std::unordered_set<Revocable *> holders;
  holders.swap(revocables_);
  for (Revocable *h : holders) h->revoke();
}

void Pool::add_revocable(Revocable *holder) {
  std::lock_guard<std::mutex> lock(revocable_mu_);
  revocables_.insert(holder);
}

void Pool::remove_revocable(Revocable *holder) {
  std::lock_guard<std::mutex> lock(revocable_mu_);
  revocables_.erase(holder);
}

// ---- metrics -----------------------------------------------------------------------------------

void Pool::on_command_succeeded(const mongoc_apm_command_succeeded_t *event) {
  if (t_establishing) return;
  static_cast<Pool *>(mongoc_apm_command_succeeded_get_context(event))
      ->record_command(mongoc_apm_command_succeeded_get_duration(event), true);
}

void Pool::on_command_failed(const mongoc_apm_command_failed_t *event) {
  if (t_establishing) return;
  static_cast<Pool *>(mongoc_apm_command_failed_get_context(event))
      ->record_command(mongoc_apm_command_failed_get_duration(event), false);
}

void Pool::record_command(int64_t duration_us, bool ok) {
  std::lock_guard<std::mutex> lock(commands_mu_);
  ++commands_;
  if (!ok) ++failed_commands_;
  int64_t us = std::max<int64_t>(0, duration_us);
  commands_total_us_ += static_cast<uint64_t>(us);
  command_time_.add(us);
  if (command_samples_us_.size() < kCommandSamples) command_samples_us_.push_back(us);
  else command_samples_us_[next_sample_] = us;
  next_sample_ = (next_sample_ + 1) % kCommandSamples;
}

void Pool::pin(PinKind kind, int delta) { pinned_[static_cast<int>(kind)] += delta; }

void Pool::evaluate_sizing() {
  const PoolSizing &z = config_.sizing;
  if (!z.enabled) return;
  int64_t now = steady_ms();
  int old_limit, new_limit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_sizing_ms_ < z.interval_ms) return;
    last_sizing_ms_ = now;
    // Demand: what was in use at the busiest moment, plus whoever had to wait for it.
    double utilization = static_cast<double>(peak_in_use_ + waiting_) / static_cast<double>(limit_);
    peak_in_use_ = in_use_;
    old_limit = new_limit = limit_;
    if (utilization >= z.scale_up_at && limit_ < z.max)
      new_limit = std::min(z.max, limit_ + std::max(1, limit_ / 2));
    else if (utilization <= z.scale_down_at && limit_ > z.min)
      new_limit = std::max(z.min, limit_ - std::max(1, limit_ / 4));
    limit_ = new_limit;
    if (new_limit > old_limit) grant_locked();
  }
  if (new_limit == old_limit) return;
  const char *direction = new_limit > old_limit ? "up" : "down";
  log_->info("pool '" + config_.label + "' resized " + direction + " from " + std::to_string(old_limit) +
             " to " + std::to_string(new_limit));
  events_->emit(Event{EventType::pool_resized, "", config_.label, direction,
                      "from " + std::to_string(old_limit), new_limit});
}

PoolSnapshot Pool::snapshot() const {
  PoolSnapshot s;
  s.label = config_.label;
  s.uri = redacted_uri_;
  s.state = state();
  s.dedicated = config_.dedicated;
  s.ready = ready_;
  s.max_size = config_.max_size;
  s.min_size = config_.sizing.enabled ? config_.sizing.min : config_.min_free;
  s.pinned_cursors = pinned_[0];
  s.pinned_sessions = pinned_[1];
  s.pinned_streams = pinned_[2];
  s.errors = errors_;
  s.server_errors = server_errors_;
  s.created_ms = created_ms_;
  s.last_used_ms = last_used_wall_ms_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.open = pool_ != nullptr;
    s.limit = limit_;
    s.in_use = in_use_;
    s.waiting = waiting_;
    s.open_connections = opened_clients_;
    s.idle = std::max(0, s.open_connections - in_use_);
    s.last_error = last_error_;
    s.last_server_error = last_server_error_;
    s.timeouts = timeouts_;
    s.wait_time = waits_;
    s.wait_time.buckets[0] += immediate_checkouts_;
    s.wait_time.count += immediate_checkouts_;
  }
  s.databases = usage_->served_by(id_);
  std::vector<int64_t> samples;
  {
    std::lock_guard<std::mutex> lock(commands_mu_);
    s.commands = commands_;
    s.failed_commands = failed_commands_;
    s.command_time = command_time_;
    s.mean_ms = commands_ ? static_cast<double>(commands_total_us_) / 1000.0 / static_cast<double>(commands_) : 0;
    samples = command_samples_us_;
  }
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) {
      auto i = static_cast<size_t>(std::lround(q * static_cast<double>(samples.size() - 1)));
      return static_cast<double>(samples[std::min(i, samples.size() - 1)]) / 1000.0;
    };
    s.p50_ms = at(0.50);
    s.p99_ms = at(0.99);
  }
  return s;
}

}  // namespace pm::core
