//go:build cgo

package polymongo

import (
	"context"
	"time"
)

// The options of each operation, named after the official Go driver's. They marshal (with
// their bson tags) to the options document the C API takes; zero values are left out, and
// Extra carries any other option the server accepts, as it is. Where an operation takes
// several, the last non-nil one is used.
//
// MaxTime bounds the server's work (maxTimeMS). For reads, the context's deadline is sent as
// maxTimeMS too; the shorter of the two wins.

// ReturnDocument says which version of the document find-and-modify returns.
type ReturnDocument string

const (
	Before ReturnDocument = "before" // the document as it was (the default)
	After  ReturnDocument = "after"  // the document after the change
)

// FindOptions for Find.
type FindOptions struct {
	Projection   any            `bson:"projection,omitempty"`
	Sort         any            `bson:"sort,omitempty"`
	Skip         int64          `bson:"skip,omitempty"`
	Limit        int64          `bson:"limit,omitempty"`
	BatchSize    int32          `bson:"batchSize,omitempty"`
	Hint         any            `bson:"hint,omitempty"`
	Collation    any            `bson:"collation,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	AllowDiskUse *bool          `bson:"allowDiskUse,omitempty"`
	Let          any            `bson:"let,omitempty"`
	MaxTime      time.Duration  `bson:"-"`
	Extra        map[string]any `bson:",inline"`
}

// FindOneOptions for FindOne.
type FindOneOptions struct {
	Projection any            `bson:"projection,omitempty"`
	Sort       any            `bson:"sort,omitempty"`
	Skip       int64          `bson:"skip,omitempty"`
	Hint       any            `bson:"hint,omitempty"`
	Collation  any            `bson:"collation,omitempty"`
	Comment    any            `bson:"comment,omitempty"`
	Let        any            `bson:"let,omitempty"`
	MaxTime    time.Duration  `bson:"-"`
	Extra      map[string]any `bson:",inline"`
}

// InsertOneOptions for InsertOne.
type InsertOneOptions struct {
	Comment      any            `bson:"comment,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	Extra        map[string]any `bson:",inline"`
}

// InsertManyOptions for InsertMany. Ordered defaults to true: stop at the first failure.
type InsertManyOptions struct {
	Ordered      *bool          `bson:"ordered,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	Extra        map[string]any `bson:",inline"`
}

// UpdateOptions for UpdateOne and UpdateMany.
type UpdateOptions struct {
	Upsert       bool           `bson:"upsert,omitempty"`
	ArrayFilters []any          `bson:"arrayFilters,omitempty"`
	Collation    any            `bson:"collation,omitempty"`
	Hint         any            `bson:"hint,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	Let          any            `bson:"let,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	Extra        map[string]any `bson:",inline"`
}

// ReplaceOptions for ReplaceOne.
type ReplaceOptions struct {
	Upsert       bool           `bson:"upsert,omitempty"`
	Collation    any            `bson:"collation,omitempty"`
	Hint         any            `bson:"hint,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	Let          any            `bson:"let,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	Extra        map[string]any `bson:",inline"`
}

// DeleteOptions for DeleteOne and DeleteMany.
type DeleteOptions struct {
	Collation    any            `bson:"collation,omitempty"`
	Hint         any            `bson:"hint,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	Let          any            `bson:"let,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	Extra        map[string]any `bson:",inline"`
}

// BulkWriteOptions for BulkWrite. Ordered defaults to true.
type BulkWriteOptions struct {
	Ordered      *bool          `bson:"ordered,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	Let          any            `bson:"let,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	Extra        map[string]any `bson:",inline"`
}

// FindOneAndUpdateOptions for FindOneAndUpdate.
type FindOneAndUpdateOptions struct {
	Sort           any            `bson:"sort,omitempty"`
	Projection     any            `bson:"projection,omitempty"`
	Upsert         bool           `bson:"upsert,omitempty"`
	ReturnDocument ReturnDocument `bson:"returnDocument,omitempty"`
	ArrayFilters   []any          `bson:"arrayFilters,omitempty"`
	Collation      any            `bson:"collation,omitempty"`
	Hint           any            `bson:"hint,omitempty"`
	Comment        any            `bson:"comment,omitempty"`
	Let            any            `bson:"let,omitempty"`
	WriteConcern   any            `bson:"writeConcern,omitempty"`
	MaxTime        time.Duration  `bson:"-"`
	Extra          map[string]any `bson:",inline"`
}

