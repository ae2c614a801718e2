/* polymongo/health.h: connection state and ping. */
#ifndef POLYMONGO_HEALTH_H
#define POLYMONGO_HEALTH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pm_state {
  PM_STATE_NOT_INITIALIZED = 0, /* coldStart and never used                          */
  PM_STATE_CONNECTING = 1,      /* the pool is open; no operation has succeeded yet   */
  PM_STATE_CONNECTED = 2,       /* the last operation reached the server              */
  PM_STATE_DISCONNECTING = 3,   /* pm_wrapper_close_all is draining the pool          */
  PM_STATE_DISCONNECTED = 4     /* closed, or the last operation could not connect    */
} pm_state;

/* The state of the shared pool (PolyMongo's getConnectionState). */
PM_EXTERN pm_state pm_wrapper_state(const pm_wrapper *wrapper);
PM_EXTERN const char *pm_state_name(pm_state state); /* "connected", ... */
PM_EXTERN int pm_wrapper_is_connected(const pm_wrapper *wrapper); /* 1 when connected */

/* Pings `db` (NULL or "": the default database) through the pool that serves it; the
 * round-trip time goes to *latency_ms. */
PM_EXTERN int pm_wrapper_ping(pm_wrapper *wrapper, const char *db, double *latency_ms,
                              pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_HEALTH_H */
