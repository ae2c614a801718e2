#include "pool.hpp"

#include <chrono>
#include <vector>

#include "doc.hpp"
#include "error.hpp"
#include "events.hpp"
#include "log.hpp"
#include "redact.hpp"

namespace pm::core {

namespace {
constexpr int32_t kDefaultWaitQueueTimeoutMs = 10000;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char *close_reason_name(CloseReason reason) {
  switch (reason) {
    case CloseReason::ttl: return "ttl";
    case CloseReason::idle: return "idle";
    case CloseReason::evicted: return "evicted";
    case CloseReason::closed: return "closed";
    case CloseReason::forced: return "forced";
    case CloseReason::error: return "error";
  }
  return "closed";
}

// ---- Lease -------------------------------------------------------------------------------------

Lease &Lease::operator=(Lease &&other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    client_ = other.client_;
    origin_ = other.origin_;
    generation_ = other.generation_;
    other.client_ = nullptr;
  }
  return *this;
}

void Lease::release() noexcept {
  if (client_ != nullptr) pool_->checkin(origin_, client_);
  client_ = nullptr;
  pool_.reset();
}

bool Lease::revoked() const { return pool_ && pool_->generation() != generation_; }

// ---- Pool --------------------------------------------------------------------------------------

std::shared_ptr<Pool> Pool::create(PoolConfig config, std::shared_ptr<const Log> log,
                                   std::shared_ptr<Events> events) {
  return std::shared_ptr<Pool>(new Pool(std::move(config), std::move(log), std::move(events)));
}

Pool::Pool(PoolConfig config, std::shared_ptr<const Log> log, std::shared_ptr<Events> events)
    : config_(std::move(config)), log_(std::move(log)), events_(std::move(events)),
      redacted_uri_(redact_uri(config_.uri)) {
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
  // Every lease holds the pool alive, so every client is back here.
  for (auto &[pool, n] : out_)
    if (pool != pool_) mongoc_client_pool_destroy(pool);
  if (pool_ != nullptr) mongoc_client_pool_destroy(pool_);
  mongoc_uri_destroy(uri_);
}

void Pool::touch() { last_used_ms_ = steady_ms(); }

bool Pool::is_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_ != nullptr;
}

int Pool::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

mongoc_client_pool_t *Pool::open_locked() {
  if (pool_ != nullptr) return pool_;
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
  pool_ = pool;
  set_state(PoolState::connecting);
  log_->info("pool '" + config_.label + "' opened for " + redacted_uri_ + " (max " +
             std::to_string(config_.max_size) + ")");
  events_->emit(Event{EventType::pool_opened, "", config_.label});
  return pool_;
}

Lease Pool::checkout(const std::string &db) {
  (void)db;
  mongoc_client_pool_t *pool;
  uint64_t generation;
  {
    std::unique_lock<std::mutex> lock(mu_);
    generation = generation_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms_);
    bool ready = available_.wait_until(lock, deadline, [&] {
      return generation_ != generation || (!closing_ && in_use_ < config_.max_size);
    });
    if (generation_ != generation)
      throw Error(Code::closed, "pool '" + config_.label + "' was force-closed while waiting", 0, true);
    if (!ready)
      throw Error(Code::timeout, "timed out after " + std::to_string(wait_ms_) +
                                     " ms waiting for a connection from pool '" + config_.label +
                                     "' (all " + std::to_string(config_.max_size) + " in use)",
                  0, true);
    pool = open_locked();
    ++in_use_;
    ++out_[pool];
    touch();
  }
  // Cannot block: fewer than max_size clients are out, and the pool may hold max_size.
  mongoc_client_t *client = mongoc_client_pool_pop(pool);
  return Lease(shared_from_this(), client, pool, generation);
}

void Pool::checkin(mongoc_client_pool_t *origin, mongoc_client_t *client) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  mongoc_client_pool_push(origin, client);
  --in_use_;
  if (--out_[origin] == 0 && origin != pool_) {
    // The last client of a force-closed pool: now it can go.
    out_.erase(origin);
    mongoc_client_pool_destroy(origin);
  }
  touch();
  available_.notify_one();
  if (in_use_ == 0) idle_.notify_all();
}

void Pool::connect() {
  std::vector<Lease> leases;
  int n = config_.min_free > 0 ? config_.min_free : 1;
  for (int i = 0; i < n; ++i) leases.push_back(checkout(""));
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
}

void Pool::record_success(const std::string &db) {
  set_state(PoolState::connected);
  if (db.empty()) return;
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = connected_dbs_.insert(db).second;
  }
  if (first) events_->emit(Event{EventType::connect, db, config_.label});
}

void Pool::record_failure(const std::string &db, const Error &error) {
  Code c = error.code();
  bool connection_level = c == Code::connection || c == Code::auth || c == Code::internal ||
                          (c == Code::timeout && error.before_send());
  if (!connection_level) return;  // the server answered: the pool is fine
  if (c == Code::connection || c == Code::auth) set_state(PoolState::disconnected);
  log_->error(error.what());
  events_->emit(Event{EventType::error, db, config_.label, "", error.what(), static_cast<int32_t>(c)});
}

void Pool::close_locked(CloseReason reason) {
  if (pool_ == nullptr) return;
  mongoc_client_pool_t *old = pool_;
  pool_ = nullptr;
  if (out_[old] == 0) {
    out_.erase(old);
    mongoc_client_pool_destroy(old);
  }
  set_state(PoolState::disconnected);
  for (const std::string &db : connected_dbs_)
    events_->emit(Event{EventType::disconnect, db, config_.label, close_reason_name(reason)});
  connected_dbs_.clear();
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
  available_.notify_all();
  return drained;
}

void Pool::force_close() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;  // revokes every lease taken so far and fails every waiting checkout
  close_locked(CloseReason::forced);
  available_.notify_all();
}

}  // namespace pm::core
