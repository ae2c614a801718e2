//go:build cgo

package polymongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// serverURI is PM_TEST_URI, or the URI of the FerretDB instance the CTest fixture started
// (written to $PM_TEST_SERVER_DIR/uri). Without either, server tests are skipped, visibly.
func serverURI(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv("PM_TEST_URI"); uri != "" {
		return uri
	}
	dir := os.Getenv("PM_TEST_SERVER_DIR")
	if dir == "" {
		t.Skip("no test server: set PM_TEST_URI or run through ctest (PM_TEST_SERVER_DIR)")
	}
	b, err := os.ReadFile(filepath.Join(dir, "uri"))
	if err != nil {
		t.Fatalf("PM_TEST_SERVER_DIR is set but the server's uri file is missing: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// txnURI is PM_TEST_TXN_URI, or the URI of the server with transactions (SecantusDB, a
// single-node replica set) that the CTest fixture started next to the FerretDB one
// ("$(dirname $PM_TEST_SERVER_DIR)/server-txn/uri"). Without it the test is skipped, visibly.
func txnURI(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv("PM_TEST_TXN_URI"); uri != "" {
		return uri
	}
	dir := os.Getenv("PM_TEST_SERVER_DIR")
	if dir == "" {
		t.Skip("no server with transactions: set PM_TEST_TXN_URI or run through ctest")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "server-txn", "uri"))
	if err != nil {
		t.Skip("no server with transactions (SecantusDB did not start): " + err.Error())
	}
	return strings.TrimSpace(string(b))
}

// featureRefused is what a feature test's body returns when its server refused the feature
// (onServerWithFeature), after checking that the refusal reached the caller correctly.
type featureRefused struct{ why string }

// onServerWithFeature is for features the main server lacks (FerretDB: validators,
// arrayFilters, findAndModify projections, Decimal128). No test is skipped on every server of
// the suite: body runs with a client and an independent checker on the main server; when it
// returns a refusal (having checked the right error and that nothing was written), the same body
// runs on the transaction server (SecantusDB, which has these features), where it must pass. It
// skips, visibly, only when the suite has no transaction server.
func onServerWithFeature(t *testing.T, feature string, body func(c *Client, check *checker) *featureRefused) {
	t.Helper()
	on := func(uri string) *featureRefused {
		c := newClient(t, func(o *Options) { o.MongoURI = uri })
		return body(c, newCheckerOn(t, uri))
	}
	refused := on(serverURI(t))
	if refused == nil {
		return // the main server has it: the body's checks ran there
	}
	if again := on(txnURI(t)); again != nil { // txnURI skips visibly without the server
		t.Fatalf("the transaction server refused %s too: %s", feature, again.why)
	}
	if !t.Failed() {
		t.Logf("the main server refused %s (%s); verified on the transaction server", feature, refused.why)
	}
}

var (
	runID     = randomHex(4)
	dbCounter atomic.Int64
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// uniqueDB is a database name no other test or earlier run uses.
func uniqueDB(prefix string) string {
	return fmt.Sprintf("go_%s_%s_%d", prefix, runID, dbCounter.Add(1))
}

// newClient makes a client on the test server, closed when the test ends.
func newClient(t testing.TB, edit ...func(*Options)) *Client {
	t.Helper()
	opts := Options{MongoURI: serverURI(t), MaxPoolSize: 8}
	for _, e := range edit {
		e(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustModel(t testing.TB, c *Client, coll string, opts ...ModelOptions) *Model {
	t.Helper()
	m, err := c.Model(coll, opts...)
	if err != nil {
		t.Fatalf("Model(%q): %v", coll, err)
	}
	return m
}

func mustDB(t testing.TB, m *Model, name string) *DB {
	t.Helper()
	d, err := m.DB(name)
	if err != nil {
		t.Fatalf("DB(%q): %v", name, err)
	}
	return d
}

// checker reads back what polymongo wrote through an independent client: the official Go
// driver.
type checker struct {
	t      testing.TB
	client *mongo.Client
}

func newChecker(t testing.TB) *checker {
	t.Helper()
	return newCheckerOn(t, serverURI(t))
}

// newCheckerOn reads back through the official driver from the server at uri.
func newCheckerOn(t testing.TB, uri string) *checker {
	t.Helper()
	cl, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(20 * time.Second))
	if err != nil {
		t.Fatalf("checker connect: %v", err)
	}
	t.Cleanup(func() { cl.Disconnect(context.Background()) })
	return &checker{t: t, client: cl}
}

func (c *checker) count(db, coll string, filter any) int64 {
	c.t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := c.client.Database(db).Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		c.t.Fatalf("checker count %s.%s: %v", db, coll, err)
	}
	return n
}

func (c *checker) find(db, coll string, filter any, sort any) []bson.M {
	c.t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	o := options.Find()
	if sort != nil {
		o.SetSort(sort)
	}
	cur, err := c.client.Database(db).Collection(coll).Find(context.Background(), filter, o)
	if err != nil {
		c.t.Fatalf("checker find %s.%s: %v", db, coll, err)
	}
	var out []bson.M
	if err := cur.All(context.Background(), &out); err != nil {
		c.t.Fatalf("checker find %s.%s: %v", db, coll, err)
	}
	return out
}

// indexes returns name -> spec of the collection's indexes (none when it does not exist).
func (c *checker) indexes(db, coll string) map[string]bson.M {
	c.t.Helper()
	out := map[string]bson.M{}
	cur, err := c.client.Database(db).Collection(coll).Indexes().List(context.Background())
	if err != nil {
		return out
	}
	var specs []bson.M
	if err := cur.All(context.Background(), &specs); err != nil {
		c.t.Fatalf("checker list indexes: %v", err)
	}
	for _, s := range specs {
		out[s["name"].(string)] = s
	}
	return out
}

func (c *checker) databases() map[string]bool {
	c.t.Helper()
	names, err := c.client.ListDatabaseNames(context.Background(), bson.D{})
	if err != nil {
		c.t.Fatalf("checker list databases: %v", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// asError asserts err is an *Error with the code.
func asError(t testing.TB, err error, code Code) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error with %v, got nil", code)
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("expected *Error with %v, got %T: %v", code, err, err)
	}
	if pe.Code != code {
		t.Fatalf("expected %v, got %v: %v", code, pe.Code, err)
	}
	return pe
}

// int64Of reads a number of any BSON integer or double type.
func int64Of(v any) int64 {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	case int:
		return int64(x)
	}
	panic(fmt.Sprintf("not a number: %T %v", v, v))
}

// serverPort is the port of the first host in the test server's URI.
func serverPort(t testing.TB) int {
	t.Helper()
	rest := serverURI(t)
	if i := strings.Index(rest, "//"); i >= 0 {
		rest = rest[i+2:]
	}
	hosts := strings.FieldsFunc(rest, func(r rune) bool { return r == '/' || r == '?' })[0]
	host := strings.Split(hosts, ",")[0]
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return 27017
	}
	var port int
	if _, err := fmt.Sscanf(host[i+1:], "%d", &port); err != nil {
		t.Fatalf("port of %q: %v", host, err)
	}
	return port
}

// socketsToPort counts this process's ESTABLISHED TCP connections to port, from /proc (the
// OS's view, not the library's).
func socketsToPort(t testing.TB, port int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "01" {
				continue
			}
			var remote int
			if _, err := fmt.Sscanf(f[2][strings.LastIndexByte(f[2], ':')+1:], "%X", &remote); err == nil &&
				remote == port && inodes[f[9]] {
				n++
			}
		}
	}
	return n
}
