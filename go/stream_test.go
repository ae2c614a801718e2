//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// streamFixture is a client on the server with change streams (SecantusDB), a model and two
// databases whose collections exist before anything watches them.
type streamFixture struct {
	t    *testing.T
	c    *Client
	m    *Model
	a, b string
}

func newStreamFixture(t *testing.T) *streamFixture {
	t.Helper()
	uri := txnURI(t)
	f := &streamFixture{t: t, a: uniqueDB("st_a"), b: uniqueDB("st_b")}
	c, err := New(Options{MongoURI: uri, DefaultDB: f.a, MaxPoolSize: 8})
	if err != nil {
		t.Fatalf("New on the change streams server: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	f.c = c
	f.m = mustModel(t, c, "events")
	for _, name := range []string{f.a, f.b} {
		f.insert(f.m, name, bson.D{{Key: "_id", Value: "seed"}})
	}
	return f
}

func (f *streamFixture) insert(m *Model, db string, d any) {
	f.t.Helper()
	if _, err := mustDB(f.t, m, db).InsertOne(context.Background(), d); err != nil {
		f.t.Fatalf("insert into %s: %v", db, err)
	}
}

// nextKey is the documentKey._id of the next event within wait ("" when none came).
func nextKey(t *testing.T, s *ChangeStream, wait time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if !s.Next(ctx) {
		if !errors.Is(s.Err(), context.DeadlineExceeded) {
			t.Fatalf("Next: %v", s.Err())
		}
		return ""
	}
	v := s.Current.Lookup("documentKey", "_id")
	if i, ok := v.Int32OK(); ok {
		return fmt.Sprint(i)
	}
	return v.String() // a string _id: quoted
}

type streamItem struct {
	ID int32 `bson:"_id"`
	N  int32 `bson:"n"`
}

func TestStreamEventsArriveInOrderAndResumeAfterAToken(t *testing.T) {
	f := newStreamFixture(t)
	ctx := context.Background()
	d := mustDB(t, f.m, f.a)
	s, err := d.Watch(ctx, []bson.D{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "insert"}}}}},
		&ChangeStreamOptions{FullDocument: "updateLookup", MaxAwaitTime: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if got := f.c.StreamCount(f.a); got != 1 {
		t.Fatalf("StreamCount = %d, want 1", got)
	}
	for i := int32(1); i <= 3; i++ {
		f.insert(f.m, f.a, streamItem{ID: i, N: i * 10})
	}
	if _, err := d.UpdateOne(ctx, bson.D{{Key: "_id", Value: 1}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 99}}}}); err != nil {
		t.Fatal(err)
	}
	// The first event, decoded through the generic iterator.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for ev, err := range Events[ChangeEvent[streamItem]](wctx, s) {
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if ev.OperationType != "insert" || ev.NS.DB != f.a || ev.NS.Coll != "events" || ev.FullDocument == nil ||
			*ev.FullDocument != (streamItem{ID: 1, N: 10}) {
			t.Fatalf("first event: %+v", ev)
		}
		break
	}
	token, err := s.ResumeToken()
	if err != nil || len(token) <= 5 {
		t.Fatalf("ResumeToken: %v %v", token, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Next(ctx) || !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("Next after Close: %v", s.Err())
	}
	// Reopened after the first event: the second and third, nothing twice, and no update (the
	// old pipeline is not part of the token: this stream has none, so the update shows).
	s2, err := d.Watch(ctx, nil, &ChangeStreamOptions{ResumeAfter: token})
	if err != nil {
		t.Fatalf("Watch resumeAfter: %v", err)
	}
	defer s2.Close(ctx)
	for _, want := range []string{"2", "3", "1"} {
		if got := nextKey(t, s2, 5*time.Second); got != want {
			t.Fatalf("resumed event key %q, want %q", got, want)
		}
	}
	var ev ChangeEvent[streamItem]
	if err := s2.Decode(&ev); err != nil || ev.OperationType != "update" {
		t.Fatalf("Decode: %+v %v", ev, err)
	}
	// Nothing more: TryNext gives up quietly, the stream stays usable.
	start := time.Now()
	if s2.TryNext(ctx, 300*time.Millisecond) || s2.Err() != nil {
		t.Fatalf("TryNext with nothing to read: %v", s2.Err())
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 3*time.Second {
		t.Fatalf("TryNext waited %v", el)
	}
	f.insert(f.m, f.a, streamItem{ID: 4})
	if got := nextKey(t, s2, 5*time.Second); got != "4" {
		t.Fatalf("after a timeout, the next event: %q", got)
	}
}

func TestStreamWatchDatabaseAndCluster(t *testing.T) {
	f := newStreamFixture(t)
	ctx := context.Background()
	other := mustModel(t, f.c, "others")
	dbs, err := f.c.WatchDatabase(ctx, f.a, nil)
	if err != nil {
		t.Fatalf("WatchDatabase: %v", err)
	}
	defer dbs.Close(ctx)
	only := bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "ns.db", Value: bson.D{{Key: "$in", Value: bson.A{f.a, f.b}}}}}}}}
	cluster, err := f.c.WatchCluster(ctx, only)
	if err != nil {
		t.Fatalf("WatchCluster: %v", err)
	}
	defer cluster.Close(ctx)
	def, err := f.c.WatchDatabase(ctx, "", nil) // the default database is f.a
	if err != nil {
		t.Fatalf("WatchDatabase(default): %v", err)
	}
	defer def.Close(ctx)

	f.insert(f.m, f.a, bson.D{{Key: "_id", Value: "in_a_events"}})
	f.insert(other, f.a, bson.D{{Key: "_id", Value: "in_a_others"}})
	f.insert(f.m, f.b, bson.D{{Key: "_id", Value: "in_b"}})
	for _, s := range []*ChangeStream{dbs, def} {
		if got := nextKey(t, s, 5*time.Second); got != `"in_a_events"` {
			t.Fatalf("database stream, first: %s", got)
		}
		if got := nextKey(t, s, 5*time.Second); got != `"in_a_others"` {
			t.Fatalf("database stream sees every collection: %s", got)
		}
		if got := nextKey(t, s, 300*time.Millisecond); got != "" {
			t.Fatalf("database stream saw the other database: %s", got)
		}
	}
	var seen []string
	for range 3 {
		seen = append(seen, nextKey(t, cluster, 5*time.Second))
	}
	if seen[2] != `"in_b"` || cluster.Current.Lookup("ns", "db").StringValue() != f.b {
		t.Fatalf("cluster stream: %v", seen)
	}
	if got := f.c.StreamCount(""); got != 3 {
		t.Fatalf("StreamCount(all) = %d", got)
	}
	// Bad arguments are the language's errors, not crashes.
	if _, err := f.c.WatchDatabase(ctx, "bad/name", nil); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("WatchDatabase(bad name): %v", err)
	}
	if _, err := f.c.WatchCluster(ctx, 42); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("WatchCluster(42): %v", err)
	}
}

