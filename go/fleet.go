package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"encoding/json"
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

// MoveTenant moves a tenant to the cluster to, online, and returns the report. Writes to it
// meanwhile wait, then fail with ErrMoving (retryable).
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
