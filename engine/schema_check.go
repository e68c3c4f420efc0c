package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	lanceschema "github.com/persisting/persisting/lance/schema"
)

// checkSchema reports whether rows of schema got can be stored under want
// as they are: the same field names in the same order, with identical types.
// Nulls in fields that are not nullable are checkRequiredValues' concern.
func checkSchema(want *arrow.Schema, rec arrow.Record) error {
	return sameLayout(want, rec.Schema())
}

// admitStrict returns rec in want, the schema of a bucket without schema
// evolution, and the bucket's schema after it: columns matched by name, a
// field rec lacks null, a column of a narrower type widened without loss
// (int32 into int64, float32 into float64, ...), an untyped (null) field
// typed by a column of a type; a field want lacks, another type, or nulls
// where want has none (at any depth: checkRequiredValues) are refused naming
// the field. New buffers come from alloc.
func admitStrict(want *arrow.Schema, rec arrow.Record, alloc memory.Allocator) (*arrow.Schema, arrow.Record, error) {
	if err := checkSchema(want, rec); err == nil {
		c := withSchema(want, rec)
		if err := checkRequiredValues(c); err != nil {
			c.Release()
			return nil, nil, err
		}
		return want, c, nil
	}
	if err := checkFields(want, rec.Schema()); err != nil {
		return nil, nil, err
	}
	got := rec.Schema()
	next := want
	for i, w := range want.Fields() {
		j := got.FieldIndices(w.Name)
		if w.Type.ID() == arrow.NULL && len(j) > 0 && got.Field(j[0]).Type.ID() != arrow.NULL {
			fields := append([]arrow.Field(nil), next.Fields()...)
			fields[i].Type = got.Field(j[0]).Type
			next = arrow.NewSchema(fields, nil)
		}
	}
	c, err := conform(next, rec, alloc)
	if err == nil {
		if err = checkRequiredValues(c); err != nil {
			c.Release()
			return nil, nil, err
		}
	}
	return next, c, err
}

// checkFields says whether batches of schema got can be appended to a strict
// bucket of schema want, as admitStrict takes them: every field of got is one
// of want's, of its type or one that converts to it without loss, with the
// same extension (sameExtension); a field got leaves out must be nullable.
func checkFields(want, got *arrow.Schema) error {
	for _, g := range got.Fields() {
		i := want.FieldIndices(g.Name)
		if len(i) == 0 {
			return unknownField(want, g.Name)
		}
		if w := want.Field(i[0]); !converts(g.Type, w.Type) || !sameExtension(w, g) {
			return fieldMismatch(w, g, "")
		}
	}
	for _, w := range want.Fields() {
		if !w.Nullable && len(got.FieldIndices(w.Name)) == 0 {
			return fmt.Errorf("%w: field %s is missing; it is not nullable", ErrSchemaMismatch, pyName(w.Name))
		}
	}
	return nil
}

// converts says whether a column of type from goes into a field of type to:
// the same type, a lossless widening, the other offset width of a string,
// binary or list type at any depth (schema_layout.go), or any type into an
// untyped field (which it types).
func converts(from, to arrow.DataType) bool {
	return lanceschema.TypeEqual(from, to) || widens(from, to) || sameLayoutFamily(from, to) || to.ID() == arrow.NULL
}

// sameTextFamily: string and large_string, binary and large_binary.
func sameTextFamily(from, to arrow.DataType) bool {
	text := func(t arrow.DataType) int {
		switch t.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			return 1
		case arrow.BINARY, arrow.LARGE_BINARY:
			return 2
		}
		return 0
	}
	return text(from) != 0 && text(from) == text(to)
}

func unknownField(want *arrow.Schema, name string) error {
	return fmt.Errorf("%w: field %s is not in this bucket's schema (fields: %s); a bucket without schema evolution keeps the fields its first records brought",
		ErrSchemaMismatch, pyName(name), strings.Join(fieldNames(want), ", "))
}

// sameLayout compares field names, order, types and extensions.
func sameLayout(want, got *arrow.Schema) error {
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
		if !lanceschema.TypeEqual(w.Type, g.Type) || !sameExtension(w, g) {
			return fieldMismatch(w, g, "")
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

// checkFieldNames requires at least one field, each with a distinct name,
// and every name, nested ones too, one Lance and Arrow carry (checkFieldName),
// nested no deeper than a record may nest (checkShape).
func checkFieldNames(s *arrow.Schema) error {
	if s.NumFields() == 0 {
		return fmt.Errorf("%w: a batch needs at least one field", ErrSchemaMismatch)
	}
	seen := make(map[string]bool, s.NumFields())
	for _, f := range s.Fields() {
		if err := checkFieldName(f.Name, ""); err != nil {
			return err
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: field %q appears twice", ErrSchemaMismatch, f.Name)
		}
		seen[f.Name] = true
		if err := checkShape(f.Name, f.Type, 1, 0); err != nil {
			return err
		}
	}
	return nil
}

// checkFieldName refuses a name Lance or Arrow cannot carry: empty, with a
// '.' (Lance reads dots as nested paths) or a NUL (Arrow's C interface ends
// names there). in is the path of the struct holding it ("" at the top).
func checkFieldName(name, in string) error {
	where := ""
	if in != "" {
		where = " in " + pyName(in)
	}
	switch {
	case name == "" || strings.Contains(name, "."):
		return fmt.Errorf("%w: field name %s%s: must be non-empty and without '.' (Lance reads dots as nested paths)",
			ErrInvalidArgument, pyName(name), where)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: field name %s%s: must not contain NUL (Arrow's C interface ends names at NUL)",
			ErrInvalidArgument, pyName(name), where)
	}
	return nil
}

// checkShape checks the nested names of type t, the type of the value at
// path, which nests depth levels deep (lists of them lists), and that it
// nests no deeper than maxNesting (maxListNesting with a list inside).
func checkShape(path string, t arrow.DataType, depth, lists int) error {
	if depth > maxNesting || (lists > 0 && depth > maxListNesting) {
		return nestingError(path, lists > 0)
	}
	switch t := t.(type) {
	case *arrow.StructType:
		for _, f := range t.Fields() {
			if err := checkFieldName(f.Name, path); err != nil {
				return err
			}
			if err := checkShape(path+"."+f.Name, f.Type, depth+1, lists); err != nil {
				return err
			}
		}
	case arrow.ListLikeType:
		return checkShape(path+"[]", t.Elem(), depth+1, lists+1)
	}
	return nil
}

// nestingError refuses a value nested deeper than the limits.
func nestingError(path string, list bool) error {
	limit, why := maxNesting, "one less than Arrow's C interface lets pyarrow import"
	if list {
		limit, why = maxListNesting, "Lance's limit with a list inside"
	}
	return fmt.Errorf("%w: field %s: cannot store a value nested more than %d levels deep (%s); flatten it or serialise it (json.dumps)",
		ErrType, pyName(path), limit, why)
}
