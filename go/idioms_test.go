package polymongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// What a user of the official driver types works the same here: cur.All(ctx, &out),
// IsDuplicateKeyError(err), the driver's sentinels with errors.Is, mongo.IsTimeout and
// mongo.IsNetworkError, and marshalling errors that name the argument, the Go type and the field.

type idiomItem struct {
	ID    int    `bson:"_id"`
	Group int    `bson:"g"`
	Name  string `bson:"name"`
}

func TestCursorAllDecodesEveryDocumentLikeTheDriver(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	check := newChecker(t)
	name := uniqueDB("cur_all")
	d := mustDB(t, mustModel(t, c, "items"), name)
	docs := make([]any, 30)
	for i := range docs {
		docs[i] = idiomItem{ID: i, Group: i % 3, Name: fmt.Sprintf("n%02d", i)}
	}
	if _, err := d.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	filter := bson.D{{Key: "g", Value: 1}}
	sort := bson.D{{Key: "_id", Value: 1}}

	// Batches of 4, so All crosses getMore; the slice's earlier contents are replaced.
	cur, err := d.Find(ctx, filter, &FindOptions{Sort: sort, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	got := []idiomItem{{ID: -1}}
	if err := cur.All(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if cur.Next(ctx) || cur.Err() != nil || cur.ID() != 0 {
		t.Fatalf("the cursor is exhausted and closed after All: %v", cur.Err())
	}
	// The same query through the official driver's own Cursor.All.
	dcur, err := check.client.Database(name).Collection("items").Find(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	var want []idiomItem
	if err := dcur.All(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("All: %v, the driver: %v", got, want)
	}

	// Into bson.M and bson.Raw, as the driver allows.
	cur, _ = d.Find(ctx, filter, &FindOptions{Sort: sort, Limit: 2})
	var maps []bson.M
	if err := cur.All(ctx, &maps); err != nil || len(maps) != 2 || maps[1]["name"] != "n04" {
		t.Fatalf("All into []bson.M: %v %v", maps, err)
	}

	// Not a pointer to a slice: a clear error, and the cursor is closed (its connection back).
	cur, _ = d.Find(ctx, filter)
	var notSlice idiomItem
	err = cur.All(ctx, notSlice)
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "pointer to a slice") {
		t.Fatalf("All(non-pointer): %v", err)
	}
	if cur.Next(ctx) {
		t.Fatal("the cursor stayed open after a refused All")
	}
	// A document that does not fit the element type: the error names All and the Go type.
	cur, _ = d.Find(ctx, filter)
	var wrong []struct {
		Name int `bson:"name"`
	}
	if err := cur.All(ctx, &wrong); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "Cursor.All") {
		t.Fatalf("All into the wrong type: %v", err)
	}

	// The range-over-func iterator lives on as Iter, and Documents[T] as before.
	cur, _ = d.Find(ctx, filter, &FindOptions{Sort: sort})
	n := 0
	for raw, err := range cur.Iter(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if raw.Lookup("g").Int32() != 1 {
			t.Fatalf("Iter: %v", raw)
		}
		n++
	}
	if n != 10 {
		t.Fatalf("Iter saw %d documents", n)
	}
	cur, _ = d.Find(ctx, filter, &FindOptions{Sort: sort})
	var names []string
	for it, err := range Documents[idiomItem](ctx, cur) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, it.Name)
	}
	if len(names) != 10 || names[9] != "n28" {
		t.Fatalf("Documents: %v", names)
	}
	if check.count(name, "items", bson.D{}) != 30 {
		t.Fatal("documents lost")
	}
}

