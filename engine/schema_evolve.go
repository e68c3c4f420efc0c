package engine

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
	lanceschema "github.com/persisting/persisting/lance/schema"
)

// With Options.SchemaEvolution, a batch need not match the bucket's schema
// exactly:
//   - a field the bucket lacks is added (nullable); earlier rows read null in it,
//   - a field the batch lacks is null in the batch's rows,
//   - fields may come in any order,
//   - a value of a narrower type is widened to the field's type when that
//     loses nothing (int8/16/32 -> int64, float32 -> float64, integers ->
//     float64 when every value is exactly representable),
//   - a field receiving a wider type is itself widened (int64 -> float64,
//     int32 -> int64): buffered rows are converted, and the stored column is
//     rewritten as a Lance schema change (lance.WidenColumns) before the
//     batch is accepted, so a stored value that does not convert exactly
//     refuses the batch instead of poisoning every later flush.
// A field whose type would have to narrow or change kind (str into an int
// field) is an error naming the field.

// evolution is the plan for one batch: the bucket schema after it, and how
// to build the batch's columns in that schema's order.
type evolution struct {
	schema  *arrow.Schema
	added   []arrow.Field             // fields new to the bucket, in the order they are added
	widened map[string]arrow.DataType // existing fields whose type grows
}

// planEvolution checks got against the bucket schema cur (nil: no schema
// yet); writable says whether a schema can be stored at all.
func planEvolution(cur, got *arrow.Schema, writable func(*arrow.Schema) error) (evolution, error) {
	if cur == nil {
		if err := writable(got); err != nil {
			return evolution{}, err
		}
		return evolution{schema: withoutMetadata(got)}, nil
	}
	if err := checkFieldNames(got); err != nil {
		return evolution{}, err
	}
	var added []arrow.Field
	fields := append([]arrow.Field(nil), cur.Fields()...)
	widened := map[string]arrow.DataType{}
	for _, g := range got.Fields() {
		i := cur.FieldIndices(g.Name)
		if len(i) == 0 {
			g.Nullable = true
			added = append(added, g)
			continue
		}
		w := cur.Field(i[0])
		switch {
		case !sameExtension(w, g):
			return evolution{}, fieldMismatch(w, g, ", which cannot be stored in it without loss")
		case lanceschema.TypeEqual(w.Type, g.Type), widens(g.Type, w.Type), sameLayoutFamily(g.Type, w.Type):
		case widens(w.Type, g.Type):
			fields[i[0]].Type = g.Type
			widened[g.Name] = g.Type
		default:
			return evolution{}, fieldMismatch(w, g, ", which cannot be stored in it without loss")
		}
	}
	if len(added) == 0 && len(widened) == 0 {
		return evolution{schema: cur}, nil
	}
	next := arrow.NewSchema(append(fields, added...), nil)
	if err := writable(next); err != nil {
		return evolution{}, err
	}
	return evolution{schema: next, added: added, widened: widened}, nil
}

// widens reports whether every value of type from fits type to exactly
// (integer to float64 is checked per value by conform). Null - an untyped
// field - widens to every type.
func widens(from, to arrow.DataType) bool {
	if lance.TypesNullParts(from, to) { // null parts (an untyped field too) take any type
		return true
	}
	switch to.ID() {
	case arrow.INT64:
		switch from.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.UINT8, arrow.UINT16, arrow.UINT32:
			return true
		}
	case arrow.INT32:
		switch from.ID() {
		case arrow.INT8, arrow.INT16, arrow.UINT8, arrow.UINT16:
			return true
		}
	case arrow.FLOAT64:
		switch from.ID() {
		case arrow.FLOAT32, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			return true
		}
	}
	return false
}

// conform returns a new record in schema s built from rec: columns matched by
// name, cast where planEvolution allowed it, nulls for fields rec lacks. New
// buffers (casts, null columns) come from alloc.
func conform(s *arrow.Schema, rec arrow.Record, alloc memory.Allocator) (arrow.Record, error) {
	cols := make([]arrow.Array, s.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	n := int(rec.NumRows())
	for i, f := range s.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) == 0 {
			cols[i] = lance.NullArray(alloc, f.Type, n)
			continue
		}
		col := rec.Column(idx[0])
		if lanceschema.TypeEqual(col.DataType(), f.Type) {
			col.Retain()
			cols[i] = col
			continue
		}
		if col.DataType().ID() == arrow.NULL { // an untyped field gets its type
			cols[i] = lance.NullArray(alloc, f.Type, n)
			continue
		}
		cast, err := castExactly(col, f, alloc)
		if err != nil {
			return nil, err
		}
		cols[i] = cast
	}
	return array.NewRecord(s, cols, rec.NumRows()), nil
}

// maxExactInt is the largest integer magnitude every float64 holds exactly.
const maxExactInt = 1 << 53

