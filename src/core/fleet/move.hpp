// Online moves of a tenant between the directory's clusters (docs/fleet.md).
//
// Where the source has change streams (a probe: a database-level $changeStream opened on it):
// open the stream first (the resume point precedes the copy), copy without a fence
// (type-exact, with indexes and options: transfer/), apply the stream's changes to the target
// in catch-up rounds until a round brings few, then fence the tenant's writes in every process
// (through its directory entry), wait until every process has seen the fence and in-flight
// writes drained, apply the rest of the stream, verify (per collection: count and a hash of the
// documents' bytes in _id order), flip the entry to the target and lift the fence in the same
// write. The fence covers only the drain, the final catch-up and the verification.
//
// Where it has none (FerretDB), the fence goes up first and covers the whole copy.
//
// The source keeps its copy, routed to by no one, until complete() drops it or reverse()
// moves the tenant back the same way. The move's state is the entry's `move` field: {to, from,
// phase (fence, copy, catch-up, verify), owner, leaseUntil}. The mover holds a lease on it
// (directory.moveLeaseMS, renewed every third of it); while another mover's lease is live,
// move/abort fail with Code::moving (retryable). A mover killed at any phase leaves the entry
// as it was (its fence too); once its lease expired the next move() to the same cluster
// resumes it (the copy starts again from a clean target, with a fresh stream), abort() rolls
// it back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/options.hpp"
#include "fleet/directory.hpp"

namespace pm::core {

class Log;
class Events;
class Usage;

struct MoveReport {
  std::string db, from, to;
  uint64_t documents = 0, collections = 0;
  int attempts = 0;       // copies made until the verification passed
  int64_t fence_ms = 0;   // writes held, from the fence written to the flip
  int64_t copy_ms = 0;    // the last copy and its verification
  bool resumed = false;   // a move left by an earlier mover was finished
  bool catch_up = false;  // a change stream carried the writes made during the copy
  int rounds = 0;         // catch-up rounds before the fence (catch_up only)
  uint64_t applied = 0;   // change events applied to the target (catch_up only)
  int64_t final_ms = 0;   // under the fence: the final catch-up and the verification
  std::string json() const;
};

class Mover {
 public:
  Mover(Directory &directory, const Options &options, std::shared_ptr<const Log> log,
        std::shared_ptr<Events> events, std::shared_ptr<Usage> usage);

  // Moves `db` (which has an entry) to the cluster `to`, or finishes a move to `to` left
  // unfinished. Error invalid_argument: no entry, an unknown cluster, already there, a move to
  // another cluster in progress. Error moving: another mover's lease on the move is live. Any
  // failure rolls the move back (the tenant stays where it was).
  MoveReport move(const std::string &db, const std::string &to);
  // Moves `db` back to the cluster it left (its `source`).
  MoveReport reverse(const std::string &db);
  // Drops the copy a move left on the source; returns the entry.
  std::string complete(const std::string &db);
  // Rolls back a move in progress: the target's partial copy dropped, the fence lifted. Error
  // moving: another mover's lease on it is live.
  std::string abort(const std::string &db);

 private:
  std::string rollback(const TenantEntry &e);  // abort() of the move in e, without the lease check
  std::unique_ptr<class Router> router_for(const std::string &cluster, Options &holder) const;

  Directory &directory_;
  const Options &options_;
  std::shared_ptr<const Log> log_;
  std::shared_ptr<Events> events_;
  std::shared_ptr<Usage> usage_;
};

}  // namespace pm::core