func TestStreamSharedSubscribersEachGetEveryEvent(t *testing.T) {
	f := newStreamFixture(t)
	ctx := context.Background()
	const n = 50
	subs := make([]*ChangeStream, n)
	for i := range subs {
		s, err := f.c.SubscribeStream(ctx, f.a, "events")
		if err != nil {
			t.Fatalf("SubscribeStream %d: %v", i, err)
		}
		subs[i] = s
	}
	st, err := f.c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pinned := 0
	for _, p := range st.Pools {
		pinned += p.Pinned.Streams
	}
	if pinned != 1 {
		t.Fatalf("%d subscribers should share one server-side stream, stats show %d", n, pinned)
	}
	for i := range 5 {
		f.insert(f.m, f.a, bson.D{{Key: "_id", Value: fmt.Sprintf("e%d", i)}})
	}
	// Every subscriber, read concurrently from its own goroutine; subscriber 7 leaves after one.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for k, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := 5
			if k == 7 {
				want = 1
			}
			for i := range want {
				c, cancel := context.WithTimeout(ctx, 10*time.Second)
				ok := s.Next(c)
				cancel()
				if !ok {
					errs <- fmt.Errorf("subscriber %d event %d: %v", k, i, s.Err())
					return
				}
				if got := s.Current.Lookup("documentKey", "_id").StringValue(); got != fmt.Sprintf("e%d", i) {
					errs <- fmt.Errorf("subscriber %d event %d: %s", k, i, got)
					return
				}
			}
			if k == 7 {
				s.Close(ctx)
				return
			}
			if s.TryNext(ctx, 100*time.Millisecond) {
				errs <- fmt.Errorf("subscriber %d: an event twice: %s", k, s.Current)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.c.StreamCount(f.a); got != n-1 {
		t.Fatalf("StreamCount after one left = %d", got)
	}
	for _, s := range subs {
		s.Close(ctx)
	}
	if got := f.c.StreamCount(""); got != 0 {
		t.Fatalf("StreamCount after Close = %d", got)
	}
	// A subscriber to a whole database sees every collection.
	whole, err := f.c.SubscribeStream(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close(ctx)
	f.insert(mustModel(t, f.c, "others"), f.a, bson.D{{Key: "_id", Value: "o1"}})
	if got := nextKey(t, whole, 5*time.Second); got != `"o1"` {
		t.Fatalf("database subscriber: %s", got)
	}
	if _, err := f.c.SubscribeStream(ctx, f.a, "bad$coll"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad collection: %v", err)
	}
}

// inFlight is the number of C calls running on the handle (acquired, not yet released).
func (h *handle[P]) inFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.busy
}

// waitBlockedInNext returns once the Next started on s in another goroutine (which reports
// its end on woke) is observably waiting inside the library: a pm_stream_next call is in
// flight on the stream's handle, and Next has not returned. Nothing else uses s meanwhile, so
// the call in flight is that Next's; and Next, with no event coming and a context that never
// ends, can then only return once the stream is closed. Fails after 5 seconds.
func waitBlockedInNext(t *testing.T, s *ChangeStream, woke <-chan error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.h.inFlight() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Next never started waiting in pm_stream_next")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-woke:
		t.Fatalf("Next returned before the stream was closed: %v", err)
	default:
	}
}

