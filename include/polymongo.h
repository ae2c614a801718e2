/**
 * @file polymongo.h
 * polymongo: many MongoDB databases over a few pooled connections.
 *
 * The umbrella header. Include this one; the module headers under polymongo/ are included
 * here in dependency order and are not meant to be included on their own. The conventions
 * below hold for every function; each function's documentation refers to them instead of
 * repeating them.
 */

/**
 * @mainpage polymongo C API
 *
 * Include `<polymongo.h>` and link `libpolymongo` (pkg-config module `polymongo`, or the CMake
 * package `polymongo::polymongo`). The user guide (docs/guide.md) explains the concepts; this
 * reference documents every function, type and macro of the headers. The conventions below
 * are stated once here.
 *
 * @section pm_errors Error model
 *
 * Fallible functions return `int`: #PM_OK (0) on success or a negative ::pm_code, and take a
 * last `pm_error *err` out-parameter that may be NULL. On failure `err` receives the code,
 * the server's own error code when there was one, and a message that never contains
 * credentials; on success it is reset to PM_OK. pm_last_error() holds the same for the
 * calling thread. Each function lists the codes it can return; in addition:
 *  - every fallible function returns #PM_EINVAL when a required pointer is NULL or a document
 *    or option is malformed (nothing is sent then), and #PM_EINTERNAL on a bug or when memory
 *    runs out;
 *  - @anchor pm_io_errors every function that talks to a server can also return the
 *    <b>I/O errors</b>: #PM_ECONNECT, #PM_ETIMEOUT, #PM_EAUTH, #PM_ESERVER (see
 *    pm_error::server_code) and #PM_ENOTSUP as the server or the driver report them, and
 *    #PM_ECLOSED once the wrapper was closed (pm_wrapper_close()) or the pool it needs was
 *    force-closed (pm_wrapper_force_close_all()).
 *
 * @section pm_ownership Ownership
 *
 *  - A `T **out` parameter gives the caller a new handle, to be freed with `pm_T_free` (every
 *    free function is NULL-safe). When the call fails `*out` is NULL, except for writes,
 *    whose result comes back even when some of their writes failed (see result.h).
 *  - Handles keep their parents alive (a db keeps its model, a model its wrapper), so they
 *    may be freed in any order; the pools close when the last handle is freed.
 *  - A #pm_buf filled by polymongo is owned by the caller: release it with pm_buf_free().
 *    Strings returned as `char *` or through `char **` are owned too: release them with
 *    pm_free().
 *  - Returned `const` pointers are borrowed: each function says how long they stay valid. Never
 *    free them.
 *  - polymongo never keeps a pointer the caller passed in after the call returns (strings and
 *    documents are copied; handles given as arguments may be freed right after), except a
 *    subscription's callback and `user_data` (see pm_wrapper_subscribe()).
 *
 * @section pm_documents Documents
 *
 * Documents cross the ABI as a pair `(const void *doc, size_t len)`: BSON bytes, or, when
 * `len` is #PM_JSON, a NUL-terminated Extended JSON string (relaxed or canonical). A NULL
 * filter matches everything; NULL options mean none. Documents come back as BSON (borrowed
 * from a cursor or a stream, or owned in a #pm_buf); the `_json` variants and
 * pm_bson_to_json() give Extended JSON.
 *
 * @section pm_threads Thread-safety
 *
 * A function is as thread-safe as the handle it operates on: #pm_wrapper, #pm_model, #pm_db
 * (unless bound to a native session) and #pm_result may be used from any number of threads at
 * once; #pm_cursor, #pm_session and #pm_stream by one thread at a time (several handles of
 * these kinds may be used on different threads at once). Functions that take no handle are
 * thread-safe. A handle must not be freed while another thread still uses it.
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
#include "polymongo/admin.h"
#include "polymongo/async.h"
#include "polymongo/fleet.h"

#endif /* POLYMONGO_H */
