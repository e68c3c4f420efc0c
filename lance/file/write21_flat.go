package file

import (
	"fmt"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// A top-level column of a flat type (number, bool, string, binary) has one
// level and one visible value per row, so its pending page need not copy
// the values: it keeps segments of the appended Arrow arrays (alive for the
// whole WriteFile call) and the page's chunks are built from them as they
// are written. The page costs 2 bytes of def level per row (plus 8 of end
// offset for strings) instead of a copy of the column.

// flatSeg is a run of rows of one appended array.
type flatSeg struct {
	first    int    // page value index of the segment's first row
	n        int    // rows
	pos      int    // the first row's index in vals (fixed, bool: offset included) or offs (var)
	vpos     int    // the first row's bit in validity (offset included)
	vals     []byte // fixed: value buffer; bool: value bitmap; var: data buffer
	validity []byte // nil when the run has no null
	offs     offsetsView
}

// isFlat reports whether the leaf keeps segments (see above).
func (lw *leafWriter) isFlat() bool {
	return len(lw.nodes) == 1 && lw.kind != leafFSL && lw.kind != leafBoolFSL
}

// appendFlat is append for a flat top-level column: one level per row and
// a segment per page the array reaches.
func (lw *leafWriter) appendFlat(w *fileWriter, arr arrow.Array) error {
	n := arr.Len()
	if n == 0 {
		return nil
	}
	if arr.NullN() > 0 && !lw.nodes[0].field.Nullable {
		return fmt.Errorf("field %q is not nullable but has nulls", lw.name)
	}
	data := arr.Data()
	off := data.Offset()
	var validity []byte
	if arr.NullN() > 0 {
		validity = data.Buffers()[0].Bytes()
	}
	var offs offsetsView
	var vals []byte
	if lw.kind == leafVar {
		var err error
		if offs, vals, err = binaryOffsets(arr); err != nil {
			return err
		}
	} else if b := data.Buffers()[1]; b != nil {
		vals = b.Bytes()
	}
	p := &lw.p
	for i := 0; i < n; {
		k := min(n-i, int(min(lw.maxPageRows-p.rows, maxLevelsPerPage-int64(p.nVis))))
		switch lw.kind {
		case leafFixed:
			per := int64(lw.width + 4)
			k = min(k, int(max((lw.maxPageBytes-p.bytes+per-1)/per, 1)))
		case leafBool:
			k = min(k, int(max((lw.maxPageBytes-p.bytes+3)/4, 1)))
		case leafVar:
			k = offs.fit(i, k, lw.maxPageBytes-p.bytes)
		}
		nulls := 0
		if validity != nil {
			nulls = k - bitutil.CountSetBits(validity, off+i, k)
		}
		// Def levels exist only once the page has a null: before, they
		// are all 0 and the page holds p.nVis of them implicitly.
		var def []uint16
		if nulls > 0 || p.hasNull[0] {
			if !p.hasNull[0] {
				p.def = growRows(p.def[:0], p.nVis, lw.pageRowsHint(p.nVis+k))
			}
			d0 := len(p.def)
			p.def = growRows(p.def, k, lw.pageRowsHint(k))
			def = p.def[d0:]
		}
		seg := flatSeg{first: p.nVis, n: k, pos: off + i, vpos: off + i, vals: vals, offs: offs}
		if nulls > 0 {
			seg.validity = validity
			p.hasNull[0] = true
			for r := 0; r < k; r++ {
				if !bitutil.BitIsSet(validity, off+i+r) {
					def[r] = 1
				}
			}
		}
		if lw.kind == leafVar {
			seg.pos = i // offsetsView is indexed like the array
			lw.addVarEnds(offs, i, k, def)
		}
		p.segs = append(p.segs, seg)
		switch lw.kind {
		case leafFixed:
			p.bytes += int64(k * (lw.width + 4))
		case leafBool:
			p.bytes += int64(4 * k)
		}
		p.rows += int64(k)
		p.nVis += k
		p.nValid += k - nulls
		i += k
		if p.bytes >= lw.maxPageBytes || p.rows >= lw.maxPageRows || p.nVis >= maxLevelsPerPage {
			if err := lw.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// pageRowsHint is the capacity worth reserving for per-row page buffers
// that must take k more rows: the rows the file still has to write (at
// least k), capped by the page limits. Growing to it at once instead of
// doubling per appended array halves what a page allocates.
func (lw *leafWriter) pageRowsHint(k int) int {
	left := lw.rowsHint - lw.rowsDone - lw.p.rows
	return int(min(max(left, int64(k)), lw.maxPageRows, maxLevelsPerPage))
}

// growRows extends s by k zero elements; when that needs more capacity, it
// reserves room for want elements past the current ones (at least k).
func growRows[T any](s []T, k, want int) []T {
	if cap(s)-len(s) < k {
		s = slices.Grow(s, max(k, want))
	}
	return growZero(s, k)
}

// sizeHint tells the field's leaves how many rows the file will get.
func (f *fieldWriter21) sizeHint(rows int64) {
	for _, l := range f.leaves {
		l.rowsHint = rows
	}
}

// levelCount is the number of def (and rep) levels of the pending page.
func (lw *leafWriter) levelCount() int {
	if lw.isFlat() {
		return lw.p.nVis // def levels are stored only once there is a null
	}
	return len(lw.p.def)
}

// addVarEnds records the end offsets (in the page's valid bytes) of values
// [i, i+k) of a string/binary array whose def levels are def (non-zero:
// null, no bytes; nil: no null), and their size.
func (lw *leafWriter) addVarEnds(offs offsetsView, i, k int, def []uint16) {
	p := &lw.p
	var end uint64
	if len(p.offs) > 0 {
		end = p.offs[len(p.offs)-1]
	}
	n := len(p.offs)
	p.offs = growRows(p.offs, k, lw.pageRowsHint(k))
	if def != nil {
		def = def[:k]
	}
	var last uint64
	var maxLen int64
	if offs.o64 != nil {
		last, maxLen = varEnds(offs.o64[i:i+k+1], def, p.offs[n:], end)
	} else {
		last, maxLen = varEnds(offs.o32[i:i+k+1], def, p.offs[n:], end)
	}
	p.maxLen = max(p.maxLen, int(maxLen))
	p.bytes += int64(last-end) + int64(8*k)
}

// varEnds stores in ends the running end (from end) of the valid values'
// bytes for the values with offsets o (len(ends)+1 of them) and def levels
// def; it returns the last end and the longest valid value.
func varEnds[T int32 | int64](o []T, def []uint16, ends []uint64, end uint64) (uint64, int64) {
	var maxLen T
	if len(ends) == 0 {
		return end, 0
	}
	_ = o[len(ends)]
	if def == nil { // no null
		for r := range ends {
			l := o[r+1] - o[r]
			maxLen = max(maxLen, l)
			end += uint64(l)
			ends[r] = end
		}
		return end, int64(maxLen)
	}
	_ = def[len(ends)-1]
	for r := range ends {
		l := o[r+1] - o[r]
		if def[r] != 0 {
			l = 0
		}
		maxLen = max(maxLen, l)
		end += uint64(l)
		ends[r] = end
	}
	return end, int64(maxLen)
}

// segIndex returns the index of the segment holding page value v.
func (p *pendingPage) segIndex(v int) int {
	return sort.Search(len(p.segs), func(i int) bool { return p.segs[i].first+p.segs[i].n > v })
}

// eachSegPart calls fn for the parts of the segments holding page values
// [a, b): segment s, rows [r0, r1) of it (segment-relative).
func (p *pendingPage) eachSegPart(a, b int, fn func(s *flatSeg, r0, r1 int)) {
	for i := p.segIndex(a); i < len(p.segs) && a < b; i++ {
		s := &p.segs[i]
		r0 := a - s.first
		r1 := min(b-s.first, s.n)
		fn(s, r0, r1)
		a = s.first + r1
	}
}

// appendFlatValues appends the value buffer of page values [a, b) of a
// flat leaf (or of a vector page held in segments), as chunkBuffers would build it from copied values: values
// under nulls zeroed (bools cleared), a string's bytes only when valid.
func (lw *leafWriter) appendFlatValues(dst []byte, a, b int) []byte {
	p := &lw.p
	switch lw.kind {
	case leafFixed, leafFSL:
		wd := lw.width
		if lw.kind == leafFSL {
			wd *= lw.dim
		}
		p.eachSegPart(a, b, func(s *flatSeg, r0, r1 int) {
			dst = appendSegValues(dst, s, r0, r1, wd)
		})
		return dst
	case leafBool:
		n := len(dst)
		dst = growZero(dst, (b-a+7)/8)
		out := dst[n:]
		p.eachSegPart(a, b, func(s *flatSeg, r0, r1 int) {
			at := s.first + r0 - a
			bitutil.CopyBitmap(s.vals, s.pos+r0, r1-r0, out, at)
			if s.validity != nil {
				for r := r0; r < r1; r++ {
					if !bitutil.BitIsSet(s.validity, s.vpos+r) {
						bitutil.ClearBit(out, at+r-r0)
					}
				}
			}
		})
		return dst
	}
	// leafVar: the valid values' bytes, in runs of contiguous values.
	p.eachSegPart(a, b, func(s *flatSeg, r0, r1 int) {
		if s.validity == nil {
			dst = append(dst, s.vals[s.offs.at(s.pos+r0):s.offs.at(s.pos+r1)]...)
			return
		}
		for r := r0; r < r1; {
			if !bitutil.BitIsSet(s.validity, s.vpos+r) {
				r++
				continue
			}
			e := r + 1
			for e < r1 && bitutil.BitIsSet(s.validity, s.vpos+e) {
				e++
			}
			dst = append(dst, s.vals[s.offs.at(s.pos+r):s.offs.at(s.pos+e)]...)
			r = e
		}
	})
	return dst
}

// materializeVar copies the valid bytes of a flat string page into p.data,
// for the encodings that read them from there (full-zip).
func (lw *leafWriter) materializeVar() {
	p := &lw.p
	if !lw.isFlat() || lw.kind != leafVar || p.nVis == 0 {
		return
	}
	p.data = lw.appendFlatValues(slices.Grow(p.data[:0], int(p.offs[p.nVis-1])), 0, p.nVis)
}