func TestStreamCloseStreamsAndDropDatabaseCloseThem(t *testing.T) {
	f := newStreamFixture(t)
	ctx := context.Background()
	a1, err := mustDB(t, f.m, f.a).Watch(ctx, nil)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer a1.Close(ctx)
	a2, err := f.c.SubscribeStream(ctx, f.a, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close(ctx)
	b1, err := mustDB(t, f.m, f.b).Watch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b1.Close(ctx)
	if f.c.StreamCount(f.a) != 2 || f.c.StreamCount("") != 3 {
		t.Fatalf("counts %d %d", f.c.StreamCount(f.a), f.c.StreamCount(""))
	}
	// A Next blocked in another goroutine is woken by CloseStreams.
	woke := make(chan error, 1)
	go func() {
		a1.Next(ctx)
		woke <- a1.Err()
	}()
	waitBlockedInNext(t, a1, woke)
	n, err := f.c.CloseStreams(ctx, f.a)
	if err != nil || n != 2 {
		t.Fatalf("CloseStreams = %d, %v", n, err)
	}
	select {
	case err := <-woke:
		var pe *Error
		if !errors.Is(err, ErrClosed) || !errors.As(err, &pe) || pe.Code != CodeClosed {
			t.Fatalf("blocked Next after CloseStreams: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CloseStreams did not wake a blocked Next")
	}
	if a2.TryNext(ctx, 10*time.Millisecond) || !errors.Is(a2.Err(), ErrClosed) {
		t.Fatalf("subscriber after CloseStreams: %v", a2.Err())
	}
	if a2.Next(ctx) || !errors.Is(a2.Err(), ErrClosed) {
		t.Fatal("a closed stream stays closed")
	}
	if b1.TryNext(ctx, 10*time.Millisecond) || b1.Err() != nil {
		t.Fatalf("the other database's stream is untouched: %v", b1.Err())
	}
	if err := f.c.DropDatabase(ctx, f.b); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	if b1.TryNext(ctx, 10*time.Millisecond) || !errors.Is(b1.Err(), ErrClosed) {
		t.Fatalf("after DropDatabase: %v", b1.Err())
	}
	if got := f.c.StreamCount(""); got != 0 {
		t.Fatalf("StreamCount = %d", got)
	}
	// CloseStreams("") closes every database's streams.
	s, err := f.c.WatchDatabase(ctx, f.a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.c.CloseStreams(ctx, ""); err != nil || n != 1 {
		t.Fatalf("CloseStreams(all) = %d, %v", n, err)
	}
	if s.TryNext(ctx, 10*time.Millisecond) || !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("after CloseStreams(all): %v", s.Err())
	}
}

func TestStreamContextCloseAndClientClose(t *testing.T) {
	f := newStreamFixture(t)
	ctx := context.Background()
	s, err := f.c.SubscribeStream(ctx, f.a, "events")
	if err != nil {
		t.Fatal(err)
	}
	// A context deadline stops Next without closing the stream.
	c, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	start := time.Now()
	if s.Next(c) || !errors.Is(s.Err(), context.DeadlineExceeded) {
		t.Fatalf("Next under a deadline: %v", s.Err())
	}
	cancel()
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Next overran its deadline: %v", el)
	}
	f.insert(f.m, f.a, bson.D{{Key: "_id", Value: "after"}})
	if got := nextKey(t, s, 5*time.Second); got != `"after"` {
		t.Fatalf("after a deadline: %s", got)
	}
	// All ends with ctx.Err() when the loop's context is cancelled.
	c2, cancel2 := context.WithCancel(ctx)
	go func() { time.Sleep(100 * time.Millisecond); cancel2() }()
	var last error
	for ev, err := range s.Iter(c2) {
		if ev != nil {
			t.Fatalf("unexpected event %s", ev)
		}
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Fatalf("All ended with %v", last)
	}
	// Close from another goroutine wakes a blocked Next.
	woke := make(chan error, 1)
	go func() {
		s.Next(ctx)
		woke <- s.Err()
	}()
	waitBlockedInNext(t, s, woke)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-woke:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after a concurrent Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked Next")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal("Close twice:", err)
	}
	// Client.Close closes the streams still open; they fail cleanly afterwards.
	s2, err := f.c.WatchDatabase(ctx, f.a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Decode(&bson.D{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Decode before Next: %v", err)
	}
	f.c.Close()
	if s2.Next(ctx) || !errors.Is(s2.Err(), ErrClosed) {
		t.Fatalf("Next after Client.Close: %v", s2.Err())
	}
	if _, err := s2.ResumeToken(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ResumeToken after Client.Close: %v", err)
	}
	if _, err := f.c.WatchCluster(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("WatchCluster after Client.Close: %v", err)
	}
	if _, err := f.c.SubscribeStream(ctx, f.a, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("SubscribeStream after Client.Close: %v", err)
	}
	if got := f.c.StreamCount(""); got != 0 {
		t.Fatalf("StreamCount after Client.Close = %d", got)
	}
}

func TestStreamsAreRefusedByFerretDB(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "events")
	d := mustDB(t, m, uniqueDB("st_ferret"))
	ctx := context.Background()
	if _, err := d.InsertOne(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	s, err := d.Watch(ctx, nil)
	if err == nil {
		s.Close(ctx)
		t.Skip("this server has change streams")
	}
	if s != nil || !(errors.Is(err, ErrNotSupported) || errors.Is(err, ErrServer)) {
		t.Fatalf("Watch on FerretDB: %v (%T)", err, err)
	}
	if _, err := c.WatchDatabase(ctx, d.Name(), nil); !(errors.Is(err, ErrNotSupported) || errors.Is(err, ErrServer)) {
		t.Fatalf("WatchDatabase on FerretDB: %v", err)
	}
	if got := c.StreamCount(""); got != 0 {
		t.Fatalf("StreamCount after refusals = %d", got)
	}
	if _, err := d.Watch(ctx, ExtJSON(`{"pipeline": 3}`)); err == nil {
		t.Fatal("a malformed pipeline was accepted")
	}
	if _, err := d.Watch(ctx, "not a pipeline"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a string pipeline: %v", err)
	}
	if _, err := d.Watch(ctx, nil, &ChangeStreamOptions{Extra: map[string]any{"x": make(chan int)}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unmarshalable options: %v", err)
	}
}
