#include "wrapper.hpp"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>

#include "admin/server.hpp"
#include "base/db_name.hpp"
#include "base/json_writer.hpp"
#include "base/error.hpp"
#include "base/fork.hpp"
#include "base/redact.hpp"
#include "base/thread_name.hpp"
#include "fleet/move.hpp"
#include "fleet/schema.hpp"
#include "ops/model.hpp"
#include "transfer/transfer.hpp"
#include "txn/compensation.hpp"
#include "txn/session.hpp"

namespace pm::core {

namespace {
void init_driver_once() {
  // libmongoc must be initialised once per process; it is never cleaned up because other
  // libraries in the process may share it.
  static std::once_flag once;
  std::call_once(once, [] { mongoc_init(); });
}
}  // namespace

Wrapper::Wrapper(Options options)
    : options_(std::move(options)),
      events_(std::make_shared<Events>()),
      log_(std::make_shared<Log>(options_.debug, options_.log_path, parse_log_level(options_.log_level),
                                 events_)),
      usage_(std::make_shared<Usage>(events_, static_cast<size_t>(options_.max_tracked_databases))),
      router_(options_, log_, events_, usage_) {
  log_->attach_driver_log();
}

Wrapper::~Wrapper() {
  admin_.reset();  // no request runs on a wrapper being taken apart
  if (maintenance_fork_ != fork_generation()) renew_after_fork(maintenance_wake_);  // a forked child
  if (directory_) directory_->stop();
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    stopping_ = true;
  }
  maintenance_wake_.notify_all();
  if (maintenance_.joinable()) {
    if (maintenance_.get_id() == std::this_thread::get_id()) maintenance_.detach();
    else join_or_forget(maintenance_, maintenance_fork_);
  }
}

std::shared_ptr<Wrapper> Wrapper::create(const char *options_json) {
  init_driver_once();
  Options options = Options::parse(options_json);
  std::shared_ptr<Wrapper> w(new Wrapper(std::move(options)));
  w->log().info("wrapper created for " + redact_uri(w->options_.mongo_uri) + " (maxPoolSize " +
                std::to_string(w->options_.max_pool_size) + ", coldStart " +
                (w->options_.cold_start ? "true" : "false") + ")");
  if (w->options_.directory.enabled) {  // loaded before anything is routed
    w->directory_ = std::make_shared<Directory>(w->options_, w->router_, w->log_);
    w->directory_->start();
    w->router_.set_directory(w->directory_);
  }
  w->router_.connect_eager();
  if (w->options_.recover_on_start) w->recover(0);
  // The thread holds a plain pointer: the destructor stops it before anything it uses goes.
  Wrapper *raw = w.get();
  w->maintenance_fork_ = fork_generation();
  w->maintenance_ = std::thread([raw] {
    name_this_thread("pm-maintenance");
    raw->maintenance_loop();
  });
  if (w->options_.admin.enabled) w->admin_ = std::make_unique<AdminServer>(*w, w->options_.admin);
  return w;
}

Directory &Wrapper::directory() {
  if (!directory_) throw Error(Code::invalid_argument, "no tenant directory: the options have no directory");
  return *directory_;
}

std::string Wrapper::tenants_json() {
  std::string out = "[";
  for (const TenantEntry &e : directory().list()) out += (out.size() > 1 ? "," : "") + entry_json(e);
  return out + "]";
}

std::string Wrapper::tenant_json(const std::string &db) {
  check_db_name(db);
  auto e = directory().show(db);
  return e ? entry_json(*e) : "null";
}

std::string Wrapper::place_tenant(const std::string &db, const std::string &cluster) {
  check_db_name(db);
  return entry_json(directory().place_on(db, cluster));
}

std::string Wrapper::sync_schema(const Model &model, const char *target_json) {
  FleetTarget target = parse_fleet_target(target_json);
  return pm::core::sync_schema(directory(), router_, model, target, *log_).json();
}

std::string Wrapper::schema_drift(const Model &model, const char *target_json) {
  FleetTarget target = parse_fleet_target(target_json);
  return drift_report(directory(), router_, model, target);
}

std::string Wrapper::move_tenant(const std::string &db, const std::string &to) {
  check_db_name(db);
  return Mover(directory(), options_, log_, events_, usage_).move(db, to).json();
}

