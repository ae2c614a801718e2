package polymongo

/*
#include <stdint.h>
#include <stdlib.h>
#include <polymongo.h>

// Trampolines, defined in callbacks.c.
void polymongo_go_event(const pm_event *event, void *user_data);
void polymongo_go_free_user_data(void *user_data);
static inline void *pm_go_events_handle_ptr(uintptr_t h) { return (void *)h; }
*/
import "C"

import (
	"context"
	"errors"
	"runtime/cgo"
	"strings"
	"sync/atomic"
	"time"
)

// EventType is a kind of event, and a bit of a Subscribe mask.
type EventType uint32

const (
	EventConnect     EventType = C.PM_EVENT_CONNECT      // a database's first successful operation on its open pool
	EventDisconnect  EventType = C.PM_EVENT_DISCONNECT   // a database's pool closed (Reason says why)
	EventError       EventType = C.PM_EVENT_ERROR        // connection, authentication or pool failure
	EventPoolOpened  EventType = C.PM_EVENT_POOL_OPENED  // a pool opened
	EventPoolClosed  EventType = C.PM_EVENT_POOL_CLOSED  // Reason: "ttl", "idle", "evicted", "closed", "forced"
	EventPoolResized EventType = C.PM_EVENT_POOL_RESIZED // Code is the new limit
	EventLog         EventType = C.PM_EVENT_LOG          // a log line; Code is the level (0 debug .. 3 error)
	// The connection pool specification's (CMAP) events.
	EventPoolReady         EventType = C.PM_EVENT_POOL_READY         // the pool's first success since it opened or was cleared
	EventPoolCleared       EventType = C.PM_EVENT_POOL_CLEARED       // a network error cleared its connections
	EventConnectionCreated EventType = C.PM_EVENT_CONNECTION_CREATED // ConnectionID names it
	EventConnectionReady   EventType = C.PM_EVENT_CONNECTION_READY   // Duration: since created
	EventConnectionClosed  EventType = C.PM_EVENT_CONNECTION_CLOSED  // Reason: "poolClosed", "error"
	EventCheckoutStarted   EventType = C.PM_EVENT_CHECKOUT_STARTED
	EventCheckoutFailed    EventType = C.PM_EVENT_CHECKOUT_FAILED  // Reason: "timeout", "poolClosed", "connectionError", "budget"
	EventCheckedOut        EventType = C.PM_EVENT_CHECKED_OUT      // Duration: the wait
	EventCheckedIn         EventType = C.PM_EVENT_CHECKED_IN       // Duration: how long it was out
	EventBudgetExhausted   EventType = C.PM_EVENT_BUDGET_EXHAUSTED // maxConnectionsPerCluster; Code is the budget
	// EventCheckouts is the four check-out events, one of each per operation.
	EventCheckouts EventType = C.PM_EVENT_CHECKOUTS
	// EventAll is every type but EventCheckouts; EventEvery has them too.
	EventAll   EventType = C.PM_EVENT_ALL
	EventEvery EventType = C.PM_EVENT_EVERY
)

var eventNames = []struct {
	t    EventType
	name string
}{{EventConnect, "connect"}, {EventDisconnect, "disconnect"}, {EventError, "error"},
	{EventPoolOpened, "poolOpened"}, {EventPoolClosed, "poolClosed"},
	{EventPoolResized, "poolResized"}, {EventLog, "log"}, {EventPoolReady, "poolReady"},
	{EventPoolCleared, "poolCleared"}, {EventConnectionCreated, "connectionCreated"},
	{EventConnectionReady, "connectionReady"}, {EventConnectionClosed, "connectionClosed"},
	{EventCheckoutStarted, "checkoutStarted"}, {EventCheckoutFailed, "checkoutFailed"},
	{EventCheckedOut, "checkedOut"}, {EventCheckedIn, "checkedIn"}, {EventBudgetExhausted, "budgetExhausted"}}

