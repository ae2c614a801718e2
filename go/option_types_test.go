//go:build cgo

package polymongo

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Find options with values the server has no meaning for are refused by the C library before
// anything is sent: errors.Is(err, ErrInvalidArgument), with a message naming the option. (Go's
// typed options cannot carry a string limit; the C and the other bindings' tests cover that.)
func TestFindOptionValuesAreInvalidArguments(t *testing.T) {
	c := newClient(t)
	d := mustDB(t, mustModel(t, c, "rows"), uniqueDB("findopts"))
	ctx := context.Background()
	if _, err := d.InsertMany(ctx, []any{map[string]int{"i": 1}, map[string]int{"i": 2}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts   *FindOptions
		option string
	}{
		{&FindOptions{Skip: -1}, "'skip'"},
		{&FindOptions{BatchSize: -3}, "'batchSize'"},
		{&FindOptions{Extra: map[string]any{"maxAwaitTimeMS": "100"}}, "'maxAwaitTimeMS'"},
	} {
		cur, err := d.Find(ctx, nil, tc.opts)
		if err == nil {
			cur.Close(ctx)
			t.Fatalf("%s: find was accepted", tc.option)
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%s: want ErrInvalidArgument, got %v", tc.option, err)
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeInvalidArgument || !strings.Contains(pe.Message, tc.option) {
			t.Fatalf("%s: want a *Error naming the option, got %v", tc.option, err)
		}
	}
	if err := d.FindOne(ctx, nil, &FindOneOptions{Skip: -1}).Err(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("FindOne with skip -1: want ErrInvalidArgument, got %v", err)
	}
	cur, err := d.Find(ctx, nil, &FindOptions{Skip: 1, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		n++
	}
	if n != 1 {
		t.Fatalf("skip 1 of 2: got %d documents", n)
	}
}
