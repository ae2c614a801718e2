// Fleet schema operations (docs/fleet.md): a model's indexes and validator applied to every
// database matching a glob on the directory's clusters, or to every tenant in the directory,
// with bounded concurrency; resumable (each database's status is written to the catalog's
// database as it finishes, so a sync started again skips what is done); idempotent (creating an
// index or setting a validator that is there changes nothing). The drift report lists every
// database whose indexes or validator differ from the model, and how.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fleet/directory.hpp"
#include "ops/model.hpp"

namespace pm::core {

class Log;

struct SyncReport {
  std::string job;
  int64_t total = 0, applied = 0, already = 0, failed = 0;  // already: done by an earlier run
  std::vector<std::pair<std::string, std::string>> failures;  // "cluster/db", error
  std::string json() const;
};

// The job's name defaults to one derived from the model and the target, so that running the
// same sync again resumes it. Throws Error(invalid_argument) when `job` names a job started
// with another model or target.
SyncReport sync_schema(Directory &directory, Router &router, const Model &model, const FleetTarget &target,
                       const Log &log);

// {"collection", "databases", "drifted": [{db, cluster, missing: [names], extra: [names],
// different: [names], validator: null | "missing" | "different"}]}, ordered by database.
std::string drift_report(Directory &directory, Router &router, const Model &model, const FleetTarget &target);

}  // namespace pm::core
