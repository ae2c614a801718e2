package polymongo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// secondURI is PM_TEST_URI2, or the second FerretDB of the CTest fixture.
func secondURI(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv("PM_TEST_URI2"); uri != "" {
		return uri
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(os.Getenv("PM_TEST_SERVER_DIR")), "server-second", "uri"))
	if err != nil {
		t.Skip("no second server: " + err.Error())
	}
	return strings.TrimSpace(string(b))
}

func TestFleetDirectoryPlacementMoveAndSync(t *testing.T) {
	ctx := context.Background()
	a, b := serverURI(t), secondURI(t)
	tenant := uniqueDB("fleet")
	c := newClient(t, func(o *Options) {
		o.Extra = map[string]any{"directory": map[string]any{"mongoURI": a, "db": uniqueDB("fleetdir"), "refreshMS": 100,
			"clusters": map[string]any{"a": a, "b": b}}}
	})
	if e, err := c.Tenant(ctx, tenant); err != nil || e != nil {
		t.Fatalf("Tenant before placement: %v %v", e, err)
	}
	e, err := c.PlaceTenant(ctx, tenant, "a")
	if err != nil || e["cluster"] != "a" {
		t.Fatalf("PlaceTenant: %v %v", e, err)
	}
	d := mustDB(t, mustModel(t, c, "items"), tenant)
	for i := 0; i < 5; i++ {
		if _, err := d.InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.MoveTenant(ctx, tenant, "b")
	if err != nil || r["to"] != "b" || r["documents"] != float64(5) {
		t.Fatalf("MoveTenant: %v %v", r, err)
	}
	if n := newCheckerOn(t, b).count(tenant, "items", bson.D{}); n != 5 {
		t.Fatalf("on b after the move: %d documents, want 5", n)
	}
	if _, err := c.MoveTenant(ctx, tenant, "nowhere"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a move to an unknown cluster: want ErrInvalidArgument, got %v", err)
	}
	if _, err := c.CompleteMove(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if n := newCheckerOn(t, a).count(tenant, "items", bson.D{}); n != 0 {
		t.Fatalf("the source copy after complete: %d documents, want 0", n)
	}
	m := mustModel(t, c, "items", ModelOptions{Indexes: []IndexModel{{Keys: bson.D{{Key: "q", Value: 1}}}}})
	target := map[string]any{"match": tenant, "tenants": true}
	s, err := m.FleetSync(ctx, target)
	if err != nil || s["applied"] != float64(1) {
		t.Fatalf("FleetSync: %v %v", s, err)
	}
	drift, err := m.FleetDrift(ctx, target)
	if err != nil || len(drift["drifted"].([]any)) != 0 {
		t.Fatalf("FleetDrift after the sync: %v %v", drift, err)
	}
	if !CodeMoving.Retryable() {
		t.Fatal("CodeMoving is retryable")
	}
}

// The callback placement policy: a new tenant lands on the cluster the Go func chose, read
// back with an independent client; an error from the func fails the write, nothing written.
func TestFleetCallbackPlacementPutsANewTenantWhereTheFuncSays(t *testing.T) {
	ctx := context.Background()
	a, b := serverURI(t), secondURI(t)
	tenant, refused := uniqueDB("fleetplace"), uniqueDB("fleetplace_no")
	c := newClient(t, func(o *Options) {
		o.Extra = map[string]any{"directory": map[string]any{"mongoURI": a, "db": uniqueDB("fleetplacedir"), "refreshMS": 100,
			"clusters": map[string]any{"a": a, "b": b}, "placement": map[string]any{"policy": "callback"}}}
	})
	var seen [][]ClusterLoad
	err := c.SetPlacement(func(db string, clusters []ClusterLoad) (string, error) {
		if db == refused {
			return "", errors.New("no room for this one")
		}
		seen = append(seen, clusters)
		return "b", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := mustDB(t, mustModel(t, c, "items"), tenant)
	if _, err := d.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "x", Value: "placed"}}); err != nil {
		t.Fatal(err)
	}
	want := []ClusterLoad{{Name: "a", Tenants: 0}, {Name: "b", Tenants: 0}}
	if len(seen) != 1 || len(seen[0]) != 2 || seen[0][0] != want[0] || seen[0][1] != want[1] {
		t.Fatalf("the func saw %v, want one call with %v", seen, want)
	}
	if n := newCheckerOn(t, b).count(tenant, "items", bson.D{{Key: "x", Value: "placed"}}); n != 1 {
		t.Fatalf("on b: %d documents, want 1", n)
	}
	if n := newCheckerOn(t, a).count(tenant, "items", bson.D{}); n != 0 {
		t.Fatalf("on a: %d documents, want 0", n)
	}
	if e, err := c.Tenant(ctx, tenant); err != nil || e["cluster"] != "b" || e["placedBy"] != "callback" {
		t.Fatalf("the entry: %v %v", e, err)
	}
	r := mustDB(t, mustModel(t, c, "items"), refused)
	if _, err := r.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a placement the func refused: want ErrInvalidArgument, got %v", err)
	}
	if n := newCheckerOn(t, a).count(refused, "items", bson.D{}) + newCheckerOn(t, b).count(refused, "items", bson.D{}); n != 0 {
		t.Fatalf("the refused tenant's write reached a server: %d documents", n)
	}
	if err := c.SetPlacement(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PlaceTenant(ctx, uniqueDB("fleetplace_none"), ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("callback placement with no func: want ErrInvalidArgument, got %v", err)
	}
}
