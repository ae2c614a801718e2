package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Options configure a Client; they are sent to the C library as the JSON of pm_wrapper_new
// (PolyMongo's createWrapper options). Zero values mean "the library's default".
type Options struct {
	// MongoURI is required: mongodb:// or mongodb+srv://, multi-host allowed. URI options apply
	// to every pool, e.g. serverSelectionTimeoutMS and waitQueueTimeoutMS (the longest wait
	// for a pooled connection; polymongo's default is 10000).
	MongoURI string
	// DefaultDB is the database of Model.DB("") and StartSession(ctx, ""). Default: the
	// database in the URI's path; with neither, "" fails with ErrInvalidDBName.
	DefaultDB string
	// MaxPoolSize is the size of the shared pool (default 10).
	MaxPoolSize int
	// MinFreeConnections are opened and kept warm (default 0).
	MinFreeConnections int
	// IdleTimeout closes idle connections after this long (0: never).
	IdleTimeout time.Duration
	// ColdStart true (the default) opens no socket until first use; false connects, and warms
	// MinFreeConnections, inside New.
	ColdStart *bool
	// Retry is the base delay between reconnection attempts (0: off); RetryPolicy, when set,
	// gives the whole policy instead.
	Retry       time.Duration
	RetryPolicy *RetryPolicy
	// Debug logs to standard error; LogPath is a directory for rotating log files; LogLevel
	// is "debug", "info" (default), "warn", "error" or "off".
	Debug    bool
	LogPath  string
	LogLevel string
	// DBSpecific lists databases served by a dedicated pool.
	DBSpecific []DBSpecific
	// Routes are routing rules by database-name pattern (see Route).
	Routes []Route
	// MaxOpenPools caps the dedicated pools open at once; the least recently used is closed
	// to make room (0: no cap).
	MaxOpenPools int
	// TenantLimits, when set, is every database's default share of its pool (see
	// Client.SetTenantLimits).
	TenantLimits *TenantLimits
	// NoFairQueueing serves a saturated pool's waiting operations first come, first served,
	// instead of a database at a time, in turn.
	NoFairQueueing bool
	// AllowSystemDatabases allows admin, config and local.
	AllowSystemDatabases bool
	// PoolSizing, when set, makes the shared pool's size limit follow its load.
	PoolSizing *PoolSizing
	// RecoverOnStart rolls back, inside New, the compensating transactions that crashed
	// processes left open in the journals (see Client.Recover); JournalDB is the journals'
	// database (default "polymongo_journal").
	RecoverOnStart bool
	JournalDB      string
	// Extra holds options this version of the binding does not model yet; they are added to
	// the JSON as they are (and override the fields above).
	Extra map[string]any
}

// DBSpecific gives one database a dedicated pool.
type DBSpecific struct {
	DBName   string
	MongoURI string // another cluster; default: the client's MongoURI
	PoolOptions
}

// PoolSizing is the dynamic size limit of the shared pool: between Min and Max (default
// MaxPoolSize) connections, raised when the share of connections in use reaches ScaleUpAt
// (default 0.8) and lowered below ScaleDownAt (default 0.3), checked every Interval.
type PoolSizing struct {
	Min, Max               int
	ScaleUpAt, ScaleDownAt float64
	Interval               time.Duration
}

// RetryPolicy is how reconnection is retried.
type RetryPolicy struct {
	Attempts     int
	InitialDelay time.Duration
	MaxDelay     time.Duration
}

// Ptr returns a pointer to v, for the optional (*bool, *int32, ...) fields.
func Ptr[T any](v T) *T { return &v }

