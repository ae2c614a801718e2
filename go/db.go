package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// DB is a model bound to one database: the target of CRUD, index and command calls. It is
// immutable, safe for concurrent use and cheap (no socket of its own): every call goes through
// the client's router to the database's dedicated pool, or the shared one.
type DB struct {
	h          *handle[*C.pm_db]
	model      *Model
	name       string
	collection string
	sess       *Session  // the session it is bound to, or nil
	reg        *registry // where its cursors register: the session's registry, or nil
}

// newDB wraps a new C db handle bound from model (and to sess, when not nil).
func newDB(ptr *C.pm_db, m *Model, sess *Session) (*DB, error) {
	var reg *registry
	var lock sessionLock
	if sess != nil {
		reg, lock = sess.st.reg, sess.st.lock
	}
	db := &DB{
		h:          newHandle(ptr, freeUnder(lock, func(d *C.pm_db) { C.pm_db_free(d) }), "db"),
		model:      m,
		name:       C.GoString(C.pm_db_name(ptr)),
		collection: C.GoString(C.pm_db_collection(ptr)),
		sess:       sess,
		reg:        reg,
	}
	if err := track(db, db.h, reg); err != nil {
		if sess != nil {
			return nil, closedError("the session")
		}
		return nil, err
	}
	return db, nil
}

// lock is the session lock of a bound DB (nil for a plain one).
func (d *DB) lock() sessionLock {
	if d.sess == nil {
		return nil
	}
	return d.sess.st.lock
}

// Name is the database name.
func (d *DB) Name() string { return d.name }

// Collection is the model's collection name.
func (d *DB) Collection() string { return d.collection }

// Model is the model this DB was bound from.
func (d *DB) Model() *Model { return d.model }

// Close releases the DB. Cursors opened from it keep working until they are closed.
func (d *DB) Close() error {
	d.h.close()
	return nil
}

