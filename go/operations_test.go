//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestHealthStateAndPing(t *testing.T) {
	c := newClient(t)
	if s := c.State(); s != StateNotInitialized || c.IsConnected() {
		t.Fatalf("cold client: %v, connected %v", s, c.IsConnected())
	}
	names := map[string]bool{}
	for _, s := range []State{StateNotInitialized, StateConnecting, StateConnected, StateDisconnecting, StateDisconnected} {
		names[s.String()] = true
	}
	if len(names) != 5 || StateConnected.String() != "connected" {
		t.Fatalf("state names: %v", names)
	}
	ctx := context.Background()
	rtt, err := c.Ping(ctx, uniqueDB("ping"))
	if err != nil || rtt <= 0 || rtt > 10*time.Second {
		t.Fatalf("Ping: %v, %v", rtt, err)
	}
	if c.State() != StateConnected || !c.IsConnected() {
		t.Fatalf("after a ping: %v", c.State())
	}
	if _, err := c.Ping(ctx, "bad.name"); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("Ping(bad.name): %v", err)
	}
	down, err := New(Options{MongoURI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", DefaultDB: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if _, err := down.Ping(ctx, ""); !errors.Is(err, ErrConnection) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("Ping of a closed port: %v", err)
	}
	if down.IsConnected() || down.State() == StateConnected {
		t.Fatalf("state of an unreachable server: %v", down.State())
	}
	c.Close()
	if _, err := c.Ping(ctx, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if c.State() != StateDisconnected {
		t.Fatalf("closed client state: %v", c.State())
	}
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) record(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) count(t EventType) int {
	n := 0
	for _, e := range r.all() {
		if e.Type == t {
			n++
		}
	}
	return n
}

func waitForCallbacks(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for liveCallbacks.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d callback payloads alive, want %d", liveCallbacks.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventsReachGoCallbacks(t *testing.T) {
	baseCallbacks := liveCallbacks.Load()
	c := newClient(t)
	m := mustModel(t, c, "hooks")
	x, y := uniqueDB("hook_x"), uniqueDB("hook_y")
	var chosen, all recorder
	subChosen, err := c.Subscribe(EventConnect|EventDisconnect, chosen.record, x)
	if err != nil {
		t.Fatal(err)
	}
	var nested sync.WaitGroup
	nested.Add(1)
	var once sync.Once
	subAll, err := c.Subscribe(EventAll&^EventLog, func(e Event) {
		all.record(e)
		once.Do(func() { // a callback may call polymongo
			_ = c.OpenPools()
			nested.Done()
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if subChosen.ID() == subAll.ID() {
		t.Fatal("subscription ids collide")
	}
	ctx := context.Background()
	dx, dy := mustDB(t, m, x), mustDB(t, m, y)
	for _, d := range []*DB{dx, dx, dy} { // only the first operation per database is a connect
		if _, err := d.InsertOne(ctx, bson.D{{Key: "a", Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushEvents(ctx); err != nil {
		t.Fatal(err)
	}
	nested.Wait()
	ev := chosen.all()
	if len(ev) != 2 || ev[0].Type != EventConnect || ev[0].DB != x || ev[0].Pool != "shared" ||
		ev[1].Type != EventDisconnect || ev[1].Reason != "closed" || ev[1].DB != x {
		t.Fatalf("events for %s: %+v", x, ev)
	}
	if time.Since(ev[0].Time) > time.Minute || ev[0].Time.After(time.Now().Add(time.Second)) {
		t.Fatalf("event time %v", ev[0].Time)
	}
	if all.count(EventConnect) != 2 || all.count(EventDisconnect) != 2 {
		t.Fatalf("all events: %+v", all.all())
	}
	seq := all.all()
	if seq[0].Type != EventPoolOpened || seq[len(seq)-1].Type != EventPoolClosed || seq[len(seq)-1].Reason != "closed" {
		t.Fatalf("pool events out of order: %+v", seq)
	}

	// Unsubscribing stops delivery and releases the Go callback.
	before := liveCallbacks.Load()
	if err := subChosen.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := subChosen.Unsubscribe(); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	waitForCallbacks(t, before-1)
	if _, err := dx.InsertOne(ctx, bson.D{{Key: "a", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(chosen.all()); n != 2 {
		t.Fatalf("%d events after Unsubscribe", n)
	}
	if all.count(EventConnect) != 3 {
		t.Fatalf("reconnect after CloseAll not reported: %+v", all.all())
	}

	// A panicking callback: recovered, reported, and operations go on.
	var mu sync.Mutex
	var panics []any
	SetPanicHandler(func(r any) { mu.Lock(); panics = append(panics, r); mu.Unlock() })
	defer SetPanicHandler(nil)
	if _, err := c.Subscribe(EventConnect, func(Event) { panic("hook failed") }); err != nil {
		t.Fatal(err)
	}
	z := mustDB(t, m, uniqueDB("hook_z"))
	if _, err := z.InsertOne(ctx, bson.D{{Key: "a", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushEvents(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(panics) != 1 || panics[0] != "hook failed" {
		t.Fatalf("panics: %v", panics)
	}
	mu.Unlock()

	// Unsubscribe waits for a callback that is running.
	var started, finished atomic.Bool
	live := liveCallbacks.Load()
	slow, err := c.Subscribe(EventConnect, func(Event) {
		started.Store(true)
		time.Sleep(200 * time.Millisecond)
		finished.Store(true)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustDB(t, m, uniqueDB("hook_slow")).InsertOne(ctx, bson.D{{Key: "a", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !started.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow callback never ran")
		}
	}
	if err := slow.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Unsubscribe returned while the callback was running")
	}
	waitForCallbacks(t, live)

	// Bad subscriptions are refused, and the library releases their payload on every failure
	// path.
	if _, err := c.Subscribe(EventConnect, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil fn: %v", err)
	}
	if _, err := c.Subscribe(0, func(Event) {}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty mask: %v", err)
	}
	if _, err := c.Subscribe(EventConnect, func(Event) {}, "bad.name"); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("bad db: %v", err)
	}
	waitForCallbacks(t, live)
	if EventConnect.String() != "connect" || (EventConnect|EventError).String() != "connect|error" {
		t.Fatalf("EventType names: %v", EventConnect|EventError)
	}

	// Error events carry the code; closing the client releases every callback.
	down, err := New(Options{MongoURI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", DefaultDB: "d"})
	if err != nil {
		t.Fatal(err)
	}
	var errs recorder
	if _, err := down.Subscribe(EventError, errs.record); err != nil {
		t.Fatal(err)
	}
	_, err = mustDB(t, mustModel(t, down, "h"), "down_db").InsertOne(ctx, bson.D{})
	if !errors.Is(err, ErrConnection) {
		t.Fatalf("insert into a closed port: %v", err)
	}
	if err := down.FlushEvents(ctx); err != nil {
		t.Fatal(err)
	}
	ee := errs.all()
	if len(ee) != 1 || ee[0].DB != "down_db" || !errors.Is(ee[0].Err(), ErrConnection) || ee[0].Message == "" {
		t.Fatalf("error events: %+v", ee)
	}
	down.Close()
	c.Close()
	if c.DroppedEvents() != 0 {
		t.Fatal("DroppedEvents of a closed client")
	}
	waitForCallbacks(t, baseCallbacks)
}

func TestRoutingDedicatedPoolsAndShutdown(t *testing.T) {
	prefix := fmt.Sprintf("go_route_%s_%d_", runID, dbCounter.Add(1))
	c := newClient(t, func(o *Options) {
		o.Routes = []Route{{Match: prefix + "own_*", Options: PoolOptions{MaxConnections: 2}}}
	})
	m := mustModel(t, c, "routed")
	ctx := context.Background()
	check := newChecker(t)
	insert := func(db string, n int) {
		t.Helper()
		d := mustDB(t, m, db)
		for i := range n {
			if _, err := d.InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
				t.Fatalf("%s: %v", db, err)
			}
		}
	}
	poolOf := func(db string) *PoolStats {
		t.Helper()
		s, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range s.Pools {
			if slices.Contains(s.Pools[i].Databases, db) {
				return &s.Pools[i]
			}
		}
		return nil
	}

	// A route from the options: its own pool per matching database.
	own := prefix + "own_1"
	insert(own, 3)
	if p := poolOf(own); p == nil || !p.Dedicated || p.MaxSize != 2 {
		t.Fatalf("pool of %s: %+v", own, p)
	}
	// A route added at run time, shared by the databases it matches.
	if err := c.AddRoute(Route{Match: prefix + "grp_*", SharedPool: true, Options: PoolOptions{MaxConnections: 3}}); err != nil {
		t.Fatal(err)
	}
	g1, g2 := prefix+"grp_1", prefix+"grp_2"
	insert(g1, 1)
	insert(g2, 2)
	p1, p2 := poolOf(g1), poolOf(g2)
	if p1 == nil || p2 == nil || p1.Name != p2.Name || !p1.Dedicated || p1.MaxSize != 3 {
		t.Fatalf("shared route pools: %+v / %+v", p1, p2)
	}
	if check.count(g2, "routed", nil) != 2 || check.count(own, "routed", nil) != 3 {
		t.Fatal("routed documents missing")
	}
	if err := c.AddRoute(Route{}); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "match") {
		t.Fatalf("empty route: %v", err)
	}

	// SetDB: a dedicated pool at run time; ConnectDB connects at once.
	set := uniqueDB("setdb")
	if err := c.SetDB(ctx, PoolSpec{PoolOptions: PoolOptions{MaxConnections: 1}}, set); err != nil {
		t.Fatal(err)
	}
	insert(set, 2)
	if p := poolOf(set); p == nil || !p.Dedicated || p.MaxSize != 1 {
		t.Fatalf("SetDB pool: %+v", p)
	}
	open := c.OpenPools()
	conn := uniqueDB("connectdb")
	if err := c.ConnectDB(ctx, PoolSpec{}, conn); err != nil {
		t.Fatal(err)
	}
	if c.OpenPools() != open+1 {
		t.Fatalf("ConnectDB: %d open pools, want %d", c.OpenPools(), open+1)
	}
	if err := c.SetDB(ctx, PoolSpec{}, "bad.name"); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("SetDB(bad.name): %v", err)
	}
	if err := c.SetDB(ctx, PoolSpec{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("SetDB(): %v", err)
	}

	// CloseAll drains every pool; the next operation reopens what it needs.
	if err := c.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	if c.OpenPools() != 0 {
		t.Fatalf("%d pools open after CloseAll", c.OpenPools())
	}
	insert(own, 1)
	if c.OpenPools() == 0 || check.count(own, "routed", nil) != 4 {
		t.Fatal("no reconnect after CloseAll")
	}

	// ForceCloseAll: an open cursor on a closed pool fails with ErrClosed at its next step.
	big := uniqueDB("force")
	seed(t, mustDB(t, m, big), 20)
	cur, err := mustDB(t, m, big).Find(ctx, nil, &FindOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ForceCloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for cur.Next(ctx) {
		n++
	}
	if !errors.Is(cur.Err(), ErrClosed) || n >= 20 {
		t.Fatalf("cursor after ForceCloseAll: %d documents, %v", n, cur.Err())
	}
	insert(big, 1) // the client stays usable
	if check.count(big, "routed", nil) != 21 {
		t.Fatal("write after ForceCloseAll")
	}
	if c.Evictions() != 0 {
		t.Fatalf("evictions without maxOpenPools: %d", c.Evictions())
	}
}

func TestMaxOpenPoolsEvicts(t *testing.T) {
	prefix := fmt.Sprintf("go_evict_%s_%d_", runID, dbCounter.Add(1))
	c := newClient(t, func(o *Options) {
		o.MaxOpenPools = 2
		o.Routes = []Route{{Match: prefix + "*"}}
	})
	m := mustModel(t, c, "ev")
	ctx := context.Background()
	for i := range 4 {
		d := mustDB(t, m, fmt.Sprintf("%s%d", prefix, i))
		if _, err := d.InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	if c.Evictions() == 0 {
		t.Fatalf("no evictions with 4 routed databases and MaxOpenPools 2 (%d pools open)", c.OpenPools())
	}
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Evictions != int64(c.Evictions()) {
		t.Fatalf("stats evictions %d, Evictions() %d", s.Totals.Evictions, c.Evictions())
	}
}

func TestStatsUsageAndMetrics(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "measured")
	ctx := context.Background()
	busy, quiet := uniqueDB("busy"), uniqueDB("quiet")
	for i := range 5 {
		if _, err := mustDB(t, m, busy).InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mustDB(t, m, quiet).InsertOne(ctx, bson.D{{Key: "i", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "connected" || len(s.Pools) != 1 || s.Pools[0].Name != "shared" || s.Pools[0].Dedicated ||
		s.Pools[0].ResponseTimeMs.Commands < 6 || !slices.Contains(s.SharedDatabases, busy) || len(s.Raw) == 0 {
		t.Fatalf("stats: %s", s.Raw)
	}
	usage, err := c.Usage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) < 2 || usage[0].DB != busy || usage[0].Operations < 5 || usage[0].LastUsedMs == 0 {
		t.Fatalf("usage: %+v", usage)
	}
	if top, err := c.Usage(ctx, 1); err != nil || len(top) != 1 {
		t.Fatalf("Usage(1): %+v, %v", top, err)
	}
	dbs, err := c.ListDatabases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(dbs, func(d DatabaseInfo) bool { return d.Name == busy }) {
		t.Fatalf("ListDatabases lacks %s: %+v", busy, dbs)
	}
	ds, err := c.DBStats(ctx, busy)
	if err != nil {
		t.Fatal(err)
	}
	if ds.DB != busy || len(ds.Collections) != 1 || ds.Collections[0].Name != "measured" || ds.Collections[0].Documents != 5 {
		t.Fatalf("DBStats: %s", ds.Raw)
	}
	text, err := c.Prometheus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"polymongo_pool_open", `pool="shared"`, `db="` + busy + `"`, "polymongo_database_operations_total"} {
		if !strings.Contains(text, want) {
			t.Fatalf("metrics lack %q:\n%s", want, text)
		}
	}
	if _, err := c.Usage(ctx, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Usage(-1): %v", err)
	}
}

// The signal test runs in a child process: signal handlers are process-wide.
func TestSignalHandlingChainsToGo(t *testing.T) {
	if os.Getenv("PM_GO_SIGNAL_CHILD") == "1" {
		signalChild(t)
		return
	}
	serverURI(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSignalHandlingChainsToGo$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "PM_GO_SIGNAL_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CHILD-OK") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func signalChild(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM) // Go's handler, installed before polymongo's
	c := newClient(t)
	d := mustDB(t, mustModel(t, c, "sig"), uniqueDB("signal"))
	if _, err := d.InsertOne(context.Background(), bson.D{{Key: "a", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if c.OpenPools() == 0 {
		t.Fatal("no open pool")
	}
	if err := c.HandleSignals(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sigs:
	case <-time.After(15 * time.Second):
		t.Fatal("SIGTERM never reached Go's handler")
	}
	if n := c.OpenPools(); n != 0 {
		t.Fatalf("%d pools open after SIGTERM", n)
	}
	fmt.Println("CHILD-OK")
}

func TestCMAPEventsCarryConnectionIDsAndDurations(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "cmap")
	var rec recorder
	if _, err := c.Subscribe(EventCheckouts|EventConnectionCreated|EventConnectionReady|EventPoolReady, rec.record); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := mustDB(t, m, uniqueDB("cmap"))
	if _, err := d.InsertOne(ctx, bson.D{{Key: "a", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushEvents(ctx); err != nil {
		t.Fatal(err)
	}
	var created uint64
	for _, e := range rec.all() {
		switch e.Type {
		case EventConnectionCreated:
			created = e.ConnectionID
		case EventConnectionReady:
			if e.ConnectionID != created || e.Duration <= 0 {
				t.Fatalf("ready %+v after created %d", e, created)
			}
		case EventCheckedOut, EventCheckedIn:
			if e.ConnectionID == 0 || e.ConnectionID != created || e.Pool != "shared" {
				t.Fatalf("%v %+v", e.Type, e)
			}
		}
	}
	if created == 0 || rec.count(EventCheckoutStarted) != 1 || rec.count(EventCheckedOut) != 1 ||
		rec.count(EventCheckedIn) != 1 || rec.count(EventPoolReady) != 1 {
		t.Fatalf("events: %v", rec.all())
	}
	if EventAll&EventCheckouts != 0 || EventEvery&EventCheckouts != EventCheckouts {
		t.Fatal("EventAll leaves out the check-out events, EventEvery has them")
	}
	if s := (EventCheckedOut | EventPoolReady).String(); s != "poolReady|checkedOut" {
		t.Fatalf("String: %q", s)
	}
}