// FindOneAndReplaceOptions for FindOneAndReplace.
type FindOneAndReplaceOptions struct {
	Sort           any            `bson:"sort,omitempty"`
	Projection     any            `bson:"projection,omitempty"`
	Upsert         bool           `bson:"upsert,omitempty"`
	ReturnDocument ReturnDocument `bson:"returnDocument,omitempty"`
	Collation      any            `bson:"collation,omitempty"`
	Hint           any            `bson:"hint,omitempty"`
	Comment        any            `bson:"comment,omitempty"`
	Let            any            `bson:"let,omitempty"`
	WriteConcern   any            `bson:"writeConcern,omitempty"`
	MaxTime        time.Duration  `bson:"-"`
	Extra          map[string]any `bson:",inline"`
}

// FindOneAndDeleteOptions for FindOneAndDelete.
type FindOneAndDeleteOptions struct {
	Sort         any            `bson:"sort,omitempty"`
	Projection   any            `bson:"projection,omitempty"`
	Collation    any            `bson:"collation,omitempty"`
	Hint         any            `bson:"hint,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	Let          any            `bson:"let,omitempty"`
	WriteConcern any            `bson:"writeConcern,omitempty"`
	MaxTime      time.Duration  `bson:"-"`
	Extra        map[string]any `bson:",inline"`
}

// CountOptions for CountDocuments.
type CountOptions struct {
	Skip      int64          `bson:"skip,omitempty"`
	Limit     int64          `bson:"limit,omitempty"`
	Hint      any            `bson:"hint,omitempty"`
	Collation any            `bson:"collation,omitempty"`
	Comment   any            `bson:"comment,omitempty"`
	MaxTime   time.Duration  `bson:"-"`
	Extra     map[string]any `bson:",inline"`
}

// EstimatedDocumentCountOptions for EstimatedDocumentCount.
type EstimatedDocumentCountOptions struct {
	Comment any            `bson:"comment,omitempty"`
	MaxTime time.Duration  `bson:"-"`
	Extra   map[string]any `bson:",inline"`
}

// DistinctOptions for Distinct.
type DistinctOptions struct {
	Collation any            `bson:"collation,omitempty"`
	Comment   any            `bson:"comment,omitempty"`
	MaxTime   time.Duration  `bson:"-"`
	Extra     map[string]any `bson:",inline"`
}

// AggregateOptions for Aggregate.
type AggregateOptions struct {
	AllowDiskUse *bool          `bson:"allowDiskUse,omitempty"`
	BatchSize    int32          `bson:"batchSize,omitempty"`
	Collation    any            `bson:"collation,omitempty"`
	Comment      any            `bson:"comment,omitempty"`
	Hint         any            `bson:"hint,omitempty"`
	Let          any            `bson:"let,omitempty"`
	MaxTime      time.Duration  `bson:"-"`
	Extra        map[string]any `bson:",inline"`
}

func (o *FindOptions) maxTime() time.Duration                   { return o.MaxTime }
func (o *FindOneOptions) maxTime() time.Duration                { return o.MaxTime }
func (o *FindOneAndUpdateOptions) maxTime() time.Duration       { return o.MaxTime }
func (o *FindOneAndReplaceOptions) maxTime() time.Duration      { return o.MaxTime }
func (o *FindOneAndDeleteOptions) maxTime() time.Duration       { return o.MaxTime }
func (o *CountOptions) maxTime() time.Duration                  { return o.MaxTime }
func (o *EstimatedDocumentCountOptions) maxTime() time.Duration { return o.MaxTime }
func (o *DistinctOptions) maxTime() time.Duration               { return o.MaxTime }
func (o *AggregateOptions) maxTime() time.Duration              { return o.MaxTime }

// last returns the last non-nil option struct, or nil.
func last[T any](opts []*T) *T {
	for i := len(opts) - 1; i >= 0; i-- {
		if opts[i] != nil {
			return opts[i]
		}
	}
	return nil
}

// buildOpts turns the options of a call into its options document. With timed, the call
// accepts maxTimeMS and gets the option's MaxTime or the context's deadline, the shorter.
func buildOpts[T any](ctx context.Context, opts []*T, timed bool) (doc, error) {
	o := last(opts)
	var v any
	var mt int64
	if o != nil {
		v = o
		if t, ok := v.(interface{ maxTime() time.Duration }); ok && t.maxTime() > 0 {
			mt = durationMS(t.maxTime(), true)
		}
	}
	var ctxMS int64
	if timed {
		ctxMS = maxTimeMS(ctx)
	}
	return optionsDoc(v, mt, ctxMS)
}
