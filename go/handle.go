//go:build cgo

package polymongo

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// handle owns one C handle (pm_wrapper, pm_model, pm_db, pm_cursor) for the Go object that
// wraps it. It is the single place where C handles are freed. Closing the client is the C
// library's business (Client.Close is pm_wrapper_close: every descendant handle then fails
// with PM_ECLOSED), so no handle here tracks its client. What stays is memory safety:
//
//   - Close racing with calls: every call acquire()s the pointer and release()s it when the C
//     call returns; close() marks the handle closed at once (later acquires fail with
//     ErrClosed) but frees the C handle only when no call is in flight, because pm_*_free under
//     a running C call on the same handle would free memory that call uses, which C cannot
//     guard against. A call abandoned because its context was cancelled keeps the handle busy
//     until the C call returns.
//   - Garbage collection: the Go object registers a runtime.AddCleanup that closes the handle
//     (see track). The cleanup's argument is the handle, not the Go object, so it never keeps
//     the object alive; and since a call holds the handle (not the Go object) busy, the object
//     may become unreachable during a call without the C handle being freed under it. That
//     busy count is what runtime.KeepAlive would otherwise have to provide.
//   - Session.Close: the DBs bound to a session (and their cursors) register with the
//     session's registry, which closes them before the session ends.
type handle[P comparable] struct {
	mu     sync.Mutex
	ptr    P // a C handle pointer such as *C.pm_db
	busy   int
	closed bool
	free   func(P)
	what   string    // "client", "db", ... for ErrClosed messages
	reg    *registry // the session's registry for handles bound to a session, else nil
}

// liveHandles counts C handles not yet freed (for tests and leak hunting).
var liveHandles atomic.Int64

func newHandle[P comparable](ptr P, free func(P), what string) *handle[P] {
	liveHandles.Add(1)
	return &handle[P]{ptr: ptr, free: free, what: what}
}

// acquire returns the C pointer and marks a call in flight; pair with release.
func (h *handle[P]) acquire() (P, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		var zero P
		return zero, closedError("the " + h.what)
	}
	h.busy++
	return h.ptr, nil
}

func (h *handle[P]) release() {
	h.mu.Lock()
	h.busy--
	p, ok := h.takeIfIdleClosed()
	h.mu.Unlock()
	if ok {
		// Close came during the call. Free on a goroutine of our own: this call may be running
		// on a C thread (an event callback), and freeing a wrapper there would make the
		// library join the thread it runs on.
		go h.freeC(p, ok)
	}
}

// close marks the handle closed and frees the C handle now, or when the last call returns.
// Idempotent. It reports whether this call closed it.
func (h *handle[P]) close() bool {
	free, closed := h.detach()
	free()
	return closed
}

// closeAsync is close, with the C free (which may do I/O: killCursors, pool shutdown) on
// another goroutine; the handle is closed for Go callers when it returns. For GC cleanups,
// which must not block, and for cancelled calls.
func (h *handle[P]) closeAsync() bool {
	free, closed := h.detach()
	go free()
	return closed
}

// detach marks the handle closed (later acquires fail) and returns the function that frees
// the C handle: a no-op when a call is in flight (the last release frees it) or when it was
// already closed.
func (h *handle[P]) detach() (free func(), closed bool) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return func() {}, false
	}
	h.closed = true
	p, ok := h.takeIfIdleClosed()
	h.mu.Unlock()
	if h.reg != nil {
		h.reg.remove(h)
	}
	return func() { h.freeC(p, ok) }, true
}

// takeIfIdleClosed, with h.mu held, hands over the pointer once it may be freed.
func (h *handle[P]) takeIfIdleClosed() (P, bool) {
	var zero P
	if !h.closed || h.busy > 0 || h.ptr == zero {
		return zero, false
	}
	p := h.ptr
	h.ptr = zero
	return p, true
}

func (h *handle[P]) freeC(p P, ok bool) {
	if ok {
		h.free(p)
		liveHandles.Add(-1)
	}
}

// closer is what a registry closes.
type closer interface{ close() bool }

// registry holds the open handles bound to one session (DBs and their cursors) so that
// Session.Close can close them first: a bound DB runs on the session's connection.
type registry struct {
	mu     sync.Mutex
	closed bool
	items  map[closer]struct{}
}

func newRegistry() *registry { return &registry{items: make(map[closer]struct{})} }

// add registers a child handle; when the client is already closed it closes it instead and
// reports false.
func (r *registry) add(h closer) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		h.close()
		return false
	}
	r.items[h] = struct{}{}
	r.mu.Unlock()
	return true
}

func (r *registry) remove(h closer) {
	r.mu.Lock()
	delete(r.items, h)
	r.mu.Unlock()
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

// closeAll closes every child; later add()s close their handle at once.
func (r *registry) closeAll() {
	r.mu.Lock()
	r.closed = true
	items := r.items
	r.items = make(map[closer]struct{})
	r.mu.Unlock()
	for h := range items {
		h.close()
	}
}

// track registers a GC cleanup on the Go object that owns h and, for a handle bound to a
// session, registers it with the session's registry (reg; nil otherwise). It returns ErrClosed
// (having freed the handle) when that session is already closed.
func track[P comparable, O any](obj *O, h *handle[P], reg *registry) error {
	h.reg = reg
	if reg != nil && !reg.add(h) {
		return closedError("the session")
	}
	runtime.AddCleanup(obj, func(h *handle[P]) { h.closeAsync() }, h)
	return nil
}
