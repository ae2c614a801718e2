// The wrapper, the composition root: it builds the options, logging, events, usage counts and
// the router that owns every pool, and hands each component of the core what that component
// uses (a model gets an OpsContext, a session the router, ...), never itself. It also runs the
// one maintenance thread (TTL and idle closing, sizing) and the
// operations that span components (dropping a database ends its streams and models' caches).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/options.hpp"
#include "exec/executor.hpp"
#include "fleet/directory.hpp"
#include "observe/events.hpp"
#include "observe/log.hpp"
#include "observe/slow_ops.hpp"
#include "observe/usage.hpp"
#include "ops/context.hpp"
#include "ops/session.hpp"
#include "pool/pause.hpp"
#include "pool/router.hpp"
#include "stream/stream.hpp"

namespace pm::core {

class AdminServer;

class Wrapper : public std::enable_shared_from_this<Wrapper> {
 public:
  // Parses and validates the options; connects eagerly unless coldStart.
  static std::shared_ptr<Wrapper> create(const char *options_json);
  ~Wrapper();

  const Options &options() const { return options_; }
  Router &router() { return router_; }
  const Log &log() const { return *log_; }
  Events &events() { return *events_; }
  Usage &usage() const { return *usage_; }
  StreamRegistry &streams() { return streams_; }
  PauseGate &pauses() { return pauses_; }
  const SlowOps &slow_ops() const { return slow_; }
  // Runs the operations submitted to complete later (pm_async_submit); closed by close().
  Executor &executor() { return executor_; }
  // The tenant directory; throws Error(invalid_argument) when the options give none.
  Directory &directory();
  // The tenant fleet (docs/fleet.md), as JSON: the directory's entries (an array), one entry
  // ("null" when it has none), a placement (the entry the catalog holds afterwards).
  std::string tenants_json();
  std::string tenant_json(const std::string &db);
  std::string place_tenant(const std::string &db, const std::string &cluster);
  // A model's indexes and validator over the fleet (`target_json`: parse_fleet_target's form).
  std::string sync_schema(const class Model &model, const char *target_json);
  std::string schema_drift(const class Model &model, const char *target_json);
  // Online moves (fleet/move.hpp): the report, or the entry afterwards, as JSON.
  std::string move_tenant(const std::string &db, const std::string &to);
  std::string reverse_tenant(const std::string &db);
  std::string complete_move(const std::string &db);
  std::string abort_move(const std::string &db);
  // True when sync_schema's report lists no failure (the C shim's PM_OK or PM_EWRITE).
  static bool sync_succeeded(const std::string &report) { return report.find("\"failed\":0,") != std::string::npos; }

  // Admin actions (the C API's pm_wrapper_pause ..., the admin endpoint's POSTs).
  // `name`: a database or a pool's label; false when it was paused (resumed) already.
  bool pause(const std::string &name);
  bool resume(const std::string &name);
  // Closes the pool labelled `pool` once its clients came back (new checkouts wait meanwhile);
  // false when some were still out after timeout_ms. Error invalid_argument: no such pool.
  bool drain_pool(const std::string &pool, int64_t timeout_ms);
  // Where `db` routes and why, as JSON: {db, pool, cluster (redacted), reason, rule, ruleIndex,
  // sharedPool, rules, poolExists, poolOpen, paused}.
  std::string explain_route(const std::string &db);
  // Replaces the routing rules with `routes_json` (a JSON array of rules, as the routes option).
  void reload_routes(const char *routes_json);
  // The admin endpoint's base URL ("http://127.0.0.1:9400"), or "" when it is off.
  std::string admin_url() const;

  // What a component receives, each holding the wrapper alive without seeing it.
  std::shared_ptr<const OpsContext> ops_context() { return {shared_from_this(), &ops_context_}; }
  std::shared_ptr<Router> shared_router() { return {shared_from_this(), &router_}; }

  // A native session on the pool serving `db` (see txn/session.hpp).
  std::shared_ptr<Session> start_session(const std::string &db, DocView opts);
  // A compensating session (see txn/compensation.hpp); `opts`: {journal?, journalDb?}.
  std::shared_ptr<Session> start_compensating(DocView opts);
  // Rolls back what crashed processes left in the journals (journalDb of the options).
  std::string recover(int64_t older_than_ms);
  // A change stream on a collection, a database or the cluster, counted among the streams.
  std::shared_ptr<EventSource> watch(WatchScope scope, const std::string &db, const std::string &collection,
                                     DocView pipeline, DocView opts);
  // Drops `db` on the server, ends its streams and makes models apply their setup there again.
  void drop_database(const std::string &db);

  // The default database, or nullptr when neither defaultDB nor the URI names one.
  const std::string *default_db() const {
    return options_.default_db ? &*options_.default_db : nullptr;
  }
  void check_db_name(std::string_view name) const;  // throws Error(invalid_db_name)
  // NULL/"" -> the default; *defaulted (when given) says whether it was.
  std::string resolve_db_name(const char *name, bool *defaulted = nullptr) const;
  // The database a destructive call (`what`: "drop database", "copy onto", ...) acts on. It
  // never falls back to the default: NULL or "" throws Error(invalid_db_name).
  std::string destructive_db_name(const char *name, const char *what) const;

  // Health: the shared pool's state, and a ping through the pool serving `db`.
  PoolState state() const { return router_.shared_pool()->state(); }
  double ping(const std::string &db);  // latency in ms

  // Models made on this wrapper, so that dropping a database evicts what they cached about it.
  void register_model(std::weak_ptr<const class Model> model);
  void forget_database(const std::string &db);
  std::vector<std::shared_ptr<const class Model>> models();  // the live ones

  // After something that may shorten the maintenance period (a TTL, a routing rule, a
  // subscriber to connect events): the thread recomputes it now instead of after its sleep.
  void reschedule_maintenance();

  // Shutdown. Both leave the wrapper usable: the next operation reopens what it needs.
  bool close_all(int64_t timeout_ms);  // false when some pool did not drain in time
  void force_close_all();
  // For good (pm_wrapper_close): every operation of every descendant fails with Error closed
  // from now on; open change streams end. Idempotent.
  void close();
  bool is_closed() const { return closed_.load(std::memory_order_acquire); }
  void check_open() const;  // throws Error closed once closed

 private:
  explicit Wrapper(Options options);
  void maintenance_loop();

  Options options_;
  std::atomic<bool> closed_{false};
  std::shared_ptr<Events> events_;
  std::shared_ptr<Log> log_;
  std::shared_ptr<Usage> usage_;
  Router router_;
  PauseGate pauses_{options_.pause_timeout_ms};
  SlowOps slow_{options_.slow_operation_ms, log_};
  OpsContext ops_context_{router_, *log_, options_.retry, options_.max_tracked_databases, pauses_, slow_};
  std::shared_ptr<Directory> directory_;  // the directory option's; the router holds it too
  std::unique_ptr<AdminServer> admin_;  // the admin endpoint, when configured; stopped first

  StreamRegistry streams_;
  std::mutex models_mu_;
  std::vector<std::weak_ptr<const class Model>> models_;

  std::mutex maintenance_mu_;
  std::condition_variable maintenance_wake_;
  bool stopping_ = false;
  bool rescheduled_ = false;
  std::thread maintenance_;
  uint64_t maintenance_fork_ = 0;  // base/fork.hpp: a child process does not have the thread

  // Last, so that it is taken apart first: running jobs finish before the rest goes.
  Executor executor_{2 * async_threads(options_), async_threads(options_)};
  static int async_threads(const Options &options);
};

}  // namespace pm::core
