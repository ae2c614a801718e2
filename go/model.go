package polymongo

/*
#include <stdlib.h>
#include <polymongo.h>
*/
import "C"

import (
	"strconv"
	"unsafe"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ModelOptions define a collection beyond its name.
type ModelOptions struct {
	// Validator, e.g. bson.D{{"$jsonSchema", ...}}.
	Validator any
	// ValidationLevel is "off", "strict" or "moderate"; ValidationAction "error" or "warn".
	ValidationLevel  string
	ValidationAction string
	// Indexes are created in each database on the model's first operation there.
	Indexes []IndexModel
}

// IndexModel is one index: its keys (e.g. bson.D{{"email", 1}}) and options.
type IndexModel struct {
	Keys    any
	Options *IndexOptions
}

// IndexOptions are an index's options. Extra holds any other createIndexes option as it is.
type IndexOptions struct {
	Name                    string         `bson:"name,omitempty"`
	Unique                  bool           `bson:"unique,omitempty"`
	Sparse                  bool           `bson:"sparse,omitempty"`
	ExpireAfterSeconds      *int32         `bson:"expireAfterSeconds,omitempty"`
	PartialFilterExpression any            `bson:"partialFilterExpression,omitempty"`
	Collation               any            `bson:"collation,omitempty"`
	Hidden                  bool           `bson:"hidden,omitempty"`
	Extra                   map[string]any `bson:",inline"`
}

// spec is the index as {key: {...}, name?, unique?, ...}.
func (m IndexModel) spec(what string) (bson.D, error) {
	if m.Keys == nil {
		return nil, errorf(CodeInvalidArgument, nil, "%s: Keys is nil", what)
	}
	d := bson.D{{Key: "key", Value: m.Keys}}
	if m.Options != nil {
		b, err := bson.Marshal(m.Options)
		if err != nil {
			return nil, errorf(CodeInvalidArgument, err, "%s: options", what)
		}
		var rest bson.D
		if err := bson.Unmarshal(b, &rest); err != nil {
			return nil, errorf(CodeInvalidArgument, err, "%s: options", what)
		}
		d = append(d, rest...)
	}
	return d, nil
}

func (o ModelOptions) doc() (doc, error) {
	var d bson.D
	if o.Validator != nil {
		d = append(d, bson.E{Key: "validator", Value: o.Validator})
	}
	if o.ValidationLevel != "" {
		d = append(d, bson.E{Key: "validationLevel", Value: o.ValidationLevel})
	}
	if o.ValidationAction != "" {
		d = append(d, bson.E{Key: "validationAction", Value: o.ValidationAction})
	}
	if len(o.Indexes) > 0 {
		specs := make(bson.A, 0, len(o.Indexes))
		for i, m := range o.Indexes {
			s, err := m.spec("ModelOptions.Indexes[" + strconv.Itoa(i) + "]")
			if err != nil {
				return doc{}, err
			}
			specs = append(specs, s)
		}
		d = append(d, bson.E{Key: "indexes", Value: specs})
	}
	if len(d) == 0 {
		return doc{}, nil
	}
	return toDoc(d, "model options")
}

// Model is a collection definition. It is immutable and safe for concurrent use.
type Model struct {
	h          *handle[*C.pm_model]
	client     *Client
	collection string
}

// Collection is the model's collection name.
func (m *Model) Collection() string { return m.collection }

// Client is the client the model belongs to.
func (m *Model) Client() *Client { return m.client }

// DB binds the model to a database ("" means the client's default database), like
// PolyMongo's Model.db(name). It validates the name (ErrInvalidDBName) and does no I/O, so
// it is cheap to call per request.
func (m *Model) DB(name string) (*DB, error) {
	p, err := m.h.acquire()
	if err != nil {
		return nil, err
	}
	defer m.h.release()
	var cs *C.char
	if name != "" {
		if cs, err = cString(name, CodeInvalidDBName, "database name"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cs))
	}
	var d *C.pm_db
	var e C.pm_error
	if rc := C.pm_model_db(p, cs, &d, &e); rc != 0 {
		return nil, cError(rc, &e)
	}
	return newDB(d, m, nil)
}

// Close releases the model. DBs bound from it keep working (they keep what they need alive).
func (m *Model) Close() error {
	m.h.close()
	return nil
}
