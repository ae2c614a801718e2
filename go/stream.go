package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"iter"
	"strings"
	"time"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ChangeStreamOptions for DB.Watch, Client.WatchDatabase and Client.WatchCluster.
type ChangeStreamOptions struct {
	// FullDocument: "updateLookup", "whenAvailable" or "required" (default: none for updates).
	FullDocument string `bson:"fullDocument,omitempty"`
	// FullDocumentBeforeChange: "whenAvailable" or "required".
	FullDocumentBeforeChange string `bson:"fullDocumentBeforeChange,omitempty"`
	// ResumeAfter / StartAfter: a token from ChangeStream.ResumeToken (bson.Raw) or an event's _id.
	ResumeAfter          any             `bson:"resumeAfter,omitempty"`
	StartAfter           any             `bson:"startAfter,omitempty"`
	StartAtOperationTime *bson.Timestamp `bson:"startAtOperationTime,omitempty"`
	BatchSize            int32           `bson:"batchSize,omitempty"`
	// MaxAwaitTime bounds one server round trip (default 200ms); Next waits as long as its
	// context allows regardless.
	MaxAwaitTime time.Duration  `bson:"-"`
	Extra        map[string]any `bson:",inline"`
}

func (o *ChangeStreamOptions) doc() (doc, error) {
	if o == nil {
		return doc{}, nil
	}
	b, err := bson.Marshal(o)
	if err != nil {
		return doc{}, errorf(CodeInvalidArgument, err, "change stream options")
	}
	if o.MaxAwaitTime > 0 {
		b = withInt64(b, "maxAwaitTimeMS", durationMS(o.MaxAwaitTime, true))
	}
	if len(b) <= 5 {
		return doc{}, nil
	}
	return doc{b: b}, nil
}

// pipelineDoc is a change stream pipeline: nil for none, else as Aggregate takes it.
func pipelineDoc(pipeline any) (doc, error) {
	if pipeline == nil {
		return doc{}, nil
	}
	return toArrayDoc(pipeline, "pipeline", "pipeline")
}

// streamPoll is the longest single wait of a C call under Next: the context, Close and
// Client.Close are noticed at least this often.
const streamPoll = 200 * time.Millisecond

// ChangeStream is an open change stream or a subscriber to a shared one. It holds one pooled
// connection (shared by all subscribers of a shared stream) and pins its database's pool while
// open: close it when done (a forgotten one is closed when the garbage collector finds it, and
// Client.Close and Client.CloseStreams close it too).
//
// Use a ChangeStream from one goroutine at a time; Close may be called from any goroutine (a
// Next in progress then returns false with ErrClosed within streamPoll).
type ChangeStream struct {
	h      *handle[*C.pm_stream]
	err    error // what stopped the last Next
	failed bool  // err is terminal (from the library, not the context)

	// Current is the event of the last successful Next. Each Next allocates a new one, so it
	// may be kept.
	Current bson.Raw
}

