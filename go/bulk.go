//go:build cgo

package polymongo

import (
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// WriteModel is one write of a BulkWrite: *InsertOneModel, *UpdateOneModel, *UpdateManyModel,
// *ReplaceOneModel, *DeleteOneModel or *DeleteManyModel.
type WriteModel interface {
	// writeModel returns the model as the C API's {name: {...}} document.
	writeModel() (bson.D, error)
}

// InsertOneModel inserts Document.
type InsertOneModel struct {
	Document any
}

// UpdateOneModel updates the first document matching Filter.
type UpdateOneModel struct {
	Filter       any
	Update       any // an update document or a pipeline
	Upsert       bool
	ArrayFilters []any
	Collation    any
	Hint         any
}

// UpdateManyModel updates every document matching Filter.
type UpdateManyModel UpdateOneModel

// ReplaceOneModel replaces the first document matching Filter.
type ReplaceOneModel struct {
	Filter      any
	Replacement any
	Upsert      bool
	Collation   any
	Hint        any
}

// DeleteOneModel deletes the first document matching Filter.
type DeleteOneModel struct {
	Filter    any
	Collation any
	Hint      any
}

// DeleteManyModel deletes every document matching Filter.
type DeleteManyModel DeleteOneModel

func orEmpty(filter any) any {
	if filter == nil {
		return bson.D{}
	}
	return filter
}

// optional appends the non-zero optional fields.
func optional(d bson.D, upsert bool, arrayFilters []any, collation, hint any) bson.D {
	if upsert {
		d = append(d, bson.E{Key: "upsert", Value: true})
	}
	if len(arrayFilters) > 0 {
		d = append(d, bson.E{Key: "arrayFilters", Value: arrayFilters})
	}
	if collation != nil {
		d = append(d, bson.E{Key: "collation", Value: collation})
	}
	if hint != nil {
		d = append(d, bson.E{Key: "hint", Value: hint})
	}
	return d
}

// embed makes a value embeddable in a document: raw bytes become bson.Raw (a document, not
// binary data) and Extended JSON is parsed.
func embed(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return bson.Raw(x), nil
	case ExtJSON:
		return JSONToBSON(string(x))
	}
	return v, nil
}

func (m *InsertOneModel) writeModel() (bson.D, error) {
	if m.Document == nil {
		return nil, errors.New("insertOne: Document is nil")
	}
	d, err := embed(m.Document)
	if err != nil {
		return nil, err
	}
	return bson.D{{Key: "insertOne", Value: bson.D{{Key: "document", Value: d}}}}, nil
}

func updateModel(name string, m *UpdateOneModel) (bson.D, error) {
	if m.Update == nil {
		return nil, errors.New(name + ": Update is nil")
	}
	f, err := embed(orEmpty(m.Filter))
	if err != nil {
		return nil, err
	}
	u, err := embed(m.Update)
	if err != nil {
		return nil, err
	}
	body := optional(bson.D{{Key: "filter", Value: f}, {Key: "update", Value: u}},
		m.Upsert, m.ArrayFilters, m.Collation, m.Hint)
	return bson.D{{Key: name, Value: body}}, nil
}

func (m *UpdateOneModel) writeModel() (bson.D, error) { return updateModel("updateOne", m) }

func (m *UpdateManyModel) writeModel() (bson.D, error) {
	return updateModel("updateMany", (*UpdateOneModel)(m))
}

func (m *ReplaceOneModel) writeModel() (bson.D, error) {
	if m.Replacement == nil {
		return nil, errors.New("replaceOne: Replacement is nil")
	}
	f, err := embed(orEmpty(m.Filter))
	if err != nil {
		return nil, err
	}
	r, err := embed(m.Replacement)
	if err != nil {
		return nil, err
	}
	body := optional(bson.D{{Key: "filter", Value: f}, {Key: "replacement", Value: r}},
		m.Upsert, nil, m.Collation, m.Hint)
	return bson.D{{Key: "replaceOne", Value: body}}, nil
}

func deleteModel(name string, m *DeleteOneModel) (bson.D, error) {
	f, err := embed(orEmpty(m.Filter))
	if err != nil {
		return nil, err
	}
	body := optional(bson.D{{Key: "filter", Value: f}}, false, nil, m.Collation, m.Hint)
	return bson.D{{Key: name, Value: body}}, nil
}

func (m *DeleteOneModel) writeModel() (bson.D, error) { return deleteModel("deleteOne", m) }

func (m *DeleteManyModel) writeModel() (bson.D, error) {
	return deleteModel("deleteMany", (*DeleteOneModel)(m))
}
