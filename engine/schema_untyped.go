package engine

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
	lanceschema "github.com/persisting/persisting/lance/schema"
)

// Untyped fields: a top-level field that was None in every record so far has
// type null in the bucket's schema until a value gives it a type. It is
// written as untypedFallback (string) by the first flush that finds it still
// untyped - on a bucket without schema evolution, or when no field has a type
// at all; an evolving bucket otherwise leaves it out of the dataset, reads
// show it as null, and a later value adds it with that value's type.
//
// A field the dataset stores with type null (pyarrow's type for a column of
// only None; pylance writes it) is untyped too, but a flush writes it as it
// is stored, a null column, never as untypedFallback; a value gives it its
// type as for any untyped field (lance.WidenColumns: null to any type).

// settleForFlush types the untyped fields a flush must write (converting the
// buffered rows) and returns the schema the flush writes: the typed fields,
// those the dataset has in its order, then the new ones. Under flushMu and
// mu, the tail sealed.
func (b *Bucket) settleForFlush() (*arrow.Schema, error) {
	s := b.schema
	var untyped []string
	for _, f := range s.Fields() {
		if f.Type.ID() == arrow.NULL && !storesNull(b.dataset, f.Name) {
			untyped = append(untyped, f.Name)
		}
	}
	// A strict bucket keeps its fields in the dataset, so it stores them as
	// null columns, as does a bucket with no typed field at all; an evolving
	// one leaves them out until a value types them.
	storeNull := len(untyped) > 0 && (!b.opts.SchemaEvolution || len(untyped) == s.NumFields())
	ws := writeSchema(s, b.dataset, storeNull)
	if next := inWriteOrder(s, ws); next != s {
		// A field typed after others were stored joins the dataset last:
		// the bucket's schema takes the dataset's order, so that its reads
		// show the columns as pylance and a reopened bucket do.
		rebuffered, err := b.rebuffer(next)
		if err != nil {
			return nil, err
		}
		b.setSchema(next, rebuffered)
		ws = writeSchema(next, b.dataset, storeNull)
	}
	return ws, nil
}

// inWriteOrder is s itself when the fields of ws (what a flush writes of s)
// come in s in ws's order, whatever the untyped fields between them; else s
// with ws's fields in ws's order, then the others (untyped) in s's order.
func inWriteOrder(s, ws *arrow.Schema) *arrow.Schema {
	if ws == s {
		return s
	}
	next := 0 // the next field of ws expected in s
	for _, f := range s.Fields() {
		if len(ws.FieldIndices(f.Name)) == 0 {
			continue
		}
		if ws.Field(next).Name != f.Name {
			break // out of order
		}
		next++
	}
	if next == ws.NumFields() {
		return s
	}
	var others []arrow.Field
	for _, f := range s.Fields() {
		if len(ws.FieldIndices(f.Name)) == 0 {
			others = append(others, f)
		}
	}
	return arrow.NewSchema(append(append([]arrow.Field(nil), ws.Fields()...), others...), nil)
}

// writableForm is s as a flush may write it: untyped top-level fields typed
// as untypedFallback. (Untyped parts inside a nested type are stored as they
// are, type null, where the file version allows: record_append.go.)
func writableForm(s *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field(nil), s.Fields()...)
	changed := false
	for i := range fields {
		if fields[i].Type.ID() == arrow.NULL {
			fields[i].Type = untypedFallback
			changed = true
		}
	}
	if !changed {
		return s
	}
	return arrow.NewSchema(fields, nil)
}

// settledSchema is s with its untyped fields typed as untypedFallback, but
// for the null columns dataset ds (nil: none) stores.
func settledSchema(s *arrow.Schema, ds *lance.Dataset) *arrow.Schema {
	fields := append([]arrow.Field(nil), s.Fields()...)
	changed := false
	for i := range fields {
		if lance.HasNullPart(fields[i].Type) && !storesNull(ds, fields[i].Name) {
			fields[i].Type = settled(fields[i].Type)
			changed = true
		}
	}
	if !changed {
		return s
	}
	return arrow.NewSchema(fields, nil)
}

// writeSchema is what a flush writes of schema s into dataset ds (nil: a new
// one): the typed fields, in ds's order first (a Lance append matches fields
// by position), s itself when that is s.
func writeSchema(s *arrow.Schema, ds *lance.Dataset, storeNull bool) *arrow.Schema {
	var have *arrow.Schema
	if ds != nil {
		have = ds.Schema()
	}
	fields := make([]arrow.Field, 0, s.NumFields())
	taken := make(map[string]bool, s.NumFields())
	if have != nil {
		for _, f := range have.Fields() {
			if i := s.FieldIndices(f.Name); len(i) > 0 && (s.Field(i[0]).Type.ID() != arrow.NULL || f.Type.ID() == arrow.NULL) {
				fields = append(fields, s.Field(i[0]))
				taken[f.Name] = true
			}
		}
	}
	for _, f := range s.Fields() {
		if !taken[f.Name] && (f.Type.ID() != arrow.NULL || storeNull) {
			fields = append(fields, f)
		}
	}
	if len(fields) == s.NumFields() {
		same := true
		for i, f := range fields {
			if f.Name != s.Field(i).Name {
				same = false
				break
			}
		}
		if same {
			return s
		}
	}
	return arrow.NewSchema(fields, nil)
}

// sameFieldNames says whether a and b have the same fields, by name and
// type, in the same order.
func sameFieldNames(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i, f := range a.Fields() {
		g := b.Field(i)
		if f.Name != g.Name || !lanceschema.TypeEqual(f.Type, g.Type) {
			return false
		}
	}
	return true
}

// fitRecord returns rec in schema s: a new reference to it when the fields
// match, else its columns matched by name (converted as schema evolution
// allows) with nulls for fields it lacks, such as untyped ones a dataset does
// not store. New buffers come from alloc.
func fitRecord(s *arrow.Schema, rec arrow.Record, alloc memory.Allocator) (arrow.Record, error) {
	if sameFieldNames(s, rec.Schema()) {
		return withSchema(s, rec), nil
	}
	return conform(s, rec, alloc)
}

// storesNull reports whether dataset ds (nil: none) stores top-level field
// name as a column of type null.
func storesNull(ds *lance.Dataset, name string) bool {
	if ds == nil {
		return false
	}
	i := ds.Schema().FieldIndices(name)
	return len(i) > 0 && ds.Schema().Field(i[0]).Type.ID() == arrow.NULL
}

// settledNested is s with the null parts inside its nested fields typed as
// untypedFallback, and the names of those fields.
func settledNested(s *arrow.Schema) (*arrow.Schema, []string) {
	fields := append([]arrow.Field(nil), s.Fields()...)
	var names []string
	for i, f := range fields {
		if f.Type.ID() != arrow.NULL && lance.HasNullPart(f.Type) {
			fields[i].Type = settled(f.Type)
			names = append(names, f.Name)
		}
	}
	if names == nil {
		return s, nil
	}
	return arrow.NewSchema(fields, nil), names
}