func newStream(ptr *C.pm_stream) (*ChangeStream, error) {
	s := &ChangeStream{h: newHandle(ptr, func(p *C.pm_stream) { C.pm_stream_free(p) }, "change stream")}
	if err := track(s, s.h, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// openStream runs an opening call under ctx (a stream opened after ctx gave up is freed).
func openStream(ctx context.Context, call func(e *C.pm_error) (*C.pm_stream, C.int, error)) (*ChangeStream, error) {
	ptr, err := run(ctx, func() (*C.pm_stream, error) {
		var e C.pm_error
		p, rc, err := call(&e)
		if err != nil {
			return nil, err
		}
		if rc != 0 {
			return nil, cError(rc, &e)
		}
		return p, nil
	}, func(p *C.pm_stream) { C.pm_stream_free(p) })
	if err != nil {
		return nil, err
	}
	return newStream(ptr)
}

// Watch opens a change stream on the model's collection in this database. pipeline is nil or
// a slice of stages (as for Aggregate). Opening fails with ErrNotSupported or ErrServer on a
// server without change streams (a standalone server, FerretDB).
func (d *DB) Watch(ctx context.Context, pipeline any, opts ...*ChangeStreamOptions) (*ChangeStream, error) {
	pl, err := pipelineDoc(pipeline)
	if err != nil {
		return nil, err
	}
	o, err := last(opts).doc()
	if err != nil {
		return nil, err
	}
	return openStream(ctx, func(e *C.pm_error) (*C.pm_stream, C.int, error) {
		p, err := d.h.acquire()
		if err != nil {
			return nil, 0, err
		}
		defer d.h.release()
		var out *C.pm_stream
		pp, pn := pl.arg()
		op, on := o.arg()
		rc := C.pm_db_watch(p, pp, pn, op, on, &out, e)
		return out, rc, nil
	})
}

// WatchDatabase opens a change stream on every collection of database db ("" for the default
// database).
func (c *Client) WatchDatabase(ctx context.Context, db string, pipeline any, opts ...*ChangeStreamOptions) (*ChangeStream, error) {
	if err := checkName(db); err != nil {
		return nil, err
	}
	return c.watch(ctx, pipeline, opts, func(w *C.pm_wrapper, pp unsafe.Pointer, pn C.size_t, op unsafe.Pointer, on C.size_t, out **C.pm_stream, e *C.pm_error) C.int {
		cs, free := dbArg(db)
		defer free()
		return C.pm_wrapper_watch_database(w, cs, pp, pn, op, on, out, e)
	})
}

// WatchCluster opens a change stream on every database of the cluster.
func (c *Client) WatchCluster(ctx context.Context, pipeline any, opts ...*ChangeStreamOptions) (*ChangeStream, error) {
	return c.watch(ctx, pipeline, opts, func(w *C.pm_wrapper, pp unsafe.Pointer, pn C.size_t, op unsafe.Pointer, on C.size_t, out **C.pm_stream, e *C.pm_error) C.int {
		return C.pm_wrapper_watch_cluster(w, pp, pn, op, on, out, e)
	})
}

func (c *Client) watch(ctx context.Context, pipeline any, opts []*ChangeStreamOptions,
	call func(w *C.pm_wrapper, pp unsafe.Pointer, pn C.size_t, op unsafe.Pointer, on C.size_t, out **C.pm_stream, e *C.pm_error) C.int) (*ChangeStream, error) {
	pl, err := pipelineDoc(pipeline)
	if err != nil {
		return nil, err
	}
	o, err := last(opts).doc()
	if err != nil {
		return nil, err
	}
	return openStream(ctx, func(e *C.pm_error) (*C.pm_stream, C.int, error) {
		w, err := c.h.acquire()
		if err != nil {
			return nil, 0, err
		}
		defer c.h.release()
		var out *C.pm_stream
		pp, pn := pl.arg()
		op, on := o.arg()
		rc := call(w, pp, pn, op, on, &out, e)
		return out, rc, nil
	})
}

// SubscribeStream subscribes to the shared change stream of database db ("" for the default)
// or, when collection is not "", of that collection. All subscribers of one target share one
// server-side stream and one pooled connection; each gets every event from when it
// subscribed, once, in order, and may Close without disturbing the others. A subscriber more
// than 100,000 events behind is ended with an error rather than silently losing events.
func (c *Client) SubscribeStream(ctx context.Context, db, collection string) (*ChangeStream, error) {
	if err := checkName(db); err != nil {
		return nil, err
	}
	if strings.IndexByte(collection, 0) >= 0 {
		return nil, errorf(CodeInvalidArgument, nil, "collection name %q contains a NUL byte", collection)
	}
	return openStream(ctx, func(e *C.pm_error) (*C.pm_stream, C.int, error) {
		w, err := c.h.acquire()
		if err != nil {
			return nil, 0, err
		}
		defer c.h.release()
		cs, free := dbArg(db)
		defer free()
		var coll *C.char
		if collection != "" {
			coll = C.CString(collection)
			defer C.free(unsafe.Pointer(coll))
		}
		var out *C.pm_stream
		rc := C.pm_wrapper_subscribe_stream(w, cs, coll, &out, e)
		return out, rc, nil
	})
}

// CloseStreams closes the open change streams (subscribers included) of database db, or of
// all databases when db is "", and returns how many it closed. Their Next then fails with
// ErrClosed.
func (c *Client) CloseStreams(ctx context.Context, db string) (int, error) {
	if err := checkName(db); err != nil {
		return 0, err
	}
	var closed C.size_t
	err := c.wrapperCall(ctx, func(w *C.pm_wrapper, e *C.pm_error) C.int {
		cs, free := dbArg(db)
		defer free()
		return C.pm_wrapper_close_streams(w, cs, &closed, e)
	})
	return int(closed), err
}

// StreamCount is the number of open change streams (subscribers included) of database db, or
// of all databases when db is "".
func (c *Client) StreamCount(db string) int {
	if strings.IndexByte(db, 0) >= 0 {
		return 0
	}
	n, _ := withWrapper(c, func(w *C.pm_wrapper) (int, error) {
		cs, free := dbArg(db)
		defer free()
		return int(C.pm_wrapper_stream_count(w, cs)), nil
	})
	return n
}

// poll waits up to timeout for one event: the event, nil on timeout, or an error.
func (s *ChangeStream) poll(timeout time.Duration) (bson.Raw, error) {
	p, err := s.h.acquire()
	if err != nil {
		return nil, err
	}
	defer s.h.release()
	var data *C.uint8_t
	var n C.size_t
	var e C.pm_error
	rc := C.pm_stream_next(p, C.int64_t(durationMS(timeout, false)), &data, &n, &e)
	switch {
	case rc == 1:
		return copyBytes(data, n), nil // borrowed until the next call: copy now
	case rc == 0:
		return nil, nil
	default:
		return nil, cError(rc, &e)
	}
}

// wait polls until an event, an error, the context is done, or (limit > 0) limit has passed.
func (s *ChangeStream) wait(ctx context.Context, limit time.Duration) bool {
	if s.failed {
		return false
	}
	s.err, s.Current = nil, nil
	var until time.Time
	if limit > 0 {
		until = time.Now().Add(limit)
	}
	for {
		if err := ctx.Err(); err != nil {
			s.err = err
			return false
		}
		slice := streamPoll
		if d, ok := ctx.Deadline(); ok && time.Until(d) < slice {
			slice = time.Until(d)
		}
		if limit > 0 {
			left := time.Until(until)
			if left <= 0 {
				return false
			}
			slice = min(slice, left)
		}
		ev, err := s.poll(slice)
		if err != nil {
			s.err, s.failed = err, true
			return false
		}
		if ev != nil {
			s.Current = ev
			return true
		}
	}
}

// Next waits for the next event, making it Current. It returns false when the context is
// done (Err is ctx.Err(); the stream stays open and Next may be called again) or on an error
// from the stream (Err; terminal: ErrClosed after Close, Client.CloseStreams or
// Client.DropDatabase, a server error, a subscriber that fell too far behind).
func (s *ChangeStream) Next(ctx context.Context) bool { return s.wait(ctx, 0) }

// TryNext waits at most timeout for an event: true with Current set, false when none came in
// time (Err nil) or on an error (Err set, as for Next).
func (s *ChangeStream) TryNext(ctx context.Context, timeout time.Duration) bool {
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	return s.wait(ctx, timeout)
}

// Err is the error that stopped the last Next or TryNext, if any.
func (s *ChangeStream) Err() error { return s.err }

// Decode unmarshals Current into v.
func (s *ChangeStream) Decode(v any) error {
	if s.Current == nil {
		return errorf(CodeInvalidArgument, nil, "Decode: no current event (call Next first)")
	}
	return decodeInto(s.Current, v, "ChangeStream.Decode")
}

// ResumeToken is the token to resume after the last event returned (pass it as
// ChangeStreamOptions.ResumeAfter or StartAfter); nil before any.
func (s *ChangeStream) ResumeToken() (bson.Raw, error) {
	p, err := s.h.acquire()
	if err != nil {
		return nil, err
	}
	defer s.h.release()
	var out C.pm_buf
	var e C.pm_error
	if rc := C.pm_stream_resume_token(p, &out, &e); rc != 0 {
		C.pm_buf_free(&out)
		return nil, cError(rc, &e)
	}
	if out.len == 0 {
		C.pm_buf_free(&out)
		return nil, nil
	}
	return takeBuf(&out), nil
}

// Close closes the stream (a subscriber leaves its shared stream). Closing the server cursor
// is a network round trip, which Close waits for until ctx is done; the stream is closed
// either way. Closing twice is harmless; Next after Close fails with ErrClosed.
func (s *ChangeStream) Close(ctx context.Context) error {
	if ctx.Done() == nil {
		s.h.close()
		return nil
	}
	free, _ := s.h.detach()
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

// Iter iterates events until the context is done or the stream fails; that error is yielded
// last with a nil event (a loop that ends by cancelling ctx sees ctx.Err()). The stream is not
// closed, so ResumeToken still works after the loop; breaking out is fine.
func (s *ChangeStream) Iter(ctx context.Context) iter.Seq2[bson.Raw, error] {
	return func(yield func(bson.Raw, error) bool) {
		for s.Next(ctx) {
			if !yield(s.Current, nil) {
				return
			}
		}
		yield(nil, s.err)
	}
}

// Events iterates the events of a stream decoded as T (see ChangeStream.Iter).
//
//	for ev, err := range polymongo.Events[ChangeEvent[User]](ctx, stream) { ... }
func Events[T any](ctx context.Context, s *ChangeStream) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for raw, err := range s.Iter(ctx) {
			var v T
			if err == nil {
				err = decodeInto(raw, &v, "Events")
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// ChangeEvent is the common shape of a change event, for Decode and Events; T is the type of
// the documents.
type ChangeEvent[T any] struct {
	ID            bson.Raw `bson:"_id"`
	OperationType string   `bson:"operationType"`
	NS            struct {
		DB   string `bson:"db"`
		Coll string `bson:"coll"`
	} `bson:"ns"`
	DocumentKey       bson.Raw       `bson:"documentKey,omitempty"`
	FullDocument      *T             `bson:"fullDocument,omitempty"`
	UpdateDescription bson.Raw       `bson:"updateDescription,omitempty"`
	ClusterTime       bson.Timestamp `bson:"clusterTime,omitempty"`
}
