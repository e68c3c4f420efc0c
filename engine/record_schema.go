package engine

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// withoutMetadata drops schema-level metadata (such as pandas' annotations):
// the bucket's identity is its fields.
func withoutMetadata(s *arrow.Schema) *arrow.Schema {
	return arrow.NewSchema(s.Fields(), nil)
}

// withStoredMetadata is s with the field metadata (theirs and their
// children's) the dataset's schema (stored) gives its fields of the same name
// and type: a dataset created
// with a codec records it in every field ("lance-encoding:compression"), and
// reads of the bucket that created it then show what pylance and a reopened
// bucket show. s itself when nothing differs.
func withStoredMetadata(s, stored *arrow.Schema) *arrow.Schema {
	var fields []arrow.Field
	for i, f := range s.Fields() {
		j := stored.FieldIndices(f.Name)
		if len(j) == 0 {
			continue
		}
		g := stored.Field(j[0])
		if !arrow.TypeEqual(f.Type, g.Type) ||
			f.Metadata.Equal(g.Metadata) && arrow.TypeEqual(f.Type, g.Type, arrow.CheckMetadata()) {
			continue
		}
		if fields == nil {
			fields = append([]arrow.Field(nil), s.Fields()...)
		}
		fields[i].Type, fields[i].Metadata = g.Type, g.Metadata // children's metadata too
	}
	if fields == nil {
		return s
	}
	return arrow.NewSchema(fields, nil)
}

// withSchema returns a new reference to rec's columns under schema s, which
// has the same field types, so that every record of a read or a flush carries
// one identical schema.
func withSchema(s *arrow.Schema, rec arrow.Record) arrow.Record {
	return array.NewRecord(s, rec.Columns(), rec.NumRows())
}
