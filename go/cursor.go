package polymongo

/*
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"iter"
	"reflect"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Cursor iterates the results of Find, Aggregate and ListIndexes. It holds one pooled
// connection until it is exhausted or closed, so close cursors you do not drain (a forgotten
// cursor is closed when the garbage collector finds it). Use a cursor from one goroutine at a
// time; Close and Client.Close may be called from any goroutine.
//
// If the context of Next is cancelled while the C call is waiting for the server, Next returns
// false with Err() == ctx.Err() and the cursor is closed: the in-flight call finishes in the
// background and the cursor is freed (killing the server cursor) when it returns.
type Cursor struct {
	h   *handle[*C.pm_cursor]
	db  *DB // keeps the Go parents reachable (the C cursor keeps its own parents alive)
	err error
	end bool

	// Current is the document of the last successful Next. Each Next allocates a new one, so
	// it may be kept.
	Current bson.Raw
}

func newCursor(ptr *C.pm_cursor, d *DB) (*Cursor, error) {
	free := freeUnder(d.lock(), func(c *C.pm_cursor) { C.pm_cursor_free(c) })
	c := &Cursor{h: newHandle(ptr, free, "cursor"), db: d}
	if err := track(c, c.h, d.reg); err != nil {
		return nil, err
	}
	return c, nil
}

// next fetches one document: (doc, true), (nil, false) at the end, or an error.
func (c *Cursor) next(ctx context.Context) (bson.Raw, error) {
	p, err := c.h.acquire()
	if err != nil {
		return nil, err
	}
	defer c.h.release()
	if l := c.db.lock(); l != nil { // a cursor of a session's DB uses the session
		if err := l.lock(ctx); err != nil {
			return nil, err
		}
		defer l.unlock()
	}
	var data *C.uint8_t
	var n C.size_t
	var e C.pm_error
	rc := C.pm_cursor_next(p, &data, &n, &e)
	switch {
	case rc == 1:
		return copyBytes(data, n), nil // borrowed until the next call: copy now
	case rc == 0:
		return nil, nil
	default:
		return nil, cError(rc, &e)
	}
}

// Next advances to the next document, making it Current. It returns false at the end or on
// an error (see Err).
func (c *Cursor) Next(ctx context.Context) bool {
	if c.end || c.err != nil {
		return false
	}
	doc, err := run(ctx, func() (bson.Raw, error) { return c.next(ctx) }, nil)
	switch {
	case err != nil:
		c.err = err
		c.Current = nil
		if ctx.Err() != nil {
			c.h.closeAsync() // a call may still be in flight: freed when it returns
		}
		return false
	case doc == nil:
		c.end = true
		c.Current = nil
		c.h.close() // exhausted: release it now rather than at garbage collection
		return false
	default:
		c.Current = doc
		return true
	}
}

// Err is the error that stopped Next, if any.
func (c *Cursor) Err() error { return c.err }

// Decode unmarshals Current into v.
func (c *Cursor) Decode(v any) error {
	if c.Current == nil {
		return errorf(CodeInvalidArgument, nil, "Decode: no current document (call Next first)")
	}
	return decodeInto(c.Current, v, "Cursor.Decode")
}

// ID is the server-side cursor id: 0 once the server has no more results for it (or after
// Close).
func (c *Cursor) ID() int64 {
	p, err := c.h.acquire()
	if err != nil {
		return 0
	}
	defer c.h.release()
	return int64(C.pm_cursor_id(p))
}

// Close closes the cursor, killing the server cursor if it is still open. That is a network
// round trip, which Close waits for until ctx is done; the cursor is closed either way (the
// kill then completes in the background, and Close returns ctx.Err()). Closing twice is
// harmless; Next after Close fails with ErrClosed.
func (c *Cursor) Close(ctx context.Context) error {
	if ctx.Done() == nil {
		c.h.close()
		return nil
	}
	free, _ := c.h.detach() // closed for Go callers at once
	done := make(chan struct{})
	go func() {
		free()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Iter iterates the remaining documents; each yielded bson.Raw may be kept. It stops at the
// first error (yielded with a nil document) and closes the cursor when the loop ends, also
// when the loop breaks early. (All is the official driver's decode-everything form.)
//
//	for raw, err := range cur.Iter(ctx) { ... }
func (c *Cursor) Iter(ctx context.Context) iter.Seq2[bson.Raw, error] {
	return func(yield func(bson.Raw, error) bool) {
		defer c.Close(context.WithoutCancel(ctx))
		for c.Next(ctx) {
			if !yield(c.Current, nil) {
				return
			}
		}
		if c.err != nil {
			yield(nil, c.err)
		}
	}
}

// Documents iterates the remaining documents of a cursor decoded as T, closing it at the end.
//
//	for u, err := range polymongo.Documents[User](ctx, cur) { ... }
func Documents[T any](ctx context.Context, c *Cursor) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for raw, err := range c.Iter(ctx) {
			var v T
			if err == nil {
				err = decodeInto(raw, &v, "Documents")
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// All decodes every remaining document into results, a pointer to a slice, and closes the
// cursor: the official driver's Cursor.All.
//
//	var users []User
//	err := cur.All(ctx, &users)
func (c *Cursor) All(ctx context.Context, results any) error {
	rv := reflect.ValueOf(results)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Slice {
		c.Close(context.WithoutCancel(ctx))
		return errorf(CodeInvalidArgument, nil, "Cursor.All: results must be a pointer to a slice, not %T", results)
	}
	slice := rv.Elem()
	slice.SetLen(0)
	for raw, err := range c.Iter(ctx) {
		if err != nil {
			return err
		}
		elem := reflect.New(slice.Type().Elem())
		if err := decodeInto(raw, elem.Interface(), "Cursor.All"); err != nil {
			return err
		}
		slice.Set(reflect.Append(slice, elem.Elem()))
	}
	return nil
}
