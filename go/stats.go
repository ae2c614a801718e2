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
	"unsafe"
)

// Stats are the client's general statistics (Client.Stats). Raw is the whole JSON document,
// including fields this version of the binding does not model.
type Stats struct {
	Pools           []PoolStats `json:"pools"`
	SharedDatabases []string    `json:"sharedDatabases"`
	Totals          struct {
		Pools        int   `json:"pools"`
		OpenPools    int   `json:"openPools"`
		Connections  int   `json:"connections"`
		InUse        int   `json:"inUse"`
		Waiting      int   `json:"waiting"`
		Errors       int64 `json:"errors"`       // connection and pool failures
		ServerErrors int64 `json:"serverErrors"` // operations the server refused
		Evictions    int64 `json:"evictions"`
	} `json:"totals"`
	State string          `json:"state"`
	Raw   json.RawMessage `json:"-"`
}

// PoolStats describe one pool.
type PoolStats struct {
	Name        string `json:"name"`
	URI         string `json:"uri"` // credentials redacted
	Dedicated   bool   `json:"dedicated"`
	State       string `json:"state"`
	Open        bool   `json:"open"`
	Ready       bool   `json:"ready"`
	MaxSize     int    `json:"maxSize"`
	MinSize     int    `json:"minSize"`
	SizeLimit   int    `json:"sizeLimit"`
	Connections struct {
		Open    int `json:"open"`
		InUse   int `json:"inUse"`
		Idle    int `json:"idle"`
		Waiting int `json:"waiting"`
	} `json:"connections"`
	Pinned struct {
		Cursors  int `json:"cursors"`
		Sessions int `json:"sessions"`
		Streams  int `json:"streams"`
	} `json:"pinned"`
	Errors    int64  `json:"errors"` // connection and pool failures
	LastError string `json:"lastError"`
	// Operations the server refused (duplicate keys, write errors, other server errors).
	ServerErrors    int64  `json:"serverErrors"`
	LastServerError string `json:"lastServerError"`
	ResponseTimeMs  struct {
		Commands int64   `json:"commands"`
		Failed   int64   `json:"failed"`
		Mean     float64 `json:"mean"`
		P50      float64 `json:"p50"`
		P99      float64 `json:"p99"`
	} `json:"responseTimeMs"`
	CreatedMs  int64    `json:"createdMs"`
	LastUsedMs int64    `json:"lastUsedMs"`
	Databases  []string `json:"databases"`
}

// DBStats describe one database (Client.DBStats).
type DBStats struct {
	DB             string  `json:"db"`
	SizeMb         float64 `json:"sizeMb"`
	StorageSizeMb  float64 `json:"storageSizeMb"`
	NumCollections int     `json:"numCollections"`
	Collections    []struct {
		Name      string  `json:"name"`
		Documents int64   `json:"documents"`
		SizeMb    float64 `json:"sizeMb"`
		Indexes   int     `json:"indexes"`
	} `json:"collections"`
	LastUsedMs int64           `json:"lastUsedMs"`
	Pool       PoolStats       `json:"pool"`
	Raw        json.RawMessage `json:"-"`
}

// DatabaseInfo is one entry of Client.ListDatabases.
type DatabaseInfo struct {
	Name   string  `json:"name"`
	SizeMb float64 `json:"sizeMb"`
	Empty  bool    `json:"empty"`
}

// Usage is one database's entry of Client.Usage.
type Usage struct {
	DB            string  `json:"db"`
	Operations    int64   `json:"operations"`
	Errors        int64   `json:"errors"`
	LastUsedMs    int64   `json:"lastUsedMs"`
	MeanLatencyMs float64 `json:"meanLatencyMs"`
}

// textCall runs a C call that returns a string the caller frees with pm_free.
func (c *Client) textCall(ctx context.Context, call func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int) (string, error) {
	return run(ctx, func() (string, error) {
		return withWrapper(c, func(w *C.pm_wrapper) (string, error) {
			var out *C.char
			var e C.pm_error
			if rc := call(w, &out, &e); rc != 0 {
				return "", cError(rc, &e)
			}
			defer C.pm_free(unsafe.Pointer(out))
			return C.GoString(out), nil
		})
	}, nil)
}

func decodeJSON(text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return errorf(CodeInternal, err, "statistics")
	}
	return nil
}

// Stats returns the pools' statistics. It does no I/O.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_stats(w, out, e)
	})
	if err != nil {
		return nil, err
	}
	var s Stats
	if err := decodeJSON(text, &s); err != nil {
		return nil, err
	}
	s.Raw = json.RawMessage(text)
	return &s, nil
}

// DBStats returns one database's statistics ("": the default database), from the server's
// dbStats and collStats, through the pool that serves it.
func (c *Client) DBStats(ctx context.Context, db string) (*DBStats, error) {
	if strings.IndexByte(db, 0) >= 0 {
		return nil, errorf(CodeInvalidDBName, nil, "database name %q contains a NUL byte", db)
	}
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		var cs *C.char
		if db != "" {
			cs = C.CString(db)
			defer C.free(unsafe.Pointer(cs))
		}
		return C.pm_wrapper_db_stats(w, cs, out, e)
	})
	if err != nil {
		return nil, err
	}
	var s DBStats
	if err := decodeJSON(text, &s); err != nil {
		return nil, err
	}
	s.Raw = json.RawMessage(text)
	return &s, nil
}

// ListDatabases lists the server's databases.
func (c *Client) ListDatabases(ctx context.Context) ([]DatabaseInfo, error) {
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_list_databases(w, out, e)
	})
	if err != nil {
		return nil, err
	}
	var dbs []DatabaseInfo
	return dbs, decodeJSON(text, &dbs)
}

// Usage lists per-database usage, most used first; topN 0 lists every database. No I/O.
func (c *Client) Usage(ctx context.Context, topN int) ([]Usage, error) {
	if topN < 0 {
		return nil, errorf(CodeInvalidArgument, nil, "Usage: topN %d < 0", topN)
	}
	text, err := c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_usage(w, C.size_t(topN), out, e)
	})
	if err != nil {
		return nil, err
	}
	var u []Usage
	return u, decodeJSON(text, &u)
}

// Prometheus returns the metrics in the Prometheus text exposition format (0.0.4), ready to
// serve on a /metrics endpoint. No I/O.
func (c *Client) Prometheus(ctx context.Context) (string, error) {
	return c.textCall(ctx, func(w *C.pm_wrapper, out **C.char, e *C.pm_error) C.int {
		return C.pm_wrapper_prometheus(w, out, e)
	})
}
