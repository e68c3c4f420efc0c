package file

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// Fixed-size lists of fixed-size lists (matrices, fixed_size_list<
// fixed_size_list<float32, 3>, 2>) are one leaf of all their items, as
// pylance 14 writes them: the value encoding nests a FixedSizeList per
// layer, FixedSizeList{2, FixedSizeList{3, Flat{32}}}, and each layer whose
// entries have a null in the page stores their validity (has_validity).
// A mini-block chunk holds those validity bitmaps, outermost layer first,
// then the items' values; a full-zip value holds each one's bits for the
// value (whole bytes per layer), then its items. The value's own validity
// is in the def levels, like a vector's. leafWriter.dim counts the items of
// a value, and its item validity is the innermost layer's.

// matrixLayers is, for a fixed_size_list of fixed_size_lists, the entries
// per value of each layer above the items (outermost first); nil for a
// fixed_size_list of items.
func matrixLayers(dt arrow.DataType) []int {
	var per []int
	n := 1
	for {
		l, ok := dt.(*arrow.FixedSizeListType)
		if !ok {
			break
		}
		n *= int(l.Len())
		per = append(per, n)
		dt = l.Elem()
	}
	if len(per) < 2 {
		return nil
	}
	return per[:len(per)-1]
}

// pushMatrixValidity appends the validity of the layers above the items of
// value row of l to the pending page (l nil: a null value, every entry
// valid) and returns the items' array and the value's first item in it.
func (lw *leafWriter) pushMatrixValidity(l *array.FixedSizeList, row int) (arrow.Array, int) {
	p := &lw.p
	if len(lw.outer) == 0 {
		return nil, 0
	}
	var cur arrow.Array = l
	for k, per := range lw.outer {
		at := p.nVis * per
		p.outerValid[k] = growBits(p.outerValid[k], at+per)
		if l == nil {
			bitutil.SetBitsTo(p.outerValid[k], int64(at), int64(per), true)
			continue
		}
		fl := cur.(*array.FixedSizeList)
		d := int(fl.DataType().(*arrow.FixedSizeListType).Len())
		child := fl.ListValues()
		row *= d // the value's first entry in child
		n := per
		for j := 0; j < n; j++ {
			ok := child.IsValid(row + j)
			if !ok {
				p.outerNulls[k] = true
			}
			bitutil.SetBitTo(p.outerValid[k], at+j, ok)
		}
		cur = child
		row += child.Data().Offset()
	}
	if l == nil {
		return nil, 0
	}
	fl := cur.(*array.FixedSizeList)
	return fl.ListValues(), row * int(fl.DataType().(*arrow.FixedSizeListType).Len())
}

// matrixEncoding is the value encoding of a matrix page: the nested
// FixedSizeLists, and the validity buffers each chunk holds.
func (lw *leafWriter) matrixEncoding(itemBits int) ([]byte, int) {
	p := &lw.p
	dims := lw.matrixDims()
	enc := encFlat21(uint64(itemBits))
	bufs := 1
	for k := len(dims) - 1; k >= 0; k-- {
		valid := p.itemNulls
		if k < len(lw.outer) {
			valid = p.outerNulls[k]
		}
		if valid {
			bufs++
		}
		enc = encFSLOf21(dims[k], enc, valid)
	}
	return enc, bufs
}

// matrixDims is the items per entry of each layer, outermost first.
func (lw *leafWriter) matrixDims() []int {
	dims := make([]int, 0, len(lw.outer)+1)
	prev := 1
	for _, per := range lw.outer {
		dims = append(dims, per/prev)
		prev = per
	}
	return append(dims, lw.dim/prev)
}

// matrixValidity returns the validity bitmaps a chunk (or a full-zip value)
// of values [a, b) stores: each layer with a null in the page, outermost
// first, the items' last.
func (lw *leafWriter) matrixValidity(a, b int) [][]byte {
	p := &lw.p
	var out [][]byte
	for k, per := range lw.outer {
		if p.outerNulls[k] {
			v := make([]byte, ((b-a)*per+7)/8)
			bitutil.CopyBitmap(p.outerValid[k], a*per, (b-a)*per, v, 0)
			out = append(out, v)
		}
	}
	if p.itemNulls {
		v := make([]byte, ((b-a)*lw.dim+7)/8)
		bitutil.CopyBitmap(p.itemValid, a*lw.dim, (b-a)*lw.dim, v, 0)
		out = append(out, v)
	}
	return out
}

// validityBytes is the bytes of item and layer validity that n values of
// the page store (a full-zip value: n = 1; a chunk: its values).
func (lw *leafWriter) validityBytes(n int) int {
	bytes := 0
	for k, per := range lw.outer {
		if lw.p.outerNulls[k] {
			bytes += (n*per + 7) / 8
		}
	}
	if lw.p.itemNulls {
		bytes += (n*lw.dim + 7) / 8
	}
	return bytes
}

// anyOuterNulls reports whether a layer above the items has a null.
func (lw *leafWriter) anyOuterNulls() bool {
	for _, n := range lw.p.outerNulls {
		if n {
			return true
		}
	}
	return false
}
