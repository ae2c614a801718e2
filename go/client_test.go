//go:build cgo

package polymongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestVersionAndHeaderGuard(t *testing.T) {
	// The one compatibility check is the library's pm_check_version (checkVersion, below);
	// here only that the version numbers the package reports agree with each other.
	if fmt.Sprintf("%d.%d.%d", HeaderVersion>>16, HeaderVersion>>8&0xff, HeaderVersion&0xff) != HeaderVersionString {
		t.Fatalf("HeaderVersion 0x%06x does not match HeaderVersionString %q", HeaderVersion, HeaderVersionString)
	}
	want := []int{VersionNum() >> 16, VersionNum() >> 8 & 0xff, VersionNum() & 0xff}
	var got [3]int
	for i, part := range strings.SplitN(Version(), ".", 3) {
		for _, ch := range part {
			if ch < '0' || ch > '9' {
				break
			}
			got[i] = got[i]*10 + int(ch-'0')
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Version() %q does not match VersionNum() 0x%06x", Version(), VersionNum())
		}
	}
	if err := checkVersion(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsAreValidatedByName(t *testing.T) {
	uri := serverURI(t)
	js, err := Options{
		MongoURI: uri, MaxPoolSize: 3, IdleTimeout: 1500 * time.Microsecond, ColdStart: Ptr(false),
		DBSpecific: []DBSpecific{{DBName: "tenant_x", PoolOptions: PoolOptions{MaxConnections: 2, TTL: time.Second, AutoClose: Ptr(true)}}},
	}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	if m["idleTimeoutMS"] != 2.0 || m["coldStart"] != false || m["maxPoolSize"] != 3.0 {
		t.Fatalf("options JSON: %s", js)
	}
	spec := m["dbSpecific"].([]any)[0].(map[string]any)
	if spec["dbName"] != "tenant_x" || spec["options"].(map[string]any)["ttl"] != 1000.0 {
		t.Fatalf("dbSpecific JSON: %s", js)
	}

	cases := []struct {
		opts Options
		name string // the option the message must name
	}{
		{Options{}, "mongoURI"},
		{Options{MongoURI: "http://example.com"}, "mongoURI"},
		{Options{MongoURI: uri, MaxPoolSize: -1}, "maxPoolSize"},
		{Options{MongoURI: uri, MaxPoolSize: 2, MinFreeConnections: 3}, "minFreeConnections"},
		{Options{MongoURI: uri, IdleTimeout: -time.Second}, "idleTimeoutMS"},
		{Options{MongoURI: uri, DefaultDB: "bad.name"}, "defaultDB"},
		{Options{MongoURI: uri, DBSpecific: []DBSpecific{{DBName: "a$b"}}}, "dbSpecific[0].dbName"},
		{Options{MongoURI: uri, DBSpecific: []DBSpecific{{DBName: "a"}, {DBName: "a"}}}, "twice"},
		{Options{MongoURI: uri, Extra: map[string]any{"colour": "blue"}}, "colour"},
		{Options{MongoURI: uri, Extra: map[string]any{"debug": "yes"}}, "debug"},
	}
	for _, c := range cases {
		cl, err := New(c.opts)
		if cl != nil {
			cl.Close()
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%+v: expected ErrInvalidArgument, got %v", c.opts, err)
		}
		if !strings.Contains(err.Error(), c.name) {
			t.Fatalf("message %q does not name %q", err, c.name)
		}
	}

	// A valid set with a warm start connects inside New and works.
	c, err := New(Options{MongoURI: uri, ColdStart: Ptr(false), MinFreeConnections: 1, DefaultDB: "go_defaultdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.DefaultDB() != "go_defaultdb" {
		t.Fatalf("DefaultDB %q", c.DefaultDB())
	}
}

func TestInvalidDBNamesAreErrorsNotCrashes(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "things")
	bad := []string{"a.b", "a$b", "has space", "sl/ash", strings.Repeat("x", 64), "admin", "local", "config", "nul\x00byte"}
	for _, name := range bad {
		d, err := m.DB(name)
		if d != nil {
			t.Fatalf("DB(%q) returned a db", name)
		}
		if !errors.Is(err, ErrInvalidDBName) {
			t.Fatalf("DB(%q): expected ErrInvalidDBName, got %v", name, err)
		}
		pe := asError(t, err, CodeInvalidDBName)
		if pe.Message == "" {
			t.Fatalf("DB(%q): empty message", name)
		}
		if err := c.CheckDBName(name); !errors.Is(err, ErrInvalidDBName) {
			t.Fatalf("CheckDBName(%q): %v", name, err)
		}
	}
	if err := c.CheckDBName("tenant_1"); err != nil {
		t.Fatal(err)
	}
	// "" binds the default database: there is none unless DefaultDB or the URI names one
	// (the test server's URI has no database), and then "" is an invalid name.
	if c.DefaultDB() != "" {
		t.Fatalf("DefaultDB() = %q without DefaultDB or a database in the URI", c.DefaultDB())
	}
	if _, err := m.DB(""); !errors.Is(err, ErrInvalidDBName) {
		t.Fatalf("DB(\"\") without a default database: %v", err)
	}
	if u, err := url.Parse(serverURI(t)); err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = "/go_uri_default"
		fromURI := newClient(t, func(o *Options) { o.MongoURI = u.String() })
		if d := mustDB(t, mustModel(t, fromURI, "things"), ""); fromURI.DefaultDB() != "go_uri_default" || d.Name() != "go_uri_default" {
			t.Fatalf("default database from the URI: %q, %q", fromURI.DefaultDB(), d.Name())
		}
	}
	withDefault := newClient(t, func(o *Options) { o.DefaultDB = "go_default_db" })
	d := mustDB(t, mustModel(t, withDefault, "things"), "")
	if d.Name() != "go_default_db" || d.Collection() != "things" {
		t.Fatalf("default db %q.%q", d.Name(), d.Collection())
	}
	// System databases need the option.
	sys := newClient(t, func(o *Options) { o.AllowSystemDatabases = true })
	if _, err := mustModel(t, sys, "things").DB("admin"); err != nil {
		t.Fatalf("admin with AllowSystemDatabases: %v", err)
	}
}

func TestWrongArgumentTypesAreRejected(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("args")
	d := mustDB(t, mustModel(t, c, "items"), name)
	ctx := context.Background()
	check := newChecker(t)

	expectInvalid := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%s: expected ErrInvalidArgument, got %v", what, err)
		}
	}
	_, err := d.InsertOne(ctx, 42)
	expectInvalid("InsertOne(int)", err)
	_, err = d.InsertOne(ctx, "a string")
	expectInvalid("InsertOne(string)", err)
	_, err = d.InsertOne(ctx, nil)
	expectInvalid("InsertOne(nil)", err)
	_, err = d.InsertOne(ctx, []byte{1, 2, 3})
	expectInvalid("InsertOne(garbage bytes)", err)
	_, err = d.InsertOne(ctx, ExtJSON("{not json"))
	expectInvalid("InsertOne(bad ExtJSON)", err)
	_, err = d.InsertOne(ctx, map[string]any{"f": func() {}})
	expectInvalid("InsertOne(func field)", err)
	_, err = d.InsertMany(ctx, bson.D{{Key: "a", Value: 1}}) // one document, not a slice of them
	expectInvalid("InsertMany(bson.D)", err)
	_, err = d.InsertMany(ctx, 7)
	expectInvalid("InsertMany(int)", err)
	_, err = d.InsertMany(ctx, []any{})
	expectInvalid("InsertMany(empty)", err)
	_, err = d.InsertMany(ctx, []any{bson.D{{Key: "ok", Value: 1}}, 3})
	expectInvalid("InsertMany(mixed)", err)
	_, err = d.Find(ctx, 3.14)
	expectInvalid("Find(float)", err)
	_, err = d.Find(ctx, nil, &FindOptions{Sort: 5})
	if err == nil {
		t.Fatal("Find with Sort: 5 succeeded")
	}
	_, err = d.UpdateOne(ctx, bson.D{}, bson.D{{Key: "plain", Value: 1}})
	expectInvalid("UpdateOne(no operators)", err)
	_, err = d.ReplaceOne(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: 1}}}})
	expectInvalid("ReplaceOne($set)", err)
	_, err = d.Aggregate(ctx, 42)
	expectInvalid("Aggregate(int)", err)
	// Malformed pipelines are refused by the library before anything is sent.
	_, err = d.Aggregate(ctx, ExtJSON(`{"notAPipeline": 1}`))
	expectInvalid("Aggregate({notAPipeline})", err)
	_, err = d.Aggregate(ctx, ExtJSON(`{"pipeline": 5}`))
	expectInvalid("Aggregate({pipeline: 5})", err)
	stage, _ := bson.Marshal(bson.D{{Key: "$match", Value: bson.D{}}})
	_, err = d.Aggregate(ctx, bson.Raw(stage))
	expectInvalid("Aggregate(a stage, not a pipeline)", err)
	_, err = d.BulkWrite(ctx, nil)
	expectInvalid("BulkWrite(nil)", err)
	_, err = d.BulkWrite(ctx, []WriteModel{&InsertOneModel{Document: bson.D{{Key: "a", Value: 1}}}, &UpdateOneModel{Filter: bson.D{}}})
	expectInvalid("BulkWrite(update without Update)", err)
	res := d.FindOneAndUpdate(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: 1}}}},
		&FindOneAndUpdateOptions{ReturnDocument: "sideways"})
	expectInvalid("FindOneAndUpdate(returnDocument sideways)", res.Err())
	_, err = d.CreateIndex(ctx, IndexModel{})
	expectInvalid("CreateIndex(no keys)", err)
	if _, err := c.Model("a$b"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Model(a$b): %v", err)
	}
	if _, err := c.Model("x", ModelOptions{Indexes: []IndexModel{{}}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Model with keyless index: %v", err)
	}

	// Decoding into the wrong type is an error too, not a panic.
	if _, err := d.InsertOne(ctx, bson.D{{Key: "n", Value: "text"}}); err != nil {
		t.Fatal(err)
	}
	var wrong struct {
		N int `bson:"n"`
	}
	if err := d.FindOne(ctx, nil).Decode(&wrong); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Decode string into int: %v", err)
	}
	cur, err := d.Find(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var notSlice int
	if err := cur.All(ctx, &notSlice); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("All(*int): %v", err)
	}
	if n := check.count(name, "items", nil); n != 1 {
		t.Fatalf("rejected calls wrote documents: %d in the collection", n)
	}
}

