// The shared tenant directory (docs/fleet.md): a catalog collection, on a cluster of its own
// choosing, maps a database name to a named cluster (and optional pool settings), with a
// version per entry. Every process loads it, keeps it cached and follows its changes: through a
// change stream where the server has them, by polling every refreshMS where it does not. A
// database with no entry is placed on first use by the placement policy; the catalog's unique
// _id decides between processes placing the same database at once (insert-if-absent).
//
// The catalog's documents: {_id: db, cluster, version, seq, placedBy, options?} and one
// counter {_id: "$seq", n} ("$" is in no database name). Every write of an entry takes a new
// seq from the counter; a follower reads the entries whose seq is above what it had seen
// `kSettleMs` earlier, so that a write whose seq was taken before another's but landed after
// it is still read (a writer slower than that stamps its entry again).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/options.hpp"
#include "pool/router.hpp"

namespace pm::core {

class Log;

struct TenantEntry {
  std::string db, cluster, placed_by;
  bool fenced = false;       // a move holds its writes
  std::string moving_to;     // a move in progress: its target cluster
  std::string move_phase;    // its phase: fence, copy, catch-up, verify
  std::string move_owner;    // the mover holding the move's lease ("" none)
  int64_t lease_until = 0;   // wall ms until which the lease holds (renewed while the move runs)
  std::string source;        // after a move: the cluster that keeps the old copy, read-only
  int64_t version = 0, seq = 0;
  std::string options_json;  // the entry's own pool settings ("" none)
  std::optional<PoolSpec> spec;
};

// A cluster as a placement callback sees it: its name and the tenants the catalog puts there.
struct ClusterLoad {
  std::string name;
  int64_t tenants = 0;
};

// {db, cluster, version, seq, placedBy, options?}
std::string entry_json(const TenantEntry &e);

class Directory : public TenantDirectory {
 public:
  static constexpr int64_t kSettleMs = 5000;
  // How long a write waits on a move's fence before Error moving.
  static constexpr int64_t kFenceWaitMs = 5000;
  // Returns the name of one of `clusters` for `db`; anything else fails the placement.
  using Chooser = std::function<std::string(const std::string &db, const std::vector<ClusterLoad> &clusters)>;

  Directory(const Options &options, Router &router, std::shared_ptr<const Log> log);
  ~Directory() override;
  Directory(const Directory &) = delete;
  Directory &operator=(const Directory &) = delete;

  // Loads the catalog (throws when it cannot be read) and starts following it.
  void start();
  void stop();  // idempotent; the destructor calls it

  std::optional<TenantPlacement> cached(const std::string &db) const override;
  std::optional<TenantPlacement> place(const std::string &db) override;
  void hold_writes(const std::string &db) const override;

  // Places `db` on `cluster` ("" : by the policy, "fewest" when none is configured) unless it
  // has an entry; returns the entry the catalog holds afterwards (insert-if-absent).
  TenantEntry place_on(const std::string &db, const std::string &cluster);
  // The catalog's entries (read now, not from the cache), ordered by name.
  std::vector<TenantEntry> list();
  std::optional<TenantEntry> show(const std::string &db);
  // Changes `db`'s entry if its version is still `version`: `set` and `unset` (documents of
  // fields, either may be null), a new seq, the version one up; then reads it back. False when
  // the entry changed meanwhile (or is gone).
  bool write_entry(const std::string &db, int64_t version, const bson_t *set, const bson_t *unset);
  // Reads the catalog's changes now (the follower does it on every change or poll).
  void refresh();
  // The "callback" placement policy's function (pm_wrapper_set_placement).
  void set_chooser(Chooser chooser);
  // True while changes are followed through a change stream (false: polling).
  bool streaming() const;
  const DirectoryOptions &options() const { return options_; }
  const std::string &journal_db() const { return journal_db_; }
  // The pool of the catalog's cluster (fleet operations keep their state next to the catalog).
  const std::shared_ptr<Pool> &catalog_pool() const { return pool_; }
  // The entries' count per cluster, from the catalog, in the clusters' configured order.
  std::vector<ClusterLoad> loads();

 private:
  std::optional<TenantPlacement> placement_of(const TenantEntry &e) const;
  std::string choose(const std::string &db);
  int64_t next_seq(mongoc_client_t *client);
  std::vector<TenantEntry> read(const bson_t *filter);
  void apply(const std::vector<TenantEntry> &entries);
  void store_locked(const TenantEntry &e);  // mu_ held
  void follow();
  mongoc_collection_t *catalog(const Lease &lease) const;

  const DirectoryOptions &options_;
  const std::string journal_db_;
  Router &router_;
  std::shared_ptr<const Log> log_;
  std::shared_ptr<Pool> pool_;  // the catalog's cluster

  mutable std::mutex mu_;
  std::map<std::string, TenantEntry> entries_;
  std::atomic<int> fenced_{0};  // entries fenced now
  mutable std::condition_variable unfenced_;
  int64_t floor_ = 0, max_seen_ = 0;  // the next read: entries with seq > floor_
  std::deque<std::pair<int64_t, int64_t>> checkpoints_;  // (time ms, max_seen_ then)
  Chooser chooser_;
  std::mutex refresh_mu_;  // one refresh at a time

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::atomic<bool> streaming_{false};
  std::thread follower_;
};

}  // namespace pm::core
