//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// txnFixture is a client on the server with transactions, a model and two databases whose
// collections exist before any transaction (older servers cannot create them inside one).
type txnFixture struct {
	t     *testing.T
	c     *Client
	m     *Model
	a, b  string
	check *checker
}

func newTxnFixture(t *testing.T) *txnFixture {
	t.Helper()
	uri := txnURI(t)
	f := &txnFixture{t: t, a: uniqueDB("txn_a"), b: uniqueDB("txn_b")}
	c, err := New(Options{MongoURI: uri, DefaultDB: f.a, MaxPoolSize: 8})
	if err != nil {
		t.Fatalf("New on the transactions server: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	f.c = c
	f.m = mustModel(t, c, "accounts")
	f.check = newCheckerOn(t, uri)
	for _, name := range []string{f.a, f.b} {
		if _, err := mustDB(t, f.m, name).InsertOne(context.Background(), bson.D{{Key: "_id", Value: "seed"}}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// in binds database name to the session.
func (f *txnFixture) in(s *Session, name string) *DB {
	f.t.Helper()
	d, err := mustDB(f.t, f.m, name).WithSession(s)
	if err != nil {
		f.t.Fatalf("WithSession(%s): %v", name, err)
	}
	if d.Session() != s || d.Name() != name {
		f.t.Fatalf("bound db: %v %q", d.Session(), d.Name())
	}
	return d
}

// count is what an independent client sees in a database (the seed left out).
func (f *txnFixture) count(name string) int64 {
	f.t.Helper()
	return f.check.count(name, "accounts", bson.D{{Key: "_id", Value: bson.D{{Key: "$ne", Value: "seed"}}}})
}

func (f *txnFixture) session(opts ...*SessionOptions) *Session {
	f.t.Helper()
	s, err := f.c.StartSession(context.Background(), f.a, opts...)
	if err != nil {
		f.t.Fatalf("StartSession: %v", err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

func TestTransactionsAreRefusedByFerretDB(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "accounts")
	name := uniqueDB("notxn")
	ctx := context.Background()
	s, err := c.StartSession(ctx, name)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	defer s.Close()
	if s.DB() != name || s.Client() != c || s.Compensating() {
		t.Fatalf("session: %q %v", s.DB(), s.Compensating())
	}
	bound, err := mustDB(t, m, name).WithSession(s)
	if err != nil {
		t.Fatal(err)
	}
	err = s.StartTransaction(ctx, &TransactionOptions{ReadConcern: "snapshot"})
	pe := asError(t, err, CodeNotSupported)
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(pe.Message, "compensating") {
		t.Fatalf("StartTransaction: %v", err)
	}
	if s.InTransaction() {
		t.Fatal("in a transaction after the refusal")
	}
	called := false
	err = s.WithTransaction(ctx, func(ctx context.Context) error {
		called = true
		_, err := bound.InsertOne(ctx, bson.D{{Key: "x", Value: 1}})
		return err
	})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("WithTransaction: %v", err)
	}
	if called {
		t.Fatal("the callback ran although no transaction could start")
	}
	if n := newChecker(t).count(name, "accounts", nil); n != 0 {
		t.Fatalf("%d documents written", n)
	}
}

func TestSessionArgumentsAndLifetime(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "accounts")
	ctx := context.Background()
	a, other := uniqueDB("sess_a"), uniqueDB("sess_other")

	// Names and options are checked by the library, with the usual errors.
	if _, err := c.StartSession(ctx, "bad/name"); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("StartSession(bad/name): %v", err)
	}
	if _, err := c.StartSession(ctx, ""); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("StartSession(\"\") without a default database: %v", err)
	}
	for _, o := range []*SessionOptions{
		{TransactionOptions: TransactionOptions{ReadPreference: "sideways"}},
		{TransactionOptions: TransactionOptions{Extra: map[string]any{"colour": 1}}},
		{TransactionOptions: TransactionOptions{WriteConcern: &WriteConcern{W: true}}},
		{TransactionOptions: TransactionOptions{MaxCommitTime: -time.Second}},
	} {
		if _, err := c.StartSession(ctx, a, o); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("StartSession(%+v): %v", o.TransactionOptions, err)
		}
	}
	good := &SessionOptions{CausalConsistency: Ptr(false), TransactionOptions: TransactionOptions{
		ReadConcern: "majority", WriteConcern: &WriteConcern{W: "majority", WTimeout: time.Second, Journal: Ptr(true)},
		ReadPreference: "primary", MaxCommitTime: 5 * time.Second}}
	s, err := c.StartSession(ctx, a, good)
	if err != nil {
		t.Fatalf("StartSession with options: %v", err)
	}
	if _, err := mustDB(t, m, a).WithSession(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("WithSession(nil): %v", err)
	}
	if err := s.WithTransaction(ctx, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("WithTransaction(nil): %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WithTransaction(cancelled, func(context.Context) error { t.Error("ran"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("WithTransaction(cancelled): %v", err)
	}
	if _, err := s.RollbackReport(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("RollbackReport of a native session: %v", err)
	}

	// A database served by another pool than the session's: refused at its first operation,
	// before anything is sent.
	if err := c.SetDB(ctx, PoolSpec{}, other); err != nil {
		t.Fatal(err)
	}
	elsewhere, err := mustDB(t, m, other).WithSession(s)
	if err != nil {
		t.Fatalf("WithSession: %v", err)
	}
	_, err = elsewhere.InsertOne(ctx, bson.D{{Key: "x", Value: 1}})
	if pe := asError(t, err, CodeInvalidArgument); !strings.Contains(pe.Message, "compensating") {
		t.Fatalf("insert through another pool: %v", err)
	}
	if n := newChecker(t).count(other, "accounts", nil); n != 0 {
		t.Fatalf("%d documents reached %s", n, other)
	}

	// A database of another client.
	c2 := newClient(t)
	if _, err := mustDB(t, mustModel(t, c2, "accounts"), a).WithSession(s); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("WithSession across clients: %v", err)
	}

	// Closing the session closes its DBs; everything then fails with ErrClosed, never crashes.
	bound, err := mustDB(t, m, a).WithSession(s)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := bound.Find(ctx, nil)
	if err != nil {
		t.Fatalf("Find in a session: %v", err)
	}
	s.Close()
	s.Close()
	if _, err := bound.InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("insert after the session's Close: %v", err)
	}
	if cur.Next(ctx) || !errors.Is(cur.Err(), ErrClosed) {
		t.Fatalf("cursor after the session's Close: %v", cur.Err())
	}
	if err := s.StartTransaction(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("StartTransaction after Close: %v", err)
	}
	if err := s.CommitTransaction(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("CommitTransaction after Close: %v", err)
	}
	if err := s.WithTransaction(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("WithTransaction after Close: %v", err)
	}
	if _, err := mustDB(t, m, a).WithSession(s); !errors.Is(err, ErrClosed) {
		t.Fatalf("WithSession after Close: %v", err)
	}
	if s.InTransaction() {
		t.Fatal("InTransaction after Close")
	}

	// Closing the client closes its sessions (and their DBs); forgotten ones go with the GC.
	s2, err := c2.StartSession(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := mustDB(t, mustModel(t, c2, "accounts"), a).WithSession(s2)
	if err != nil {
		t.Fatal(err)
	}
	// Each session holds one of the pool's 8 connections: 12 forgotten ones only fit if the
	// garbage collector ends them.
	for range 12 {
		if _, err := c2.StartSession(ctx, a); err != nil {
			t.Fatalf("StartSession with forgotten sessions around: %v", err)
		}
		runtime.GC()
	}
	c2.Close()
	if err := s2.AbortTransaction(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("AbortTransaction after the client's Close: %v", err)
	}
	if _, err := b2.CountDocuments(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("bound DB after the client's Close: %v", err)
	}
	if _, err := c2.StartSession(ctx, a); !errors.Is(err, ErrClosed) {
		t.Fatalf("StartSession after Close: %v", err)
	}
}

func TestTransactionCommitAcrossTwoDatabases(t *testing.T) {
	f := newTxnFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := f.session()
	da, db := f.in(s, f.a), f.in(s, f.b)
	err := s.StartTransaction(ctx, &TransactionOptions{
		ReadConcern: "snapshot", WriteConcern: &WriteConcern{W: "majority"}})
	if err != nil {
		t.Fatalf("StartTransaction: %v", err)
	}
	if !s.InTransaction() {
		t.Fatal("not in a transaction")
	}
	if _, err := da.InsertOne(ctx, bson.D{{Key: "amount", Value: -10}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertMany(ctx, []bson.D{{{Key: "amount", Value: 6}}, {{Key: "amount", Value: 4}}}); err != nil {
		t.Fatal(err)
	}
	// The transaction sees its own writes (a cursor in the session); nobody else does yet.
	cur, err := db.Find(ctx, bson.D{{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}}},
		&FindOptions{Sort: bson.D{{Key: "amount", Value: 1}}, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int32
	for cur.Next(ctx) {
		seen = append(seen, cur.Current.Lookup("amount").Int32())
	}
	if cur.Err() != nil || fmt.Sprint(seen) != "[4 6]" {
		t.Fatalf("inside the transaction: %v, %v", seen, cur.Err())
	}
	if n, err := da.CountDocuments(ctx, bson.D{{Key: "amount", Value: -10}}); err != nil || n != 1 {
		t.Fatalf("count inside: %d, %v", n, err)
	}
	if f.count(f.a) != 0 || f.count(f.b) != 0 {
		t.Fatal("writes visible outside the transaction before the commit")
	}
	if err := s.CommitTransaction(ctx); err != nil {
		t.Fatalf("CommitTransaction: %v", err)
	}
	if s.InTransaction() {
		t.Fatal("still in a transaction after the commit")
	}
	if f.count(f.a) != 1 || f.count(f.b) != 2 {
		t.Fatalf("after the commit: %d and %d documents", f.count(f.a), f.count(f.b))
	}
	docs := f.check.find(f.b, "accounts", bson.D{{Key: "amount", Value: bson.D{{Key: "$gt", Value: 0}}}}, bson.D{{Key: "amount", Value: 1}})
	if len(docs) != 2 || int64Of(docs[0]["amount"]) != 4 || int64Of(docs[1]["amount"]) != 6 {
		t.Fatalf("committed documents: %v", docs)
	}
	// Outside a transaction the session's DBs write at once.
	if _, err := da.InsertOne(ctx, bson.D{{Key: "amount", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if f.count(f.a) != 2 {
		t.Fatal("a write in the session outside a transaction is not visible")
	}
}

func TestTransactionAbortLeavesNothing(t *testing.T) {
	f := newTxnFixture(t)
	ctx := context.Background()
	s := f.session()
	da, db := f.in(s, f.a), f.in(s, f.b)
	if err := s.StartTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := da.InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateOne(ctx, bson.D{{Key: "_id", Value: "seed"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "touched", Value: true}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortTransaction(ctx); err != nil {
		t.Fatalf("AbortTransaction: %v", err)
	}
	if s.InTransaction() || f.count(f.a) != 0 || f.check.count(f.b, "accounts", bson.D{{Key: "touched", Value: true}}) != 0 {
		t.Fatal("an aborted transaction left something behind")
	}
	// Closing a session with a transaction open aborts it (its DBs are closed with it).
	if err := s.StartTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertOne(ctx, bson.D{{Key: "x", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := db.InsertOne(ctx, bson.D{{Key: "x", Value: 3}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if f.count(f.b) != 0 {
		t.Fatal("closing the session committed its transaction")
	}
	// The connection went back to the pool: a new session works.
	s2 := f.session()
	if err := s2.WithTransaction(ctx, func(ctx context.Context) error {
		_, err := f.in(s2, f.b).InsertOne(ctx, bson.D{{Key: "x", Value: 4}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if f.count(f.b) != 1 {
		t.Fatal("the next session's transaction did not commit")
	}
}

func TestWithTransactionCommitsOrAborts(t *testing.T) {
	f := newTxnFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := f.session(&SessionOptions{TransactionOptions: TransactionOptions{MaxCommitTime: 5 * time.Second}})
	da, db := f.in(s, f.a), f.in(s, f.b)
	calls := 0
	transfer := func(ctx context.Context) error {
		calls++
		if !s.InTransaction() {
			return errors.New("fn runs outside a transaction")
		}
		if _, err := da.InsertOne(ctx, bson.D{{Key: "amount", Value: -5}}); err != nil {
			return err
		}
		_, err := db.InsertOne(ctx, bson.D{{Key: "amount", Value: 5}})
		return err
	}

	// nil: committed.
	if err := s.WithTransaction(ctx, transfer, &TransactionOptions{ReadConcern: "snapshot"}); err != nil {
		t.Fatalf("WithTransaction: %v", err)
	}
	if calls != 1 || f.count(f.a) != 1 || f.count(f.b) != 1 || s.InTransaction() {
		t.Fatalf("after commit: calls %d, %d/%d documents", calls, f.count(f.a), f.count(f.b))
	}

	// An error of fn's own: aborted, and returned as it is.
	errStop := errors.New("insufficient funds")
	err := s.WithTransaction(ctx, func(ctx context.Context) error {
		if err := transfer(ctx); err != nil {
			return err
		}
		return fmt.Errorf("transfer: %w", errStop)
	})
	if !errors.Is(err, errStop) || err.Error() != "transfer: insufficient funds" {
		t.Fatalf("fn's error: %v", err)
	}
	if f.count(f.a) != 1 || f.count(f.b) != 1 || s.InTransaction() {
		t.Fatal("an aborted transaction left writes behind")
	}

	// A failed operation's error: aborted, returned with its code.
	err = s.WithTransaction(ctx, func(ctx context.Context) error {
		if err := transfer(ctx); err != nil {
			return err
		}
		_, err := da.InsertOne(ctx, bson.D{{Key: "_id", Value: "seed"}})
		return err
	})
	if pe := asError(t, err, CodeDuplicateKey); !IsDuplicateKey(pe.ServerCode) {
		t.Fatalf("duplicate key inside the transaction: %v", err)
	}
	if f.count(f.a) != 1 || f.count(f.b) != 1 {
		t.Fatal("the writes before the failed one were kept")
	}

	// A panic: aborted, then the panic resumes in the caller, with its value.
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		s.WithTransaction(ctx, func(ctx context.Context) error {
			if err := transfer(ctx); err != nil {
				return err
			}
			panic("boom")
		})
		t.Fatal("the panic did not propagate")
	}()
	if f.count(f.a) != 1 || f.count(f.b) != 1 || s.InTransaction() {
		t.Fatal("a panicking transaction left writes behind")
	}

	// runtime.Goexit (what t.FailNow does) ends the calling goroutine after the abort.
	done := make(chan bool)
	go func() {
		returned := false
		defer func() { done <- returned }()
		s.WithTransaction(ctx, func(ctx context.Context) error {
			if err := transfer(ctx); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
		returned = true
	}()
	if <-done {
		t.Fatal("WithTransaction returned after fn called runtime.Goexit")
	}
	if f.count(f.a) != 1 || f.count(f.b) != 1 {
		t.Fatal("a transaction ended by Goexit left writes behind")
	}

	// A context cancelled inside fn: its operations stop, the transaction is aborted.
	cctx, ccancel := context.WithCancel(ctx)
	err = s.WithTransaction(cctx, func(ctx context.Context) error {
		if err := transfer(ctx); err != nil {
			return err
		}
		ccancel()
		_, err := da.InsertOne(ctx, bson.D{{Key: "late", Value: true}})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled inside fn: %v", err)
	}
	if f.count(f.a) != 1 || f.count(f.b) != 1 {
		t.Fatal("a cancelled transaction left writes behind")
	}

	// The session is still good.
	if err := s.WithTransaction(ctx, transfer); err != nil {
		t.Fatal(err)
	}
	if f.count(f.a) != 2 || f.count(f.b) != 2 {
		t.Fatalf("last commit: %d/%d", f.count(f.a), f.count(f.b))
	}
}

func TestWithTransactionRetriesWriteConflicts(t *testing.T) {
	// Session 1 holds an uncommitted update of a document; session 2's transaction updates the
	// same document, meets a write conflict (TransientTransactionError), and runs again (fn
	// included) until session 1 has committed.
	f := newTxnFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := mustDB(t, f.m, f.a).InsertOne(ctx, bson.D{{Key: "_id", Value: "hot"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	s1, s2 := f.session(), f.session()
	d1, d2 := f.in(s1, f.a), f.in(s2, f.a)
	if err := s1.StartTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	inc := func(d *DB, n int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := d.UpdateOne(ctx, bson.D{{Key: "_id", Value: "hot"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: n}}}})
			return err
		}
	}
	if err := inc(d1, 1)(ctx); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	committed := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for calls.Load() < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		committed <- s1.CommitTransaction(ctx)
	}()
	tctx, tcancel := context.WithTimeout(ctx, 20*time.Second)
	defer tcancel()
	err := s2.WithTransaction(tctx, func(ctx context.Context) error {
		calls.Add(1)
		return inc(d2, 10)(ctx)
	})
	if cerr := <-committed; cerr != nil {
		t.Fatalf("session 1's commit: %v", cerr)
	}
	if err == nil && calls.Load() == 1 {
		t.Skip("this server serialised the two transactions instead of reporting a write conflict")
	}
	if err != nil {
		t.Fatalf("WithTransaction: %v (after %d calls)", err, calls.Load())
	}
	if calls.Load() < 2 {
		t.Fatalf("the conflicting transaction ran %d times", calls.Load())
	}
	docs := f.check.find(f.a, "accounts", bson.D{{Key: "_id", Value: "hot"}}, nil)
	if len(docs) != 1 || int64Of(docs[0]["n"]) != 11 {
		t.Fatalf("both increments, each once: %v", docs)
	}
}

func TestSessionSerialisesGoroutines(t *testing.T) {
	// A session is one sequence of operations; goroutines sharing it (and calls abandoned by
	// a cancelled context) wait for each other instead of racing in the C library.
	f := newTxnFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := f.session()
	d := f.in(s, f.a)
	err := s.WithTransaction(ctx, func(ctx context.Context) error {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					if _, err := d.InsertOne(ctx, bson.D{{Key: "g", Value: g}, {Key: "i", Value: i}}); err != nil {
						errs <- err
						return
					}
					if _, err := d.CountDocuments(ctx, bson.D{{Key: "g", Value: g}}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		// Calls abandoned by their context finish before the commit.
		for range 4 {
			short, stop := context.WithTimeout(ctx, time.Microsecond)
			d.InsertOne(short, bson.D{{Key: "maybe", Value: true}})
			stop()
		}
		wg.Wait()
		close(errs)
		return <-errs
	})
	if err != nil {
		t.Fatalf("WithTransaction: %v", err)
	}
	if n := f.check.count(f.a, "accounts", bson.D{{Key: "g", Value: bson.D{{Key: "$exists", Value: true}}}}); n != 40 {
		t.Fatalf("%d documents committed, want 40", n)
	}
	// Explicit form, from several goroutines, and a cursor of the session's DB.
	if err := s.StartTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.InsertOne(ctx, bson.D{{Key: "h", Value: g}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cur, err := d.Find(ctx, bson.D{{Key: "h", Value: bson.D{{Key: "$exists", Value: true}}}}, &FindOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for range cur.Iter(ctx) {
		n++
	}
	if n != 4 || cur.Err() != nil {
		t.Fatalf("the transaction's cursor saw %d documents: %v", n, cur.Err())
	}
	if err := s.CommitTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.check.count(f.a, "accounts", bson.D{{Key: "h", Value: bson.D{{Key: "$exists", Value: true}}}}); got != 4 {
		t.Fatalf("%d committed", got)
	}
}

func TestCompensatingTransactionUndoesWrites(t *testing.T) {
	// Compensating transactions work on any server (FerretDB included) and across pools: here
	// database b has a dedicated pool.
	a, b := uniqueDB("comp_a"), uniqueDB("comp_b")
	c := newClient(t, func(o *Options) { o.DBSpecific = []DBSpecific{{DBName: b}} })
	m := mustModel(t, c, "items")
	ctx := context.Background()
	check := newChecker(t)
	pa, pb := mustDB(t, m, a), mustDB(t, m, b)
	if _, err := pa.InsertMany(ctx, []bson.D{{{Key: "_id", Value: 1}, {Key: "v", Value: 1}}, {{Key: "_id", Value: 2}, {Key: "v", Value: 2}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}, {Key: "n", Value: 5}}); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string { // field order included (bson.M would print in map order)
		var out []bson.D
		for _, name := range []string{a, b} {
			cur, err := check.client.Database(name).Collection("items").Find(ctx, bson.D{},
				options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
			if err != nil {
				t.Fatal(err)
			}
			var docs []bson.D
			if err := cur.All(ctx, &docs); err != nil {
				t.Fatal(err)
			}
			out = append(out, docs...)
		}
		return fmt.Sprint(out)
	}
	before := snapshot()

	s, err := c.StartCompensating(ctx)
	if err != nil {
		t.Fatalf("StartCompensating: %v", err)
	}
	defer s.Close()
	if !s.Compensating() {
		t.Fatal("Compensating() false")
	}
	if r, err := s.RollbackReport(); err != nil || r != nil {
		t.Fatalf("report before any rollback: %v, %v", r, err)
	}
	da, err := pa.WithSession(s)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pb.WithSession(s)
	if err != nil {
		t.Fatal(err)
	}
	steps := func(ctx context.Context) error {
		if _, err := da.InsertOne(ctx, bson.D{{Key: "_id", Value: 10}, {Key: "v", Value: 10}}); err != nil {
			return err
		}
		if _, err := db.UpdateOne(ctx, bson.D{{Key: "_id", Value: "x"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 100}}}}); err != nil {
			return err
		}
		_, err := da.DeleteOne(ctx, bson.D{{Key: "_id", Value: 1}})
		return err
	}
	errStop := errors.New("stop")
	err = s.WithTransaction(ctx, func(ctx context.Context) error {
		if err := steps(ctx); err != nil {
			return err
		}
		if check.count(b, "items", bson.D{{Key: "n", Value: 105}}) != 1 {
			return errors.New("the write is not visible (no isolation expected)")
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("WithTransaction: %v", err)
	}
	if got := snapshot(); got != before {
		t.Fatalf("not rolled back:\n%s\n%s", got, before)
	}
	r, err := s.RollbackReport()
	if err != nil || r == nil {
		t.Fatalf("RollbackReport: %v, %v", r, err)
	}
	if r.FailedSteps != 0 || len(r.Steps) != 3 || r.Txn == "" || !strings.Contains(r.Raw, `"steps"`) {
		t.Fatalf("report: %+v", r)
	}
	if st := r.Steps[0]; st.DB != a || st.Collection != "items" || st.Undo != "restore_docs" || st.Documents != 1 || !st.OK {
		t.Fatalf("newest step first: %+v", st)
	}
	if st := r.Steps[2]; st.DB != a || st.Undo != "delete_ids" || !st.OK {
		t.Fatalf("oldest step last: %+v", st)
	}

	// Writes outside a transaction are refused; a committed one keeps its writes.
	if _, err := da.InsertOne(ctx, bson.D{{Key: "v", Value: 0}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("write outside a transaction: %v", err)
	}
	if err := s.StartTransaction(ctx, &TransactionOptions{ReadConcern: "majority"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("options for a compensating transaction: %v", err)
	}
	if err := s.WithTransaction(ctx, steps); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if check.count(a, "items", bson.D{{Key: "_id", Value: 10}}) != 1 || check.count(a, "items", bson.D{{Key: "_id", Value: 1}}) != 0 ||
		check.count(b, "items", bson.D{{Key: "n", Value: 105}}) != 1 {
		t.Fatalf("committed writes: %s", snapshot())
	}

	// Recover finds nothing this client's journals hold for transactions over an hour old.
	rep, err := c.Recover(ctx, time.Hour)
	if err != nil || rep == nil || rep.Recovered == nil && !strings.Contains(rep.Raw, "recovered") {
		t.Fatalf("Recover: %+v, %v", rep, err)
	}
}