// castExactly widens col to f's type (one of the pairs widens accepts),
// failing for an integer a float64 cannot hold exactly.
func castExactly(col arrow.Array, f arrow.Field, alloc memory.Allocator) (arrow.Array, error) {
	if lance.TypesNullParts(col.DataType(), f.Type) {
		return lance.FillNullParts(col, f.Type, alloc), nil
	}
	if sameLayoutFamily(col.DataType(), f.Type) {
		return castLayout(col, f.Type, f.Name, alloc)
	}
	value, ok := numericGetter(col)
	if !ok {
		return nil, fmt.Errorf("%w: field %q: cannot widen %s to %s", ErrSchemaMismatch, f.Name, col.DataType(), f.Type)
	}
	n := col.Len()
	switch f.Type.ID() {
	case arrow.INT64, arrow.INT32:
		bld := array.NewBuilder(alloc, f.Type)
		defer bld.Release()
		bld.Reserve(n)
		for i := 0; i < n; i++ {
			switch {
			case col.IsNull(i):
				bld.AppendNull()
			case f.Type.ID() == arrow.INT64:
				bld.(*array.Int64Builder).UnsafeAppend(int64(value(i)))
			default:
				bld.(*array.Int32Builder).UnsafeAppend(int32(value(i)))
			}
		}
		return bld.NewArray(), nil
	case arrow.FLOAT64:
		bld := array.NewFloat64Builder(alloc)
		defer bld.Release()
		bld.Reserve(n)
		for i := 0; i < n; i++ {
			if col.IsNull(i) {
				bld.AppendNull()
				continue
			}
			if !exactInFloat64(col, i) {
				return nil, fmt.Errorf("%w: field %q is float64 but row %d holds an integer (%s) a float64 cannot hold exactly",
					ErrSchemaMismatch, f.Name, i, col.ValueStr(i))
			}
			bld.UnsafeAppend(value(i))
		}
		return bld.NewArray(), nil
	}
	return nil, fmt.Errorf("%w: field %q: cannot widen %s to %s", ErrSchemaMismatch, f.Name, col.DataType(), f.Type)
}

// exactInFloat64 checks the 64-bit integer kinds, the only ones that can
// exceed 2^53, on their integer value (a float64 conversion would round first).
func exactInFloat64(col arrow.Array, i int) bool {
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(i) <= maxExactInt && a.Value(i) >= -maxExactInt
	case *array.Uint64:
		return a.Value(i) <= maxExactInt
	}
	return true
}

// numericGetter reads element i of an integer or float32 array as a float64
// (exact for every integer the callers accept: |v| <= 2^53 is checked, and
// 32-bit and narrower integers always fit).
func numericGetter(col arrow.Array) (func(int) float64, bool) {
	switch a := col.(type) {
	case *array.Int8:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Int16:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Int32:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Int64:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint8:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint16:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint32:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Uint64:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	case *array.Float32:
		return func(i int) float64 { return float64(a.Value(i)) }, true
	}
	return nil, false
}

// evolveDataset brings the dataset's schema to s as Lance schema changes:
// stored columns whose type grew are rewritten (lance.WidenColumns; a value
// that does not convert exactly fails it), and fields the dataset lacks are
// added (older fragments read null in them).
func (b *Bucket) evolveDataset(s *arrow.Schema) error {
	if b.dataset == nil {
		return nil
	}
	have := b.dataset.Schema()
	var added []arrow.Field
	widened := map[string]arrow.DataType{}
	for _, f := range s.Fields() {
		i := have.FieldIndices(f.Name)
		switch {
		case f.Type.ID() == arrow.NULL: // untyped: not stored until a value types it
		case len(i) == 0:
			added = append(added, f)
		case !lanceschema.TypeEqual(have.Field(i[0]).Type, f.Type):
			widened[f.Name] = f.Type
		}
	}
	if len(widened) > 0 {
		ds, err := lance.WidenColumns(b.opts.datasetPath(), widened)
		for retry := 0; retry < 3 && errors.Is(err, lance.ErrCommitConflict); retry++ {
			// A background compaction or retention committed meanwhile
			// (background.go): rewrite on top of it.
			ds, err = lance.WidenColumns(b.opts.datasetPath(), widened)
		}
		if err != nil {
			return fmt.Errorf("%w: widening stored fields %v of %s: %w", ErrSchemaMismatch, widened, b.opts.datasetPath(), err)
		}
		b.adoptCommit(ds)
	}
	if len(added) > 0 {
		ds, err := lance.AddColumns(b.opts.datasetPath(), arrow.NewSchema(added, nil))
		if err != nil {
			return fmt.Errorf("engine: add fields %v to %s: %w", fieldNames(arrow.NewSchema(added, nil)), b.opts.datasetPath(), err)
		}
		b.adoptCommit(ds)
	}
	return nil
}

// castText copies a string or binary column into the other layout of its
// family (large_string into string, ...).
func castText(col arrow.Array, to arrow.DataType, alloc memory.Allocator) arrow.Array {
	bld := array.NewBuilder(alloc, to)
	defer bld.Release()
	n := col.Len()
	bld.Reserve(n)
	value := func(i int) []byte {
		switch a := col.(type) {
		case *array.String:
			return []byte(a.Value(i))
		case *array.LargeString:
			return []byte(a.Value(i))
		case *array.Binary:
			return a.Value(i)
		case *array.LargeBinary:
			return a.Value(i)
		}
		return nil
	}
	for i := 0; i < n; i++ {
		if col.IsNull(i) {
			bld.AppendNull()
			continue
		}
		switch b := bld.(type) {
		case *array.StringBuilder:
			b.BinaryBuilder.Append(value(i))
		case *array.LargeStringBuilder:
			b.BinaryBuilder.Append(value(i))
		case *array.BinaryBuilder:
			b.Append(value(i))
		}
	}
	return bld.NewArray()
}
