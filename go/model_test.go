//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestModelIndexesAreAppliedPerDatabase(t *testing.T) {
	c := newClient(t)
	m := mustModel(t, c, "users", ModelOptions{Indexes: []IndexModel{
		{Keys: bson.D{{Key: "email", Value: 1}}, Options: &IndexOptions{Unique: true}},
		{Keys: bson.D{{Key: "age", Value: -1}}, Options: &IndexOptions{Name: "by_age"}},
	}})
	if m.Collection() != "users" || m.Client() != c {
		t.Fatal("model accessors")
	}
	a, b := uniqueDB("model_a"), uniqueDB("model_b")
	da, dbb := mustDB(t, m, a), mustDB(t, m, b)
	ctx := context.Background()
	check := newChecker(t)
	if _, err := da.InsertOne(ctx, bson.D{{Key: "email", Value: "x@y"}, {Key: "age", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	idx := check.indexes(a, "users")
	if spec, ok := idx["email_1"]; !ok || spec["unique"] != true {
		t.Fatalf("email_1 in %s: %v", a, idx)
	}
	if _, ok := idx["by_age"]; !ok {
		t.Fatalf("by_age in %s: %v", a, idx)
	}
	if got := check.indexes(b, "users"); len(got) != 0 {
		t.Fatalf("%s was never used but has indexes %v", b, got)
	}
	_, err := da.InsertOne(ctx, bson.D{{Key: "email", Value: "x@y"}})
	if !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("the model's unique index is not enforced: %v", err)
	}
	// First use of b, through a read, applies them there.
	if _, err := dbb.CountDocuments(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := check.indexes(b, "users")["email_1"]; !ok {
		t.Fatalf("indexes not applied to %s on first use", b)
	}
	if check.count(a, "users", nil) != 1 || check.count(b, "users", nil) != 0 {
		t.Fatal("documents in the wrong database")
	}
}

func TestModelValidator(t *testing.T) {
	onServerWithFeature(t, "validators", func(c *Client, check *checker) *featureRefused {
		m := mustModel(t, c, "validated", ModelOptions{
			Validator: bson.D{{Key: "$jsonSchema", Value: bson.D{
				{Key: "bsonType", Value: "object"}, {Key: "required", Value: bson.A{"name"}}}}},
			ValidationAction: "error",
		})
		name := uniqueDB("validator")
		d := mustDB(t, m, name)
		ctx := context.Background()
		_, err := d.InsertOne(ctx, bson.D{{Key: "name", Value: "ok"}})
		if err != nil {
			// The first use applies the validator; a server that cannot says so, and the write
			// does not go through unvalidated.
			if !errors.Is(err, ErrNotSupported) && !errors.Is(err, ErrServer) {
				t.Fatalf("unexpected error applying the validator: %v", err)
			}
			if !strings.Contains(err.Error(), "validator") {
				t.Errorf("the refusal does not name the validator: %v", err)
			}
			if check.count(name, "validated", nil) != 0 {
				t.Fatal("a write went through without its validator")
			}
			return &featureRefused{err.Error()}
		}
		_, err = d.InsertOne(ctx, bson.D{{Key: "other", Value: 1}})
		var pe *Error
		if !errors.As(err, &pe) || pe.ServerCode != 121 { // DocumentValidationFailure
			t.Fatalf("the validator let an invalid document through, or refused it oddly: %v", err)
		}
		if check.count(name, "validated", nil) != 1 {
			t.Fatal("validated collection content")
		}
		return nil
	})
}
