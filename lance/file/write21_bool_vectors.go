package file

import (
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// fixed_size_list<bool> (masks, bool tensors) is written as pylance 14
// writes it at 2.1 and 2.2: mini-block pages whose values are
// FixedSizeList(Flat(1)), one bit stream of dim bits per row (preceded, in
// each chunk, by the items' validity bits when an item is null). A row's
// bits rarely start on a byte, so unlike numeric vectors these are copied
// row by row into p.boolBits (and p.itemValid) rather than kept as
// segments of the appended arrays. pylance never moves them to full-zip:
// it keeps rows of up to 32,736 bits (about 4 KiB) in mini-block chunks
// and refuses wider ones; we write those a row per chunk, which pylance
// reads (up to the 32 KiB chunks of 2.1).

// pushBoolVector appends row i of l, a valid row: its dim bits and their
// validity. A null item's bit is stored clear, whatever the array holds.
func (lw *leafWriter) pushBoolVector(l *array.FixedSizeList, i int) {
	p := &lw.p
	items := l.ListValues().Data()
	first := items.Offset() + (l.Data().Offset()+i)*lw.dim // bit of the row's first item
	// a matrix: its items below the layers (write21_matrices.go)
	if len(lw.outer) > 0 {
		arr, f := lw.pushMatrixValidity(l, l.Data().Offset()+i)
		items = arr.Data()
		first = items.Offset() + f
	}
	at := p.nVis * lw.dim
	p.boolBits = growBits(p.boolBits, at+lw.dim)
	if vals := items.Buffers()[1]; vals != nil {
		bitutil.CopyBitmap(vals.Bytes(), first, lw.dim, p.boolBits, at)
	}
	p.itemValid = growBits(p.itemValid, at+lw.dim)
	if v := items.Buffers()[0]; v != nil && items.NullN() > 0 {
		bitutil.CopyBitmap(v.Bytes(), first, lw.dim, p.itemValid, at)
		if nulls := lw.dim - bitutil.CountSetBits(p.itemValid, at, lw.dim); nulls > 0 {
			p.itemNulls = true
			for k := at; k < at+lw.dim; k++ {
				if !bitutil.BitIsSet(p.itemValid, k) {
					bitutil.ClearBit(p.boolBits, k)
				}
			}
		}
	} else {
		bitutil.SetBitsTo(p.itemValid, int64(at), int64(lw.dim), true)
	}
	p.itemValidN = at + lw.dim
	p.bytes += int64((lw.dim + 7) / 8)
}

// pushNullBoolVector appends a null row: dim clear bits, all valid (as for
// numeric vectors).
func (lw *leafWriter) pushNullBoolVector() {
	p := &lw.p
	lw.pushMatrixValidity(nil, 0)
	at := p.nVis * lw.dim
	p.boolBits = growBits(p.boolBits, at+lw.dim)
	p.itemValid = growBits(p.itemValid, at+lw.dim)
	bitutil.SetBitsTo(p.itemValid, int64(at), int64(lw.dim), true)
	p.itemValidN = at + lw.dim
	p.bytes += int64((lw.dim + 7) / 8)
}

// growBits extends bitmap b, whose bits past the ones in use are clear, to
// hold n bits.
func growBits(b []byte, n int) []byte {
	return growZero(b, (n+7)/8-len(b))
}

// boolVectorChunk returns the value buffers of visible values [a, b) of a
// bool vector page: the items' validity bits when an item is null, then
// their bits.
func (lw *leafWriter) boolVectorChunk(a, b int) [][]byte {
	p := &lw.p
	n := (b - a) * lw.dim
	data := make([]byte, (n+7)/8)
	bitutil.CopyBitmap(p.boolBits, a*lw.dim, n, data, 0)
	if len(lw.outer) > 0 {
		return append(lw.matrixValidity(a, b), data)
	}
	if !p.itemNulls {
		return [][]byte{data}
	}
	valid := make([]byte, (n+7)/8)
	bitutil.CopyBitmap(p.itemValid, a*lw.dim, n, valid, 0)
	return [][]byte{valid, data}
}