func TestIsDuplicateKeyErrorAndTheDriversSentinels(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	check := newChecker(t)
	name := uniqueDB("sentinels")
	d := mustDB(t, mustModel(t, c, "users", ModelOptions{Indexes: []IndexModel{{Keys: bson.D{{Key: "email", Value: 1}}, Options: &IndexOptions{Unique: true}}}}), name)
	if _, err := d.InsertOne(ctx, bson.D{{Key: "email", Value: "a@x"}}); err != nil {
		t.Fatal(err)
	}

	// A duplicate: IsDuplicateKeyError takes the error, wrapped or not, like the driver's.
	_, err := d.InsertOne(ctx, bson.D{{Key: "email", Value: "a@x"}})
	if !IsDuplicateKeyError(err) || !IsDuplicateKeyError(fmt.Errorf("signing up: %w", err)) {
		t.Fatalf("IsDuplicateKeyError(%v) = false", err)
	}
	// A batch whose failures include a duplicate key.
	_, err = d.InsertMany(ctx, []any{bson.D{{Key: "email", Value: "b@x"}}, bson.D{{Key: "email", Value: "a@x"}}})
	if !IsDuplicateKeyError(err) || !errors.Is(err, ErrWrite) {
		t.Fatalf("InsertMany with a duplicate: %v", err)
	}
	if check.count(name, "users", bson.D{}) != 2 {
		t.Fatal("the batch's first document is missing, or the duplicate was written")
	}
	// Other errors are not duplicates.
	_, err = d.Find(ctx, bson.D{{Key: "x", Value: bson.D{{Key: "$nosuchop", Value: 1}}}})
	if err == nil || IsDuplicateKeyError(err) || IsDuplicateKeyError(nil) || IsDuplicateKeyError(errors.New("E11000")) {
		t.Fatalf("not a duplicate key: %v", err)
	}

	// No document: the driver's own sentinel value.
	err = d.FindOne(ctx, bson.D{{Key: "email", Value: "nobody"}}).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) || !errors.Is(err, ErrNoDocuments) {
		t.Fatalf("FindOne without a match: %v", err)
	}
	err = d.FindOneAndUpdate(ctx, bson.D{{Key: "email", Value: "nobody"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 1}}}}).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("FindOneAndUpdate without a match: %v", err)
	}
	// Nothing to write, a nil document: the driver's argument errors, and ours.
	if _, err := d.InsertMany(ctx, []bson.D{}); !errors.Is(err, mongo.ErrEmptySlice) || !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("InsertMany(empty): %v", err)
	}
	if _, err := d.BulkWrite(ctx, nil); !errors.Is(err, mongo.ErrEmptySlice) {
		t.Fatalf("BulkWrite(nil): %v", err)
	}
	if _, err := d.InsertOne(ctx, nil); !errors.Is(err, mongo.ErrNilDocument) || !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("InsertOne(nil): %v", err)
	}
	if errors.Is(err, mongo.ErrClientDisconnected) {
		t.Fatal("an argument error matched ErrClientDisconnected")
	}

	// An unreachable server: mongo.IsNetworkError, as the driver's own error would.
	down, err := New(Options{MongoURI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", DefaultDB: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	_, err = down.Ping(ctx, "")
	if !errors.Is(err, ErrConnection) || !mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		t.Fatalf("Ping of a closed port: %v (network %v, timeout %v)", err, mongo.IsNetworkError(err), mongo.IsTimeout(err))
	}

	// A pool checkout that times out: mongo.IsTimeout.
	one, err := New(Options{MongoURI: serverURI(t) + sep(serverURI(t)) + "waitQueueTimeoutMS=300", MaxPoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	od := mustDB(t, mustModel(t, one, "users"), name)
	held, err := od.Find(ctx, nil, &FindOptions{BatchSize: 1})
	if err != nil || !held.Next(ctx) {
		t.Fatalf("a cursor holding the only connection: %v", err)
	}
	_, err = od.CountDocuments(ctx, nil)
	if !errors.Is(err, ErrTimeout) || !mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		t.Fatalf("a checkout timeout: %v (timeout %v)", err, mongo.IsTimeout(err))
	}
	held.Close(ctx)

	// A closed client: mongo.ErrClientDisconnected, as the driver after Disconnect.
	c.Close()
	if _, err := d.CountDocuments(ctx, nil); !errors.Is(err, ErrClosed) || !errors.Is(err, mongo.ErrClientDisconnected) {
		t.Fatalf("after Close: %v", err)
	}
}

// sep is what joins an option to uri: "?" or "&".
func sep(uri string) string {
	if strings.Contains(uri, "?") {
		return "&"
	}
	if strings.Count(uri, "/") < 3 {
		return "/?"
	}
	return "?"
}

type withChan struct {
	Name  string
	Inner struct {
		Tags []any
	}
}

type marshalsBadly struct{}

func (marshalsBadly) MarshalBSON() ([]byte, error) { return nil, errors.New("no way") }

func TestMarshallingErrorsNameTheArgumentTheTypeAndTheField(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	check := newChecker(t)
	name := uniqueDB("marshal")
	d := mustDB(t, mustModel(t, c, "items"), name)

	bad := withChan{Name: "x"}
	bad.Inner.Tags = []any{1, "two", make(chan int)}
	var nilPtr *idiomItem
	cases := []struct {
		call func() error
		want []string
	}{
		{func() error { _, err := d.InsertOne(ctx, 42); return err },
			[]string{"document must be a document", "not int"}},
		{func() error { _, err := d.InsertOne(ctx, "text"); return err },
			[]string{"document must be a document", "not string"}},
		{func() error { _, err := d.InsertOne(ctx, nilPtr); return err },
			[]string{"document is a nil *polymongo.idiomItem"}},
		{func() error { _, err := d.InsertOne(ctx, bad); return err },
			[]string{"document (polymongo.withChan)", "field Inner.Tags[2]", "chan int"}},
		{func() error {
			_, err := d.InsertMany(ctx, []any{bson.D{{Key: "ok", Value: 1}}, bson.M{"f": func() {}}})
			return err
		}, []string{"documents[1] (primitive.M)", "field f", "func()"}},
		{func() error {
			_, err := d.UpdateOne(ctx, bson.D{{Key: "a", Value: complex(1, 2)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "b", Value: 1}}}})
			return err
		}, []string{"filter (bson.D)", "field a", "complex128"}},
		{func() error { _, err := d.InsertOne(ctx, marshalsBadly{}); return err },
			[]string{"MarshalBSON of polymongo.marshalsBadly failed", "no way"}},
	}
	for i, tc := range cases {
		err := tc.call()
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("case %d: %v", i, err)
		}
		msg := err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, strings.Replace(w, "primitive.M", "bson.M", 1)) {
				t.Fatalf("case %d: %q lacks %q", i, msg, w)
			}
		}
		// bson's internal wording stays out of the message.
		for _, internal := range []string{"TopLevel", "positioned on", "no encoder found"} {
			if strings.Contains(msg, internal) {
				t.Fatalf("case %d: %q has bson's internals", i, msg)
			}
		}
	}
	// The bson error stays reachable for those who want it.
	_, err := d.InsertOne(ctx, bad)
	if errors.Unwrap(err) == nil {
		t.Fatal("the bson cause is gone")
	}
	// Nothing was written by any of them.
	if n := check.count(name, "items", bson.D{}); n != 0 {
		t.Fatalf("%d documents written by refused calls", n)
	}
}
