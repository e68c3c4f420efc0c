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

// withSchema returns a new reference to rec's columns under schema s, which
// has the same field types, so that every record of a read or a flush carries
// one identical schema.
func withSchema(s *arrow.Schema, rec arrow.Record) arrow.Record {
	return array.NewRecord(s, rec.Columns(), rec.NumRows())
}
