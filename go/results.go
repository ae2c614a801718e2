package polymongo

/*
#include <polymongo.h>
*/
import "C"

import (
	"slices"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BulkWriteResult is the outcome of any write; the other result types are views of it.
type BulkWriteResult struct {
	InsertedCount int64
	MatchedCount  int64
	ModifiedCount int64
	DeletedCount  int64
	UpsertedCount int64
	// InsertedIDs and UpsertedIDs map the index of an operation in the request to its _id.
	InsertedIDs map[int64]any
	UpsertedIDs map[int64]any
	// WriteConcernErrors as the server reported them.
	WriteConcernErrors []bson.Raw
	// Raw is the whole result document:
	// {insertedCount, ..., insertedIds, upsertedIds, writeErrors, writeConcernErrors}.
	Raw bson.Raw
}

// InsertOneResult is the outcome of InsertOne.
type InsertOneResult struct {
	InsertedID any
}

// InsertManyResult is the outcome of InsertMany. InsertedIDs lists the _id of every document
// that was inserted, in request order (failed ones are left out; see Error.WriteErrors).
type InsertManyResult struct {
	InsertedIDs []any
}

// UpdateResult is the outcome of UpdateOne, UpdateMany and ReplaceOne.
type UpdateResult struct {
	MatchedCount  int64
	ModifiedCount int64
	UpsertedCount int64
	UpsertedID    any // nil unless a document was upserted
}

// DeleteResult is the outcome of DeleteOne and DeleteMany.
type DeleteResult struct {
	DeletedCount int64
}

// sortedIDs returns the ids of m in index order.
func sortedIDs(m map[int64]any) []any {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func (r *BulkWriteResult) insertOne() *InsertOneResult {
	if r == nil {
		return nil
	}
	return &InsertOneResult{InsertedID: r.InsertedIDs[0]}
}

func (r *BulkWriteResult) insertMany() *InsertManyResult {
	if r == nil {
		return nil
	}
	return &InsertManyResult{InsertedIDs: sortedIDs(r.InsertedIDs)}
}

func (r *BulkWriteResult) update() *UpdateResult {
	if r == nil {
		return nil
	}
	u := &UpdateResult{MatchedCount: r.MatchedCount, ModifiedCount: r.ModifiedCount,
		UpsertedCount: r.UpsertedCount}
	if ids := sortedIDs(r.UpsertedIDs); len(ids) > 0 {
		u.UpsertedID = ids[0]
	}
	return u
}

func (r *BulkWriteResult) delete() *DeleteResult {
	if r == nil {
		return nil
	}
	return &DeleteResult{DeletedCount: r.DeletedCount}
}

// takeResult converts a pm_result into Go values and frees it. It also returns the per-index
// write errors. The result document (pm_result_bson) holds every count and id, so it is read
// in one pass; the C accessors of the write errors are called only when there are some.
func takeResult(r *C.pm_result) (*BulkWriteResult, []WriteError) {
	if r == nil {
		return nil, nil
	}
	defer C.pm_result_free(r)
	var data *C.uint8_t
	var n C.size_t
	C.pm_result_bson(r, &data, &n)
	out := &BulkWriteResult{Raw: copyBytes(data, n)}
	hasWriteErrors := false
	elems, _ := out.Raw.Elements()
	for _, el := range elems {
		v := el.Value()
		switch el.Key() {
		case "insertedCount":
			out.InsertedCount, _ = v.AsInt64OK()
		case "matchedCount":
			out.MatchedCount, _ = v.AsInt64OK()
		case "modifiedCount":
			out.ModifiedCount, _ = v.AsInt64OK()
		case "deletedCount":
			out.DeletedCount, _ = v.AsInt64OK()
		case "upsertedCount":
			out.UpsertedCount, _ = v.AsInt64OK()
		case "insertedIds":
			out.InsertedIDs = ids(v)
		case "upsertedIds":
			out.UpsertedIDs = ids(v)
		case "writeConcernErrors":
			if arr, ok := v.ArrayOK(); ok {
				vals, _ := arr.Values()
				for _, x := range vals {
					if d, ok := x.DocumentOK(); ok {
						out.WriteConcernErrors = append(out.WriteConcernErrors, d)
					}
				}
			}
		case "writeErrors":
			if arr, ok := v.ArrayOK(); ok {
				vals, _ := arr.Values()
				hasWriteErrors = len(vals) > 0
			}
		}
	}
	if out.InsertedIDs == nil {
		out.InsertedIDs = map[int64]any{}
	}
	if out.UpsertedIDs == nil {
		out.UpsertedIDs = map[int64]any{}
	}
	if !hasWriteErrors {
		return out, nil
	}
	var werrs []WriteError
	count := int(C.pm_result_write_error_count(r))
	for i := range count {
		var index C.size_t
		var code C.int32_t
		var msg *C.char
		var e C.pm_error
		if C.pm_result_write_error(r, C.size_t(i), &index, &code, &msg, &e) != 0 {
			continue
		}
		werrs = append(werrs, WriteError{Index: int(index), Code: int32(code), Message: C.GoString(msg)})
	}
	return out, werrs
}

// ids reads an {"<index>": id} document.
func ids(v bson.RawValue) map[int64]any {
	m := map[int64]any{}
	d, ok := v.DocumentOK()
	if !ok {
		return m
	}
	elems, _ := d.Elements()
	for _, el := range elems {
		i, err := strconv.ParseInt(el.Key(), 10, 64)
		if err != nil {
			continue
		}
		if id, err := rawAny(el.Value()); err == nil {
			m[i] = id
		}
	}
	return m
}

// rawAny is v decoded into an `any`, as v.Unmarshal(&x) gives it, with the common scalar
// types of an _id read directly instead of through the registry's reflection.
func rawAny(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeInt32:
		if x, ok := v.Int32OK(); ok {
			return x, nil
		}
	case bson.TypeInt64:
		if x, ok := v.Int64OK(); ok {
			return x, nil
		}
	case bson.TypeString:
		if x, ok := v.StringValueOK(); ok {
			return x, nil
		}
	case bson.TypeObjectID:
		if x, ok := v.ObjectIDOK(); ok {
			return x, nil
		}
	}
	var x any
	err := v.Unmarshal(&x)
	return x, err
}

// SingleResult is the outcome of FindOne, FindOneAndUpdate/Replace/Delete and RunCommand.
type SingleResult struct {
	raw bson.Raw
	err error
}

// Err is the operation's error: ErrNoDocuments when nothing matched, or an *Error.
func (r *SingleResult) Err() error { return r.err }

// Decode unmarshals the document into v (a pointer to a struct, map, bson.D, ...).
func (r *SingleResult) Decode(v any) error {
	if r.err != nil {
		return r.err
	}
	return decodeInto(r.raw, v, "SingleResult.Decode")
}

// Raw returns the document's bytes.
func (r *SingleResult) Raw() (bson.Raw, error) { return r.raw, r.err }

func singleResult(raw bson.Raw, err error) *SingleResult {
	if err == nil && raw == nil {
		err = ErrNoDocuments
	}
	return &SingleResult{raw: raw, err: err}
}

// DistinctResult is the outcome of Distinct.
type DistinctResult struct {
	reply bson.Raw // {"values": [...]}
	err   error
}

// Err is the operation's error.
func (r *DistinctResult) Err() error { return r.err }

// Raw returns the distinct values as a BSON array.
func (r *DistinctResult) Raw() (bson.RawArray, error) {
	if r.err != nil {
		return nil, r.err
	}
	arr, _ := r.values().ArrayOK()
	return arr, nil
}

// Decode unmarshals the values into v, a pointer to a slice (e.g. *[]string, *[]any).
func (r *DistinctResult) Decode(v any) error {
	if r.err != nil {
		return r.err
	}
	if err := r.values().Unmarshal(v); err != nil {
		return errorf(CodeInvalidArgument, err, "decode distinct values into %T", v)
	}
	return nil
}

func (r *DistinctResult) values() bson.RawValue {
	v, err := r.reply.LookupErr("values")
	if err != nil {
		return bson.RawValue{Type: bson.TypeArray, Value: []byte{5, 0, 0, 0, 0}}
	}
	return v
}
