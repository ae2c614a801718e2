//go:build cgo

package polymongo_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	polymongo "github.com/polymongo/polymongo/go"
)

type User struct {
	Email string `bson:"email"`
	Name  string `bson:"name"`
}

// One client, one model, any number of tenant databases.
func Example() {
	client, err := polymongo.New(polymongo.Options{MongoURI: "mongodb://localhost:27017", MaxPoolSize: 20})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	users, err := client.Model("users", polymongo.ModelOptions{Indexes: []polymongo.IndexModel{
		{Keys: bson.D{{Key: "email", Value: 1}}, Options: &polymongo.IndexOptions{Unique: true}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tenant, err := users.DB("tenant_1") // no I/O: cheap per request
	if err != nil {
		log.Fatal(err) // errors.Is(err, polymongo.ErrInvalidDBName) for a bad name
	}
	_, err = tenant.InsertOne(ctx, User{Email: "ada@example.com", Name: "Ada"})
	if polymongo.IsDuplicateKeyError(err) { // or errors.Is(err, polymongo.ErrDuplicateKey)
		fmt.Println("already there")
	}
	cur, err := tenant.Find(ctx, bson.D{}, &polymongo.FindOptions{Sort: bson.D{{Key: "name", Value: 1}}})
	if err != nil {
		log.Fatal(err)
	}
	var all []User
	if err := cur.All(ctx, &all); err != nil { // as the official driver's; closes the cursor
		log.Fatal(err)
	}
	if err := tenant.FindOne(ctx, bson.D{{Key: "email", Value: "nobody"}}).Err(); errors.Is(err, polymongo.ErrNoDocuments) {
		fmt.Println("no such user") // polymongo.ErrNoDocuments is mongo.ErrNoDocuments
	}
	cur, err = tenant.Find(ctx, bson.D{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for u, err := range polymongo.Documents[User](ctx, cur) { // one at a time
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u.Name, u.Email)
	}
}
