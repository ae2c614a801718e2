package polymongo

/*
#include <stdint.h>
#include <stdlib.h>
#include <polymongo.h>

// Trampolines, defined in callbacks.c.
int polymongo_go_write(const char *line, size_t len, void *user_data);
long polymongo_go_read(char *buf, size_t cap, void *user_data);
void polymongo_go_progress(uint64_t documents, uint64_t bytes, void *user_data);
static inline void *pm_go_transfer_handle_ptr(uintptr_t h) { return (void *)h; }
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime/cgo"
	"strings"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Whole databases: export to NDJSON, import, copy, drop. The export format is one JSON record
// per line (meta, collection, index, document, collectionEnd); documents are canonical
// Extended JSON, so every BSON type round-trips exactly. Export streams from a cursor and
// import inserts in unordered batches: memory does not grow with the database.

// ExportOptions configure Export and ExportFile.
type ExportOptions struct {
	// Progress is called with the documents and BSON bytes so far, every 1,000 documents and
	// at the end, on the calling goroutine (ExportFile: on the goroutine running the call).
	Progress func(documents, bytes uint64)
}

// ImportOptions configure Import, ImportFile, ImportDocument and CopyDatabase.
type ImportOptions struct {
	BatchSize   int  // documents per insert (default 1000, at most 100000)
	StopOnError bool // stop at the first batch with refused documents (default: go on)
	// Progress as in ExportOptions (not used by ImportDocument).
	Progress func(documents, bytes uint64)
}

func (o *ImportOptions) json() (string, bool, error) {
	if o == nil {
		return "", false, nil
	}
	m := map[string]any{}
	if o.BatchSize != 0 {
		m["batchSize"] = o.BatchSize
	}
	if o.StopOnError {
		m["stopOnError"] = true
	}
	if len(m) == 0 {
		return "", false, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", false, errorf(CodeInvalidArgument, err, "import options")
	}
	return string(b), true, nil
}

// ImportReport is what an import (or copy) did. Failures counts the documents the server
// refused (duplicate keys, ...); Error names the malformed line that stopped an import.
type ImportReport struct {
	Database    string             `json:"database"`
	Lines       int64              `json:"lines"`
	Documents   int64              `json:"documents"`
	Failures    int64              `json:"failures"`
	Collections []CollectionReport `json:"collections"`
	Stopped     bool               `json:"stopped"`
	Error       string             `json:"error"`
	OK          bool               `json:"ok"`
	Raw         string             `json:"-"` // the JSON as the library gave it
}

// CollectionReport is one collection of an ImportReport.
type CollectionReport struct {
	Name      string   `json:"name"`
	Documents int64    `json:"documents"`
	Indexes   int64    `json:"indexes"`
	Failures  int64    `json:"failures"`
	Errors    []string `json:"errors"` // the first few refusals
}

// transferCall is the payload of the write, read and progress trampolines. The callbacks run
// on the thread of the C call; a failure (or a done context) stops the C call through their
// return value, and a panic is re-raised once C has returned.
type transferCall struct {
	ctx      context.Context
	w        io.Writer
	r        io.Reader
	progress func(documents, bytes uint64)
	line     []byte
	err      error // the first error of a callback
	panicked bool
	panicVal any
}

func (t *transferCall) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// guard runs a callback's Go code, turning a panic into a failure of the call.
func (t *transferCall) guard(fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if !t.panicked {
				t.panicked, t.panicVal = true, r
			}
			ok = false
		}
	}()
	fn()
	return true
}

func (t *transferCall) write(line []byte) C.int {
	if t.panicked || t.err != nil {
		return 1
	}
	if err := t.ctx.Err(); err != nil {
		t.fail(err)
		return 1
	}
	t.line = append(append(t.line[:0], line...), '\n')
	ok := t.guard(func() {
		if _, err := t.w.Write(t.line); err != nil {
			t.fail(err)
		}
	})
	if !ok || t.err != nil {
		return 1
	}
	return 0
}

func (t *transferCall) read(buf []byte) C.long {
	if t.panicked || t.err != nil {
		return -1
	}
	if err := t.ctx.Err(); err != nil {
		t.fail(err)
		return -1
	}
	var n int
	ok := t.guard(func() {
		for n == 0 {
			var err error
			n, err = t.r.Read(buf)
			if n > 0 {
				return // (an error with data comes back on the next Read)
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.fail(err)
				return
			}
		}
	})
	if !ok || t.err != nil {
		return -1
	}
	return C.long(n)
}

func (t *transferCall) report(documents, bytes uint64) {
	if t.progress == nil || t.panicked || t.ctx.Err() != nil {
		return
	}
	t.guard(func() { t.progress(documents, bytes) })
}

// start registers the payload; the returned function releases it.
func (t *transferCall) start() (unsafe.Pointer, func()) {
	h := cgo.NewHandle(t)
	return C.pm_go_transfer_handle_ptr(C.uintptr_t(h)), h.Delete
}

// progressFn is the C progress callback for t (NULL without a Progress func).
func progressFn(t *transferCall) C.pm_progress_fn {
	if t.progress == nil {
		return nil
	}
	return C.pm_progress_fn(C.polymongo_go_progress)
}

// finish turns the outcome of a call with callbacks into the error to return.
func (t *transferCall) finish(rc C.int, e *C.pm_error) error {
	if t.panicked {
		panic(t.panicVal)
	}
	if rc == 0 {
		return nil
	}
	if t.err != nil {
		if ctxErr := t.ctx.Err(); ctxErr != nil && errors.Is(t.err, ctxErr) {
			return ctxErr
		}
		return &Error{Code: Code(rc), Message: C.GoString(&e.message[0]) + ": " + t.err.Error(), cause: t.err}
	}
	return cError(rc, e)
}

// checkName refuses a database name C cannot take.
func checkName(name string) error {
	if strings.IndexByte(name, 0) >= 0 {
		return errorf(CodeInvalidDBName, nil, "database name %q contains a NUL byte", name)
	}
	return nil
}

// dbArg is a checked database name for C: NULL for "" (the default database). It allocates:
// call it inside the function that run() may abandon, so that the call owns it.
func dbArg(name string) (*C.char, func()) {
	if name == "" {
		return nil, func() {}
	}
	cs := C.CString(name)
	return cs, func() { C.free(unsafe.Pointer(cs)) }
}

// takeReport decodes a report the library allocated (NULL: none) and frees it.
func takeReport(p *C.char) *ImportReport {
	if p == nil {
		return nil
	}
	defer C.pm_free(unsafe.Pointer(p))
	r := &ImportReport{Raw: C.GoString(p)}
	if err := json.Unmarshal([]byte(r.Raw), r); err != nil {
		return &ImportReport{Raw: r.Raw, Error: "undecodable report: " + err.Error()}
	}
	return r
}

// Export writes database db ("": the default database) to w as NDJSON, one record per line.
// It runs on the calling goroutine: a done ctx, or a failing Write, stops it at the next line
// (the error is returned; what was written stays written).
func (c *Client) Export(ctx context.Context, db string, w io.Writer, opts ...*ExportOptions) error {
	if w == nil {
		return errorf(CodeInvalidArgument, nil, "Export: the writer is nil")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName(db); err != nil {
		return err
	}
	cs, free := dbArg(db)
	defer free()
	t := &transferCall{ctx: ctx, w: w}
	if o := last(opts); o != nil {
		t.progress = o.Progress
	}
	p, release := t.start()
	defer release()
	var rc C.int
	var e C.pm_error
	_, err := withWrapper(c, func(wp *C.pm_wrapper) (struct{}, error) {
		rc = C.pm_wrapper_export(wp, cs, C.pm_write_fn(C.polymongo_go_write), p, progressFn(t), p, &e)
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}
	return t.finish(rc, &e)
}

// ExportFile writes database db to the file at path ("-": standard output).
func (c *Client) ExportFile(ctx context.Context, db, path string, opts ...*ExportOptions) error {
	t := &transferCall{ctx: ctx}
	if o := last(opts); o != nil {
		t.progress = o.Progress
	}
	if strings.IndexByte(path, 0) >= 0 {
		return errorf(CodeInvalidArgument, nil, "path %q contains a NUL byte", path)
	}
	if err := checkName(db); err != nil {
		return err
	}
	return run0(ctx, func() error {
		cs, free := dbArg(db)
		defer free()
		cp := C.CString(path)
		defer C.free(unsafe.Pointer(cp))
		p, release := t.start()
		defer release()
		var rc C.int
		var e C.pm_error
		_, err := withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
			rc = C.pm_wrapper_export_file(w, cs, cp, progressFn(t), p, &e)
			return struct{}{}, nil
		})
		if err != nil {
			return err
		}
		return t.finish(rc, &e)
	})
}

// Import reads NDJSON records (an export) from r into database db. Collections, indexes and
// documents are created; documents the server refuses are counted in the report (and the
// error matches ErrWrite). A malformed line stops the import with ErrInvalidArgument naming the
// line, after everything before it was written. The report is returned whenever there is one,
// also with an error. It runs on the calling goroutine; a done ctx stops it at the next read.
func (c *Client) Import(ctx context.Context, db string, r io.Reader, opts ...*ImportOptions) (*ImportReport, error) {
	if r == nil {
		return nil, errorf(CodeInvalidArgument, nil, "Import: the reader is nil")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := last(opts)
	js, hasOpts, err := o.json()
	if err != nil {
		return nil, err
	}
	if err := checkName(db); err != nil {
		return nil, err
	}
	cs, free := dbArg(db)
	defer free()
	var cj *C.char
	if hasOpts {
		cj = C.CString(js)
		defer C.free(unsafe.Pointer(cj))
	}
	t := &transferCall{ctx: ctx, r: r}
	if o != nil {
		t.progress = o.Progress
	}
	p, release := t.start()
	defer release()
	var rc C.int
	var e C.pm_error
	var report *C.char
	_, err = withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
		rc = C.pm_wrapper_import(w, cs, C.pm_read_fn(C.polymongo_go_read), p, cj, progressFn(t), p, &report, &e)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, err
	}
	rep := takeReport(report)
	return rep, t.finish(rc, &e)
}

// reportCall runs an import-like C call that takes options and yields a report, under ctx.
func (c *Client) reportCall(ctx context.Context, opts []*ImportOptions,
	call func(w *C.pm_wrapper, optsJSON *C.char, progress C.pm_progress_fn, p unsafe.Pointer, report **C.char, e *C.pm_error) C.int) (*ImportReport, error) {
	o := last(opts)
	js, hasOpts, err := o.json()
	if err != nil {
		return nil, err
	}
	t := &transferCall{ctx: ctx}
	if o != nil {
		t.progress = o.Progress
	}
	type outcome struct {
		report *ImportReport
		err    error
	}
	out, err := run(ctx, func() (outcome, error) {
		var cj *C.char
		if hasOpts {
			cj = C.CString(js)
			defer C.free(unsafe.Pointer(cj))
		}
		p, release := t.start()
		defer release()
		var rc C.int
		var e C.pm_error
		var report *C.char
		if _, err := withWrapper(c, func(w *C.pm_wrapper) (struct{}, error) {
			rc = call(w, cj, progressFn(t), p, &report, &e)
			return struct{}{}, nil
		}); err != nil {
			return outcome{}, err
		}
		rep := takeReport(report)
		return outcome{rep, t.finish(rc, &e)}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out.report, out.err
}

// ImportFile imports the NDJSON file at path ("-": standard input) into database db; see
// Import.
func (c *Client) ImportFile(ctx context.Context, db, path string, opts ...*ImportOptions) (*ImportReport, error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, errorf(CodeInvalidArgument, nil, "path %q contains a NUL byte", path)
	}
	if err := checkName(db); err != nil {
		return nil, err
	}
	return c.reportCall(ctx, opts, func(w *C.pm_wrapper, cj *C.char, pf C.pm_progress_fn, p unsafe.Pointer, rep **C.char, e *C.pm_error) C.int {
		cs, free := dbArg(db)
		defer free()
		cp := C.CString(path)
		defer C.free(unsafe.Pointer(cp))
		return C.pm_wrapper_import_file(w, cs, cp, cj, pf, p, rep, e)
	})
}

// CopyDatabase copies database from into to (which may be served by another pool or
// cluster), streaming the export into an import. Same options and report as Import.
func (c *Client) CopyDatabase(ctx context.Context, from, to string, opts ...*ImportOptions) (*ImportReport, error) {
	if err := checkName(from); err != nil {
		return nil, err
	}
	if err := checkName(to); err != nil {
		return nil, err
	}
	return c.reportCall(ctx, opts, func(w *C.pm_wrapper, cj *C.char, pf C.pm_progress_fn, p unsafe.Pointer, rep **C.char, e *C.pm_error) C.int {
		cf, freeFrom := dbArg(from)
		defer freeFrom()
		ct, freeTo := dbArg(to)
		defer freeTo()
		return C.pm_wrapper_copy_database(w, cf, ct, cj, pf, p, rep, e)
	})
}

// ExportDocument returns database db as one document: {database, exportedAt, collections:
// {name: {options, indexes, documents}}}. For small databases: it is built in memory.
func (c *Client) ExportDocument(ctx context.Context, db string) (bson.Raw, error) {
	if err := checkName(db); err != nil {
		return nil, err
	}
	return run(ctx, func() (bson.Raw, error) {
		cs, free := dbArg(db)
		defer free()
		return withWrapper(c, func(w *C.pm_wrapper) (bson.Raw, error) {
			var out C.pm_buf
			var e C.pm_error
			if rc := C.pm_wrapper_export_document(w, cs, &out, &e); rc != 0 {
				C.pm_buf_free(&out)
				return nil, cError(rc, &e)
			}
			return takeBuf(&out), nil
		})
	}, nil)
}

// ImportDocument imports a document of ExportDocument's shape into database db; see Import
// for the report and errors.
func (c *Client) ImportDocument(ctx context.Context, db string, document any, opts ...*ImportOptions) (*ImportReport, error) {
	d, err := toDocRequired(document, "import document")
	if err != nil {
		return nil, err
	}
	if err := checkName(db); err != nil {
		return nil, err
	}
	return c.reportCall(ctx, opts, func(w *C.pm_wrapper, cj *C.char, _ C.pm_progress_fn, _ unsafe.Pointer, rep **C.char, e *C.pm_error) C.int {
		cs, free := dbArg(db)
		defer free()
		dp, dn := d.arg()
		return C.pm_wrapper_import_document(w, cs, dp, dn, cj, rep, e)
	})
}

// DropDatabase drops database db, and forgets what models applied there (their indexes are
// created again on next use).
func (c *Client) DropDatabase(ctx context.Context, db string) error {
	if err := checkName(db); err != nil {
		return err
	}
	return c.wrapperCall(ctx, func(w *C.pm_wrapper, e *C.pm_error) C.int {
		cs, free := dbArg(db)
		defer free()
		return C.pm_wrapper_drop_database(w, cs, e)
	})
}