std::string Wrapper::reverse_tenant(const std::string &db) {
  check_db_name(db);
  return Mover(directory(), options_, log_, events_, usage_).reverse(db).json();
}

std::string Wrapper::complete_move(const std::string &db) {
  check_db_name(db);
  return Mover(directory(), options_, log_, events_, usage_).complete(db);
}

std::string Wrapper::abort_move(const std::string &db) {
  check_db_name(db);
  return Mover(directory(), options_, log_, events_, usage_).abort(db);
}

void Wrapper::maintenance_loop() {
  std::unique_lock<std::mutex> lock(maintenance_mu_);
  while (!stopping_) {
    auto period = std::chrono::milliseconds(router_.maintenance_period_ms());
    maintenance_wake_.wait_for(lock, period, [&] { return stopping_ || rescheduled_; });
    if (stopping_) break;
    rescheduled_ = false;  // a pass now, then the period recomputed
    lock.unlock();
    try {
      router_.maintain();
    } catch (const std::exception &e) {
      log_->error(std::string("maintenance: ") + e.what());
    }
    lock.lock();
  }
}

void Wrapper::reschedule_maintenance() {
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    rescheduled_ = true;
  }
  maintenance_wake_.notify_all();
}

void Wrapper::check_db_name(std::string_view name) const {
  if (auto why = db_name_problem(name, options_.allow_system_databases))
    throw Error(Code::invalid_db_name, "invalid database name: " + *why);
}

std::string Wrapper::resolve_db_name(const char *name, bool *defaulted) const {
  check_open();
  bool none = name == nullptr || *name == '\0';
  if (defaulted != nullptr) *defaulted = none;
  if (none) {
    if (const std::string *d = default_db()) return *d;
    throw Error(Code::invalid_db_name,
                "invalid database name: none given and no default database is configured "
                "(set defaultDB or name one in mongoURI)");
  }
  check_db_name(name);
  return name;
}

std::string Wrapper::destructive_db_name(const char *name, const char *what) const {
  if (name == nullptr || *name == '\0') core::refuse_default_for(what);
  check_db_name(name);
  return name;
}

double Wrapper::ping(const std::string &db) {
  Lease lease = router_.checkout_recorded(db);
  Pool *pool = lease.pool();
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "ping", 1);
  bson_error_t error;
  auto start = std::chrono::steady_clock::now();
  bool ok = mongoc_client_command_simple(lease.client(), db.c_str(), &cmd, nullptr, nullptr, &error);
  auto elapsed = std::chrono::steady_clock::now() - start;
  bson_destroy(&cmd);
  auto us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  if (!ok) {
    Error e = Error::from_driver(error, "ping " + db);
    pool->record_failure(db, e, us);
    throw e;
  }
  pool->record_success(db, us);
  return std::chrono::duration<double, std::milli>(elapsed).count();
}

void Wrapper::check_open() const {
  if (is_closed()) throw Error(Code::closed, "the wrapper is closed (pm_wrapper_close)");
}

void Wrapper::register_model(std::weak_ptr<const Model> model) {
  check_open();
  std::lock_guard<std::mutex> lock(models_mu_);
  models_.erase(std::remove_if(models_.begin(), models_.end(), [](auto &m) { return m.expired(); }), models_.end());
  models_.push_back(std::move(model));
}

std::vector<std::shared_ptr<const Model>> Wrapper::models() {
  std::vector<std::shared_ptr<const Model>> live;
  std::lock_guard<std::mutex> lock(models_mu_);
  for (auto &m : models_)
    if (auto s = m.lock()) live.push_back(std::move(s));
  return live;
}

void Wrapper::forget_database(const std::string &db) {
  for (auto &m : models()) m->forget(db);
}

bool Wrapper::close_all(int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool all = true;
  for (auto &pool : router_.pools()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    all = pool->close(std::max<int64_t>(0, left.count())) && all;
  }
  log_->info(all ? "all pools closed" : "close_all: some pools still had connections out");
  return all;
}

void Wrapper::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  router_.shut_down();
  streams_.close(nullptr);
  executor_.close();  // queued operations end cancelled; running ones fail with closed
  log_->info("wrapper closed");
}

// The executor's bound for new work: as many threads as connections the pools may hold at once
// (more could only wait for a connection), between 1 and 32; as many again are kept for the
// work on cursors, streams and sessions, which holds a connection already (see exec/executor).
int Wrapper::async_threads(const Options &options) {
  int64_t n = options.max_pool_size;
  for (const auto &d : options.db_specific) n += d.spec.max_connections;
  return static_cast<int>(std::clamp<int64_t>(n, 1, 32));
}

