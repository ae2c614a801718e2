//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// waitForHandles runs the GC until at most want C handles are alive.
func waitForHandles(t *testing.T, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for liveHandles.Load() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d C handles alive, want <= %d", liveHandles.Load(), want)
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

func seed(t *testing.T, d *DB, n int) {
	t.Helper()
	docs := make([]bson.D, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: i}}
	}
	if _, err := d.InsertMany(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentGoroutinesShareOneClient(t *testing.T) {
	c := newClient(t, func(o *Options) { o.MaxPoolSize = 4 })
	m := mustModel(t, c, "events")
	ctx := context.Background()
	const tenants, workers, perWorker = 4, 16, 25
	names := make([]string, tenants)
	for i := range names {
		names[i] = uniqueDB(fmt.Sprintf("conc%d", i))
	}
	shared := make([]*DB, tenants)
	for i := range shared {
		shared[i] = mustDB(t, m, names[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				tenant := (w + i) % tenants
				d := shared[tenant]
				if i%2 == 1 { // a fresh handle per request, as a web handler would
					var err error
					if d, err = m.DB(names[tenant]); err != nil {
						errs <- err
						return
					}
				}
				if _, err := d.InsertOne(ctx, bson.D{{Key: "w", Value: w}, {Key: "i", Value: i}, {Key: "t", Value: tenant}}); err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					cur, err := d.Find(ctx, bson.D{{Key: "w", Value: w}}, &FindOptions{BatchSize: 2})
					if err != nil {
						errs <- err
						return
					}
					var docs []bson.M
					if err := cur.All(ctx, &docs); err != nil {
						errs <- err
						return
					}
					for _, doc := range docs {
						if int(doc["t"].(int32)) != tenant {
							errs <- fmt.Errorf("tenant %d read a document of tenant %v", tenant, doc["t"])
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check := newChecker(t)
	total := int64(0)
	for i, name := range names {
		n := check.count(name, "events", nil)
		if check.count(name, "events", bson.D{{Key: "t", Value: bson.D{{Key: "$ne", Value: i}}}}) != 0 {
			t.Fatalf("%s holds other tenants' documents", name)
		}
		total += n
	}
	if total != workers*perWorker {
		t.Fatalf("%d documents written, want %d", total, workers*perWorker)
	}
}

func TestCloseRacingWithCallsNeverCrashes(t *testing.T) {
	base := liveHandles.Load()
	c := newClient(t, func(o *Options) { o.MaxPoolSize = 4 })
	d := mustDB(t, mustModel(t, c, "race"), uniqueDB("closerace"))
	ctx := context.Background()
	var ok, closed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := d.InsertOne(ctx, bson.D{{Key: "w", Value: w}, {Key: "i", Value: i}})
				if err == nil {
					_, err = d.CountDocuments(ctx, bson.D{{Key: "w", Value: w}})
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrClosed):
					closed.Add(1)
					return
				default:
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	c.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a call racing with Close failed with something other than ErrClosed: %v", err)
	}
	if ok.Load() == 0 || closed.Load() != 8 {
		t.Fatalf("ok %d, closed %d", ok.Load(), closed.Load())
	}
	waitForHandles(t, base, 10*time.Second)
}

func TestHandlesClosedInAnyOrder(t *testing.T) {
	base := liveHandles.Load()
	ctx := context.Background()
	// Model first, then the db keeps working; db closed, its cursor keeps working.
	c := newClient(t)
	m := mustModel(t, c, "order")
	name := uniqueDB("order")
	d := mustDB(t, m, name)
	m.Close()
	seed(t, d, 5)
	cur, err := d.Find(ctx, nil, &FindOptions{BatchSize: 1, Sort: bson.D{{Key: "_id", Value: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := d.CountDocuments(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed db: %v", err)
	}
	n := 0
	for cur.Next(ctx) {
		n++
	}
	if cur.Err() != nil || n != 5 {
		t.Fatalf("cursor after its db and model closed: %d docs, %v", n, cur.Err())
	}
	cur.Close(ctx)
	c.Close()

	// Client first: everything made from it is closed with it.
	c2 := newClient(t)
	m2 := mustModel(t, c2, "order")
	d2 := mustDB(t, m2, name)
	cur2, err := d2.Find(ctx, nil, &FindOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if cur2.Next(ctx) || !errors.Is(cur2.Err(), ErrClosed) {
		t.Fatalf("cursor of a closed client: %v", cur2.Err())
	}
	cur2.Close(ctx)
	d2.Close()
	m2.Close()

	// Cursor, db, model, client, each closed twice.
	c3 := newClient(t)
	m3 := mustModel(t, c3, "order")
	d3 := mustDB(t, m3, name)
	cur3, err := d3.Find(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		cur3.Close(ctx)
		d3.Close()
		m3.Close()
		c3.Close()
	}
	if liveHandles.Load() != base {
		t.Fatalf("%d C handles alive after closing everything, want %d", liveHandles.Load(), base)
	}
}

func TestForgottenHandlesAreFreedByTheGC(t *testing.T) {
	uri := serverURI(t)
	name := uniqueDB("gc")
	{
		c := newClient(t)
		seed(t, mustDB(t, mustModel(t, c, "gc"), name), 10)
		c.Close()
	}
	base := liveHandles.Load()
	func() {
		c, err := New(Options{MongoURI: uri, MaxPoolSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		m := mustModel(t, c, "gc")
		for range 5 {
			d := mustDB(t, m, name)
			cur, err := d.Find(context.Background(), nil, &FindOptions{BatchSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !cur.Next(context.Background()) { // an open server cursor, pinning a connection
				t.Fatal(cur.Err())
			}
		}
		if got := liveHandles.Load() - base; got != 12 {
			t.Fatalf("%d handles made, want 12", got)
		}
	}()
	// Nothing refers to the client, its model, dbs and cursors any more.
	waitForHandles(t, base, 20*time.Second)

	// Children outliving a forgotten parent: a db whose client and model are unreachable
	// still works, and is collected in turn.
	d := func() *DB {
		c, err := New(Options{MongoURI: uri})
		if err != nil {
			t.Fatal(err)
		}
		return mustDB(t, mustModel(t, c, "gc"), name)
	}()
	for range 3 {
		runtime.GC()
	}
	if n, err := d.CountDocuments(context.Background(), nil); err != nil || n != 10 {
		t.Fatalf("db of a forgotten client: %d, %v", n, err)
	}
	d = nil
	waitForHandles(t, base, 20*time.Second)
}

// blackHole accepts connections and never answers: a C call to it blocks until its own
// timeouts, so the tests can see what a context does to a call that is stuck in C.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestContextCancellationReturnsPromptly(t *testing.T) {
	serverURI(t) // the real server is used below
	base := liveHandles.Load()
	addr := blackHole(t)
	stuck, err := New(Options{MongoURI: "mongodb://" + addr + "/?serverSelectionTimeoutMS=3000&connectTimeoutMS=3000&socketTimeoutMS=3000"})
	if err != nil {
		t.Fatal(err)
	}
	d := mustDB(t, mustModel(t, stuck, "items"), "go_blackhole")

	// A deadline: the method returns at the deadline, though the C call goes on for seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.InsertOne(ctx, bson.D{{Key: "a", Value: 1}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expected context.DeadlineExceeded, got %v", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("returned after %v, not at the deadline", took)
	}

	// Cancellation, from another goroutine.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	start = time.Now()
	if _, err := d.Find(ctx2, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("expected context.Canceled, got %v", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("returned %v after the cancel", took)
	}
	// Closing the client while those calls are still stuck in C is safe: the handles are freed
	// when the calls return (by their own timeouts).
	stuck.Close()
	if _, err := d.CountDocuments(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	waitForHandles(t, base, 30*time.Second)

	// Without the context, the C library's own timeout applies and maps to an error code.
	stuck2, err := New(Options{MongoURI: "mongodb://" + addr + "/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"})
	if err != nil {
		t.Fatal(err)
	}
	defer stuck2.Close()
	_, err = mustDB(t, mustModel(t, stuck2, "items"), "go_blackhole").InsertOne(context.Background(), bson.D{{Key: "a", Value: 1}})
	if !errors.Is(err, ErrConnection) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("expected ErrConnection or ErrTimeout, got %v", err)
	}

	// On the real server: an already cancelled context sends nothing; a deadline is honoured
	// by every call that sends it as maxTimeMS.
	c := newClient(t)
	name := uniqueDB("ctx")
	real := mustDB(t, mustModel(t, c, "items"), name)
	done, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := real.InsertOne(done, bson.D{{Key: "never", Value: true}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	seed(t, real, 3)
	cur, err := real.Find(context.Background(), nil, &FindOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Next(done) || !errors.Is(cur.Err(), context.Canceled) {
		t.Fatalf("Next with a cancelled context: %v", cur.Err())
	}
	if cur.Next(context.Background()) {
		t.Fatal("a cursor whose Next was cancelled goes on")
	}
	tctx, cancel4 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel4()
	if n, err := real.CountDocuments(tctx, nil, &CountOptions{MaxTime: 20 * time.Second}); err != nil || n != 3 {
		t.Fatalf("CountDocuments under a deadline: %d, %v", n, err)
	}
	var got bson.M
	if err := real.FindOneAndUpdate(tctx, bson.D{{Key: "_id", Value: 1}}, bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}},
		&FindOneAndUpdateOptions{ReturnDocument: After}).Decode(&got); err != nil || got["x"] != int32(1) {
		t.Fatalf("FindOneAndUpdate under a deadline: %v, %v", got, err)
	}
	cur, err = real.Aggregate(tctx, bson.A{bson.D{{Key: "$match", Value: bson.D{}}}})
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := cur.All(tctx, &all); err != nil || len(all) != 3 {
		t.Fatalf("Aggregate under a deadline: %v, %v", all, err)
	}
	if newChecker(t).count(name, "items", bson.D{{Key: "never", Value: true}}) != 0 {
		t.Fatal("a call with a cancelled context wrote")
	}
}

// Close is pm_wrapper_close (include/polymongo/lifecycle.h), the contract every binding shares:
// every operation of everything made from the client fails with ErrClosed (PM_ECLOSED, from C),
// a result obtained before stays readable, closing twice is harmless, and the OS shows none of
// the client's sockets.
func TestCloseIsTheCContract(t *testing.T) {
	ctx := context.Background()
	port := serverPort(t)
	before := socketsToPort(t, port)
	c := newClient(t, func(o *Options) { o.MaxPoolSize = 2 })
	m := mustModel(t, c, "contract")
	name := uniqueDB("contract")
	d := mustDB(t, m, name)
	seed(t, d, 3)
	res, err := d.InsertOne(ctx, bson.D{{Key: "_id", Value: 3}})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := d.Find(ctx, nil, &FindOptions{BatchSize: 1, Sort: bson.D{{Key: "_id", Value: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Next(ctx) {
		t.Fatalf("first Next: %v", cur.Err())
	}
	if socketsToPort(t, port) <= before {
		t.Fatal("no socket open before Close")
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := socketsToPort(t, port); n != before {
		t.Fatalf("%d sockets to the server after Close, want %d", n, before)
	}
	expectClosed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s after Close: expected ErrClosed, got %v", what, err)
		}
		asError(t, err, CodeClosed)
	}
	_, err = d.InsertOne(ctx, bson.D{{Key: "_id", Value: 9}})
	expectClosed("DB.InsertOne", err)
	_, err = d.CountDocuments(ctx, nil)
	expectClosed("DB.CountDocuments", err)
	if cur.Next(ctx) {
		t.Fatal("Cursor.Next after Close returned a document")
	}
	expectClosed("Cursor.Next", cur.Err())
	_, err = m.DB(uniqueDB("later"))
	expectClosed("Model.DB", err)
	_, err = c.Model("later")
	expectClosed("Client.Model", err)
	if fmt.Sprint(res.InsertedID) != "3" {
		t.Fatalf("a result obtained before Close: %#v", res.InsertedID)
	}
	if n := socketsToPort(t, port); n != before {
		t.Fatalf("%d sockets to the server after the refused calls, want %d: something reconnected", n, before)
	}
	if got := newChecker(t).count(name, "contract", nil); got != 4 {
		t.Fatalf("%d documents on the server, want 4: a refused call reached it", got)
	}
}

func TestTenantLimitsThrottleWithARetryableError(t *testing.T) {
	c := newClient(t, func(o *Options) {
		o.TenantLimits = &TenantLimits{RatePerSecond: 0.01, Burst: 1, OnLimit: "fail"}
	})
	m := mustModel(t, c, "items")
	ctx := context.Background()
	name := uniqueDB("limits")
	d := mustDB(t, m, name)
	if _, err := d.InsertOne(ctx, bson.D{{Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	_, err := d.InsertOne(ctx, bson.D{{Key: "n", Value: 2}})
	var pe *Error
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &pe) || pe.Code != CodeThrottled || !pe.Code.Retryable() {
		t.Fatalf("want a retryable ErrThrottled, got %v", err)
	}
	if CodeTimeout.Retryable() {
		t.Fatal("CodeTimeout is not retryable as is")
	}
	if err := c.SetTenantLimits(name, &TenantLimits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InsertOne(ctx, bson.D{{Key: "n", Value: 3}}); err != nil {
		t.Fatalf("no limits for %s now: %v", name, err)
	}
	if err := c.SetTenantLimits(name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InsertOne(ctx, bson.D{{Key: "n", Value: 4}}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("the default again: want ErrThrottled, got %v", err)
	}
	if err := c.SetTenantLimits("", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InsertOne(ctx, bson.D{{Key: "n", Value: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTenantLimits("", &TenantLimits{OnLimit: "later"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("want ErrInvalidArgument, got %v", err)
	}
	if n := newChecker(t).count(name, "items", bson.D{}); n != 3 {
		t.Fatalf("%d documents, want 3 (throttled writes send nothing)", n)
	}
}
