package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unsafe"
)

// PoolOptions configure a dedicated pool (dbSpecific entries, routes, SetDB).
type PoolOptions struct {
	MaxConnections int           // the pool's size (0: the library's default, 10)
	ColdStart      *bool         // true (default): no socket until first use
	AutoClose      *bool         // close the pool after TTL without use; the next use reopens it
	TTL            time.Duration // required with AutoClose
}

func (p PoolOptions) fields(m map[string]any) {
	if p.MaxConnections != 0 {
		m["maxConnections"] = p.MaxConnections
	}
	if p.ColdStart != nil {
		m["coldStart"] = *p.ColdStart
	}
	if p.AutoClose != nil {
		m["autoClose"] = *p.AutoClose
	}
	if p.TTL != 0 {
		m["ttl"] = signedMS(p.TTL)
	}
}

// PoolSpec is a dedicated pool for SetDB and ConnectDB: another cluster (MongoURI, default the
// client's) and the pool's options.
type PoolSpec struct {
	MongoURI string
	PoolOptions
}

func (s PoolSpec) json() (string, bool) {
	m := map[string]any{}
	if s.MongoURI != "" {
		m["mongoURI"] = s.MongoURI
	}
	s.fields(m)
	if len(m) == 0 {
		return "", false
	}
	b, _ := json.Marshal(m)
	return string(b), true
}

// Route is a routing rule: databases whose name matches the glob Match (*, ?, [...]) get
// their own pool each, or with SharedPool one pool for all of them, on MongoURI (default:
// the client's). A database's own pool (DBSpecific, SetDB) comes first, then the routes in the
// order they were added (Options.Routes first); the first match wins; then the shared pool.
type Route struct {
	Match      string
	MongoURI   string
	Options    PoolOptions
	SharedPool bool
}

func (r Route) jsonMap() map[string]any {
	m := map[string]any{"match": r.Match}
	if r.MongoURI != "" {
		m["mongoURI"] = r.MongoURI
	}
	o := map[string]any{}
	r.Options.fields(o)
	if len(o) > 0 {
		m["options"] = o
	}
	if r.SharedPool {
		m["sharedPool"] = true
	}
	return m
}

// cStringArray copies strings into C memory as a (const char *const *, n) pair; free with
// the returned function. A name with a NUL byte is refused.
func cStringArray(names []string, code Code, what string) (**C.char, C.size_t, func(), error) {
	for _, n := range names {
		if strings.IndexByte(n, 0) >= 0 {
			return nil, 0, nil, errorf(code, nil, "%s %q contains a NUL byte", what, n)
		}
	}
	if len(names) == 0 {
		return nil, 0, func() {}, nil
	}
	arr := (**C.char)(C.malloc(C.size_t(len(names)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	items := unsafe.Slice(arr, len(names))
	for i, n := range names {
		items[i] = C.CString(n)
	}
	free := func() {
		for _, p := range items {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(arr))
	}
	return arr, C.size_t(len(names)), free, nil
}

// withWrapper runs fn with the client's C handle acquired.
func withWrapper[R any](c *Client, fn func(w *C.pm_wrapper) (R, error)) (R, error) {
	w, err := c.h.acquire()
	if err != nil {
		var zero R
		return zero, err
	}
	defer c.h.release()
	return fn(w)
}

// wrapperCall runs a fallible C call on the wrapper under ctx (see run).
func (c *Client) wrapperCall(ctx context.Context, call func(w *C.pm_wrapper, e *C.pm_error) C.int) error {
	return run0(ctx, func() error {
		_, err := withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
			var e C.pm_error
			if rc := call(w, &e); rc != 0 {
				return struct{}{}, cError(rc, &e)
			}
			return struct{}{}, nil
		})
		return err
	})
}

func (c *Client) setDB(ctx context.Context, connect bool, spec PoolSpec, names []string) error {
	if len(names) == 0 {
		return errorf(CodeInvalidArgument, nil, "no database names given")
	}
	for _, n := range names {
		if strings.IndexByte(n, 0) >= 0 {
			return errorf(CodeInvalidDBName, nil, "database name %q contains a NUL byte", n)
		}
	}
	js, hasSpec := spec.json()
	return c.wrapperCall(ctx, func(w *C.pm_wrapper, e *C.pm_error) C.int {
		arr, n, free, _ := cStringArray(names, CodeInvalidDBName, "database name")
		defer free()
		var cs *C.char
		if hasSpec {
			cs = C.CString(js)
			defer C.free(unsafe.Pointer(cs))
		}
		if connect {
			return C.pm_wrapper_connect_db(w, arr, n, cs, e)
		}
		return C.pm_wrapper_set_db(w, arr, n, cs, e)
	})
}

// SetDB gives each named database a dedicated pool (PolyMongo's scale.setDB). A database that
// had one gets a new one; the old one finishes what it has out. It connects now only when
// spec.ColdStart is false.
func (c *Client) SetDB(ctx context.Context, spec PoolSpec, names ...string) error {
	return c.setDB(ctx, false, spec, names)
}

// ConnectDB is SetDB, connecting now whatever ColdStart says (scale.connectDB).
func (c *Client) ConnectDB(ctx context.Context, spec PoolSpec, names ...string) error {
	return c.setDB(ctx, true, spec, names)
}

// AddRoute adds a routing rule (see Route). It does no I/O.
func (c *Client) AddRoute(r Route) error {
	b, err := json.Marshal(r.jsonMap())
	if err != nil {
		return errorf(CodeInvalidArgument, err, "route")
	}
	cs, err := cString(string(b), CodeInvalidArgument, "route")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cs))
	_, err = withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
		var e C.pm_error
		if rc := C.pm_wrapper_add_route(w, cs, &e); rc != 0 {
			return struct{}{}, cError(rc, &e)
		}
		return struct{}{}, nil
	})
	return err
}

