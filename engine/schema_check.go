package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	lanceschema "github.com/persisting/persisting/lance/schema"
)

// checkSchema reports whether rows of schema got can be stored under want:
// the same field names in the same order, with identical types. Nullability
// only matters one way: a column with nulls cannot go into a non-nullable field.
func checkSchema(want *arrow.Schema, rec arrow.Record) error {
	if err := checkFields(want, rec.Schema()); err != nil {
		return err
	}
	for i, w := range want.Fields() {
		if !w.Nullable && rec.Column(i).NullN() > 0 {
			return fmt.Errorf("%w: field %q is not nullable but the batch has %d nulls",
				ErrSchemaMismatch, w.Name, rec.Column(i).NullN())
		}
	}
	return nil
}

// checkFields compares field names, order and types.
func checkFields(want, got *arrow.Schema) error {
	for _, g := range got.Fields() {
		if len(want.FieldIndices(g.Name)) == 0 {
			return fmt.Errorf("%w: field %s is not in this bucket's schema (fields: %s); a bucket without schema evolution keeps the fields of its first record",
				ErrSchemaMismatch, pyName(g.Name), strings.Join(fieldNames(want), ", "))
		}
	}
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("%w: the bucket has fields %v, the batch has %v",
			ErrSchemaMismatch, fieldNames(want), fieldNames(got))
	}
	for i, w := range want.Fields() {
		g := got.Field(i)
		if g.Name != w.Name {
			return fmt.Errorf("%w: field %d is %q in the bucket but %q in the batch",
				ErrSchemaMismatch, i, w.Name, g.Name)
		}
		if !lanceschema.TypeEqual(w.Type, g.Type) {
			return fmt.Errorf("%w: field %q: expected %s, found %s",
				ErrSchemaMismatch, w.Name, w.Type, g.Type)
		}
	}
	return nil
}

func fieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// checkFieldNames requires at least one field, each with a distinct, non-empty name.
func checkFieldNames(s *arrow.Schema) error {
	if s.NumFields() == 0 {
		return fmt.Errorf("%w: a batch needs at least one field", ErrSchemaMismatch)
	}
	seen := make(map[string]bool, s.NumFields())
	for _, f := range s.Fields() {
		if f.Name == "" {
			return fmt.Errorf("%w: a field has an empty name", ErrSchemaMismatch)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: field %q appears twice", ErrSchemaMismatch, f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}
