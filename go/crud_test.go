//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type item struct {
	ID    int    `bson:"_id"`
	Group int    `bson:"g"`
	X     string `bson:"x"`
}

func TestCRUDAcrossManyDatabases(t *testing.T) {
	c := newClient(t, func(o *Options) { o.MaxPoolSize = 3 })
	m := mustModel(t, c, "orders")
	ctx := context.Background()
	const tenants = 6
	names := make([]string, tenants)
	for i := range names {
		names[i] = uniqueDB(fmt.Sprintf("tenant%d", i))
		d := mustDB(t, m, names[i])
		docs := make([]any, i+1)
		for j := range docs {
			docs[j] = bson.D{{Key: "tenant", Value: i}, {Key: "n", Value: j}}
		}
		res, err := d.InsertMany(ctx, docs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.InsertedIDs) != i+1 {
			t.Fatalf("tenant %d: %d ids", i, len(res.InsertedIDs))
		}
		if _, ok := res.InsertedIDs[0].(bson.ObjectID); !ok {
			t.Fatalf("generated _id is %T", res.InsertedIDs[0])
		}
	}
	check := newChecker(t)
	for i, name := range names {
		if got := check.count(name, "orders", nil); got != int64(i+1) {
			t.Fatalf("%s: %d documents, want %d", name, got, i+1)
		}
		if got := check.count(name, "orders", bson.D{{Key: "tenant", Value: bson.D{{Key: "$ne", Value: i}}}}); got != 0 {
			t.Fatalf("%s holds %d documents of other tenants", name, got)
		}
		// Read back through polymongo too, in a fresh DB handle.
		d := mustDB(t, m, name)
		n, err := d.CountDocuments(ctx, bson.D{{Key: "tenant", Value: i}})
		if err != nil || n != int64(i+1) {
			t.Fatalf("%s: CountDocuments %d, %v", name, n, err)
		}
	}
	// Writes in one tenant leave the others alone.
	d0 := mustDB(t, m, names[0])
	if _, err := d0.DeleteMany(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if check.count(names[0], "orders", nil) != 0 || check.count(names[5], "orders", nil) != 6 {
		t.Fatal("DeleteMany crossed databases")
	}
}

func TestFindOptionsAndCursorIteration(t *testing.T) {
	c := newClient(t)
	d := mustDB(t, mustModel(t, c, "items"), uniqueDB("find"))
	ctx := context.Background()
	docs := make([]item, 25)
	for i := range docs {
		docs[i] = item{ID: i, Group: i % 2, X: fmt.Sprintf("v%d", i)}
	}
	if _, err := d.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	cur, err := d.Find(ctx, bson.D{{Key: "g", Value: 0}}, &FindOptions{
		Projection: bson.D{{Key: "x", Value: 1}, {Key: "_id", Value: 0}},
		Sort:       bson.D{{Key: "_id", Value: -1}}, Skip: 1, Limit: 5, BatchSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	var xs []string
	for cur.Next(ctx) {
		var v struct {
			X  string `bson:"x"`
			ID *int   `bson:"_id"`
		}
		if err := cur.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v.ID != nil {
			t.Fatal("projection kept _id")
		}
		xs = append(xs, v.X)
	}
	if cur.Err() != nil {
		t.Fatal(cur.Err())
	}
	if want := []string{"v22", "v20", "v18", "v16", "v14"}; !slices.Equal(xs, want) {
		t.Fatalf("got %v, want %v", xs, want)
	}
	if cur.Next(ctx) || cur.Err() != nil {
		t.Fatal("Next after the end")
	}

	// The iterator, with small batches (several getMores) and the deadline sent as maxTimeMS.
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cur, err = d.Find(tctx, nil, &FindOptions{Sort: bson.D{{Key: "_id", Value: 1}}, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for raw, err := range cur.Iter(tctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int(raw.Lookup("_id").Int32()))
	}
	if len(ids) != 25 || ids[0] != 0 || ids[24] != 24 {
		t.Fatalf("All yielded %v", ids)
	}

	// Typed iteration, breaking early: the cursor is closed by the iterator.
	cur, err = d.Find(ctx, bson.D{{Key: "g", Value: 1}}, &FindOptions{Sort: bson.D{{Key: "_id", Value: 1}}, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var firstOdd []item
	for it, err := range Documents[item](ctx, cur) {
		if err != nil {
			t.Fatal(err)
		}
		firstOdd = append(firstOdd, it)
		if len(firstOdd) == 3 {
			break
		}
	}
	if len(firstOdd) != 3 || firstOdd[2] != (item{ID: 5, Group: 1, X: "v5"}) {
		t.Fatalf("Documents: %+v", firstOdd)
	}
	if cur.Next(ctx) || !errors.Is(cur.Err(), ErrClosed) {
		t.Fatalf("cursor not closed after break: %v", cur.Err())
	}

	// All, like the driver's Cursor.All.
	cur, err = d.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: 4}}}}, &FindOptions{Sort: bson.D{{Key: "_id", Value: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var all []item
	if err := cur.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[3].X != "v3" {
		t.Fatalf("All: %+v", all)
	}

	// FindOne with options, and no match.
	var one item
	if err := d.FindOne(ctx, bson.D{{Key: "g", Value: 1}}, &FindOneOptions{Sort: bson.D{{Key: "_id", Value: -1}}, Skip: 1}).Decode(&one); err != nil {
		t.Fatal(err)
	}
	if one.ID != 21 {
		t.Fatalf("FindOne: %+v", one)
	}
	if err := d.FindOne(ctx, bson.D{{Key: "x", Value: "nope"}}).Err(); !errors.Is(err, ErrNoDocuments) {
		t.Fatalf("FindOne no match: %v", err)
	}
	// A query the server refuses is an *Error with the server's code.
	_, err = d.Find(ctx, bson.D{{Key: "x", Value: bson.D{{Key: "$nosuchop", Value: 1}}}})
	pe := asError(t, err, CodeServer)
	if pe.ServerCode == 0 {
		t.Fatalf("no server code: %v", err)
	}
}

func TestUpdateReplaceDelete(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("update")
	d := mustDB(t, mustModel(t, c, "items"), name)
	ctx := context.Background()
	for i := range 4 {
		if _, err := d.InsertOne(ctx, bson.M{"_id": i, "s": "new"}); err != nil {
			t.Fatal(err)
		}
	}
	set := func(v string) bson.D { return bson.D{{Key: "$set", Value: bson.D{{Key: "s", Value: v}}}} }
	r, err := d.UpdateOne(ctx, bson.D{{Key: "s", Value: "new"}}, set("one"))
	if err != nil || r.MatchedCount != 1 || r.ModifiedCount != 1 || r.UpsertedID != nil {
		t.Fatalf("UpdateOne: %+v, %v", r, err)
	}
	r, err = d.UpdateMany(ctx, bson.D{{Key: "s", Value: "new"}}, set("many"))
	if err != nil || r.ModifiedCount != 3 {
		t.Fatalf("UpdateMany: %+v, %v", r, err)
	}
	r, err = d.UpdateOne(ctx, bson.D{{Key: "_id", Value: 99}}, set("up"), &UpdateOptions{Upsert: true})
	if err != nil || r.UpsertedCount != 1 || r.UpsertedID != int32(99) {
		t.Fatalf("upsert: %+v, %v", r, err)
	}
	r, err = d.ReplaceOne(ctx, bson.D{{Key: "_id", Value: 0}}, bson.D{{Key: "replaced", Value: true}})
	if err != nil || r.ModifiedCount != 1 {
		t.Fatalf("ReplaceOne: %+v, %v", r, err)
	}
	check := newChecker(t)
	if check.count(name, "items", bson.D{{Key: "s", Value: "many"}}) != 3 ||
		check.count(name, "items", bson.D{{Key: "_id", Value: 99}, {Key: "s", Value: "up"}}) != 1 {
		t.Fatal("updates not applied")
	}
	got := check.find(name, "items", bson.D{{Key: "_id", Value: 0}}, nil)
	if len(got) != 1 || got[0]["replaced"] != true || got[0]["s"] != nil {
		t.Fatalf("replacement: %v", got)
	}
	dr, err := d.DeleteOne(ctx, bson.D{{Key: "s", Value: "many"}})
	if err != nil || dr.DeletedCount != 1 {
		t.Fatalf("DeleteOne: %+v, %v", dr, err)
	}
	dr, err = d.DeleteMany(ctx, bson.D{{Key: "s", Value: "many"}})
	if err != nil || dr.DeletedCount != 2 {
		t.Fatalf("DeleteMany: %+v, %v", dr, err)
	}
	if n := check.count(name, "items", nil); n != 2 {
		t.Fatalf("%d documents left, want 2", n)
	}
}

func TestFindOneAndModify(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("fam")
	d := mustDB(t, mustModel(t, c, "items"), name)
	ctx := context.Background()
	if _, err := d.InsertMany(ctx, []bson.M{{"_id": 1, "v": 1}, {"_id": 2, "v": 5}}); err != nil {
		t.Fatal(err)
	}
	type doc struct {
		ID int  `bson:"_id"`
		V  int  `bson:"v"`
		R  bool `bson:"r"`
	}
	var before, after, replaced, deleted doc
	inc := func(n int) bson.D { return bson.D{{Key: "$inc", Value: bson.D{{Key: "v", Value: n}}}} }
	if err := d.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: 1}}, inc(10)).Decode(&before); err != nil {
		t.Fatal(err)
	}
	if before.V != 1 {
		t.Fatalf("before: %+v", before)
	}
	if err := d.FindOneAndUpdate(ctx, nil, inc(1), &FindOneAndUpdateOptions{
		Sort: bson.D{{Key: "v", Value: -1}}, ReturnDocument: After}).Decode(&after); err != nil {
		t.Fatal(err)
	}
	if after != (doc{ID: 1, V: 12}) {
		t.Fatalf("after: %+v", after)
	}
	if err := d.FindOneAndReplace(ctx, bson.D{{Key: "_id", Value: 2}}, bson.D{{Key: "r", Value: true}},
		&FindOneAndReplaceOptions{ReturnDocument: After}).Decode(&replaced); err != nil {
		t.Fatal(err)
	}
	if replaced != (doc{ID: 2, R: true}) {
		t.Fatalf("replaced: %+v", replaced)
	}
	if err := d.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: 2}}).Decode(&deleted); err != nil {
		t.Fatal(err)
	}
	if !deleted.R {
		t.Fatalf("deleted: %+v", deleted)
	}
	if err := d.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: 77}}).Err(); !errors.Is(err, ErrNoDocuments) {
		t.Fatalf("no match: %v", err)
	}
	// Upsert through find-and-modify.
	up := d.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: 3}}, inc(3), &FindOneAndUpdateOptions{Upsert: true, ReturnDocument: After})
	var upserted doc
	if err := up.Decode(&upserted); err != nil || upserted.V != 3 {
		t.Fatalf("upsert: %+v, %v", upserted, err)
	}
	check := newChecker(t)
	if check.count(name, "items", nil) != 2 || check.count(name, "items", bson.D{{Key: "_id", Value: 1}, {Key: "v", Value: 12}}) != 1 {
		t.Fatalf("state: %v", check.find(name, "items", nil, nil))
	}
}

