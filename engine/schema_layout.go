package engine

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	lanceschema "github.com/persisting/persisting/lance/schema"
)

// Arrow has two layouts of the same values for text, bytes and lists: 32-bit
// offsets (utf8, binary, list) and 64-bit ones (large_utf8, large_binary,
// large_list). Producers choose for themselves - polars sends every list as
// a large_list, pyarrow a list - so a column goes into a field of the other
// layout, at any depth (a struct's fields, a list's items, a map's entries),
// its values copied into the field's layout. Offsets past 2^31 - 1 cannot go
// into a 32-bit layout: an error naming the field.

// sameLayoutFamily reports whether values of type from can be stored as type
// to by changing only offset widths, somewhere inside the type.
func sameLayoutFamily(from, to arrow.DataType) bool {
	if lanceschema.TypeEqual(from, to) {
		return true
	}
	if sameTextFamily(from, to) {
		return true
	}
	switch f := from.(type) {
	case *arrow.ListType, *arrow.LargeListType:
		switch to.ID() {
		case arrow.LIST, arrow.LARGE_LIST:
			return sameElem(f.(arrow.ListLikeType).ElemField(), to.(arrow.ListLikeType).ElemField())
		}
	case *arrow.FixedSizeListType:
		if t, ok := to.(*arrow.FixedSizeListType); ok && t.Len() == f.Len() {
			return sameElem(f.ElemField(), t.ElemField())
		}
	case *arrow.MapType:
		if t, ok := to.(*arrow.MapType); ok {
			return sameElem(f.ElemField(), t.ElemField())
		}
	case *arrow.StructType:
		t, ok := to.(*arrow.StructType)
		if !ok || t.NumFields() != f.NumFields() {
			return false
		}
		for i := 0; i < f.NumFields(); i++ {
			if f.Field(i).Name != t.Field(i).Name || !sameElem(f.Field(i), t.Field(i)) {
				return false
			}
		}
		return true
	}
	return false
}

// sameElem: a nested field's values fit the other's, and both allow nulls or
// neither does (as lanceschema.TypeEqual asks of nested fields).
func sameElem(from, to arrow.Field) bool {
	return from.Nullable == to.Nullable && sameLayoutFamily(from.Type, to.Type)
}

// castLayout copies col into type to, which sameLayoutFamily(col's type, to)
// allows; new buffers come from alloc. The result starts at offset 0.
func castLayout(col arrow.Array, to arrow.DataType, name string, alloc memory.Allocator) (arrow.Array, error) {
	d, err := layoutData(col.Data(), to, name, alloc)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return array.MakeFromData(d), nil
}

// layoutData returns d in type to, with a reference for the caller.
func layoutData(d arrow.ArrayData, to arrow.DataType, name string, alloc memory.Allocator) (arrow.ArrayData, error) {
	if lanceschema.TypeEqual(d.DataType(), to) {
		d.Retain()
		return d, nil
	}
	if sameTextFamily(d.DataType(), to) {
		col := array.MakeFromData(d)
		defer col.Release()
		out := castText(col, to, alloc)
		defer out.Release()
		od := out.Data()
		od.Retain()
		return od, nil
	}
	n, off := d.Len(), d.Offset()
	validity := rebasedValidity(d, alloc)
	if validity != nil {
		defer validity.Release()
	}
	switch to.ID() {
	case arrow.STRUCT:
		st := to.(*arrow.StructType)
		children := make([]arrow.ArrayData, len(d.Children()))
		for i, c := range d.Children() {
			sliced := array.NewSliceData(c, int64(off), int64(off+n))
			child, err := layoutData(sliced, st.Field(i).Type, name+"."+st.Field(i).Name, alloc)
			sliced.Release()
			if err != nil {
				releaseData(children)
				return nil, err
			}
			children[i] = child
		}
		defer releaseData(children)
		return array.NewData(to, n, []*memory.Buffer{validity}, children, d.NullN(), 0), nil
	case arrow.FIXED_SIZE_LIST:
		size := int64(to.(*arrow.FixedSizeListType).Len())
		sliced := array.NewSliceData(d.Children()[0], int64(off)*size, int64(off+n)*size)
		defer sliced.Release()
		child, err := layoutData(sliced, to.(arrow.ListLikeType).Elem(), name, alloc)
		if err != nil {
			return nil, err
		}
		defer child.Release()
		return array.NewData(to, n, []*memory.Buffer{validity}, []arrow.ArrayData{child}, d.NullN(), 0), nil
	case arrow.LIST, arrow.LARGE_LIST, arrow.MAP:
		starts := listStarts(d)
		first, last := starts(0), starts(n)
		offsets, err := rebasedOffsets(starts, n, first, to.ID() == arrow.LARGE_LIST, name, alloc)
		if err != nil {
			return nil, err
		}
		defer offsets.Release()
		sliced := array.NewSliceData(d.Children()[0], first, last)
		defer sliced.Release()
		child, err := layoutData(sliced, to.(arrow.ListLikeType).Elem(), name, alloc)
		if err != nil {
			return nil, err
		}
		defer child.Release()
		return array.NewData(to, n, []*memory.Buffer{validity, offsets}, []arrow.ArrayData{child}, d.NullN(), 0), nil
	}
	return nil, fmt.Errorf("%w: field %s: cannot store %s as %s", ErrSchemaMismatch, pyName(name), d.DataType(), to)
}

func releaseData(ds []arrow.ArrayData) {
	for _, d := range ds {
		if d != nil {
			d.Release()
		}
	}
}

// listStarts reads list data's offsets: starts(i) is where row i begins
// (row n's start is the end of the last row).
func listStarts(d arrow.ArrayData) func(i int) int64 {
	buf, off := d.Buffers()[1].Bytes(), d.Offset()
	if d.DataType().ID() == arrow.LARGE_LIST {
		o := arrow.Int64Traits.CastFromBytes(buf)
		return func(i int) int64 { return o[off+i] }
	}
	o := arrow.Int32Traits.CastFromBytes(buf)
	return func(i int) int64 { return int64(o[off+i]) }
}

// rebasedOffsets writes rows [0, n]'s offsets minus first in the target
// width.
func rebasedOffsets(starts func(int) int64, n int, first int64, large bool, name string, alloc memory.Allocator) (*memory.Buffer, error) {
	width := 4
	if large {
		width = 8
	}
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize((n + 1) * width)
	if large {
		out := arrow.Int64Traits.CastFromBytes(buf.Bytes())
		for i := 0; i <= n; i++ {
			out[i] = starts(i) - first
		}
		return buf, nil
	}
	out := arrow.Int32Traits.CastFromBytes(buf.Bytes())
	for i := 0; i <= n; i++ {
		v := starts(i) - first
		if v > math.MaxInt32 {
			buf.Release()
			return nil, fmt.Errorf("%w: field %s holds %d list items in one batch, more than a list (32-bit offsets) can: the bucket's field is a list, not a large_list",
				ErrSchemaMismatch, pyName(name), v)
		}
		out[i] = int32(v)
	}
	return buf, nil
}

// rebasedValidity is d's validity bitmap from its offset on (nil without
// nulls), with a reference for the caller.
func rebasedValidity(d arrow.ArrayData, alloc memory.Allocator) *memory.Buffer {
	bitmap := d.Buffers()[0]
	if bitmap == nil || d.NullN() == 0 {
		return nil
	}
	out := memory.NewResizableBuffer(alloc)
	out.Resize(int(bitutil.BytesForBits(int64(d.Len()))))
	bitutil.CopyBitmap(bitmap.Bytes(), d.Offset(), d.Len(), out.Bytes(), 0)
	return out
}
