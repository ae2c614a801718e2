/* polymongo/events.h: hooks on connections and pools (PolyMongo's onDbConnect, onDbDisconnect,
 * onTheseDBConnect, plus pool and log events).
 *
 * Callbacks run on the wrapper's single event dispatcher thread, in the order the events
 * happened, never while polymongo holds a lock: a slow or failing callback delays only later
 * callbacks, never an operation. A callback may call polymongo (including unsubscribing). */
#ifndef POLYMONGO_EVENTS_H
#define POLYMONGO_EVENTS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pm_event_type {
  PM_EVENT_CONNECT = 1 << 0,      /* a database's first successful operation on its open pool */
  PM_EVENT_DISCONNECT = 1 << 1,   /* a database's pool closed (reason says why)               */
  PM_EVENT_ERROR = 1 << 2,        /* connection, authentication or pool failure              */
  PM_EVENT_POOL_OPENED = 1 << 3,  /* a pool opened (first use, connect, reopen)             */
  PM_EVENT_POOL_CLOSED = 1 << 4,  /* reason: "ttl", "idle", "evicted", "closed", "forced"    */
  PM_EVENT_POOL_RESIZED = 1 << 5, /* a pool's size limit changed; code is the new limit      */
  PM_EVENT_LOG = 1 << 6,          /* a log line; code is the level (0 debug .. 3 error)      */
  PM_EVENT_ALL = 0x7f
} pm_event_type;

/* Borrowed by the callback: valid only during the call. Strings are never NULL ("" when not
 * applicable) and never contain credentials. */
typedef struct pm_event {
  pm_event_type type;
  const char *db;      /* the database concerned, or ""                              */
  const char *pool;    /* "shared", or the dedicated pool's database or rule pattern */
  const char *reason;  /* pool closed / disconnect: why                              */
  const char *message; /* errors and log lines                                      */
  int32_t code;        /* errors: a pm_code; log: the level; resized: the new limit  */
  int64_t timestamp_ms; /* wall clock, milliseconds since the epoch                  */
} pm_event;

typedef void (*pm_event_fn)(const pm_event *event, void *user_data);

/* Subscribes `fn` to the event types in `mask`, for the databases listed in `dbs` (n_dbs == 0:
 * all databases, and events about no database). `free_user_data` (may be NULL) is called once
 * the subscription is gone for good, also when subscribing fails; it runs on whichever thread
 * drops the last reference (the unsubscribing thread, the dispatcher, or the thread freeing the
 * wrapper). The id for pm_wrapper_unsubscribe goes to *id. */
PM_EXTERN int pm_wrapper_subscribe(pm_wrapper *wrapper, uint32_t mask, const char *const *dbs,
                                   size_t n_dbs, pm_event_fn fn, void *user_data,
                                   void (*free_user_data)(void *), uint64_t *id, pm_error *err);
/* Once it returns, the callback is not running and will not be called again (called from the
 * callback itself, it returns at once and the callback finishes normally). */
PM_EXTERN int pm_wrapper_unsubscribe(pm_wrapper *wrapper, uint64_t id, pm_error *err);

/* Waits up to timeout_ms until every event raised so far has been delivered (PM_ETIMEOUT
 * otherwise). Useful in tests and before shutdown. */
PM_EXTERN int pm_wrapper_flush_events(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err);

/* Callbacks that threw (C++ subscribers) or were dropped because the queue overflowed. */
PM_EXTERN uint64_t pm_wrapper_dropped_events(pm_wrapper *wrapper);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_EVENTS_H */
