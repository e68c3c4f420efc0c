package file

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// A top-level fixed_size_list of fixed-width items (a vector column) whose
// items have no nulls is appended in bulk, with a def level per row and
// nothing per item. Like a flat column's (write21_flat.go), its pending
// page keeps segments of the appended arrays instead of copying them: the
// chunks (or full-zip values) are built straight from the Arrow buffers
// when the page is written, so a vector is copied once, into the file
// writer's buffer. An array with null items takes the row-by-row path,
// which copies values (and their validity) into p.fixed; a page that gets
// one has its segments copied there first (materializeVectors), and takes
// every later row by copy too.

// appendVectors is append for a top-level vector column.
func (lw *leafWriter) appendVectors(w *fileWriter, arr arrow.Array) error {
	l, ok := arr.(*array.FixedSizeList)
	if !ok || l.ListValues().NullN() > 0 || l.NullN() > 0 && !lw.nodes[0].field.Nullable {
		lw.materializeVectors()
		return lw.appendRows(w, arr) // null items; or the error
	}
	n := l.Len()
	if n == 0 {
		return nil
	}
	data := l.Data()
	items := l.ListValues().Data()
	vb := lw.dim * lw.width
	var vals []byte
	if b := items.Buffers()[1]; b != nil {
		vals = b.Bytes()[(items.Offset()+data.Offset()*lw.dim)*lw.width:]
	}
	var validity []byte
	if l.NullN() > 0 {
		validity = data.Buffers()[0].Bytes()
	}
	p := &lw.p
	per := int64(vb + 4)
	for i := 0; i < n; {
		k := min(n-i, int(min(lw.maxPageRows-p.rows, maxLevelsPerPage-int64(len(p.def)))))
		k = min(k, int(max((lw.maxPageBytes-p.bytes+per-1)/per, 1)))
		d0 := len(p.def)
		p.def = growRows(p.def, k, lw.pageRowsHint(k))
		nulls := 0
		if validity != nil {
			nulls = k - bitutil.CountSetBits(validity, data.Offset()+i, k)
			for r := 0; r < k && nulls > 0; r++ {
				if !bitutil.BitIsSet(validity, data.Offset()+i+r) {
					p.def[d0+r] = lw.canonNull[0]
				}
			}
			if nulls > 0 {
				p.hasNull[0] = true
			}
		}
		seg := flatSeg{first: p.nVis, n: k, pos: i, vpos: data.Offset() + i, vals: vals}
		if nulls > 0 {
			seg.validity = validity
		}
		if lw.vectorsCopied() {
			p.fixed = appendSegValues(p.fixed, &seg, 0, k, vb)
		} else {
			p.segs = append(p.segs, seg)
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

// vectorsCopied reports whether the pending page of a vector column holds
// its values in p.fixed (it has taken rows by the row-by-row path) rather
// than in segments.
func (lw *leafWriter) vectorsCopied() bool {
	return len(lw.p.segs) == 0 && lw.p.nVis > 0
}

// materializeVectors copies the values of the pending page's segments into
// p.fixed, before the row-by-row path appends to it.
func (lw *leafWriter) materializeVectors() {
	p := &lw.p
	if len(p.segs) == 0 {
		return
	}
	vb := lw.dim * lw.width
	p.fixed = p.fixed[:0]
	for i := range p.segs {
		p.fixed = appendSegValues(p.fixed, &p.segs[i], 0, p.segs[i].n, vb)
	}
	clear(p.segs) // drop the references to the arrays
	p.segs = p.segs[:0]
}

// appendSegValues appends the values of rows [r0, r1) of segment s, each
// wd bytes, to dst: a null row's bytes are zeroed.
func appendSegValues(dst []byte, s *flatSeg, r0, r1, wd int) []byte {
	n := len(dst)
	dst = append(dst, s.vals[(s.pos+r0)*wd:(s.pos+r1)*wd]...)
	if s.validity != nil {
		for r := r0; r < r1; r++ {
			if !bitutil.BitIsSet(s.validity, s.vpos+r) {
				o := n + (r-r0)*wd
				clear(dst[o : o+wd])
			}
		}
	}
	return dst
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