// TenantLimits is a database's share of its pool (see docs/fairness.md): at most
// MaxConcurrent operations at once (0: no cap) and, with RatePerSecond > 0, a token bucket of
// Burst tokens (0: max(1, RatePerSecond)). Over a limit an operation waits up to MaxWaitMS
// (OnLimit "wait", the default) or fails at once ("fail"), with ErrThrottled either way.
type TenantLimits struct {
	MaxConcurrent int     `json:"maxConcurrent,omitempty"`
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
	Burst         float64 `json:"burst,omitempty"`
	OnLimit       string  `json:"onLimit,omitempty"`
	MaxWaitMS     int64   `json:"maxWaitMS,omitempty"`
}

// SetTenantLimits sets the limits of database db at run time, or with db "" every database's
// default. A nil limits removes the database's own limits (for the default: no limits). It
// does no I/O.
func (c *Client) SetTenantLimits(db string, limits *TenantLimits) error {
	var cdb, cspec *C.char
	if db != "" {
		var err error
		if cdb, err = cString(db, CodeInvalidDBName, "db"); err != nil {
			return err
		}
		defer C.free(unsafe.Pointer(cdb))
	}
	if limits != nil {
		b, err := json.Marshal(limits)
		if err != nil {
			return errorf(CodeInvalidArgument, err, "tenant limits")
		}
		if cspec, err = cString(string(b), CodeInvalidArgument, "tenant limits"); err != nil {
			return err
		}
		defer C.free(unsafe.Pointer(cspec))
	}
	_, err := withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
		var e C.pm_error
		if rc := C.pm_wrapper_set_tenant_limits(w, cdb, cspec, &e); rc != 0 {
			return struct{}{}, cError(rc, &e)
		}
		return struct{}{}, nil
	})
	return err
}

// DefaultDrainTimeout bounds CloseAll and FlushEvents when their context has no deadline.
const DefaultDrainTimeout = 10 * time.Second

// drainMS is the time a draining call may wait: the context's deadline, else
// DefaultDrainTimeout.
func drainMS(ctx context.Context) C.int64_t {
	if ms := maxTimeMS(ctx); ms > 0 {
		return C.int64_t(ms)
	}
	return C.int64_t(DefaultDrainTimeout / time.Millisecond)
}

// CloseAll closes every pool, letting operations in flight finish: it waits, until the
// context's deadline (DefaultDrainTimeout without one), for each pool's connections to come
// back. ErrTimeout when some pool still had connections out (those stay open). The client stays
// usable: the next operation reopens what it needs.
func (c *Client) CloseAll(ctx context.Context) error {
	ms := drainMS(ctx)
	return c.wrapperCall(ctx, func(w *C.pm_wrapper, e *C.pm_error) C.int {
		return C.pm_wrapper_close_all(w, ms, e)
	})
}

// ForceCloseAll closes every pool now: operations waiting for a connection, and cursors on the
// closed pools, fail with ErrClosed at their next step; a call already talking to the server
// finishes and its connection is discarded. The client stays usable.
func (c *Client) ForceCloseAll(ctx context.Context) error {
	return c.wrapperCall(ctx, func(w *C.pm_wrapper, e *C.pm_error) C.int {
		return C.pm_wrapper_force_close_all(w, e)
	})
}

// OpenPools is the number of pools (shared and dedicated) open now; 0 once closed.
func (c *Client) OpenPools() int {
	n, _ := withWrapper(c, func(w *C.pm_wrapper) (int, error) { return int(C.pm_wrapper_open_pools(w)), nil })
	return n
}

// Evictions counts dedicated pools closed to stay within Options.MaxOpenPools.
func (c *Client) Evictions() uint64 {
	n, _ := withWrapper(c, func(w *C.pm_wrapper) (uint64, error) { return uint64(C.pm_wrapper_evictions(w)), nil })
	return n
}

// HandleSignals opts in to graceful shutdown: on SIGINT or SIGTERM, the client's pools are
// closed (waiting up to timeout) on a helper thread, then the handler installed before (Go's
// own, and through it os/signal.Notify channels) runs. One client per process; calling it
// again moves the duty to that client. Install os/signal.Notify handlers, if any, before
// calling it.
func (c *Client) HandleSignals(timeout time.Duration) error {
	ms := C.int64_t(durationMS(timeout, false))
	_, err := withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
		var e C.pm_error
		if rc := C.pm_wrapper_handle_signals(w, ms, &e); rc != 0 {
			return struct{}{}, cError(rc, &e)
		}
		return struct{}{}, nil
	})
	return err
}
