// The program of the packaging tests (scripts/packaging-test.sh): a module outside the
// repository that depends on github.com/polymongo/polymongo/go the way README.md says. It
// writes a document through polymongo, reads it back through the official driver (an
// independent client) and through polymongo, then drops its database.
//
//	app MONGODB_URI
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	polymongo "github.com/polymongo/polymongo/go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type item struct {
	ID    string `bson:"_id"`
	Name  string `bson:"name"`
	Count int    `bson:"count"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "outside module: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: app MONGODB_URI")
	}
	uri := os.Args[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	token := make([]byte, 6)
	if _, err := rand.Read(token); err != nil {
		fail("%v", err)
	}
	dbName := "pkg_go_" + hex.EncodeToString(token)
	want := item{ID: "doc-" + hex.EncodeToString(token), Name: "outside module", Count: 42}

	client, err := polymongo.New(polymongo.Options{MongoURI: uri})
	if err != nil {
		fail("polymongo.New: %v", err)
	}
	defer client.Close()
	items, err := client.Model("items")
	if err != nil {
		fail("Model: %v", err)
	}
	db, err := items.DB(dbName)
	if err != nil {
		fail("DB: %v", err)
	}
	if _, err := db.InsertOne(ctx, want); err != nil {
		fail("InsertOne: %v", err)
	}

	// The independent reader: the official driver, its own connection.
	mc, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(20 * time.Second))
	if err != nil {
		fail("mongo.Connect: %v", err)
	}
	defer mc.Disconnect(context.Background())
	defer mc.Database(dbName).Drop(context.Background())
	var got item
	if err := mc.Database(dbName).Collection("items").FindOne(ctx, bson.D{{Key: "_id", Value: want.ID}}).Decode(&got); err != nil {
		fail("the official driver does not find what polymongo wrote: %v", err)
	}
	if got != want {
		fail("the official driver read %+v, polymongo wrote %+v", got, want)
	}
	var again item
	if err := db.FindOne(ctx, bson.D{{Key: "_id", Value: want.ID}}).Decode(&again); err != nil || again != want {
		fail("polymongo read back %+v (%v), wrote %+v", again, err, want)
	}
	fmt.Printf("outside module: libpolymongo %s (built against polymongo.h %s): %s.items round trip ok\n",
		polymongo.Version(), polymongo.HeaderVersionString, dbName)
}