// JSON returns the options as the JSON document pm_wrapper_new takes.
func (o Options) JSON() ([]byte, error) {
	m := map[string]any{"mongoURI": o.MongoURI}
	if o.DefaultDB != "" {
		m["defaultDB"] = o.DefaultDB
	}
	if o.MaxPoolSize != 0 {
		m["maxPoolSize"] = o.MaxPoolSize
	}
	if o.MinFreeConnections != 0 {
		m["minFreeConnections"] = o.MinFreeConnections
	}
	if o.IdleTimeout != 0 {
		m["idleTimeoutMS"] = signedMS(o.IdleTimeout)
	}
	if o.ColdStart != nil {
		m["coldStart"] = *o.ColdStart
	}
	if o.Retry != 0 {
		m["retry"] = signedMS(o.Retry)
	}
	if p := o.RetryPolicy; p != nil {
		r := map[string]any{}
		if p.Attempts != 0 {
			r["attempts"] = p.Attempts
		}
		if p.InitialDelay != 0 {
			r["initialDelayMS"] = signedMS(p.InitialDelay)
		}
		if p.MaxDelay != 0 {
			r["maxDelayMS"] = signedMS(p.MaxDelay)
		}
		m["retry"] = r
	}
	if o.LogLevel != "" {
		m["logLevel"] = o.LogLevel
	}
	if o.MaxOpenPools != 0 {
		m["maxOpenPools"] = o.MaxOpenPools
	}
	if o.TenantLimits != nil {
		m["tenantLimits"] = o.TenantLimits
	}
	if o.NoFairQueueing {
		m["fairQueueing"] = false
	}
	if o.Routes != nil {
		routes := make([]map[string]any, 0, len(o.Routes))
		for _, r := range o.Routes {
			routes = append(routes, r.jsonMap())
		}
		m["routes"] = routes
	}
	if o.Debug {
		m["debug"] = true
	}
	if o.LogPath != "" {
		m["logPath"] = o.LogPath
	}
	if o.AllowSystemDatabases {
		m["allowSystemDatabases"] = true
	}
	if z := o.PoolSizing; z != nil {
		m2 := map[string]any{}
		if z.Min != 0 {
			m2["min"] = z.Min
		}
		if z.Max != 0 {
			m2["max"] = z.Max
		}
		if z.ScaleUpAt != 0 {
			m2["scaleUpAt"] = z.ScaleUpAt
		}
		if z.ScaleDownAt != 0 {
			m2["scaleDownAt"] = z.ScaleDownAt
		}
		if z.Interval != 0 {
			m2["intervalMS"] = signedMS(z.Interval)
		}
		m["poolSizing"] = m2
	}
	if o.RecoverOnStart {
		m["recoverOnStart"] = true
	}
	if o.JournalDB != "" {
		m["journalDb"] = o.JournalDB
	}
	if o.DBSpecific != nil {
		list := make([]map[string]any, 0, len(o.DBSpecific))
		for _, d := range o.DBSpecific {
			e := map[string]any{"dbName": d.DBName}
			if d.MongoURI != "" {
				e["mongoURI"] = d.MongoURI
			}
			po := map[string]any{}
			d.fields(po)
			if len(po) > 0 {
				e["options"] = po
			}
			list = append(list, e)
		}
		m["dbSpecific"] = list
	}
	for k, v := range o.Extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errorf(CodeInvalidArgument, err, "options")
	}
	return b, nil
}

// signedMS keeps negative durations negative, so that the library rejects them by name.
func signedMS(d time.Duration) int64 {
	if d < 0 {
		return -durationMS(-d, true)
	}
	return durationMS(d, true)
}

// Client owns the connection pools: the shared one and the dedicated ones. It is safe for
// concurrent use; share one per process.
type Client struct {
	h         *handle[*C.pm_wrapper]
	defaultDB string

	// The open subscriptions, which Close ends: the C wrapper outlives Close while models,
	// DBs or cursors made from it are not yet freed, and so would the Go callbacks it holds.
	subsMu sync.Mutex
	subs   map[*Subscription]struct{}
	// The functions SetPlacement gave C, released by Close (guarded by subsMu).
	placements []cgo.Handle
}

// New creates a client. Unknown, mistyped or out-of-range options fail with
// ErrInvalidArgument and a message naming the option. With ColdStart false, New connects and
// blocks (bounded by the URI's timeouts); use NewContext to bound it with a context.
func New(opts Options) (*Client, error) { return NewContext(context.Background(), opts) }

