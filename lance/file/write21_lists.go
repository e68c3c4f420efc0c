package file

import (
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// A top-level list (or large list) of fixed-width numbers whose items have
// no nulls is appended list by list rather than item by item: a list's
// levels are one run (repetition maxRep then 0s, definition 0s) and its
// values one copy of the items buffer. The levels and values are exactly
// those walk would produce.

// listFastPath switches appendLists on; tests turn it off to compare its
// files with walk's byte for byte.
var listFastPath = true

// appendLists is append for such a column; other arrays take appendRows.
func (lw *leafWriter) appendLists(w *fileWriter, arr arrow.Array) error {
	l, ok := arr.(array.ListLike)
	if !listFastPath || !ok || l.ListValues().NullN() > 0 || (arr.NullN() > 0 && !lw.nodes[0].field.Nullable) {
		return lw.appendRows(w, arr)
	}
	vals := l.ListValues().Data()
	buf := vals.Buffers()[1]
	if buf == nil {
		return lw.appendRows(w, arr)
	}
	b := buf.Bytes()
	wd := lw.width
	base := vals.Offset()
	p := &lw.p
	// Room for the array's items, or as many as the page takes, at once
	// rather than by doubling.
	if n := arr.Len(); n > 0 {
		first, _ := l.ValueOffsets(0)
		_, last := l.ValueOffsets(n - 1)
		items := int(max(min(last-first+int64(n), (lw.maxPageBytes-p.bytes)/int64(4+wd)+1), 0))
		p.rep = slices.Grow(p.rep, items)
		p.def = slices.Grow(p.def, items)
		p.fixed = slices.Grow(p.fixed, items*wd)
	}
	for i := 0; i < arr.Len(); i++ {
		start, end := l.ValueOffsets(i)
		switch {
		case arr.IsNull(i):
			lw.emit(lw.maxRep, lw.canonNull[0])
			p.hasNull[0] = true
			if lw.nodes[1].field.Nullable {
				p.hasNull[1] = true // as walk marks the layers below a null
			}
			p.invisible++
		case end <= start:
			lw.emit(lw.maxRep, lw.canonEmpty[0])
			p.hasEmpty[0] = true
			p.invisible++
		default:
			n := int(end - start)
			p.rep = append(p.rep, lw.maxRep)
			p.rep = growZero(p.rep, n-1)
			p.def = growZero(p.def, n)
			p.fixed = append(p.fixed, b[(base+int(start))*wd:(base+int(end))*wd]...)
			p.bytes += int64(n * (4 + wd))
			p.nVis += n
			p.nValid += n
		}
		p.rows++
		if p.bytes >= lw.maxPageBytes || p.rows >= lw.maxPageRows || p.invisible >= maxInvisiblePerPage ||
			len(p.def) >= maxLevelsPerPage {
			if err := lw.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}
