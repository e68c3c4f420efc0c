package lance

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Null parts: a nested column whose parts were only ever null or empty (a
// list of [] or [None], a struct {"a": None}) has the type null there
// (list<null>, struct<a: null>), as pyarrow infers it. A later value gives
// such a part a type; every stored value of the part is null, so the column
// converts to the typed form exactly: same validity, offsets and lengths, the
// null parts become all-null arrays of their new type.

// TypesNullParts reports whether to is from with some of its null parts
// typed (at any depth of structs and lists), and nothing else changed.
func TypesNullParts(from, to arrow.DataType) bool {
	if from.ID() == arrow.NULL {
		return true
	}
	switch f := from.(type) {
	case *arrow.StructType:
		t, ok := to.(*arrow.StructType)
		if !ok || t.NumFields() != f.NumFields() {
			return false
		}
		for i, ff := range f.Fields() {
			tf := t.Field(i)
			if ff.Name != tf.Name || ff.Nullable != tf.Nullable || !TypesNullParts(ff.Type, tf.Type) {
				return false
			}
		}
		return true
	case *arrow.ListType:
		t, ok := to.(*arrow.ListType)
		return ok && sameItem(f.ElemField(), t.ElemField())
	case *arrow.LargeListType:
		t, ok := to.(*arrow.LargeListType)
		return ok && sameItem(f.ElemField(), t.ElemField())
	case *arrow.FixedSizeListType:
		t, ok := to.(*arrow.FixedSizeListType)
		return ok && f.Len() == t.Len() && sameItem(f.ElemField(), t.ElemField())
	}
	return arrow.TypeEqual(from, to)
}

func sameItem(f, t arrow.Field) bool {
	return f.Nullable == t.Nullable && TypesNullParts(f.Type, t.Type)
}

// FillNullParts converts arr to type to, for which TypesNullParts(arr's
// type, to) holds: a new reference, sharing arr's buffers.
func FillNullParts(arr arrow.Array, to arrow.DataType, alloc memory.Allocator) arrow.Array {
	d := fillNullData(arr.Data(), to, alloc)
	defer d.Release()
	return array.MakeFromData(d)
}

func fillNullData(d arrow.ArrayData, to arrow.DataType, alloc memory.Allocator) arrow.ArrayData {
	if arrow.TypeEqual(d.DataType(), to) {
		d.Retain()
		return d
	}
	if d.DataType().ID() == arrow.NULL {
		full := NullArray(alloc, to, d.Offset()+d.Len())
		defer full.Release()
		return array.NewSliceData(full.Data(), int64(d.Offset()), int64(d.Offset()+d.Len()))
	}
	var types []arrow.DataType
	switch t := to.(type) {
	case *arrow.StructType:
		for _, f := range t.Fields() {
			types = append(types, f.Type)
		}
	case arrow.ListLikeType:
		types = []arrow.DataType{t.Elem()}
	}
	kids := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		kids[i] = fillNullData(c, types[i], alloc)
	}
	nd := array.NewData(to, d.Len(), d.Buffers(), kids, d.NullN(), d.Offset())
	for _, k := range kids {
		k.Release()
	}
	return nd
}

// NullArray is an array of n nulls of type t, null parts inside it too
// (array.MakeArrayOfNull panics on those).
func NullArray(alloc memory.Allocator, t arrow.DataType, n int) arrow.Array {
	if !HasNullPart(t) {
		return array.MakeArrayOfNull(alloc, t, n)
	}
	b := array.NewBuilder(alloc, t)
	defer b.Release()
	b.AppendNulls(n)
	return b.NewArray()
}

// HasNullPart reports whether t is null or holds a null type in a struct
// field or list item at any depth.
func HasNullPart(t arrow.DataType) bool {
	switch t := t.(type) {
	case *arrow.NullType:
		return true
	case *arrow.StructType:
		for _, f := range t.Fields() {
			if HasNullPart(f.Type) {
				return true
			}
		}
	case arrow.ListLikeType:
		return HasNullPart(t.Elem())
	}
	return false
}
