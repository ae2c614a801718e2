// Command bindbench-go measures client CPU per operation: the polymongo Go binding against
// the official Go driver (go.mongodb.org/mongo-driver/v2).
//
//	bindbench-go URI OPS [ROUNDS]
//
// One goroutine, one fresh collection (dropped first), small documents (~100 bytes: an
// integer _id, a tenant string, an int, a 32-character string). Each operation is one
// InsertOne or one FindOne by _id, alternating, so OPS = 2 x documents. Each round drops the
// collection, warms up (warmupOps operations), then times OPS operations, measuring process
// CPU time (user + sys of every thread: getrusage(RUSAGE_SELF)) and wall time over the timed
// loop only. Every find must return the document just inserted and the final count must
// equal the number inserted, so errors cannot be measured as speed. The variants alternate
// round by round; the median round of each is printed as one JSON object per line.
// BINDBENCH_VARIANT=polymongo (or official) runs that variant alone, for profiling.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	polymongo "github.com/polymongo/polymongo/go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const (
	dbName    = "pm_bindbench_go"
	collName  = "docs"
	warmupOps = 200
)

// Doc is the benchmark document (93 bytes of BSON).
type Doc struct {
	ID      int32  `bson:"_id"`
	Tenant  string `bson:"tenant"`
	Qty     int32  `bson:"qty"`
	Payload string `bson:"payload"`
}

func makeDoc(i int) Doc {
	return Doc{
		ID:      int32(i),
		Tenant:  fmt.Sprintf("tenant_%04d", i%1000),
		Qty:     int32(i * 7 % 100000),
		Payload: fmt.Sprintf("%032x", uint64(i)*2654435761),
	}
}

func makeDocs(from, n int) []Doc {
	docs := make([]Doc, n)
	for k := range docs {
		docs[k] = makeDoc(from + k)
	}
	return docs
}

// collection is what the loop needs from either client.
type collection interface {
	drop(ctx context.Context) error
	insertOne(ctx context.Context, d *Doc) (any, error)
	findOne(ctx context.Context, id int32, out *Doc) error
	count(ctx context.Context) (int64, error)
}

type pmColl struct{ db *polymongo.DB }

func (c pmColl) drop(ctx context.Context) error { return c.db.Drop(ctx) }
func (c pmColl) insertOne(ctx context.Context, d *Doc) (any, error) {
	res, err := c.db.InsertOne(ctx, d)
	if err != nil {
		return nil, err
	}
	return res.InsertedID, nil
}
func (c pmColl) findOne(ctx context.Context, id int32, out *Doc) error {
	return c.db.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(out)
}
func (c pmColl) count(ctx context.Context) (int64, error) { return c.db.CountDocuments(ctx, bson.D{}) }

type officialColl struct{ coll *mongo.Collection }

func (c officialColl) drop(ctx context.Context) error { return c.coll.Drop(ctx) }
func (c officialColl) insertOne(ctx context.Context, d *Doc) (any, error) {
	res, err := c.coll.InsertOne(ctx, d)
	if err != nil {
		return nil, err
	}
	return res.InsertedID, nil
}
func (c officialColl) findOne(ctx context.Context, id int32, out *Doc) error {
	return c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(out)
}
func (c officialColl) count(ctx context.Context) (int64, error) {
	return c.coll.CountDocuments(ctx, bson.D{})
}

func sameID(got any, want int32) bool {
	switch v := got.(type) {
	case int32:
		return v == want
	case int64:
		return v == int64(want)
	}
	return false
}