// NewContext is New with a context for the connection that ColdStart false makes.
func NewContext(ctx context.Context, opts Options) (*Client, error) {
	if err := checkVersion(); err != nil {
		return nil, err
	}
	js, err := opts.JSON()
	if err != nil {
		return nil, err
	}
	ptr, err := run(ctx, func() (*C.pm_wrapper, error) {
		cs, err := cString(string(js), CodeInvalidArgument, "options")
		if err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cs))
		var w *C.pm_wrapper
		var e C.pm_error
		if rc := C.pm_wrapper_new(cs, &w, &e); rc != 0 {
			return nil, cError(rc, &e)
		}
		return w, nil
	}, func(w *C.pm_wrapper) { C.pm_wrapper_free(w) })
	if err != nil {
		return nil, err
	}
	c := &Client{
		h:         newHandle(ptr, func(w *C.pm_wrapper) { C.pm_wrapper_free(w) }, "client"),
		defaultDB: C.GoString(C.pm_wrapper_default_db(ptr)),
		subs:      make(map[*Subscription]struct{}),
	}
	// A forgotten client is freed (and so its pools closed) by the GC. The cleanup runs on the
	// runtime's cleanup goroutine, which must not block: the free happens on a goroutine of its
	// own. Its models, DBs and cursors keep the C wrapper alive until they are freed too.
	runtime.AddCleanup(c, func(h *handle[*C.pm_wrapper]) { h.closeAsync() }, c.h)
	return c, nil
}

// Close closes the client for good: it is pm_wrapper_close, the one close every binding shares
// (include/polymongo/lifecycle.h). The pools close now, and every later call on the client and
// on every model, DB, cursor, session and change stream made from it returns ErrClosed; results
// already returned stay readable. Closing twice is harmless. The C wrapper itself is freed once
// calls in flight on it have returned.
func (c *Client) Close() error {
	c.subsMu.Lock()
	subs := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
	}
	c.subsMu.Unlock()
	for _, s := range subs { // no callback runs after Close returns
		_ = s.Unsubscribe() // fails only when the client is closed already: nothing to end
	}
	w, err := c.h.acquire()
	if err != nil {
		return nil // closed already
	}
	var e C.pm_error
	c.subsMu.Lock()
	placements := c.placements
	c.placements = nil
	c.subsMu.Unlock()
	if len(placements) > 0 {
		C.pm_wrapper_set_placement(w, nil, nil, &e) // no placement calls into Go after Close
	}
	rc := C.pm_wrapper_close(w, &e)
	c.h.release()
	c.h.close()
	for _, h := range placements {
		h.Delete()
	}
	if rc != 0 {
		return cError(rc, &e)
	}
	return nil
}

// DefaultDB is the database that Model.DB("") binds to.
func (c *Client) DefaultDB() string { return c.defaultDB }

// CheckDBName checks a database name against MongoDB's rules and the client's system-database
// policy, without I/O: nil, or an *Error matching ErrInvalidDBName with the reason.
func (c *Client) CheckDBName(name string) error {
	w, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	cs, err := cString(name, CodeInvalidDBName, "database name")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cs))
	var e C.pm_error
	if rc := C.pm_wrapper_check_db_name(w, cs, &e); rc != 0 {
		return cError(rc, &e)
	}
	return nil
}

// Model defines a collection (PolyMongo's model). It does no I/O: the validator and indexes
// are applied once per database, on the first operation there. At most one ModelOptions.
func (c *Client) Model(collection string, opts ...ModelOptions) (*Model, error) {
	var o ModelOptions
	if len(opts) > 1 {
		return nil, errorf(CodeInvalidArgument, nil, "Model: at most one ModelOptions")
	}
	if len(opts) == 1 {
		o = opts[0]
	}
	d, err := o.doc()
	if err != nil {
		return nil, err
	}
	cs, err := cString(collection, CodeInvalidArgument, "collection name")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cs))
	w, err := c.h.acquire()
	if err != nil {
		return nil, err
	}
	defer c.h.release()
	p, n := d.arg()
	var m *C.pm_model
	var e C.pm_error
	if rc := C.pm_model_new(w, cs, p, n, &m, &e); rc != 0 {
		return nil, cError(rc, &e)
	}
	model := &Model{
		h:          newHandle(m, func(m *C.pm_model) { C.pm_model_free(m) }, "model"),
		client:     c,
		collection: C.GoString(C.pm_model_collection(m)),
	}
	if err := track(model, model.h, nil); err != nil {
		return nil, err
	}
	return model, nil
}
