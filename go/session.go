package polymongo

/*
#include <stdint.h>
#include <stdlib.h>
#include <polymongo.h>

// The trampoline of pm_session_with_transaction, defined in callbacks.c.
int polymongo_go_transaction(pm_session *session, void *user_data);
static inline void *pm_go_txn_handle_ptr(uintptr_t h) { return (void *)h; }
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"strings"
	"time"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ---- options ------------------------------------------------------------------------------

// TransactionOptions are the options of a transaction: given to StartSession they are the
// defaults of the session's transactions; given to StartTransaction or WithTransaction they
// override them for one transaction. Zero values are left out.
type TransactionOptions struct {
	// ReadConcern is the level: "local", "majority", "snapshot", ...
	ReadConcern string
	// WriteConcern of the commit.
	WriteConcern *WriteConcern
	// ReadPreference: "primary", "primaryPreferred", "secondary", "secondaryPreferred",
	// "nearest".
	ReadPreference string
	// MaxCommitTime bounds the commit on the server (maxCommitTimeMS).
	MaxCommitTime time.Duration
	// Extra holds any other option, as it is (the library refuses names it does not know).
	Extra map[string]any
}

// WriteConcern is {w, wtimeout, j}.
type WriteConcern struct {
	W        any // a number of members, or "majority"; nil: the server's default
	WTimeout time.Duration
	Journal  *bool
}

// SessionOptions configure StartSession.
type SessionOptions struct {
	// CausalConsistency (default true) orders the session's reads after its writes.
	CausalConsistency *bool
	// The defaults of the session's transactions.
	TransactionOptions
}

func (o *TransactionOptions) append(d bson.D) bson.D {
	if o.ReadConcern != "" {
		d = append(d, bson.E{Key: "readConcern", Value: bson.D{{Key: "level", Value: o.ReadConcern}}})
	}
	if wc := o.WriteConcern; wc != nil {
		var w bson.D
		if wc.W != nil {
			w = append(w, bson.E{Key: "w", Value: wc.W})
		}
		if wc.WTimeout != 0 {
			w = append(w, bson.E{Key: "wtimeout", Value: signedMS(wc.WTimeout)})
		}
		if wc.Journal != nil {
			w = append(w, bson.E{Key: "j", Value: *wc.Journal})
		}
		d = append(d, bson.E{Key: "writeConcern", Value: w})
	}
	if o.ReadPreference != "" {
		d = append(d, bson.E{Key: "readPreference", Value: o.ReadPreference})
	}
	if o.MaxCommitTime != 0 {
		d = append(d, bson.E{Key: "maxCommitTimeMS", Value: signedMS(o.MaxCommitTime)})
	}
	for k, v := range o.Extra {
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d
}

// transactionDoc is the options document of the last non-nil options (none: NULL).
func transactionDoc(opts []*TransactionOptions) (doc, error) {
	o := last(opts)
	if o == nil {
		return doc{}, nil
	}
	d := o.append(nil)
	if len(d) == 0 {
		return doc{}, nil
	}
	return toDoc(d, "transaction options")
}

func (o *SessionOptions) doc() (doc, error) {
	var d bson.D
	if o.CausalConsistency != nil {
		d = append(d, bson.E{Key: "causalConsistency", Value: *o.CausalConsistency})
	}
	d = o.TransactionOptions.append(d)
	if len(d) == 0 {
		return doc{}, nil
	}
	return toDoc(d, "session options")
}

// ---- the session lock ---------------------------------------------------------------------

// sessionLock serialises every C call that uses one pm_session ("one thread at a time"): the
// session's own calls, every operation of a db bound to it, the cursors those open, and the
// frees of all of these (the last one ends the session on the server). It matters even for
// callers that use the session from one goroutine: a call abandoned because its context was
// cancelled keeps running in C, and the next call must wait for it.
//
// WithTransaction holds the lock while C starts, commits or aborts, and lends it to the
// callback while the callback runs (the C library is then only waiting for it); the callback
// takes it back, so waiting for the calls it abandoned, before returning to C.
type sessionLock chan struct{}

func newSessionLock() sessionLock { return make(sessionLock, 1) }

// lock waits for the session, or until ctx is done (then ctx.Err()).
func (l sessionLock) lock(ctx context.Context) error {
	done := ctx.Done()
	if done == nil {
		l <- struct{}{}
		return nil
	}
	select {
	case l <- struct{}{}:
	case <-done:
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil { // both were ready: the caller has gone
		l.unlock()
		return err
	}
	return nil
}

func (l sessionLock) lockAlways() { l <- struct{}{} }
func (l sessionLock) unlock()     { <-l }

// freeUnder returns free wrapped in the lock (nil lock: free itself).
func freeUnder[P any](l sessionLock, free func(P)) func(P) {
	if l == nil {
		return free
	}
	return func(p P) {
		l.lockAlways()
		defer l.unlock()
		free(p)
	}
}

// ---- Session ------------------------------------------------------------------------------

// Session is a native session on one cluster, for multi-document transactions. It holds one
// connection of the pool serving its database until it is closed. Bind databases to it with
// DB.WithSession: every operation on such a DB runs in the session (and in its transaction,
// when one is open). All of them must be served by the session's pool: a database with a
// dedicated pool, or routed to another cluster, fails with ErrInvalidArgument.
//
// A session is a sequence of operations: its methods and the operations of its DBs are
// serialised (concurrent calls wait for each other), so use it from one goroutine at a time
// for predictable transactions. On a server that cannot run multi-document transactions (a
// standalone, FerretDB), StartTransaction and WithTransaction fail with ErrNotSupported
// before anything is written.
type Session struct {
	st           *sessionState
	client       *Client
	db           string
	compensating bool
}

// sessionState is what Close and the GC cleanup need (never the *Session).
type sessionState struct {
	h    *handle[*C.pm_session]
	lock sessionLock
	reg  *registry // DBs bound to the session and their cursors
}

func (s *sessionState) close() bool {
	s.reg.closeAll() // frees the bound DBs and cursors first: then freeing the session ends it
	return s.h.close()
}

func newSession(c *Client, ptr *C.pm_session, db string) (*Session, error) {
	lock := newSessionLock()
	st := &sessionState{
		h:    newHandle(ptr, freeUnder(lock, func(p *C.pm_session) { C.pm_session_free(p) }), "session"),
		lock: lock,
		reg:  newRegistry(),
	}
	s := &Session{st: st, client: c, db: db}
	runtime.AddCleanup(s, func(st *sessionState) { go st.close() }, st)
	return s, nil
}

// StartSession starts a session on the pool serving db ("": the default database). It checks
// out a connection, so it may wait for one (bounded by ctx and the pool's waitQueueTimeoutMS).
// Invalid options fail with ErrInvalidArgument, an invalid name with ErrInvalidDBName.
func (c *Client) StartSession(ctx context.Context, db string, opts ...*SessionOptions) (*Session, error) {
	var o doc
	if so := last(opts); so != nil {
		var err error
		if o, err = so.doc(); err != nil {
			return nil, err
		}
	}
	if strings.IndexByte(db, 0) >= 0 {
		return nil, errorf(CodeInvalidDBName, nil, "database name %q contains a NUL byte", db)
	}
	ptr, err := run(ctx, func() (*C.pm_session, error) {
		return withWrapper(c, func(w *C.pm_wrapper) (*C.pm_session, error) {
			var cs *C.char
			if db != "" {
				cs = C.CString(db)
				defer C.free(unsafe.Pointer(cs))
			}
			op, on := o.arg()
			var s *C.pm_session
			var e C.pm_error
			if rc := C.pm_wrapper_start_session(w, cs, op, on, &s, &e); rc != 0 {
				return nil, cError(rc, &e)
			}
			return s, nil
		})
	}, func(s *C.pm_session) { C.pm_session_free(s) })
	if err != nil {
		return nil, err
	}
	name := db
	if name == "" {
		name = c.defaultDB
	}
	return newSession(c, ptr, name)
}

// Client is the client the session belongs to.
func (s *Session) Client() *Client { return s.client }

// DB is the name of the database whose pool serves the session ("" for a compensating one).
func (s *Session) DB() string { return s.db }

// Close ends the session: the DBs bound to it (and their cursors) are closed, an open
// transaction is aborted and the connection goes back to its pool, once calls in flight have
// returned. Later calls on the session or its DBs return ErrClosed. Closing twice is harmless.
func (s *Session) Close() error {
	s.st.close()
	return nil
}

// call runs one fallible C call on the session, under ctx (see run) and the session lock.
func (s *Session) call(ctx context.Context, fn func(p *C.pm_session, e *C.pm_error) C.int) error {
	return run0(ctx, func() error {
		p, err := s.st.h.acquire()
		if err != nil {
			return err
		}
		defer s.st.h.release()
		if err := s.st.lock.lock(ctx); err != nil {
			return err
		}
		defer s.st.lock.unlock()
		var e C.pm_error
		if rc := fn(p, &e); rc != 0 {
			return cError(rc, &e)
		}
		return nil
	})
}

// StartTransaction starts a transaction; the operations of the session's DBs run in it until
// CommitTransaction or AbortTransaction. Options override the session's defaults.
// ErrNotSupported when the server cannot run transactions (nothing is written).
func (s *Session) StartTransaction(ctx context.Context, opts ...*TransactionOptions) error {
	o, err := transactionDoc(opts)
	if err != nil {
		return err
	}
	return s.call(ctx, func(p *C.pm_session, e *C.pm_error) C.int {
		op, on := o.arg()
		return C.pm_session_start_transaction(p, op, on, e)
	})
}

// CommitTransaction commits the open transaction: its writes become visible together.
func (s *Session) CommitTransaction(ctx context.Context) error {
	return s.call(ctx, func(p *C.pm_session, e *C.pm_error) C.int { return C.pm_session_commit(p, e) })
}

// AbortTransaction aborts the open transaction: none of its writes remain.
func (s *Session) AbortTransaction(ctx context.Context) error {
	return s.call(ctx, func(p *C.pm_session, e *C.pm_error) C.int { return C.pm_session_abort(p, e) })
}

// InTransaction reports whether a transaction is open (false once the session is closed). It
// waits for a call of the session in flight.
func (s *Session) InTransaction() bool {
	p, err := s.st.h.acquire()
	if err != nil {
		return false
	}
	defer s.st.h.release()
	s.st.lock.lockAlways()
	defer s.st.lock.unlock()
	return C.pm_session_in_transaction(p) == 1
}

// txnCall is the payload of one WithTransaction, reached from the C callback via a cgo.Handle.
type txnCall struct {
	ctx  context.Context
	fn   func(ctx context.Context) error
	lock sessionLock

	attempts int
	err      error // fn's error on the last attempt
	panicked bool  // fn panicked: panicVal is re-raised once C has returned
	panicVal any
	goexit   bool // fn called runtime.Goexit (t.FailNow): repeated once C has returned
}

// WithTransaction runs fn in a transaction and commits it when fn returns nil, with the
// drivers' semantics: when an operation fails with a transient transaction error (a write
// conflict, a failover), the whole transaction is run again, fn included; a commit whose
// outcome is unknown is retried. Retries stop at ctx's deadline (120 s without one).
//
// When fn returns an error, the transaction is aborted and that error is returned as it is.
// When fn panics (or calls runtime.Goexit), the transaction is aborted and the panic resumes
// in the caller once the C library has returned. fn runs on a goroutine of its own while the
// caller waits, so a panic never unwinds through C frames. fn should use the ctx it is given,
// and do its work through DBs bound to this session; it may be called more than once. Other
// errors (the server cannot run transactions: ErrNotSupported; a failed commit) come back as
// an *Error.
//
// Unlike the other methods, WithTransaction runs the C call on the calling goroutine: a
// cancelled ctx stops fn's operations and the retries, not a commit in progress.
func (s *Session) WithTransaction(ctx context.Context, fn func(ctx context.Context) error, opts ...*TransactionOptions) error {
	if fn == nil {
		return errorf(CodeInvalidArgument, nil, "WithTransaction: fn is nil")
	}
	o, err := transactionDoc(opts)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.st.h.acquire()
	if err != nil {
		return err
	}
	defer s.st.h.release()
	if err := s.st.lock.lock(ctx); err != nil {
		return err
	}
	call := &txnCall{ctx: ctx, fn: fn, lock: s.st.lock}
	h := cgo.NewHandle(call)
	timeout := C.int64_t(maxTimeMS(ctx)) // 0: the library's 120 s
	op, on := o.arg()
	var e C.pm_error
	rc := C.pm_session_with_transaction(p, C.pm_transaction_fn(C.polymongo_go_transaction),
		C.pm_go_txn_handle_ptr(C.uintptr_t(h)), op, on, timeout, &e)
	s.st.lock.unlock()
	h.Delete()
	switch {
	case call.panicked:
		panic(call.panicVal)
	case call.goexit:
		runtime.Goexit()
		return nil
	case rc == 0:
		return nil
	case rc < 0:
		return cError(rc, &e)
	case call.err != nil:
		return call.err
	default:
		return errorf(CodeInternal, nil, "WithTransaction: aborted with %d and no error", int(rc))
	}
}

// transaction runs one attempt of fn, called by the C library (through the trampoline) on
// the goroutine of WithTransaction, which holds the session lock. The lock is lent to fn's
// operations while fn runs.
func (c *txnCall) transaction() C.int {
	if c.panicked || c.goexit {
		return 1 // a retry after a panic: abort at once
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 1
	}
	c.attempts++
	c.err = nil
	c.lock.unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		returned := false
		defer func() {
			if r := recover(); r != nil {
				c.panicked, c.panicVal = true, r
			} else if !returned {
				c.goexit = true
			}
		}()
		c.err = c.fn(c.ctx)
		returned = true
	}()
	<-done
	// Wait for the operations fn started (a cancelled one keeps running in C) before C
	// commits or aborts.
	c.lock.lockAlways()
	if c.panicked || c.goexit || c.err != nil {
		return 1
	}
	return 0
}

// ---- databases bound to a session ---------------------------------------------------------

// WithSession returns this database bound to s: the same database and model, with every
// operation in the session (and its transaction, when one is open). No I/O. The DB is closed
// with the session. A session of another client fails with ErrInvalidArgument; a database
// not served by the session's pool is accepted here and fails, with ErrInvalidArgument,
// at its first operation.
func (d *DB) WithSession(s *Session) (*DB, error) {
	if s == nil {
		return nil, errorf(CodeInvalidArgument, nil, "WithSession: the session is nil")
	}
	if s.client != d.model.client {
		return nil, errorf(CodeInvalidArgument, nil, "WithSession: the session belongs to another client")
	}
	sp, err := s.st.h.acquire()
	if err != nil {
		return nil, err
	}
	defer s.st.h.release()
	out, err := with(context.Background(), d, func(p *C.pm_db) (*C.pm_db, error) {
		var out *C.pm_db
		var e C.pm_error
		if rc := C.pm_db_with_session(p, sp, &out, &e); rc != 0 {
			return nil, cError(rc, &e)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return newDB(out, d.model, s)
}

// Session is the session this DB is bound to (nil for a plain DB).
func (d *DB) Session() *Session { return d.sess }
