package main

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Arrow Go's C Data exporter (v17) writes a struct array's own offset but
// its children already sliced by that offset, so a consumer applies the
// offset twice and reads past the children: pyarrow refuses or aborts.
// Struct arrays with an offset reach a read whenever it returns buffered rows
// from an offset (a slice of the buffer) or rows appended as a sliced batch.
// exportableRecord gives every struct array, at any depth, offset 0 before
// export: its children are sliced instead (no copy) and its validity bitmap
// is sliced too when the offset is a whole byte, else copied (one bit a row).

// exportableRecord returns rec, retained, when no struct array in it has an
// offset, else a new record whose struct arrays start at offset 0; the caller
// releases the result. Copied bitmaps come from alloc.
func exportableRecord(rec arrow.Record, alloc memory.Allocator) arrow.Record {
	var cols []arrow.Array
	for i, col := range rec.Columns() {
		d, changed := structOffsetsZero(col.Data(), alloc)
		if !changed {
			continue
		}
		if cols == nil {
			cols = make([]arrow.Array, rec.NumCols())
			for j, c := range rec.Columns() {
				c.Retain()
				cols[j] = c
			}
		}
		cols[i].Release()
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	if cols == nil {
		rec.Retain()
		return rec
	}
	out := array.NewRecord(rec.Schema(), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// structOffsetsZero returns d rebuilt so that no struct array in it has an
// offset, and true; or d itself and false when nothing needed it. A returned
// rebuilt data carries one reference for the caller.
func structOffsetsZero(d arrow.ArrayData, alloc memory.Allocator) (arrow.ArrayData, bool) {
	children := d.Children()
	offset, length := d.Offset(), d.Len()
	isStruct := d.DataType().ID() == arrow.STRUCT
	var newChildren []arrow.ArrayData
	changed := isStruct && offset != 0
	for i, c := range children {
		if changed && isStruct {
			c = array.NewSliceData(c, int64(offset), int64(offset+length))
			defer c.Release()
		}
		nc, childChanged := structOffsetsZero(c, alloc)
		if childChanged {
			defer nc.Release()
			changed = true
		}
		if newChildren == nil {
			newChildren = make([]arrow.ArrayData, len(children))
			copy(newChildren, children)
		}
		newChildren[i] = nc
	}
	var dict arrow.ArrayData
	if d.DataType().ID() == arrow.DICTIONARY { // Dictionary() of other data is a typed nil
		nd, dictChanged := structOffsetsZero(d.Dictionary(), alloc)
		if dictChanged {
			defer nd.Release()
			changed = true
		}
		dict = nd
	}
	if !changed {
		return d, false
	}
	buffers := d.Buffers()
	if isStruct && offset != 0 {
		validity := shiftedValidity(d, alloc)
		if validity != nil {
			defer validity.Release()
		}
		buffers, offset = []*memory.Buffer{validity}, 0
	}
	var out arrow.ArrayData
	if dict != nil {
		out = array.NewDataWithDictionary(d.DataType(), length, buffers, d.NullN(), offset, dict.(*array.Data))
	} else {
		out = array.NewData(d.DataType(), length, buffers, newChildren, d.NullN(), offset)
	}
	return out, true
}

// shiftedValidity returns struct data d's validity bitmap starting at bit 0
// (nil when d has no nulls), with one reference for the caller.
func shiftedValidity(d arrow.ArrayData, alloc memory.Allocator) *memory.Buffer {
	bitmap := d.Buffers()[0]
	if bitmap == nil || d.NullN() == 0 {
		return nil
	}
	offset, length := d.Offset(), d.Len()
	size := int(bitutil.BytesForBits(int64(length)))
	if offset%8 == 0 {
		return memory.SliceBuffer(bitmap, offset/8, size)
	}
	out := memory.NewResizableBuffer(alloc)
	out.Resize(size)
	bitutil.CopyBitmap(bitmap.Bytes(), offset, length, out.Bytes(), 0)
	return out
}
