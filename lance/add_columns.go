package lance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// AddColumns commits a new version of the dataset at path whose schema is
// the current one with newFields appended (top-level, in order). No data is
// written: existing fragments have no data file for the new fields, so their
// rows read as null in them (here and in pylance), and later Writes must
// supply every field. This is Lance's own schema evolution, recorded as a
// Merge transaction exactly like pylance's
// ds.add_columns(pa.schema([...])): same fragments, new schema, new field ids
// numbered after the highest one in use (nextFieldID).
//
// Every new field must be nullable (old rows have no value) and its name must
// be new, non-empty and free of '.'; otherwise the error wraps
// ErrSchemaMismatch. newFields' schema-level metadata is ignored. A
// concurrent schema change makes it fail with ErrCommitConflict; concurrent
// appends are kept (their fragments, too, lack the new fields).
func AddColumns(path string, newFields *arrow.Schema) (*Dataset, error) {
	if newFields == nil || newFields.NumFields() == 0 {
		return nil, errors.New("lance: AddColumns needs at least one field")
	}
	base, scheme, err := loadLatestManifest(path)
	if err != nil {
		return nil, err
	}
	cur, err := newDataset(path, base, scheme)
	if err != nil {
		return nil, err
	}
	// Only the new fields need be writable: the existing columns stay in
	// their data files.
	version, err := checkNewDataFiles(cur)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, f := range cur.schema.Fields() {
		names[f.Name] = true
	}
	for _, f := range newFields.Fields() {
		switch {
		case f.Name == "" || strings.Contains(f.Name, "."):
			return nil, fmt.Errorf("%w: invalid field name %q", ErrSchemaMismatch, f.Name)
		case names[f.Name]:
			return nil, fmt.Errorf("%w: field %q already exists", ErrSchemaMismatch, f.Name)
		case !f.Nullable:
			return nil, fmt.Errorf("%w: new field %q must be nullable (existing rows have no value for it)", ErrSchemaMismatch, f.Name)
		}
		names[f.Name] = true
	}
	added, err := schema.FromArrow(arrow.NewSchema(newFields.Fields(), nil), nextFieldID(base, cur.fields))
	if err != nil {
		return nil, fmt.Errorf("lance: %w", err)
	}
	fields := append(append([]schema.Field(nil), cur.fields...), added...)
	raw := append([][]byte(nil), base.Fields...)
	for _, f := range added {
		raw = append(raw, schema.MarshalField(f))
	}
	if _, err := schema.ToArrow(fields); err != nil {
		return nil, fmt.Errorf("lance: %w", err)
	}
	// Later writes must be able to store the new fields in this dataset's
	// data file version (2.0 has no structs or maps).
	if err := file.CheckWritableVersion(added, version); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	req := commitRequest{
		root:   path,
		base:   base,
		scheme: scheme,
		op:     OpMerge,
		fields: raw,
		check: func(m *Manifest) error {
			d, err := newDataset(path, m, 0)
			if err != nil {
				return err
			}
			if _, err := checkNewDataFiles(d); err != nil {
				return err
			}
			if err := sameFields(cur.fields, d.fields); err != nil {
				return fmt.Errorf("%w: %v", ErrCommitConflict, err)
			}
			return nil
		},
	}
	m, s, err := commit(req)
	if err != nil {
		return nil, err
	}
	return newDataset(path, m, s)
}

// nextFieldID is the first field id a new field of m may take: one above
// every id in the schema and in every data file of its fragments. A column
// dropped from the schema (pylance's drop_columns, or a column rewritten at
// another type) keeps its id in the data files that hold it; a new field
// reusing that id would be read from those files as its own, in the old
// column's type (pylance then fails to decode them, or reads garbage).
func nextFieldID(m *Manifest, fields []schema.Field) int32 {
	next := schema.MaxID(fields)
	for i := range m.Fragments {
		for _, df := range m.Fragments[i].Files {
			for _, id := range df.Fields {
				next = max(next, id)
			}
		}
	}
	return next + 1
}
