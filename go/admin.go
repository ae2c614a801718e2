package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unsafe"
)

// RouteExplanation says where a database routes and why (Client.ExplainRoute): Reason is
// "exact" (its own pool), "rule" (the first routing rule it matches) or "shared".
type RouteExplanation struct {
	DB         string  `json:"db"`
	Pool       string  `json:"pool"`
	Cluster    string  `json:"cluster"` // the URI, redacted
	Reason     string  `json:"reason"`
	Why        string  `json:"why"`
	Rule       *string `json:"rule"`
	RuleIndex  int     `json:"ruleIndex"`
	SharedPool bool    `json:"sharedPool"`
	PoolOpen   bool    `json:"poolOpen"`
	Paused     bool    `json:"paused"`
}

// ExplainRoute says which pool and cluster db routes to, and why. No I/O.
func (c *Client) ExplainRoute(ctx context.Context, db string) (*RouteExplanation, error) {
	if strings.IndexByte(db, 0) >= 0 {
		return nil, errorf(CodeInvalidDBName, nil, "database name %q contains a NUL byte", db)
	}
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		cs := C.CString(db)
		defer C.free(unsafe.Pointer(cs))
		return C.pm_wrapper_explain_route(w, cs, out, e)
	})
	if err != nil {
		return nil, err
	}
	var r RouteExplanation
	return &r, decodeJSON(text, &r)
}

// Pause holds the operations on a database, or on every database of a pool (by its name),
// before they check out a connection, until Resume or pauseTimeoutMS. False when it was
// paused already.
func (c *Client) Pause(ctx context.Context, name string) (bool, error) {
	return c.flagCall(ctx, name, func(w *C.pm_wrapper, cs *C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_pause(w, cs, e)
	})
}

// Resume ends a Pause; false when name was not paused.
func (c *Client) Resume(ctx context.Context, name string) (bool, error) {
	return c.flagCall(ctx, name, func(w *C.pm_wrapper, cs *C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_resume(w, cs, e)
	})
}

func (c *Client) flagCall(ctx context.Context, name string, call func(w *C.pm_wrapper, cs *C.char, e *C.pm_error) C.int) (bool, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return false, errorf(CodeInvalidArgument, nil, "name %q contains a NUL byte", name)
	}
	return run(ctx, func() (bool, error) {
		return withWrapper(c, func(w *C.pm_wrapper) (bool, error) {
			cs := C.CString(name)
			defer C.free(unsafe.Pointer(cs))
			var e C.pm_error
			rc := call(w, cs, &e)
			if rc < 0 {
				return false, cError(rc, &e)
			}
			return rc == 1, nil
		})
	}, nil)
}

// DrainPool drains and closes the pool of that name: new checkouts wait while the connections
// out come back, then it closes (its next use reopens it). An error of code CodeTimeout when
// some were still out after timeout.
func (c *Client) DrainPool(ctx context.Context, pool string, timeout time.Duration) error {
	if strings.IndexByte(pool, 0) >= 0 {
		return errorf(CodeInvalidArgument, nil, "pool %q contains a NUL byte", pool)
	}
	_, err := c.flagCall(ctx, pool, func(w *C.pm_wrapper, cs *C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_drain_pool(w, cs, C.int64_t(timeout.Milliseconds()), e)
	})
	return err
}

// ReloadRoutes replaces the routing rules. Databases with their own pool keep it.
func (c *Client) ReloadRoutes(ctx context.Context, routes []Route) error {
	rules := make([]map[string]any, 0, len(routes))
	for _, r := range routes {
		rules = append(rules, r.jsonMap())
	}
	text, err := json.Marshal(rules)
	if err != nil {
		return errorf(CodeInvalidArgument, err, "ReloadRoutes")
	}
	_, err = c.flagCall(ctx, string(text), func(w *C.pm_wrapper, cs *C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_reload_routes(w, cs, e)
	})
	return err
}

// AdminURL is the admin endpoint's base URL, or "" when the admin option is not set.
func (c *Client) AdminURL(ctx context.Context) (string, error) {
	return c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_admin_url(w, out, e)
	})
}