// The shapes of the C calls; each runs on run()'s goroutine with the handle acquired.
type (
	writeCall  func(db *C.pm_db, out **C.pm_result, e *C.pm_error) C.int
	bufCall    func(db *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int
	cursorCall func(db *C.pm_db, out **C.pm_cursor, e *C.pm_error) C.int
	countCall  func(db *C.pm_db, out *C.int64_t, e *C.pm_error) C.int
	plainCall  func(db *C.pm_db, e *C.pm_error) C.int
)

// with runs fn with the C handle acquired and, for a DB bound to a session, the session lock
// held (waiting for it until ctx is done).
func with[R any](ctx context.Context, d *DB, fn func(p *C.pm_db) (R, error)) (R, error) {
	var zero R
	p, err := d.h.acquire()
	if err != nil {
		return zero, err
	}
	defer d.h.release()
	if l := d.lock(); l != nil {
		if err := l.lock(ctx); err != nil {
			return zero, err
		}
		defer l.unlock()
	}
	return fn(p)
}

func (d *DB) write(ctx context.Context, call writeCall) (*BulkWriteResult, error) {
	return run(ctx, func() (*BulkWriteResult, error) {
		return with(ctx, d, func(p *C.pm_db) (*BulkWriteResult, error) {
			var out *C.pm_result
			var e C.pm_error
			rc := call(p, &out, &e)
			res, werrs := takeResult(out)
			if rc != 0 {
				err := cError(rc, &e)
				err.WriteErrors, err.Result = werrs, res
				return res, err
			}
			return res, nil
		})
	}, nil)
}

func (d *DB) buf(ctx context.Context, call bufCall) (bson.Raw, error) {
	return run(ctx, func() (bson.Raw, error) {
		return with(ctx, d, func(p *C.pm_db) (bson.Raw, error) {
			var out C.pm_buf
			var e C.pm_error
			if rc := call(p, &out, &e); rc != 0 {
				C.pm_buf_free(&out)
				return nil, cError(rc, &e)
			}
			return takeBuf(&out), nil
		})
	}, nil)
}

func (d *DB) cursor(ctx context.Context, call cursorCall) (*Cursor, error) {
	ptr, err := run(ctx, func() (*C.pm_cursor, error) {
		return with(ctx, d, func(p *C.pm_db) (*C.pm_cursor, error) {
			var out *C.pm_cursor
			var e C.pm_error
			if rc := call(p, &out, &e); rc != 0 {
				return nil, cError(rc, &e)
			}
			return out, nil
		})
	}, freeUnder(d.lock(), func(c *C.pm_cursor) { C.pm_cursor_free(c) }))
	if err != nil {
		return nil, err
	}
	return newCursor(ptr, d)
}

func (d *DB) count(ctx context.Context, call countCall) (int64, error) {
	return run(ctx, func() (int64, error) {
		return with(ctx, d, func(p *C.pm_db) (int64, error) {
			var n C.int64_t
			var e C.pm_error
			if rc := call(p, &n, &e); rc != 0 {
				return 0, cError(rc, &e)
			}
			return int64(n), nil
		})
	}, nil)
}

func (d *DB) plain(ctx context.Context, call plainCall) error {
	return run0(ctx, func() error {
		_, err := with(ctx, d, func(p *C.pm_db) (struct{}, error) {
			var e C.pm_error
			if rc := call(p, &e); rc != 0 {
				return struct{}{}, cError(rc, &e)
			}
			return struct{}{}, nil
		})
		return err
	})
}

// ---- writes -------------------------------------------------------------------------------

// InsertOne inserts a document; an _id is generated when it has none.
func (d *DB) InsertOne(ctx context.Context, document any, opts ...*InsertOneOptions) (*InsertOneResult, error) {
	doc, err := toDocRequired(document, "document")
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	res, err := d.write(ctx, func(p *C.pm_db, out **C.pm_result, e *C.pm_error) C.int {
		dp, dn := doc.arg()
		op, on := o.arg()
		return C.pm_db_insert_one(p, dp, dn, op, on, out, e)
	})
	return res.insertOne(), err
}

// InsertMany inserts the documents of a slice (of any element type bson.Marshal accepts). On
// failure the error lists the failed indexes and the result the inserted ids.
func (d *DB) InsertMany(ctx context.Context, documents any, opts ...*InsertManyOptions) (*InsertManyResult, error) {
	docs, err := sliceDocs(documents, "documents")
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	res, err := d.write(ctx, func(p *C.pm_db, out **C.pm_result, e *C.pm_error) C.int {
		arr := newDocArray(docs)
		defer arr.free()
		op, on := o.arg()
		return C.pm_db_insert_many(p, arr.ptrs, arr.lens, arr.n, op, on, out, e)
	})
	return res.insertMany(), err
}

// sliceDocs marshals each element of a slice or array.
func sliceDocs(v any, what string) ([]doc, error) {
	rv := reflect.ValueOf(v)
	if v == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return nil, errorf(CodeInvalidArgument, nil, "%s must be a slice, not %T", what, v)
	}
	if rv.Type().Elem() == reflect.TypeFor[bson.E]() {
		return nil, errorf(CodeInvalidArgument, nil, "%s must be a slice of documents, not %T (one document)", what, v)
	}
	if rv.Len() == 0 {
		return nil, errorf(CodeInvalidArgument, nil, "%s is empty", what).like(mongo.ErrEmptySlice)
	}
	docs := make([]doc, rv.Len())
	for i := range docs {
		var err error
		if docs[i], err = toDocRequired(rv.Index(i).Interface(), what+"["+itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (d *DB) update(ctx context.Context, filter, update any, many bool, opts []*UpdateOptions) (*UpdateResult, error) {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return nil, err
	}
	u, err := toUpdateDoc(update)
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	res, err := d.write(ctx, func(p *C.pm_db, out **C.pm_result, e *C.pm_error) C.int {
		fp, fn := f.arg()
		up, un := u.arg()
		op, on := o.arg()
		if many {
			return C.pm_db_update_many(p, fp, fn, up, un, op, on, out, e)
		}
		return C.pm_db_update_one(p, fp, fn, up, un, op, on, out, e)
	})
	return res.update(), err
}

// toUpdateDoc accepts an update document ({"$set": ...}) or an update pipeline (a slice).
func toUpdateDoc(update any) (doc, error) {
	if update == nil {
		return doc{}, errorf(CodeInvalidArgument, nil, "update is nil")
	}
	rv := reflect.ValueOf(update)
	if _, isD := update.(bson.D); !isD && (rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8) {
		// A pipeline: BSON arrays are documents keyed "0", "1", ..., which the C API accepts.
		b, err := bson.Marshal(bson.D{{Key: "u", Value: update}})
		if err != nil {
			return doc{}, marshalError("update", update, err)
		}
		v, err := bson.Raw(b).LookupErr("u")
		if err != nil {
			return doc{}, errorf(CodeInternal, err, "update")
		}
		arr, ok := v.ArrayOK()
		if !ok {
			return doc{}, errorf(CodeInvalidArgument, nil, "update: %T is not a pipeline", update)
		}
		return doc{b: []byte(arr)}, nil
	}
	return toDoc(update, "update")
}

// UpdateOne updates the first document matching filter (nil: any document).
func (d *DB) UpdateOne(ctx context.Context, filter, update any, opts ...*UpdateOptions) (*UpdateResult, error) {
	return d.update(ctx, filter, update, false, opts)
}

// UpdateMany updates every document matching filter (nil: all).
func (d *DB) UpdateMany(ctx context.Context, filter, update any, opts ...*UpdateOptions) (*UpdateResult, error) {
	return d.update(ctx, filter, update, true, opts)
}

// ReplaceOne replaces the first document matching filter; the replacement may not contain
// $-operators.
func (d *DB) ReplaceOne(ctx context.Context, filter, replacement any, opts ...*ReplaceOptions) (*UpdateResult, error) {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return nil, err
	}
	r, err := toDocRequired(replacement, "replacement")
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	res, err := d.write(ctx, func(p *C.pm_db, out **C.pm_result, e *C.pm_error) C.int {
		fp, fn := f.arg()
		rp, rn := r.arg()
		op, on := o.arg()
		return C.pm_db_replace_one(p, fp, fn, rp, rn, op, on, out, e)
	})
	return res.update(), err
}

func (d *DB) remove(ctx context.Context, filter any, many bool, opts []*DeleteOptions) (*DeleteResult, error) {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	res, err := d.write(ctx, func(p *C.pm_db, out **C.pm_result, e *C.pm_error) C.int {
		fp, fn := f.arg()
		op, on := o.arg()
		if many {
			return C.pm_db_delete_many(p, fp, fn, op, on, out, e)
		}
		return C.pm_db_delete_one(p, fp, fn, op, on, out, e)
	})
	return res.delete(), err
}

// DeleteOne deletes the first document matching filter.
func (d *DB) DeleteOne(ctx context.Context, filter any, opts ...*DeleteOptions) (*DeleteResult, error) {
	return d.remove(ctx, filter, false, opts)
}

// DeleteMany deletes every document matching filter (nil: all).
func (d *DB) DeleteMany(ctx context.Context, filter any, opts ...*DeleteOptions) (*DeleteResult, error) {
	return d.remove(ctx, filter, true, opts)
}

// BulkWrite runs the write models in one bulk operation. Malformed models fail with
// ErrInvalidArgument before anything is written; failed writes come back as an *Error with
// WriteErrors (by model index) and the partial result, which is also returned.
func (d *DB) BulkWrite(ctx context.Context, models []WriteModel, opts ...*BulkWriteOptions) (*BulkWriteResult, error) {
	if len(models) == 0 {
		return nil, errorf(CodeInvalidArgument, nil, "BulkWrite: no write models").like(mongo.ErrEmptySlice)
	}
	docs := make([]doc, len(models))
	for i, m := range models {
		if m == nil {
			return nil, errorf(CodeInvalidArgument, nil, "BulkWrite: model %d is nil", i)
		}
		spec, err := m.writeModel()
		if err != nil {
			return nil, errorf(CodeInvalidArgument, err, "BulkWrite: model %d", i)
		}
		if docs[i], err = toDoc(spec, "BulkWrite: model "+itoa(i)); err != nil {
			return nil, err
		}
	}
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	return d.write(ctx, func(p *C.pm_db, out **C.pm_result, e *C.pm_error) C.int {
		arr := newDocArray(docs)
		defer arr.free()
		op, on := o.arg()
		return C.pm_db_bulk_write(p, arr.ptrs, arr.lens, arr.n, op, on, out, e)
	})
}

// ---- reads --------------------------------------------------------------------------------

// Find runs a query (filter nil: all documents) and returns a cursor over its results.
func (d *DB) Find(ctx context.Context, filter any, opts ...*FindOptions) (*Cursor, error) {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return nil, err
	}
	return d.cursor(ctx, func(p *C.pm_db, out **C.pm_cursor, e *C.pm_error) C.int {
		fp, fn := f.arg()
		op, on := o.arg()
		return C.pm_db_find(p, fp, fn, op, on, out, e)
	})
}

