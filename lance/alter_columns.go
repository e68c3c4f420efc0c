package lance

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/file"
	"github.com/persisting/persisting/lance/schema"
)

// WidenColumns changes the type of existing top-level columns of the dataset
// at path to a wider one, rewriting their data, as pylance's
// alter_columns({"path": name, "data_type": t}) does: each changed field
// gets a new field id (same name, position, nullability and metadata), every
// fragment that stores it gets one new data file holding the converted
// columns (the old file's column is no longer in the schema and is ignored),
// and the version is committed as a Merge transaction.
//
// Supported widenings: a signed integer to a wider signed integer, an
// unsigned integer to a wider unsigned or signed integer, an integer or
// float32 to float64, an 8/16-bit integer to float32, a null column to
// any type (its fragments get no new file: the field is missing in them,
// hence null), and a nested column to one with its null parts typed
// (list<null> to list<int64>: FillNullParts). Values must convert
// exactly (an int64 above 2^53 in magnitude is refused, not rounded); other
// changes fail with ErrUnsupported, a value that does not convert with
// ErrSchemaMismatch. Deleted rows are converted too (they stay deleted). Any
// concurrent commit that changes the fragments or the schema makes it fail
// with ErrCommitConflict, after removing the files it wrote.
func WidenColumns(path string, newTypes map[string]arrow.DataType) (*Dataset, error) {
	if len(newTypes) == 0 {
		return nil, errors.New("lance: WidenColumns needs at least one column")
	}
	base, scheme, cur, err := loadForRewrite(path, "changing column types of a dataset with indices")
	if err != nil {
		return nil, err
	}
	// The new schema: changed fields get fresh ids in schema order, above every
	// id a data file still holds. A null column that becomes a nested type
	// (struct, list) brings its child fields, right after it; nothing is stored
	// for them either. A nested column whose null parts get types
	// (TypesNullParts) is rewritten whole, its children replacing the old ones.
	next := nextFieldID(base, cur.fields)
	fields := make([]schema.Field, 0, len(cur.fields))
	var changed []int // positions in fields
	var counts []int  // of changed: how many fields it is, its children included
	var positions []int
	found := 0
	col := 0
	replaced := map[int32]bool{} // ids of changed fields and their children: the new ones replace them
	for _, f := range cur.fields {
		if f.ParentID != -1 {
			if replaced[f.ParentID] {
				replaced[f.ID] = true
			} else {
				fields = append(fields, f)
			}
			continue
		}
		to, ok := newTypes[f.Name]
		pos := col
		col++
		if !ok {
			fields = append(fields, f)
			continue
		}
		found++
		from := cur.schema.Field(pos).Type
		if !canWiden(from, to) {
			return nil, fmt.Errorf("%w: changing field %q from %s to %s", ErrUnsupported, f.Name, from, to)
		}
		conv, err := schema.FromArrow(arrow.NewSchema([]arrow.Field{{Name: f.Name, Type: to, Nullable: f.Nullable}}, nil), next)
		if err != nil {
			return nil, fmt.Errorf("lance: field %q as %s: %w", f.Name, to, err)
		}
		if len(conv) == 0 || conv[0].ID != next || (len(conv) > 1 && !TypesNullParts(from, to)) {
			return nil, fmt.Errorf("%w: changing field %q from %s to %s", ErrUnsupported, f.Name, from, to)
		}
		nf := f
		nf.ID, nf.LogicalType, nf.Encoding, nf.Type = next, conv[0].LogicalType, conv[0].Encoding, conv[0].Type
		replaced[f.ID] = true
		changed = append(changed, len(fields))
		counts = append(counts, len(conv))
		positions = append(positions, pos)
		fields = append(append(fields, nf), conv[1:]...)
		next = schema.MaxID(conv) + 1
	}
	if found != len(newTypes) {
		names := make([]string, 0, len(newTypes))
		for n := range newTypes {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w: WidenColumns: some of %q are not top-level fields of the dataset", ErrSchemaMismatch, names)
	}
	newSchema, err := schema.ToArrowWithMetadata(fields, base.SchemaMetadata)
	if err != nil {
		return nil, fmt.Errorf("lance: %w", err)
	}

	var written []string
	cleanup := func() {
		for _, p := range written {
			removeFile(p)
		}
	}
	frags := append([]Fragment(nil), base.Fragments...)
	for i := range frags {
		df, p, err := cur.widenFragment(i, fields, changed, counts, positions, newSchema)
		if p != "" {
			written = append(written, p)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
		if df != nil {
			f := frags[i]
			f.Files = append(append([]DataFile(nil), f.Files...), *df)
			frags[i] = f
		}
	}
	if len(written) > 0 {
		if err := syncDir(joinPath(path, dataDir)); err != nil {
			cleanup()
			return nil, fmt.Errorf("lance: sync data directory: %w", err)
		}
	}
	raw := make([][]byte, len(fields))
	for i, f := range fields {
		raw[i] = schema.MarshalField(f)
	}
	readFrags := encodeFragmentList(base.Fragments)
	req := commitRequest{
		root:           path,
		base:           base,
		scheme:         scheme,
		op:             OpMerge,
		fields:         raw,
		mergeFragments: frags,
		check: func(m *Manifest) error {
			if m.Version != base.Version && (!bytes.Equal(encodeFragmentList(m.Fragments), readFrags) || len(m.Fields) != len(base.Fields)) {
				return fmt.Errorf("%w: the dataset changed while its columns were rewritten", ErrCommitConflict)
			}
			return nil
		},
	}
	m, s, err := commit(req)
	if err != nil {
		if mayRemoveWritten(err) {
			cleanup()
		}
		return nil, err
	}
	return newDataset(path, m, s)
}

func encodeFragmentList(frags []Fragment) []byte {
	return appendFragments(nil, 1, frags)
}

// widenFragment writes fragment i's changed columns, converted, to a new
// data file (all physical rows), or returns nil if the fragment stores none
// of them (they stay missing, hence null).
func (d *Dataset) widenFragment(i int, fields []schema.Field, changed, counts, positions []int, newSchema *arrow.Schema) (*DataFile, string, error) {
	f := &d.manifest.Fragments[i]
	srcs, err := d.fragmentColumns(f)
	if err != nil {
		return nil, "", err
	}
	var outFields []schema.Field
	var outArrow []arrow.Field
	var cols []arrow.Array
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	alloc := memory.NewGoAllocator()
	for k, pos := range positions {
		if srcs[pos].file < 0 || d.schema.Field(pos).Type.ID() == arrow.NULL {
			continue // nothing stored: missing in the fragment, hence null
		}
		arr, err := d.readColumnPhysical(f, srcs, pos, d.physRows[i], alloc)
		if err != nil {
			return nil, "", err
		}
		out, err := widenArray(arr, newSchema.Field(pos).Type, alloc)
		arr.Release()
		if err != nil {
			return nil, "", fmt.Errorf("%w: field %q, fragment %d: %v", ErrSchemaMismatch, fields[changed[k]].Name, f.ID, err)
		}
		cols = append(cols, out)
		outFields = append(outFields, fields[changed[k]:changed[k]+counts[k]]...)
		outArrow = append(outArrow, newSchema.Field(pos))
	}
	if len(cols) == 0 {
		return nil, "", nil
	}
	rec := array.NewRecord(arrow.NewSchema(outArrow, nil), cols, d.physRows[i])
	defer rec.Release()
	name := newDataFileName()
	p := joinPath(d.root, dataDir, name)
	version, err := d.writeVersion()
	if err != nil {
		return nil, "", err
	}
	res, err := file.WriteFileWithOptions(p, outFields, []arrow.Record{rec}, file.WriteOptions{Version: version})
	if err != nil {
		removeFile(p)
		return nil, "", fmt.Errorf("lance: write data file: %w", err)
	}
	return &DataFile{Path: name, Fields: res.Fields, ColumnIndices: res.ColumnIndices, MajorVersion: res.MajorVersion,
		MinorVersion: res.MinorVersion, FileSizeBytes: uint64(res.FileSize)}, p, nil
}

// readColumnPhysical reads all physical rows of the top-level field at
// schema position pos of fragment f.
func (d *Dataset) readColumnPhysical(f *Fragment, srcs []columnSource, pos int, rows int64, alloc memory.Allocator) (arrow.Array, error) {
	cols := make([]arrow.Array, len(srcs))
	if err := d.readFileColumns(f, srcs[pos].file, rows, srcs, []int{pos}, cols, 0, rows, alloc, false); err != nil {
		return nil, err
	}
	return cols[pos], nil
}

func intWidth(t arrow.DataType) (bits int, signed, ok bool) {
	switch t.ID() {
	case arrow.INT8:
		return 8, true, true
	case arrow.INT16:
		return 16, true, true
	case arrow.INT32:
		return 32, true, true
	case arrow.INT64:
		return 64, true, true
	case arrow.UINT8:
		return 8, false, true
	case arrow.UINT16:
		return 16, false, true
	case arrow.UINT32:
		return 32, false, true
	case arrow.UINT64:
		return 64, false, true
	}
	return 0, false, false
}

func canWiden(from, to arrow.DataType) bool {
	if TypesNullParts(from, to) { // a column of only nulls: null in any type; or its null parts typed
		return true
	}
	fb, fs, fok := intWidth(from)
	tb, ts, tok := intWidth(to)
	switch {
	case fok && tok:
		return tb > fb && (fs == ts || !fs && ts)
	case fok && to.ID() == arrow.FLOAT64:
		return true
	case fok && to.ID() == arrow.FLOAT32:
		return fb <= 16
	case from.ID() == arrow.FLOAT32 && to.ID() == arrow.FLOAT64:
		return true
	}
	return false
}

// widenArray converts arr to type to (canWiden(arr type, to)), exactly.
func widenArray(arr arrow.Array, to arrow.DataType, alloc memory.Allocator) (arrow.Array, error) {
	if TypesNullParts(arr.DataType(), to) {
		return FillNullParts(arr, to, alloc), nil
	}
	n := arr.Len()
	// Read every value as int64/uint64 or float64.
	var ival func(i int) int64
	var uval func(i int) uint64
	var fval func(i int) float64
	switch a := arr.(type) {
	case *array.Int8:
		ival = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int16:
		ival = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int32:
		ival = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int64:
		ival = func(i int) int64 { return a.Value(i) }
	case *array.Uint8:
		uval = func(i int) uint64 { return uint64(a.Value(i)) }
	case *array.Uint16:
		uval = func(i int) uint64 { return uint64(a.Value(i)) }
	case *array.Uint32:
		uval = func(i int) uint64 { return uint64(a.Value(i)) }
	case *array.Uint64:
		uval = func(i int) uint64 { return a.Value(i) }
	case *array.Float32:
		fval = func(i int) float64 { return float64(a.Value(i)) }
	default:
		return nil, fmt.Errorf("cannot widen %s", arr.DataType())
	}
	b := array.NewBuilder(alloc, to)
	defer b.Release()
	b.Reserve(n)
	const exact = 1 << 53
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch bb := b.(type) {
		case *array.Int16Builder:
			if ival != nil {
				bb.Append(int16(ival(i)))
			} else {
				bb.Append(int16(uval(i)))
			}
		case *array.Int32Builder:
			if ival != nil {
				bb.Append(int32(ival(i)))
			} else {
				bb.Append(int32(uval(i)))
			}
		case *array.Int64Builder:
			if ival != nil {
				bb.Append(ival(i))
			} else {
				bb.Append(int64(uval(i)))
			}
		case *array.Uint16Builder:
			bb.Append(uint16(uval(i)))
		case *array.Uint32Builder:
			bb.Append(uint32(uval(i)))
		case *array.Uint64Builder:
			bb.Append(uval(i))
		case *array.Float32Builder:
			if ival != nil {
				bb.Append(float32(ival(i)))
			} else {
				bb.Append(float32(uval(i)))
			}
		case *array.Float64Builder:
			switch {
			case fval != nil:
				bb.Append(fval(i))
			case ival != nil:
				v := ival(i)
				if v > exact || v < -exact {
					return nil, fmt.Errorf("value %d has no exact float64", v)
				}
				bb.Append(float64(v))
			default:
				v := uval(i)
				if v > exact {
					return nil, fmt.Errorf("value %d has no exact float64", v)
				}
				bb.Append(float64(v))
			}
		default:
			return nil, fmt.Errorf("cannot widen to %s", to)
		}
	}
	return b.NewArray(), nil
}
