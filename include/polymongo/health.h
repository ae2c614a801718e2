/**
 * @file polymongo/health.h
 * Connection state and ping.
 */
#ifndef POLYMONGO_HEALTH_H
#define POLYMONGO_HEALTH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The state of a pool (PolyMongo's connection states). */
typedef enum pm_state {
  PM_STATE_NOT_INITIALIZED = 0, /**< coldStart and never used                          */
  PM_STATE_CONNECTING = 1,      /**< the pool is open; no operation has succeeded yet   */
  PM_STATE_CONNECTED = 2,       /**< the last operation reached the server              */
  PM_STATE_DISCONNECTING = 3,   /**< pm_wrapper_close_all is draining the pool          */
  PM_STATE_DISCONNECTED = 4     /**< closed, or the last operation could not connect    */
} pm_state;

/**
 * The state of the shared pool (PolyMongo's getConnectionState). No I/O.
 * @param wrapper The wrapper.
 * @return The state (#PM_STATE_NOT_INITIALIZED when `wrapper` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN pm_state pm_wrapper_state(const pm_wrapper *wrapper);
/**
 * A state's name.
 * @param state The state.
 * @return "not initialized", "connecting", "connected", "disconnecting", "disconnected", or
 *         "unknown": a static string (never NULL, never freed).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN const char *pm_state_name(pm_state state); /* "connected", ... */
/**
 * Whether the shared pool is connected (pm_wrapper_state() is #PM_STATE_CONNECTED). No I/O.
 * @param wrapper The wrapper.
 * @return 1 when connected, else 0.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_is_connected(const pm_wrapper *wrapper); /* 1 when connected */

/**
 * Pings a database through the pool that serves it (opening the pool if needed).
 * @param wrapper The wrapper.
 * @param db The database, or NULL or "" for the default database.
 * @param latency_ms Receives the round-trip time in milliseconds, or NULL.
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EDBNAME; #PM_EINVAL; the @ref pm_io_errors "I/O errors".
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN int pm_wrapper_ping(pm_wrapper *wrapper, const char *db, double *latency_ms,
                              pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_HEALTH_H */