// FindOne returns the first matching document; its Err is ErrNoDocuments when none matches.
func (d *DB) FindOne(ctx context.Context, filter any, opts ...*FindOneOptions) *SingleResult {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return singleResult(nil, err)
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return singleResult(nil, err)
	}
	return singleResult(d.buf(ctx, func(p *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int {
		fp, fn := f.arg()
		op, on := o.arg()
		return C.pm_db_find_one(p, fp, fn, op, on, out, e)
	}))
}

// FindOneAndUpdate updates one document and returns it as it was (or, with
// ReturnDocument: After, as it is now). Err is ErrNoDocuments when nothing matched.
func (d *DB) FindOneAndUpdate(ctx context.Context, filter, update any, opts ...*FindOneAndUpdateOptions) *SingleResult {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return singleResult(nil, err)
	}
	u, err := toUpdateDoc(update)
	if err != nil {
		return singleResult(nil, err)
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return singleResult(nil, err)
	}
	return singleResult(d.buf(ctx, func(p *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int {
		fp, fn := f.arg()
		up, un := u.arg()
		op, on := o.arg()
		return C.pm_db_find_one_and_update(p, fp, fn, up, un, op, on, out, e)
	}))
}

// FindOneAndReplace replaces one document and returns it as it was (or, with After, the
// replacement as stored).
func (d *DB) FindOneAndReplace(ctx context.Context, filter, replacement any, opts ...*FindOneAndReplaceOptions) *SingleResult {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return singleResult(nil, err)
	}
	r, err := toDocRequired(replacement, "replacement")
	if err != nil {
		return singleResult(nil, err)
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return singleResult(nil, err)
	}
	return singleResult(d.buf(ctx, func(p *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int {
		fp, fn := f.arg()
		rp, rn := r.arg()
		op, on := o.arg()
		return C.pm_db_find_one_and_replace(p, fp, fn, rp, rn, op, on, out, e)
	}))
}