func TestUseAfterCloseIsAnError(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("closed")
	m := mustModel(t, c, "items")
	d := mustDB(t, m, name)
	ctx := context.Background()
	for i := range 3 {
		if _, err := d.InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := d.Find(ctx, nil, &FindOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Next(ctx) {
		t.Fatalf("first Next: %v", cur.Err())
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	expectClosed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s after Close: expected ErrClosed, got %v", what, err)
		}
		asError(t, err, CodeClosed)
	}
	_, err = d.InsertOne(ctx, bson.D{{Key: "late", Value: true}})
	expectClosed("InsertOne", err)
	_, err = d.Find(ctx, nil)
	expectClosed("Find", err)
	expectClosed("FindOne", d.FindOne(ctx, nil).Err())
	_, err = d.CountDocuments(ctx, nil)
	expectClosed("CountDocuments", err)
	expectClosed("Drop", d.Drop(ctx))
	_, err = m.DB(name)
	expectClosed("Model.DB", err)
	_, err = c.Model("other")
	expectClosed("Client.Model", err)
	expectClosed("CheckDBName", c.CheckDBName("x"))
	if cur.Next(ctx) {
		t.Fatal("Next after Client.Close returned a document")
	}
	expectClosed("Cursor.Next", cur.Err())
	if cur.ID() != 0 {
		t.Fatal("closed cursor has an id")
	}
	// Closing everything again, in any order, is harmless.
	if err := cur.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d.Close()
	m.Close()
	if got := newChecker(t).count(name, "items", bson.D{{Key: "late", Value: true}}); got != 0 {
		t.Fatalf("a write after Close reached the server: %d", got)
	}
}

func TestDedicatedPoolServesItsDatabase(t *testing.T) {
	dedicated, shared := uniqueDB("dedicated"), uniqueDB("shared")
	c := newClient(t, func(o *Options) {
		o.MaxPoolSize = 1
		o.DBSpecific = []DBSpecific{{DBName: dedicated, PoolOptions: PoolOptions{MaxConnections: 2}}}
	})
	m := mustModel(t, c, "routed")
	dd, sd := mustDB(t, m, dedicated), mustDB(t, m, shared)
	ctx := context.Background()
	// An open cursor pins the shared pool's only connection; the dedicated pool still serves.
	for i := range 3 {
		if _, err := sd.InsertOne(ctx, bson.D{{Key: "pool", Value: "shared"}, {Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	pin, err := sd.Find(ctx, nil, &FindOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pin.Close(ctx)
	if !pin.Next(ctx) {
		t.Fatal(pin.Err())
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := dd.InsertMany(wctx, []bson.D{{{Key: "pool", Value: "dedicated"}}, {{Key: "pool", Value: "dedicated"}}}); err != nil {
		t.Fatalf("dedicated pool insert while the shared pool is pinned: %v", err)
	}
	n, err := dd.CountDocuments(wctx, nil)
	if err != nil || n != 2 {
		t.Fatalf("count on dedicated: %d, %v", n, err)
	}
	check := newChecker(t)
	if got := check.count(dedicated, "routed", bson.D{{Key: "pool", Value: "dedicated"}}); got != 2 {
		t.Fatalf("dedicated db has %d documents", got)
	}
	if got := check.count(dedicated, "routed", bson.D{{Key: "pool", Value: "shared"}}); got != 0 {
		t.Fatalf("shared documents leaked into the dedicated db: %d", got)
	}
	if got := check.count(shared, "routed", nil); got != 3 {
		t.Fatalf("shared db has %d documents", got)
	}
}