func (t EventType) String() string {
	var parts []string
	for _, n := range eventNames {
		if t&n.t != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Event is one hook event (PolyMongo's onDbConnect, onDbDisconnect, ... plus pool and log
// events). Strings are "" when not applicable and never contain credentials.
type Event struct {
	Type    EventType
	DB      string    // the database concerned
	Pool    string    // "shared", or the dedicated pool's database or rule pattern
	Reason  string    // why a pool closed / a database disconnected
	Message string    // errors and log lines
	Code    int32     // errors: a Code; log: the level; resized: the new limit
	Time    time.Time // when it happened
	// Connection ready, check-out events, checked in: how long (0 otherwise).
	Duration time.Duration
	// Connection and check-out events: the connection, unique in its pool (0 otherwise).
	ConnectionID uint64
}

// Err is the error an EventError reports (nil for other events).
func (e Event) Err() error {
	if e.Type != EventError {
		return nil
	}
	return &Error{Code: Code(e.Code), Message: e.Message}
}

// Subscription is a live Subscribe registration.
type Subscription struct {
	id     uint64
	client *Client
	done   atomic.Bool
}

// ID is the C library's subscription id.
func (s *Subscription) ID() uint64 { return s.id }

// eventSub is the payload behind the cgo.Handle of a subscription.
type eventSub struct {
	fn func(Event)
}

// liveCallbacks counts callback payloads (cgo.Handles) not yet released by the C library.
var liveCallbacks atomic.Int64

// Subscribe calls fn for each event of the types in mask, for the databases listed (none: all
// databases, and events about no database). fn runs on the client's single event dispatcher
// thread, in the order the events happened, never while polymongo holds a lock: a slow fn
// delays only later events, never an operation. fn may call polymongo, including Unsubscribe.
// A panic in fn is recovered and reported to the panic handler (see SetPanicHandler).
func (c *Client) Subscribe(mask EventType, fn func(Event), dbs ...string) (*Subscription, error) {
	if fn == nil {
		return nil, errorf(CodeInvalidArgument, nil, "Subscribe: fn is nil")
	}
	arr, n, free, err := cStringArray(dbs, CodeInvalidDBName, "database name")
	if err != nil {
		return nil, err
	}
	defer free()
	id, err := withWrapper(c, func(w *C.pm_wrapper) (uint64, error) {
		h := cgo.NewHandle(&eventSub{fn: fn})
		liveCallbacks.Add(1)
		var id C.uint64_t
		var e C.pm_error
		// On failure too, the library releases the payload through free_user_data.
		rc := C.pm_wrapper_subscribe(w, C.uint32_t(mask), arr, n,
			C.pm_event_fn(C.polymongo_go_event), C.pm_go_events_handle_ptr(C.uintptr_t(h)),
			(*[0]byte)(C.polymongo_go_free_user_data), &id, &e)
		if rc != 0 {
			return 0, cError(rc, &e)
		}
		return uint64(id), nil
	})
	if err != nil {
		return nil, err
	}
	s := &Subscription{id: id, client: c}
	c.subsMu.Lock()
	c.subs[s] = struct{}{}
	c.subsMu.Unlock()
	return s, nil
}

// Unsubscribe stops delivery. An event being delivered finishes first; fn is released after.
// Unsubscribing twice, or after the client is closed, is harmless.
func (s *Subscription) Unsubscribe() error {
	if s.done.Swap(true) {
		return nil
	}
	s.client.subsMu.Lock()
	delete(s.client.subs, s)
	s.client.subsMu.Unlock()
	_, err := withWrapper(s.client, func(w *C.pm_wrapper) (struct{}, error) {
		var e C.pm_error
		if rc := C.pm_wrapper_unsubscribe(w, C.uint64_t(s.id), &e); rc != 0 {
			return struct{}{}, cError(rc, &e)
		}
		return struct{}{}, nil
	})
	if errors.Is(err, ErrClosed) {
		return nil // closing the client ended every subscription
	}
	return err
}

// FlushEvents waits, until the context's deadline (DefaultDrainTimeout without one), for every
// event raised so far to be delivered; ErrTimeout otherwise.
func (c *Client) FlushEvents(ctx context.Context) error {
	ms := drainMS(ctx)
	return c.wrapperCall(ctx, func(w *C.pm_wrapper, e *C.pm_error) C.int {
		return C.pm_wrapper_flush_events(w, ms, e)
	})
}

// DroppedEvents counts events not delivered: the queue overflowed, or a callback failed.
func (c *Client) DroppedEvents() uint64 {
	n, _ := withWrapper(c, func(w *C.pm_wrapper) (uint64, error) { return uint64(C.pm_wrapper_dropped_events(w)), nil })
	return n
}

// deliverEvent runs on the C dispatcher thread (through the trampoline).
func deliverEvent(ev *C.pm_event, h cgo.Handle) {
	sub, ok := h.Value().(*eventSub)
	if !ok {
		return
	}
	e := Event{
		Type:    EventType(ev._type),
		DB:      C.GoString(ev.db),
		Pool:    C.GoString(ev.pool),
		Reason:  C.GoString(ev.reason),
		Message: C.GoString(ev.message),
		Code:    int32(ev.code),
		Time:    time.UnixMilli(int64(ev.timestamp_ms)),

		Duration:     time.Duration(int64(ev.duration_us)) * time.Microsecond,
		ConnectionID: uint64(ev.connection_id),
	}
	dispatch(func() { sub.fn(e) })
}