// FindOneAndDelete deletes one document and returns it.
func (d *DB) FindOneAndDelete(ctx context.Context, filter any, opts ...*FindOneAndDeleteOptions) *SingleResult {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return singleResult(nil, err)
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return singleResult(nil, err)
	}
	return singleResult(d.buf(ctx, func(p *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int {
		fp, fn := f.arg()
		op, on := o.arg()
		return C.pm_db_find_one_and_delete(p, fp, fn, op, on, out, e)
	}))
}

// CountDocuments counts matching documents exactly.
func (d *DB) CountDocuments(ctx context.Context, filter any, opts ...*CountOptions) (int64, error) {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return 0, err
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return 0, err
	}
	return d.count(ctx, func(p *C.pm_db, out *C.int64_t, e *C.pm_error) C.int {
		fp, fn := f.arg()
		op, on := o.arg()
		return C.pm_db_count(p, fp, fn, op, on, out, e)
	})
}

// EstimatedDocumentCount counts the collection's documents from its metadata.
func (d *DB) EstimatedDocumentCount(ctx context.Context, opts ...*EstimatedDocumentCountOptions) (int64, error) {
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return 0, err
	}
	return d.count(ctx, func(p *C.pm_db, out *C.int64_t, e *C.pm_error) C.int {
		op, on := o.arg()
		return C.pm_db_estimated_count(p, op, on, out, e)
	})
}