void Wrapper::force_close_all() {
  for (auto &pool : router_.pools()) pool->force_close();
  log_->info("all pools force-closed");
}

std::shared_ptr<Session> Wrapper::start_session(const std::string &db, DocView opts) {
  return std::make_shared<NativeSession>(router_, db, opts);
}

std::shared_ptr<Session> Wrapper::start_compensating(DocView opts) {
  return std::make_shared<CompensatingSession>(shared_router(), CompensationOptions::parse(opts));
}

std::string Wrapper::recover(int64_t older_than_ms) {
  return CompensatingSession::recover(router_, *log_, options_.journal_db, older_than_ms);
}

std::shared_ptr<EventSource> Wrapper::watch(WatchScope scope, const std::string &db, const std::string &collection,
                                            DocView pipeline, DocView opts) {
  auto s = std::make_shared<Stream>(router_, scope, db, collection, pipeline, opts);
  streams_.add(s);
  return s;
}

bool Wrapper::pause(const std::string &name) {
  if (name.empty()) fail(Code::invalid_argument, "pause: no database or pool named");
  bool done = pauses_.pause(name);
  log_->warn("paused " + name + (done ? "" : " (already paused)"));
  return done;
}

bool Wrapper::resume(const std::string &name) {
  if (name.empty()) fail(Code::invalid_argument, "resume: no database or pool named");
  bool done = pauses_.resume(name);
  log_->info("resumed " + name + (done ? "" : " (was not paused)"));
  return done;
}

bool Wrapper::drain_pool(const std::string &label, int64_t timeout_ms) {
  check_open();
  for (auto &pool : router_.pools()) {
    if (pool->label() != label) continue;
    bool drained = pool->close(timeout_ms);
    log_->info("pool " + label + (drained ? " drained and closed" : " not drained in time"));
    return drained;
  }
  fail(Code::invalid_argument, "drain: no pool is labelled '" + label + "'");
}

std::string Wrapper::explain_route(const std::string &db) {
  check_db_name(db);
  Router::Explanation e = router_.explain(db);
  auto paused = pauses_.paused();
  bool is_paused = std::find(paused.begin(), paused.end(), db) != paused.end() ||
                   std::find(paused.begin(), paused.end(), e.pool) != paused.end();
  std::string why = e.reason == "directory" ? "the tenant directory puts it on cluster '" + e.cluster + "' (version " +
                                                  std::to_string(e.version) + ")"
                    : e.reason == "exact"  ? "the database has its own pool (dbSpecific or pm_wrapper_set_db)"
                    : e.reason == "rule" ? "the first routing rule it matches is '" + e.rule + "'" +
                                               (e.shared_pool ? " (one pool for all its databases)" : " (a pool per database)")
                                         : "no own pool and no routing rule matches (" + std::to_string(e.rules) +
                                               " rule(s)): the shared pool";
  JsonWriter j;
  j.begin_object().key("db").value(db).key("pool").value(e.pool).key("cluster").value(redact_uri(e.uri))
      .key("reason").value(e.reason).key("why").value(why);
  j.key("rule");
  if (e.reason == "rule") j.value(e.rule);
  else j.null();
  if (e.reason == "directory") j.key("directoryCluster").value(e.cluster).key("directoryVersion").value(e.version);
  j.key("ruleIndex").value(e.rule_index).key("sharedPool").value(e.shared_pool).key("rules").value(e.rules)
      .key("poolExists").value(e.pool_exists).key("poolOpen").value(e.pool_open).key("paused").value(is_paused)
      .end_object();
  return j.take();
}

void Wrapper::reload_routes(const char *routes_json) {
  check_open();
  std::vector<RouteOptions> routes = parse_routes(routes_json);
  router_.replace_routes(std::move(routes));
  reschedule_maintenance();
}

std::string Wrapper::admin_url() const { return admin_ ? admin_->url() : std::string(); }

void Wrapper::drop_database(const std::string &db) {
  streams_.close(&db);  // before the drop: its streams would only see an invalidate
  core::drop_database(router_, db);
  streams_.close(&db);
  forget_database(db);
}

}  // namespace pm::core