// runOps inserts each document and reads it back by _id, checking both results.
func runOps(ctx context.Context, c collection, docs []Doc) error {
	var got Doc
	for k := range docs {
		d := &docs[k]
		id, err := c.insertOne(ctx, d)
		if err != nil {
			return fmt.Errorf("insert %d: %w", d.ID, err)
		}
		if !sameID(id, d.ID) {
			return fmt.Errorf("insert %d: inserted id %v (%T)", d.ID, id, id)
		}
		got = Doc{}
		if err := c.findOne(ctx, d.ID, &got); err != nil {
			return fmt.Errorf("find %d: %w", d.ID, err)
		}
		if got != *d {
			return fmt.Errorf("find %d: got %+v, want %+v", d.ID, got, *d)
		}
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// oneRound returns the CPU and wall time of OPS timed operations on a fresh collection.
func oneRound(ctx context.Context, c collection, ops int) (cpu, wall time.Duration, err error) {
	if err := c.drop(ctx); err != nil {
		return 0, 0, fmt.Errorf("drop: %w", err)
	}
	if err := runOps(ctx, c, makeDocs(1_000_000, warmupOps/2)); err != nil {
		return 0, 0, fmt.Errorf("warm-up: %w", err)
	}
	docs := makeDocs(0, ops/2) // made before the clock starts
	c0, w0 := cpuTime(), time.Now()
	if err := runOps(ctx, c, docs); err != nil {
		return 0, 0, err
	}
	cpu, wall = cpuTime()-c0, time.Since(w0)
	n, err := c.count(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("count: %w", err)
	}
	if want := int64(warmupOps/2 + ops/2); n != want {
		return 0, 0, fmt.Errorf("count: %d documents, want %d", n, want)
	}
	return cpu, wall, nil
}

func median(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func run() error {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		return fmt.Errorf("usage: %s URI OPS [ROUNDS]", os.Args[0])
	}
	uri := os.Args[1]
	ops, err := strconv.Atoi(os.Args[2])
	if err != nil || ops < 2 || ops%2 != 0 {
		return fmt.Errorf("OPS must be a positive even number, not %q", os.Args[2])
	}
	rounds := 3
	if len(os.Args) == 4 {
		if rounds, err = strconv.Atoi(os.Args[3]); err != nil || rounds < 1 {
			return fmt.Errorf("ROUNDS must be a positive number, not %q", os.Args[3])
		}
	}
	ctx := context.Background()

	pm, err := polymongo.New(polymongo.Options{MongoURI: uri})
	if err != nil {
		return err
	}
	defer pm.Close()
	model, err := pm.Model(collName)
	if err != nil {
		return err
	}
	pmDB, err := model.DB(dbName)
	if err != nil {
		return err
	}
	official, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer official.Disconnect(ctx)

	names := []string{"polymongo", "official"}
	if only := os.Getenv("BINDBENCH_VARIANT"); only != "" { // one variant alone, for profiling
		names = []string{only}
	}
	colls := map[string]collection{
		"polymongo": pmColl{pmDB},
		"official":  officialColl{official.Database(dbName).Collection(collName)},
	}
	cpus := map[string][]time.Duration{}
	walls := map[string][]time.Duration{}
	for r := range rounds {
		order := slices.Clone(names)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			cpu, wall, err := oneRound(ctx, colls[name], ops)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			cpus[name] = append(cpus[name], cpu)
			walls[name] = append(walls[name], wall)
			fmt.Fprintf(os.Stderr, "go %s round %d: %.1f us CPU/op, %.0f ops/s\n", name, r+1,
				float64(cpu.Microseconds())/float64(ops), float64(ops)/wall.Seconds())
		}
	}
	if err := colls[names[0]].drop(ctx); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, name := range names {
		cpu, wall := median(cpus[name]), median(walls[name])
		rec := struct {
			Language  string  `json:"language"`
			Variant   string  `json:"variant"`
			CPUPerOp  float64 `json:"client_cpu_us_per_op"`
			OpsPerSec float64 `json:"ops_per_s"`
			Ops       int     `json:"ops"`
		}{"go", name, round2(float64(cpu.Nanoseconds()) / 1e3 / float64(ops)),
			round2(float64(ops) / wall.Seconds()), ops}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bindbench-go:", err)
		os.Exit(1)
	}
}
