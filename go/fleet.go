package polymongo

/*
#include <stdint.h>
#include <stdlib.h>
#include <polymongo.h>

int polymongo_go_placement(const char *db, const char *clusters_json, char *cluster, size_t cap, void *user_data);
static inline void *pm_go_placement_handle_ptr(uintptr_t h) { return (void *)h; }
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime/cgo"
	"unsafe"
)

// The tenant fleet (fleet.h, docs/fleet.md): the shared tenant directory of the Directory
// option, placement, online moves and fleet schema operations. Entries and reports are the C
// API's JSON, decoded into maps.

func (c *Client) fleetCall(ctx context.Context, db string, call func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int) (any, error) {
	cs, err := cString(db, CodeInvalidDBName, "database name")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cs))
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int { return call(w, cs, out, e) })
	if err != nil {
		return nil, err
	}
	var v any
	return v, decodeJSON(text, &v)
}

func asMap(v any, err error) (map[string]any, error) {
	m, _ := v.(map[string]any)
	return m, err
}

// Tenants lists the directory's entries, read from the catalog now.
func (c *Client) Tenants(ctx context.Context) ([]map[string]any, error) {
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_tenants(w, out, e)
	})
	if err != nil {
		return nil, err
	}
	var entries []map[string]any
	return entries, decodeJSON(text, &entries)
}

// Tenant is one entry of the directory, or nil when db has none.
func (c *Client) Tenant(ctx context.Context, db string) (map[string]any, error) {
	return asMap(c.fleetCall(ctx, db, func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_tenant(w, cs, out, e)
	}))
}

// PlaceTenant places a database with no entry on cluster ("": by the placement policy) and
// returns the entry the catalog holds afterwards (an existing one wins).
func (c *Client) PlaceTenant(ctx context.Context, db, cluster string) (map[string]any, error) {
	return asMap(c.fleetCall(ctx, db, func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int {
		var cc *C.char
		if cluster != "" {
			cc = C.CString(cluster)
			defer C.free(unsafe.Pointer(cc))
		}
		return C.pm_wrapper_place_tenant(w, cs, cc, out, e)
	}))
}

// ClusterLoad is a cluster as a placement function sees it: its name and the number of
// tenants the catalog puts there.
type ClusterLoad struct {
	Name    string `json:"name"`
	Tenants int64  `json:"tenants"`
}

// PlacementFunc chooses the cluster of a database with no entry (the "callback" placement
// policy): it gets the database and the directory's clusters in their configured order, and
// returns one cluster's name. An error, or a name that is not one of the clusters, fails the
// placement, and the operation that caused it, with ErrInvalidArgument.
type PlacementFunc func(db string, clusters []ClusterLoad) (string, error)

// placementCall is the payload behind the cgo.Handle of SetPlacement.
type placementCall PlacementFunc

func (fn placementCall) choose(db string, clustersJSON string, out []byte) (rc C.int) {
	rc = 1
	var clusters []ClusterLoad
	if json.Unmarshal([]byte(clustersJSON), &clusters) != nil {
		return rc
	}
	dispatch(func() {
		name, err := fn(db, clusters)
		if err != nil || name == "" || len(name)+1 > len(out) {
			return
		}
		copy(out, name)
		out[len(name)] = 0
		rc = 0
	})
	return rc
}

// SetPlacement sets the function of the "callback" placement policy (Directory option
// placement: {policy: "callback"}); nil removes it (placements by callback then fail). fn runs
// on the goroutine of the operation that meets a database with no entry, possibly on several
// at once; a panic in it is recovered, reported to the panic handler (see SetPanicHandler) and
// fails the placement.
func (c *Client) SetPlacement(fn PlacementFunc) error {
	var h cgo.Handle
	_, err := withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
		var e C.pm_error
		var rc C.int
		if fn == nil {
			rc = C.pm_wrapper_set_placement(w, nil, nil, &e)
		} else {
			h = cgo.NewHandle(placementCall(fn))
			rc = C.pm_wrapper_set_placement(w, C.pm_placement_fn(C.polymongo_go_placement),
				C.pm_go_placement_handle_ptr(C.uintptr_t(h)), &e)
		}
		if rc != 0 {
			if h != 0 {
				h.Delete()
				h = 0
			}
			return struct{}{}, cError(rc, &e)
		}
		return struct{}{}, nil
	})
	if h != 0 {
		// Kept until Close: a placement that started with an earlier function may still run it.
		c.subsMu.Lock()
		c.placements = append(c.placements, h)
		c.subsMu.Unlock()
	}
	return err
}

// MoveTenant moves a tenant to the cluster to, online, and returns the report. Writes to it
// meanwhile wait, then fail with ErrMoving (retryable); so does a move while another mover
// holds the move's lease.
func (c *Client) MoveTenant(ctx context.Context, db, to string) (map[string]any, error) {
	return asMap(c.fleetCall(ctx, db, func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int {
		ct := C.CString(to)
		defer C.free(unsafe.Pointer(ct))
		return C.pm_wrapper_move_tenant(w, cs, ct, out, e)
	}))
}

// ReverseMove moves a tenant back to the cluster its last move left.
func (c *Client) ReverseMove(ctx context.Context, db string) (map[string]any, error) {
	return asMap(c.fleetCall(ctx, db, func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_reverse_move(w, cs, out, e)
	}))
}

// CompleteMove drops the copy a move left on the source and returns the entry.
func (c *Client) CompleteMove(ctx context.Context, db string) (map[string]any, error) {
	return asMap(c.fleetCall(ctx, db, func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_complete_move(w, cs, out, e)
	}))
}

// AbortMove rolls back a move in progress and returns the entry.
func (c *Client) AbortMove(ctx context.Context, db string) (map[string]any, error) {
	return asMap(c.fleetCall(ctx, db, func(w *C.pm_wrapper, cs *C.char, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_abort_move(w, cs, out, e)
	}))
}

func (m *Model) fleet(ctx context.Context, target map[string]any, sync bool) (map[string]any, error) {
	var ct *C.char
	if target != nil {
		b, err := json.Marshal(target)
		if err != nil {
			return nil, errorf(CodeInvalidArgument, err, "fleet target")
		}
		ct = C.CString(string(b))
		defer C.free(unsafe.Pointer(ct))
	}
	text, err := run(ctx, func() (string, error) {
		p, err := m.h.acquire()
		if err != nil {
			return "", err
		}
		defer m.h.release()
		var out *C.char
		var e C.pm_error
		var rc C.int
		if sync {
			rc = C.pm_model_fleet_sync(p, ct, &out, &e)
		} else {
			rc = C.pm_model_fleet_drift(p, ct, &out, &e)
		}
		text := ""
		if out != nil {
			text = C.GoString(out)
			C.pm_free(unsafe.Pointer(out))
		}
		if rc != 0 {
			return text, cError(rc, &e)
		}
		return text, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	var report map[string]any
	return report, decodeJSON(text, &report)
}

// FleetSync applies the model's indexes and validator over the fleet (target: {match, tenants,
// concurrency, job}; nil: every database of the directory's clusters); resumable. ErrWrite
// when some databases failed.
func (m *Model) FleetSync(ctx context.Context, target map[string]any) (map[string]any, error) {
	return m.fleet(ctx, target, true)
}

// FleetDrift reports the databases whose indexes or validator differ from the model, and how.
func (m *Model) FleetDrift(ctx context.Context, target map[string]any) (map[string]any, error) {
	return m.fleet(ctx, target, false)
}
