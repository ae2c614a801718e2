#include "pool.hpp"

#include <chrono>
#include <vector>

#include "doc.hpp"
#include "error.hpp"
#include "log.hpp"
#include "options.hpp"

namespace pm::core {

namespace {
constexpr int32_t kDefaultWaitQueueTimeoutMs = 10000;
}

Lease::Lease(Lease &&other) noexcept
    : pool_(std::move(other.pool_)), client_(other.client_) {
  other.client_ = nullptr;
}

Lease &Lease::operator=(Lease &&other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    client_ = other.client_;
    other.client_ = nullptr;
  }
  return *this;
}

void Lease::release() noexcept {
  if (client_ != nullptr) pool_->checkin(client_);
  client_ = nullptr;
  pool_.reset();
}

std::shared_ptr<Pool> Pool::create(PoolConfig config, std::shared_ptr<const Log> log) {
  return std::shared_ptr<Pool>(new Pool(std::move(config), std::move(log)));
}

Pool::Pool(PoolConfig config, std::shared_ptr<const Log> log)
    : config_(std::move(config)), log_(std::move(log)), redacted_uri_(redact_uri(config_.uri)) {
  bson_error_t error;
  uri_ = mongoc_uri_new_with_error(config_.uri.c_str(), &error);
  if (uri_ == nullptr) throw Error(Code::invalid_argument, std::string("mongoURI: ") + error.message);
  wait_ms_ = mongoc_uri_get_option_as_int32(uri_, MONGOC_URI_WAITQUEUETIMEOUTMS,
                                            kDefaultWaitQueueTimeoutMs);
  if (wait_ms_ <= 0) wait_ms_ = kDefaultWaitQueueTimeoutMs;
}

Pool::~Pool() {
  // Every lease holds the pool alive, so all clients are back in the queue here.
  if (pool_ != nullptr) {
    mongoc_client_pool_destroy(pool_);
    log_->info("pool '" + config_.label + "' closed");
  }
  mongoc_uri_destroy(uri_);
}

mongoc_client_pool_t *Pool::open_locked() {
  if (pool_ != nullptr) return pool_;
  mongoc_client_pool_t *pool = mongoc_client_pool_new(uri_);
  if (pool == nullptr) {
    // libmongoc refuses a pool only when its topology is invalid, e.g. a failed SRV lookup.
    std::string message = "cannot open a pool for " + redacted_uri_ +
                          " (for mongodb+srv://, the DNS SRV lookup failed)";
    log_->error(message);
    throw Error(Code::connection, message);
  }
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  mongoc_client_pool_max_size(pool, static_cast<uint32_t>(config_.max_size));
  mongoc_client_pool_set_appname(pool, "polymongo");
  pool_ = pool;
  log_->info("pool '" + config_.label + "' opened for " + redacted_uri_ + " (max " +
             std::to_string(config_.max_size) + ")");
  return pool_;
}

Lease Pool::checkout() {
  mongoc_client_pool_t *pool;
  {
    std::unique_lock<std::mutex> lock(mu_);
    pool = open_locked();
    if (in_use_ >= config_.max_size &&
        !available_.wait_for(lock, std::chrono::milliseconds(wait_ms_),
                             [&] { return in_use_ < config_.max_size; })) {
      throw Error(Code::timeout, "timed out after " + std::to_string(wait_ms_) +
                                     " ms waiting for a connection from pool '" +
                                     config_.label + "' (all " +
                                     std::to_string(config_.max_size) + " in use)");
    }
    ++in_use_;
  }
  // Cannot block: fewer than max_size clients are out, and the pool may hold max_size.
  mongoc_client_t *client = mongoc_client_pool_pop(pool);
  if (client == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    --in_use_;
    available_.notify_one();
    throw Error(Code::internal, "libmongoc returned no client from pool '" + config_.label + "'");
  }
  return Lease(shared_from_this(), client);
}

void Pool::checkin(mongoc_client_t *client) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  mongoc_client_pool_push(pool_, client);
  --in_use_;
  available_.notify_one();
}

void Pool::connect() {
  std::vector<Lease> leases;
  int n = config_.min_free > 0 ? config_.min_free : 1;
  for (int i = 0; i < n; ++i) leases.push_back(checkout());
  for (Lease &lease : leases) {
    bson_t ping = BSON_INITIALIZER;
    BSON_APPEND_INT32(&ping, "ping", 1);
    bson_error_t error;
    bool ok = mongoc_client_command_simple(lease.client(), "admin", &ping, nullptr, nullptr, &error);
    bson_destroy(&ping);
    if (!ok) {
      Error e = Error::from_driver(error, "connect pool '" + config_.label + "'");
      log_->error(e.what());
      throw e;
    }
  }
}

}  // namespace pm::core