func TestCountDistinctAggregate(t *testing.T) {
	c := newClient(t)
	d := mustDB(t, mustModel(t, c, "items"), uniqueDB("agg"))
	ctx := context.Background()
	var docs []bson.D
	for i := range 10 {
		docs = append(docs, bson.D{{Key: "k", Value: i % 3}, {Key: "v", Value: i}, {Key: "c", Value: string(rune('a' + i%3))}})
	}
	if _, err := d.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	n, err := d.CountDocuments(ctx, bson.D{{Key: "c", Value: "a"}})
	if err != nil || n != 4 {
		t.Fatalf("CountDocuments: %d, %v", n, err)
	}
	n, err = d.CountDocuments(ctx, nil, &CountOptions{Limit: 4, Skip: 1})
	if err != nil || n != 4 {
		t.Fatalf("CountDocuments limit: %d, %v", n, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	est, err := d.EstimatedDocumentCount(tctx)
	if err != nil || est != 10 {
		t.Fatalf("EstimatedDocumentCount: %d, %v", est, err)
	}
	var values []string
	if err := d.Distinct(tctx, "c", nil).Decode(&values); err != nil {
		t.Fatal(err)
	}
	slices.Sort(values)
	if !slices.Equal(values, []string{"a", "b", "c"}) {
		t.Fatalf("Distinct: %v", values)
	}
	raw, err := d.Distinct(ctx, "k", bson.D{{Key: "v", Value: bson.D{{Key: "$gt", Value: 7}}}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if vals, _ := raw.Values(); len(vals) != 2 {
		t.Fatalf("Distinct with filter: %v", raw)
	}
	if err := d.Distinct(ctx, "", nil).Err(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Distinct on empty field: %v", err)
	}

	cur, err := d.Aggregate(tctx, []bson.D{
		{{Key: "$match", Value: bson.D{{Key: "v", Value: bson.D{{Key: "$gte", Value: 1}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$k"}, {Key: "total", Value: bson.D{{Key: "$sum", Value: "$v"}}}}}},
		{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}},
	}, &AggregateOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	type group struct {
		ID    int `bson:"_id"`
		Total int `bson:"total"`
	}
	var groups []group
	if err := cur.All(ctx, &groups); err != nil {
		t.Fatal(err)
	}
	if want := []group{{0, 18}, {1, 12}, {2, 15}}; !slices.Equal(groups, want) {
		t.Fatalf("Aggregate: %+v, want %+v", groups, want)
	}
	// bson.A and ExtJSON pipelines work as well.
	cur, err = d.Aggregate(ctx, bson.A{bson.D{{Key: "$count", Value: "n"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Next(ctx) || cur.Current.Lookup("n").Int32() != 10 {
		t.Fatalf("$count: %v %v", cur.Current, cur.Err())
	}
	cur.Close(ctx)
	cur, err = d.Aggregate(ctx, ExtJSON(`[{"$match": {"k": 2}}, {"$count": "n"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Next(ctx) || cur.Current.Lookup("n").Int32() != 3 {
		t.Fatalf("ExtJSON pipeline: %v %v", cur.Current, cur.Err())
	}
	cur.Close(ctx)
}

func TestBulkWriteReportsPerIndexErrors(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("bulk")
	d := mustDB(t, mustModel(t, c, "items"), name)
	ctx := context.Background()
	check := newChecker(t)

	res, err := d.BulkWrite(ctx, []WriteModel{
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 1}, {Key: "v", Value: 1}}},
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 2}, {Key: "v", Value: 2}}},
		&UpdateOneModel{Filter: bson.D{{Key: "_id", Value: 1}}, Update: bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: 10}}}}},
		&UpdateManyModel{Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "v", Value: 1}}}}},
		&ReplaceOneModel{Filter: bson.D{{Key: "_id", Value: 3}}, Replacement: bson.D{{Key: "v", Value: 30}}, Upsert: true},
		&DeleteOneModel{Filter: bson.D{{Key: "_id", Value: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.InsertedCount != 2 || res.MatchedCount != 3 || res.UpsertedCount != 1 || res.DeletedCount != 1 {
		t.Fatalf("bulk result: %+v", res)
	}
	// The upserted _id is reported. Its key should be the request index (4), but FerretDB
	// reports upserted indexes relative to the upserts (the official driver sees the same
	// offset against it), so only the value is checked.
	if ids := sortedIDs(res.UpsertedIDs); len(ids) != 1 || ids[0] != int32(3) || res.InsertedIDs[1] != int32(2) {
		t.Fatalf("bulk ids: %v %v", res.InsertedIDs, res.UpsertedIDs)
	}
	if check.count(name, "items", bson.D{{Key: "_id", Value: 1}, {Key: "v", Value: 11}}) != 1 ||
		check.count(name, "items", bson.D{{Key: "_id", Value: 3}, {Key: "v", Value: 30}}) != 1 ||
		check.count(name, "items", nil) != 2 {
		t.Fatalf("after bulk: %v", check.find(name, "items", nil, nil))
	}

	// Ordered (the default): stops at the first failure, index 1.
	res, err = d.BulkWrite(ctx, []WriteModel{
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 10}}},
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 1}}},
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 11}}},
	})
	if !errors.Is(err, ErrDuplicateKey) || !errors.Is(err, ErrWrite) {
		t.Fatalf("ordered bulk: %v", err)
	}
	pe := asError(t, err, CodeDuplicateKey)
	if len(pe.WriteErrors) != 1 || pe.WriteErrors[0].Index != 1 || !IsDuplicateKey(pe.WriteErrors[0].Code) {
		t.Fatalf("write errors: %+v", pe.WriteErrors)
	}
	if res == nil || res.InsertedCount != 1 || pe.Result != res {
		t.Fatalf("partial result: %+v (error's: %+v)", res, pe.Result)
	}
	if check.count(name, "items", bson.D{{Key: "_id", Value: 11}}) != 0 {
		t.Fatal("ordered bulk went on after the failure")
	}

	// Unordered: goes on; the errors list every failed index.
	res, err = d.BulkWrite(ctx, []WriteModel{
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 1}}},
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 20}}},
		&InsertOneModel{Document: bson.D{{Key: "_id", Value: 3}}},
		&DeleteManyModel{Filter: bson.D{{Key: "_id", Value: 10}}},
	}, &BulkWriteOptions{Ordered: Ptr(false)})
	pe = asError(t, err, CodeDuplicateKey)
	var idx []int
	for _, we := range pe.WriteErrors {
		idx = append(idx, we.Index)
		if we.Message == "" {
			t.Fatal("write error without a message")
		}
	}
	if !slices.Equal(idx, []int{0, 2}) {
		t.Fatalf("unordered write error indexes: %v", idx)
	}
	if res.InsertedCount != 1 || res.DeletedCount != 1 || res.InsertedIDs[1] != int32(20) {
		t.Fatalf("unordered partial result: %+v", res)
	}

	// A failure that is not a duplicate key: ErrWrite, with the server's code per index.
	_, err = d.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: 30}}, bson.D{{Key: "$bad", Value: 1}}})
	if !errors.Is(err, ErrWrite) || errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("bad key: %v", err)
	}
	pe = asError(t, err, CodeWrite)
	if len(pe.WriteErrors) != 1 || pe.WriteErrors[0].Index != 1 || pe.WriteErrors[0].Code == 0 {
		t.Fatalf("bad key write errors: %+v", pe.WriteErrors)
	}
	if check.count(name, "items", bson.D{{Key: "_id", Value: 30}}) != 1 {
		t.Fatal("the good document before the bad one was not written")
	}
}

func TestDuplicateKeyIsTypedWithCode(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("dupkey")
	d := mustDB(t, mustModel(t, c, "items"), name)
	ctx := context.Background()
	if _, err := d.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	res, err := d.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}})
	if !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("expected ErrDuplicateKey, got %v", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeDuplicateKey || !IsDuplicateKey(pe.ServerCode) {
		t.Fatalf("details: %+v", pe)
	}
	if len(pe.WriteErrors) != 1 || pe.WriteErrors[0].Index != 0 || pe.WriteErrors[0].Code != pe.ServerCode {
		t.Fatalf("write errors: %+v", pe.WriteErrors)
	}
	if res == nil || res.InsertedID != nil {
		t.Fatalf("result of a failed insert: %+v", res)
	}
	if got := pe.Error(); !strings.Contains(got, "PM_EDUPKEY") || !strings.Contains(got, "server code 11000") {
		t.Fatalf("message: %s", got)
	}

	// InsertMany, ordered: the ids of what was inserted before the failure.
	many, err := d.InsertMany(ctx, []bson.D{{{Key: "_id", Value: "b"}}, {{Key: "_id", Value: "a"}}, {{Key: "_id", Value: "c"}}})
	pe = asError(t, err, CodeDuplicateKey)
	if pe.WriteErrors[0].Index != 1 || len(many.InsertedIDs) != 1 || many.InsertedIDs[0] != "b" {
		t.Fatalf("ordered InsertMany: %+v, %+v", many, pe.WriteErrors)
	}
	if n := newChecker(t).count(name, "items", nil); n != 2 {
		t.Fatalf("%d documents, want 2 (a, b)", n)
	}
}

func TestIndexesCommandsAndDrop(t *testing.T) {
	c := newClient(t)
	name := uniqueDB("idx")
	d := mustDB(t, mustModel(t, c, "items"), name)
	ctx := context.Background()
	idx, err := d.CreateIndex(ctx, IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: &IndexOptions{Unique: true}})
	if err != nil || idx != "email_1" {
		t.Fatalf("CreateIndex: %q, %v", idx, err)
	}
	// The library's naming rule, without the server, names what the server made.
	if n, err := IndexName(bson.D{{Key: "email", Value: 1}}); err != nil || n != idx {
		t.Fatalf("IndexName: %q, %v; CreateIndex named it %q", n, err, idx)
	}
	if n, err := IndexName(bson.D{{Key: "a", Value: 1}, {Key: "b", Value: -1}, {Key: "t", Value: "text"}}); err != nil || n != "a_1_b_-1_t_text" {
		t.Fatalf("IndexName(compound): %q, %v", n, err)
	}
	if _, err := IndexName(bson.D{{Key: "a", Value: 1.5}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("IndexName(1.5): %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	named, err := d.CreateIndex(tctx, IndexModel{Keys: bson.D{{Key: "age", Value: -1}}, Options: &IndexOptions{Name: "by_age"}})
	if err != nil || named != "by_age" {
		t.Fatalf("CreateIndex with a name and a deadline: %q, %v", named, err)
	}
	if _, err := d.InsertOne(ctx, bson.D{{Key: "email", Value: "a@x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InsertOne(ctx, bson.D{{Key: "email", Value: "a@x"}}); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("unique index not enforced: %v", err)
	}
	cur, err := d.ListIndexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name   string `bson:"name"`
		Unique bool   `bson:"unique"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		t.Fatal(err)
	}
	byName := map[string]bool{}
	for _, s := range specs {
		byName[s.Name] = s.Unique
	}
	if unique, ok := byName["email_1"]; len(specs) != 3 || !ok || !unique || byName["by_age"] || byName["_id_"] {
		t.Fatalf("ListIndexes: %+v", specs)
	}
	if _, ok := byName["by_age"]; !ok {
		t.Fatalf("ListIndexes: %+v", specs)
	}
	if err := d.DropIndex(ctx, "email_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InsertOne(ctx, bson.D{{Key: "email", Value: "a@x"}}); err != nil {
		t.Fatalf("insert after DropIndex: %v", err)
	}
	err = d.DropIndex(ctx, "no_such_index")
	if pe := asError(t, err, CodeServer); pe.ServerCode == 0 {
		t.Fatalf("DropIndex missing: %v", err)
	}
	if _, ok := newChecker(t).indexes(name, "items")["by_age"]; !ok {
		t.Fatal("by_age not on the server")
	}

	var ping struct {
		OK float64 `bson:"ok"`
	}
	if err := d.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Decode(&ping); err != nil || ping.OK != 1 {
		t.Fatalf("ping: %+v, %v", ping, err)
	}
	err = d.RunCommand(ctx, bson.D{{Key: "noSuchCommand", Value: 1}}).Err()
	if pe := asError(t, err, CodeNotSupported); pe.ServerCode != 59 {
		t.Fatalf("unknown command: %v", err)
	}
	if err := d.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Drop(ctx); err != nil {
		t.Fatalf("dropping a missing collection: %v", err)
	}
	if n := newChecker(t).count(name, "items", nil); n != 0 {
		t.Fatalf("%d documents after Drop", n)
	}
}

func TestUpdateWithArrayFilters(t *testing.T) {
	onServerWithFeature(t, "arrayFilters", func(c *Client, check *checker) *featureRefused {
		name := uniqueDB("arrayfilters")
		d := mustDB(t, mustModel(t, c, "items"), name)
		ctx := context.Background()
		if _, err := d.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "grades", Value: bson.A{95, 80, 101, 102}}}); err != nil {
			t.Fatal(err)
		}
		_, err := d.UpdateOne(ctx, bson.D{{Key: "_id", Value: 1}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "grades.$[g]", Value: 100}}}},
			&UpdateOptions{ArrayFilters: []any{bson.D{{Key: "g", Value: bson.D{{Key: "$gte", Value: 100}}}}}})
		var pe *Error
		if errors.As(err, &pe) && (pe.Code == CodeNotSupported || pe.ServerCode == 238) {
			// The option reached the server, which said it cannot do it: the caller gets that
			// error and the document is unchanged.
			if pe.ServerCode == 0 {
				t.Errorf("a refusal without the server's code: %v", err)
			}
			if check.count(name, "items", bson.D{{Key: "grades", Value: bson.A{95, 80, 101, 102}}}) != 1 {
				t.Error("the refused update changed the document")
			}
			return &featureRefused{err.Error()}
		}
		if err != nil {
			t.Fatal(err)
		}
		if check.count(name, "items", bson.D{{Key: "grades", Value: bson.A{95, 80, 100, 100}}}) != 1 {
			t.Fatal("arrayFilters not applied")
		}
		return nil
	})
}
