package file

import (
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// A top-level fixed_size_list of fixed-width items (a vector column) whose
// items have no nulls is appended in bulk: its values are one contiguous
// run of the items buffer, copied once per page, with a def level per row
// and nothing per item. Arrays with null items take the row-by-row path.

// appendVectors is append for a top-level vector column.
func (lw *leafWriter) appendVectors(w *fileWriter, arr arrow.Array) error {
	l, ok := arr.(*array.FixedSizeList)
	if !ok || l.ListValues().NullN() > 0 {
		return lw.appendRows(w, arr)
	}
	n := l.Len()
	if n == 0 {
		return nil
	}
	if l.NullN() > 0 && !lw.nodes[0].field.Nullable {
		return lw.appendRows(w, arr) // reports the error
	}
	data := l.Data()
	items := l.ListValues().Data()
	vb := lw.dim * lw.width
	buf := items.Buffers()[1].Bytes()
	base := (items.Offset() + data.Offset()*lw.dim) * lw.width
	var validity []byte
	if l.NullN() > 0 {
		validity = data.Buffers()[0].Bytes()
	}
	p := &lw.p
	per := int64(vb + 4)
	for i := 0; i < n; {
		k := min(n-i, int(min(lw.maxPageRows-p.rows, maxLevelsPerPage-int64(len(p.def)))))
		k = min(k, int(max((lw.maxPageBytes-p.bytes+per-1)/per, 1)))
		v0 := len(p.fixed)
		p.fixed = append(slices.Grow(p.fixed, lw.pageRowsHint(k)*vb), buf[base+i*vb:base+(i+k)*vb]...)
		d0 := len(p.def)
		p.def = growRows(p.def, k, lw.pageRowsHint(k))
		nulls := 0
		if validity != nil {
			for r := 0; r < k; r++ {
				if !bitutil.BitIsSet(validity, data.Offset()+i+r) {
					p.def[d0+r] = lw.canonNull[0]
					clear(p.fixed[v0+r*vb : v0+(r+1)*vb])
					nulls++
				}
			}
			if nulls > 0 {
				p.hasNull[0] = true
			}
		}
		p.rows += int64(k)
		p.nVis += k
		p.nValid += k - nulls
		p.bytes += int64(k) * per
		i += k
		if p.bytes >= lw.maxPageBytes || p.rows >= lw.maxPageRows || len(p.def) >= maxLevelsPerPage {
			if err := lw.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncItemValid brings the item validity bitmap up to the page's values
// before the row-by-row path adds to it: the bulk path leaves it behind
// (its items are all valid).
func (lw *leafWriter) syncItemValid() {
	p := &lw.p
	want := p.nVis * lw.dim
	if p.itemValidN >= want {
		return
	}
	p.itemValid = growZero(p.itemValid, (want+7)/8-len(p.itemValid))
	bitutil.SetBitsTo(p.itemValid, int64(p.itemValidN), int64(want-p.itemValidN), true)
	p.itemValidN = want
}
