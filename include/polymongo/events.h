/**
 * @file polymongo/events.h
 * Hooks on connections and pools (PolyMongo's onDbConnect, onDbDisconnect, onTheseDBConnect,
 * plus pool and log events).
 *
 * Callbacks run on the wrapper's single event dispatcher thread, in the order the events
 * happened, never while polymongo holds a lock: a slow or failing callback delays only later
 * callbacks, never an operation. A callback may call polymongo (including unsubscribing).
 */
#ifndef POLYMONGO_EVENTS_H
#define POLYMONGO_EVENTS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The kinds of events; a subscription's mask is a bitwise OR of them. */
typedef enum pm_event_type {
  PM_EVENT_CONNECT = 1 << 0,      /**< a database's first successful operation on its open pool */
  PM_EVENT_DISCONNECT = 1 << 1,   /**< a database's pool closed (reason says why)               */
  PM_EVENT_ERROR = 1 << 2,        /**< connection, authentication or pool failure              */
  PM_EVENT_POOL_OPENED = 1 << 3,  /**< a pool opened (first use, connect, reopen): CMAP's pool created */
  PM_EVENT_POOL_CLOSED = 1 << 4,  /**< reason: "ttl", "idle", "evicted", "closed", "forced", "budget" */
  PM_EVENT_POOL_RESIZED = 1 << 5, /**< a pool's size limit changed; code is the new limit      */
  PM_EVENT_LOG = 1 << 6,          /**< a log line; code is the level (0 debug .. 3 error)      */
  PM_EVENT_POOL_READY = 1 << 7,   /**< a pool's first operation succeeded since it opened or was cleared */
  PM_EVENT_POOL_CLEARED = 1 << 8, /**< a network error cleared a pool's connections; message says why */
  PM_EVENT_CONNECTION_CREATED = 1 << 9, /**< a pool began a new connection; connection_id names it */
  PM_EVENT_CONNECTION_READY = 1 << 10,  /**< the connection answered its handshake; duration_us: since created */
  PM_EVENT_CONNECTION_CLOSED = 1 << 11, /**< reason: "poolClosed", "error" (its handshake failed) */
  PM_EVENT_CHECKOUT_STARTED = 1 << 12,  /**< an operation asks its pool for a connection        */
  PM_EVENT_CHECKOUT_FAILED = 1 << 13,   /**< reason: "timeout", "poolClosed", "connectionError"; duration_us */
  PM_EVENT_CHECKED_OUT = 1 << 14,       /**< an operation got a connection; duration_us: its wait */
  PM_EVENT_CHECKED_IN = 1 << 15,        /**< a connection went back to its pool; duration_us: how long it was out */
  PM_EVENT_BUDGET_EXHAUSTED = 1 << 16,  /**< a cluster's maxConnectionsPerCluster stopped a new connection; message says which cluster, code the budget */
  /** The four check-out events: one of each per operation, so subscribe to them deliberately. */
  PM_EVENT_CHECKOUTS = 0xf000,
  /** Every type but the per-operation #PM_EVENT_CHECKOUTS. */
  PM_EVENT_ALL = 0x10fff,
  /** Every type, the check-out events included. */
  PM_EVENT_EVERY = 0x1ffff
} pm_event_type;

/** One event. Borrowed by the callback: valid only during the call. Strings are never NULL
 *  ("" when not applicable) and never contain credentials. */
typedef struct pm_event {
  pm_event_type type;  /**< what happened                                             */
  const char *db;      /**< the database concerned, or ""                              */
  const char *pool;    /**< "shared", or the dedicated pool's database or rule pattern */
  const char *reason;  /**< pool closed / disconnect: why                              */
  const char *message; /**< errors and log lines                                      */
  int32_t code;        /**< errors: a pm_code; log: the level; resized: the new limit  */
  int64_t timestamp_ms; /**< wall clock, milliseconds since the epoch                  */
  int64_t duration_us;  /**< connection ready, check-out events, checked in: how long (else 0) */
  uint64_t connection_id; /**< connection and check-out events: the connection, unique in its pool (else 0) */
} pm_event;

/** A subscriber's callback: gets the event (borrowed, valid during the call) and the
 *  subscription's user_data. Runs on the dispatcher thread. */
typedef void (*pm_event_fn)(const pm_event *event, void *user_data);

/**
 * Subscribes a callback to events.
 * @param wrapper The wrapper.
 * @param mask The event types wanted: an OR of ::pm_event_type values (not 0); #PM_EVENT_ALL
 *        leaves out the per-operation #PM_EVENT_CHECKOUTS, #PM_EVENT_EVERY has them.
 * @param dbs The databases whose events are wanted: dbs[0..n_dbs).
 * @param n_dbs How many; 0 for all databases, and events about no database.
 * @param fn The callback.
 * @param user_data Passed to `fn`; polymongo keeps it until the subscription is gone.
 * @param free_user_data Called with `user_data` once the subscription is gone for good (also
 *        when subscribing fails), or NULL. It runs on whichever thread drops the last reference:
 *        the unsubscribing thread, the dispatcher, or the thread freeing the wrapper.
 * @param id Receives the subscription's id for pm_wrapper_unsubscribe(), or NULL.
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EINVAL for a NULL `fn` or a mask with no known type; #PM_EDBNAME for an
 *         invalid name in `dbs`.
 * @par Thread-safety
 * Thread-safe; `fn` must tolerate running on the dispatcher thread.
 */
PM_EXTERN int pm_wrapper_subscribe(pm_wrapper *wrapper, uint32_t mask, const char *const *dbs,
                                   size_t n_dbs, pm_event_fn fn, void *user_data,
                                   void (*free_user_data)(void *), uint64_t *id, pm_error *err);
/**
 * Ends a subscription. Once it returns, the callback is not running and will not be called
 * again (called from the callback itself, it returns at once and the callback finishes
 * normally).
 * @param wrapper The wrapper.
 * @param id The id pm_wrapper_subscribe() gave.
 * @param err Receives the error, or NULL.
 * @return #PM_OK, or #PM_EINVAL when there is no such subscription.
 * @par Thread-safety
 * Thread-safe, the callback included.
 */
PM_EXTERN int pm_wrapper_unsubscribe(pm_wrapper *wrapper, uint64_t id, pm_error *err);

/**
 * Waits until every event raised so far has been delivered. Useful in tests and before
 * shutdown.
 * @param wrapper The wrapper.
 * @param timeout_ms The longest wait, in milliseconds.
 * @param err Receives the error, or NULL.
 * @return #PM_OK; #PM_ETIMEOUT when some were still undelivered; #PM_EINVAL.
 * @par Thread-safety
 * Thread-safe. From a callback it waits out its timeout and returns #PM_ETIMEOUT: the event
 * being delivered is not delivered until the callback returns.
 */
PM_EXTERN int pm_wrapper_flush_events(pm_wrapper *wrapper, int64_t timeout_ms, pm_error *err);

/**
 * How many callbacks threw (C++ subscribers) or were dropped because the queue overflowed.
 * @param wrapper The wrapper.
 * @return The count since the wrapper was created (0 when `wrapper` is NULL).
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN uint64_t pm_wrapper_dropped_events(pm_wrapper *wrapper);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_EVENTS_H */
