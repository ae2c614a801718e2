// What models and the dbs bound from them use of the rest of the core, and nothing more: the
// router that serves each database, the log for retry warnings, the retry policy, the
// bound of per-database tables, the pause gate and the slow-operation log. The
// wrapper (the composition root) builds one and hands it to every model it makes.
#pragma once

#include "config/options.hpp"
#include "observe/log.hpp"
#include "observe/slow_ops.hpp"
#include "pool/pause.hpp"
#include "pool/router.hpp"

namespace pm::core {

struct OpsContext {
  Router &router;
  const Log &log;
  const RetryOptions &retry;
  int64_t max_tracked_databases;  // the bound of a model's table of set-up databases
  const PauseGate &pauses;        // paused databases and pools (admin actions)
  SlowOps &slow;                  // the slow-operation log
};

}  // namespace pm::core
