package polymongo

/*
#include <stdlib.h>
#include <string.h>
#include <polymongo.h>
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// ExtJSON is a document written as MongoDB Extended JSON (relaxed or canonical). It is passed
// to the C library as text, which parses it: handy for literals and tests. Any other document
// argument is marshalled with bson.Marshal.
type ExtJSON string

// pmJSON is the C API's PM_JSON length: "doc is NUL-terminated Extended JSON".
const pmJSON = ^C.size_t(0)

// doc is a document ready to cross into C: BSON bytes, or NUL-terminated Extended JSON.
type doc struct {
	b    []byte
	json bool
}

// arg returns the (pointer, length) pair the C API takes; NULL, 0 for no document.
// The pointer is to Go memory holding no Go pointers, valid for the duration of a C call.
func (d doc) arg() (unsafe.Pointer, C.size_t) {
	if len(d.b) == 0 {
		return nil, 0
	}
	if d.json {
		return unsafe.Pointer(&d.b[0]), pmJSON
	}
	return unsafe.Pointer(&d.b[0]), C.size_t(len(d.b))
}

// toDoc turns a Go value into a document. nil means "no document" (C NULL: for a filter,
// match everything). []byte and bson.Raw are taken as BSON bytes, ExtJSON as text; anything
// else goes through bson.Marshal. `what` names the argument in error messages.
func toDoc(v any, what string) (doc, error) {
	switch x := v.(type) {
	case nil:
		return doc{}, nil
	case bson.Raw:
		return rawDoc([]byte(x), what)
	case []byte:
		return rawDoc(x, what)
	case ExtJSON:
		b := make([]byte, len(x)+1)
		copy(b, x)
		return doc{b: b, json: true}, nil
	}
	b, err := bson.Marshal(v)
	if err != nil {
		return doc{}, marshalError(what, v, err)
	}
	return doc{b: b}, nil
}

func rawDoc(b []byte, what string) (doc, error) {
	if len(b) == 0 {
		return doc{}, errorf(CodeInvalidArgument, nil, "%s: empty BSON bytes", what)
	}
	return doc{b: b}, nil
}

// toDocRequired is toDoc for arguments that must be given (documents, updates, ...).
func toDocRequired(v any, what string) (doc, error) {
	if v == nil {
		return doc{}, errorf(CodeInvalidArgument, nil, "%s is nil", what).like(mongo.ErrNilDocument)
	}
	return toDoc(v, what)
}

// toArrayDoc marshals a pipeline (a slice such as []bson.D, bson.A or mongo.Pipeline) as the
// document {"pipeline": [...]} that the C API accepts. bson.Raw/[]byte/ExtJSON pass as they are.
func toArrayDoc(v any, key, what string) (doc, error) {
	switch v.(type) {
	case nil:
		return doc{}, errorf(CodeInvalidArgument, nil, "%s is nil", what)
	case bson.Raw, []byte, ExtJSON:
		return toDoc(v, what)
	}
	if k := reflect.ValueOf(v).Kind(); k != reflect.Slice && k != reflect.Array {
		return doc{}, errorf(CodeInvalidArgument, nil, "%s must be a slice of stages, not %T", what, v)
	}
	b, err := bson.Marshal(bson.D{{Key: key, Value: v}})
	if err != nil {
		return doc{}, marshalError(what, v, err)
	}
	return doc{b: b}, nil
}

// withInt64 appends key: n to a BSON document unless the key is already there.
func withInt64(b []byte, key string, n int64) []byte {
	if len(b) < 5 {
		b = []byte{5, 0, 0, 0, 0}
	}
	if _, err := bson.Raw(b).LookupErr(key); err == nil {
		return b
	}
	out := make([]byte, 0, len(b)+len(key)+10)
	out = append(out, b[:len(b)-1]...) // without the terminating 0
	out = append(out, 0x12)            // int64
	out = append(out, key...)
	out = append(out, 0)
	out = binary.LittleEndian.AppendUint64(out, uint64(n))
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	return out
}

// optionsDoc marshals an options struct (nil: none) and, when the call accepts maxTimeMS,
// bounds the server's time by the option's MaxTime and the context's deadline, whichever is
// shorter.
func optionsDoc(opts any, maxTime, ctxMS int64) (doc, error) {
	var b []byte
	if opts != nil {
		var err error
		if b, err = bson.Marshal(opts); err != nil {
			return doc{}, marshalError("options", opts, err)
		}
	}
	ms := maxTime
	if ctxMS > 0 && (ms == 0 || ctxMS < ms) {
		ms = ctxMS
	}
	if ms > 0 {
		b = withInt64(b, "maxTimeMS", ms)
	}
	if len(b) <= 5 {
		return doc{}, nil
	}
	return doc{b: b}, nil
}

// docArray copies documents into one C allocation laid out as the C API's
// (const void *const *docs, const size_t *lens) pair. C memory, because an array of pointers
// to Go memory may not be passed to C.
type docArray struct {
	mem  unsafe.Pointer
	ptrs *unsafe.Pointer
	lens *C.size_t
	n    C.size_t
}

func newDocArray(docs []doc) docArray {
	n := len(docs)
	ptrSize := int(unsafe.Sizeof(unsafe.Pointer(nil)))
	head := n * (ptrSize + int(unsafe.Sizeof(C.size_t(0))))
	total := head
	for _, d := range docs {
		total += len(d.b)
	}
	mem := C.malloc(C.size_t(max(total, 1)))
	if mem == nil {
		panic("polymongo: out of memory")
	}
	ptrs := unsafe.Slice((*unsafe.Pointer)(mem), n)
	lens := unsafe.Slice((*C.size_t)(unsafe.Add(mem, n*ptrSize)), n)
	data := unsafe.Add(mem, head)
	for i, d := range docs {
		dst := unsafe.Slice((*byte)(data), len(d.b))
		copy(dst, d.b)
		ptrs[i] = data
		if d.json {
			lens[i] = pmJSON
		} else {
			lens[i] = C.size_t(len(d.b))
		}
		data = unsafe.Add(data, len(d.b))
	}
	return docArray{mem: mem, ptrs: (*unsafe.Pointer)(mem), lens: (*C.size_t)(unsafe.Add(mem, n*ptrSize)), n: C.size_t(n)}
}

func (a docArray) free() { C.free(a.mem) }

// cString copies a Go string to C memory (free it with C.free). A string with a NUL byte
// would be silently cut short in C, so it is refused with code.
func cString(s string, code Code, what string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errorf(code, nil, "%s %q contains a NUL byte", what, s)
	}
	return C.CString(s), nil
}

// takeBuf copies an owned pm_buf into Go memory and frees it; nil for "no document".
func takeBuf(buf *C.pm_buf) bson.Raw {
	if buf.data == nil {
		return nil
	}
	out := C.GoBytes(unsafe.Pointer(buf.data), C.int(buf.len))
	C.pm_buf_free(buf)
	return bson.Raw(out)
}

// copyBytes copies borrowed C bytes into Go memory.
func copyBytes(p *C.uint8_t, n C.size_t) bson.Raw {
	if p == nil {
		return nil
	}
	return bson.Raw(C.GoBytes(unsafe.Pointer(p), C.int(n)))
}

// BSONToJSON renders BSON bytes as Extended JSON, canonical (type-exact) or relaxed.
func BSONToJSON(b []byte, canonical bool) (string, error) {
	if len(b) == 0 {
		return "", errorf(CodeInvalidArgument, nil, "BSONToJSON: no bytes")
	}
	mode := C.pm_json_mode(C.PM_JSON_RELAXED)
	if canonical {
		mode = C.PM_JSON_CANONICAL
	}
	s := C.pm_bson_to_json(unsafe.Pointer(&b[0]), C.size_t(len(b)), mode)
	if s == nil {
		return "", errorf(CodeInvalidArgument, nil, "BSONToJSON: not a valid BSON document")
	}
	defer C.pm_free(unsafe.Pointer(s))
	return C.GoString(s), nil
}

// JSONToBSON parses Extended JSON (either mode) into BSON bytes.
func JSONToBSON(json string) (bson.Raw, error) {
	cs, err := cString(json, CodeInvalidArgument, "JSON text")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cs))
	var buf C.pm_buf
	var e C.pm_error
	if rc := C.pm_json_to_bson(cs, &buf, &e); rc != 0 {
		return nil, cError(rc, &e)
	}
	return takeBuf(&buf), nil
}

// marshalError explains why bson.Marshal refused v, the argument `what`, in the caller's terms:
// which argument, which Go type, and which field of it has no BSON form (bson's own message
// speaks of its writer's states). The bson error stays reachable through errors.Unwrap.
func marshalError(what string, v any, cause error) *Error {
	e := &Error{Code: CodeInvalidArgument, cause: cause}
	if _, ok := v.(bson.Marshaler); ok {
		e.Message = fmt.Sprintf("%s: MarshalBSON of %T failed: %v", what, v, cause)
		return e
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			e.Message = fmt.Sprintf("%s is a nil %T", what, v)
			return e
		}
		rv = rv.Elem()
	}
	if !isDocumentValue(rv) {
		e.Message = fmt.Sprintf("%s must be a document (a struct, a map with string keys, bson.D, "+
			"bson.M, bson.Raw or ExtJSON), not %T", what, v)
		return e
	}
	if path, t := unencodable(rv, "", 0); t != nil {
		e.Message = fmt.Sprintf("%s (%T): field %s is a %s, which has no BSON form", what, v, path, t)
		return e
	}
	e.Message = fmt.Sprintf("%s: cannot marshal %T as a BSON document: %v", what, v, cause)
	return e
}

// isDocumentValue tells whether a value marshals to a BSON document at the top level.
func isDocumentValue(rv reflect.Value) bool {
	switch rv.Kind() {
	case reflect.Struct, reflect.Map:
		return true
	case reflect.Slice, reflect.Array:
		return rv.Type().Elem() == reflect.TypeFor[bson.E]()
	}
	return false
}

// unencodable finds the first value inside rv whose Go type has no BSON form (channels,
// functions, complex numbers, unsafe pointers) and returns its path ("Inner.F", "tags[2]") and
// type; nil when there is none. Only called once bson.Marshal has failed.
func unencodable(rv reflect.Value, path string, depth int) (string, reflect.Type) {
	if depth > 64 || !rv.IsValid() {
		return "", nil
	}
	if rv.CanInterface() {
		if _, ok := rv.Interface().(bson.Marshaler); ok {
			return "", nil
		}
		if _, ok := rv.Interface().(bson.ValueMarshaler); ok {
			return "", nil
		}
	}
	join := func(name string) string {
		if path == "" || strings.HasPrefix(name, "[") {
			return path + name
		}
		return path + "." + name
	}
	switch rv.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		if path == "" {
			path = "(the value)"
		}
		return path, rv.Type()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "", nil
		}
		return unencodable(rv.Elem(), path, depth+1)
	case reflect.Struct:
		if rv.Type() == reflect.TypeFor[bson.E]() {
			return unencodable(rv.Field(1), join(rv.Field(0).String()), depth+1)
		}
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("bson") == "-" {
				continue
			}
			if p, bad := unencodable(rv.Field(i), join(f.Name), depth+1); bad != nil {
				return p, bad
			}
		}
	case reflect.Map:
		iter := rv.MapRange()
		for iter.Next() {
			if p, bad := unencodable(iter.Value(), join(fmt.Sprint(iter.Key().Interface())), depth+1); bad != nil {
				return p, bad
			}
		}
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return "", nil
		}
		isD := rv.Type().Elem() == reflect.TypeFor[bson.E]() // a bson.D: its elements are named
		for i := 0; i < rv.Len(); i++ {
			at := path
			if !isD {
				at = join("[" + itoa(i) + "]")
			}
			if p, bad := unencodable(rv.Index(i), at, depth+1); bad != nil {
				return p, bad
			}
		}
	}
	return "", nil
}

// decodeInto unmarshals a document into v (a non-nil pointer), for Decode and the iterators.
func decodeInto(raw bson.Raw, v any, what string) error {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errorf(CodeInvalidArgument, nil, "%s: the target must be a non-nil pointer, not %T", what, v)
	}
	if err := bson.Unmarshal(raw, v); err != nil {
		return errorf(CodeInvalidArgument, err, "%s: cannot decode the document into %T", what, v)
	}
	return nil
}
