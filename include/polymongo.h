/* polymongo: many MongoDB databases over a few pooled connections.
 *
 * The umbrella header. Include this one; the module headers under polymongo/ are included
 * here in dependency order and are not meant to be included on their own.
 *
 * Conventions (see README.md, "Error model" and "Ownership"):
 *  - Fallible functions return int: PM_OK (0) or a negative pm_code, and take a last
 *    `pm_error *err` out-parameter that may be NULL.
 *  - A `T **out` parameter gives the caller ownership; free it with pm_T_free (NULL-safe).
 *    Returned `const` pointers are borrowed; each function says how long they stay valid.
 *  - Handles keep their parents alive, so they may be freed in any order.
 *  - Documents cross the ABI as BSON bytes (`const void *doc, size_t len`). Passing
 *    PM_JSON as the length means `doc` is a NUL-terminated Extended JSON string instead.
 */
#ifndef POLYMONGO_H
#define POLYMONGO_H

#include "polymongo/common.h"
#include "polymongo/wrapper.h"
#include "polymongo/model.h"
#include "polymongo/result.h"
#include "polymongo/cursor.h"
#include "polymongo/db.h"
#include "polymongo/lifecycle.h"
#include "polymongo/health.h"
#include "polymongo/events.h"
#include "polymongo/stats.h"
#include "polymongo/session.h"
#include "polymongo/bulk.h"
#include "polymongo/stream.h"

#endif /* POLYMONGO_H */
