package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"strings"
	"time"
	"unsafe"
)

// State is the connection state of the shared pool (PolyMongo's getConnectionState).
type State int

const (
	StateNotInitialized State = C.PM_STATE_NOT_INITIALIZED // cold start, never used
	StateConnecting     State = C.PM_STATE_CONNECTING      // open; no operation succeeded yet
	StateConnected      State = C.PM_STATE_CONNECTED       // the last operation reached the server
	StateDisconnecting  State = C.PM_STATE_DISCONNECTING   // CloseAll is draining the pool
	StateDisconnected   State = C.PM_STATE_DISCONNECTED    // closed, or the last operation could not connect
)

// String is the state's name, e.g. "connected".
func (s State) String() string { return C.GoString(C.pm_state_name(C.pm_state(s))) }

// State is the state of the shared pool; StateDisconnected once the client is closed.
func (c *Client) State() State {
	s, err := withWrapper(c, func(w *C.pm_wrapper) (State, error) { return State(C.pm_wrapper_state(w)), nil })
	if err != nil {
		return StateDisconnected
	}
	return s
}

// IsConnected reports whether the shared pool's last operation reached the server.
func (c *Client) IsConnected() bool {
	ok, _ := withWrapper(c, func(w *C.pm_wrapper) (bool, error) { return C.pm_wrapper_is_connected(w) == 1, nil })
	return ok
}

// Ping pings a database ("" : the default database) through the pool that serves it and
// returns the round-trip time.
func (c *Client) Ping(ctx context.Context, db string) (time.Duration, error) {
	if strings.IndexByte(db, 0) >= 0 {
		return 0, errorf(CodeInvalidDBName, nil, "database name %q contains a NUL byte", db)
	}
	return run(ctx, func() (time.Duration, error) {
		return withWrapper(c, func(w *C.pm_wrapper) (time.Duration, error) {
			var cs *C.char
			if db != "" {
				cs = C.CString(db)
				defer C.free(unsafe.Pointer(cs))
			}
			var ms C.double
			var e C.pm_error
			if rc := C.pm_wrapper_ping(w, cs, &ms, &e); rc != 0 {
				return 0, cError(rc, &e)
			}
			return time.Duration(float64(ms) * float64(time.Millisecond)), nil
		})
	}, nil)
}