// Distinct returns the distinct values of a field among matching documents.
func (d *DB) Distinct(ctx context.Context, field string, filter any, opts ...*DistinctOptions) *DistinctResult {
	f, err := toDoc(filter, "filter")
	if err != nil {
		return &DistinctResult{err: err}
	}
	// Not timed by the context: some servers (FerretDB) refuse maxTimeMS on distinct. An
	// explicit DistinctOptions.MaxTime is still sent.
	o, err := buildOpts(ctx, opts, false)
	if err != nil {
		return &DistinctResult{err: err}
	}
	if strings.IndexByte(field, 0) >= 0 {
		return &DistinctResult{err: errorf(CodeInvalidArgument, nil, "field name %q contains a NUL byte", field)}
	}
	reply, err := d.buf(ctx, func(p *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int {
		// C memory is made inside the call: an abandoned call still owns it.
		cs := C.CString(field)
		defer C.free(unsafe.Pointer(cs))
		fp, fn := f.arg()
		op, on := o.arg()
		return C.pm_db_distinct(p, cs, fp, fn, op, on, out, e)
	})
	return &DistinctResult{reply: reply, err: err}
}

// Aggregate runs a pipeline (a slice of stages such as []bson.D or bson.A) and returns a
// cursor over its results.
func (d *DB) Aggregate(ctx context.Context, pipeline any, opts ...*AggregateOptions) (*Cursor, error) {
	pl, err := toArrayDoc(pipeline, "pipeline", "pipeline")
	if err != nil {
		return nil, err
	}
	o, err := buildOpts(ctx, opts, true)
	if err != nil {
		return nil, err
	}
	return d.cursor(ctx, func(p *C.pm_db, out **C.pm_cursor, e *C.pm_error) C.int {
		pp, pn := pl.arg()
		op, on := o.arg()
		return C.pm_db_aggregate(p, pp, pn, op, on, out, e)
	})
}

// ---- indexes, the collection, commands -----------------------------------------------------

// CreateIndex creates one index and returns its name.
func (d *DB) CreateIndex(ctx context.Context, model IndexModel) (string, error) {
	if model.Keys == nil {
		return "", errorf(CodeInvalidArgument, nil, "CreateIndex: Keys is nil")
	}
	k, err := toDoc(model.Keys, "index keys")
	if err != nil {
		return "", err
	}
	var opts any
	if model.Options != nil {
		opts = model.Options
	}
	o, err := optionsDoc(opts, 0, maxTimeMS(ctx))
	if err != nil {
		return "", err
	}
	return run(ctx, func() (string, error) {
		return with(ctx, d, func(p *C.pm_db) (string, error) {
			kp, kn := k.arg()
			op, on := o.arg()
			var name *C.char
			var e C.pm_error
			if rc := C.pm_db_create_index(p, kp, kn, op, on, &name, &e); rc != 0 {
				return "", cError(rc, &e)
			}
			defer C.pm_free(unsafe.Pointer(name))
			return C.GoString(name), nil
		})
	}, nil)
}

// IndexName is the name the server gives an index on keys when none is given (bson.D{{"a", 1},
// {"b", -1}} gives "a_1_b_-1"): the library's rule (pm_index_name), the one CreateIndex and a
// model's indexes use, e.g. to drop an index by its keys. No I/O. ErrInvalidArgument for empty
// keys or values other than integers and index type strings.
func IndexName(keys any) (string, error) {
	if keys == nil {
		return "", errorf(CodeInvalidArgument, nil, "IndexName: keys is nil")
	}
	k, err := toDoc(keys, "index keys")
	if err != nil {
		return "", err
	}
	kp, kn := k.arg()
	var name *C.char
	var e C.pm_error
	if rc := C.pm_index_name(kp, kn, &name, &e); rc != 0 {
		return "", cError(rc, &e)
	}
	defer C.pm_free(unsafe.Pointer(name))
	return C.GoString(name), nil
}

// ListIndexes returns a cursor over the collection's index specifications.
func (d *DB) ListIndexes(ctx context.Context) (*Cursor, error) {
	return d.cursor(ctx, func(p *C.pm_db, out **C.pm_cursor, e *C.pm_error) C.int {
		return C.pm_db_list_indexes(p, out, e)
	})
}

// DropIndex drops the named index.
func (d *DB) DropIndex(ctx context.Context, name string) error {
	if strings.IndexByte(name, 0) >= 0 {
		return errorf(CodeInvalidArgument, nil, "index name %q contains a NUL byte", name)
	}
	return d.plain(ctx, func(p *C.pm_db, e *C.pm_error) C.int {
		cs := C.CString(name)
		defer C.free(unsafe.Pointer(cs))
		return C.pm_db_drop_index(p, cs, e)
	})
}

// Drop drops the collection in this database; dropping a missing collection is not an error.
func (d *DB) Drop(ctx context.Context) error {
	return d.plain(ctx, func(p *C.pm_db, e *C.pm_error) C.int {
		return C.pm_db_drop_collection(p, e)
	})
}

// RunCommand runs a database command (a document whose first key is the command name, e.g.
// bson.D{{"ping", 1}}) on this database and returns the server's reply.
func (d *DB) RunCommand(ctx context.Context, command any) *SingleResult {
	c, err := toDocRequired(command, "command")
	if err != nil {
		return singleResult(nil, err)
	}
	return singleResult(d.buf(ctx, func(p *C.pm_db, out *C.pm_buf, e *C.pm_error) C.int {
		cp, cn := c.arg()
		return C.pm_db_command(p, cp, cn, out, e)
	}))
}

func itoa(i int) string { return strconv.Itoa(i) }
