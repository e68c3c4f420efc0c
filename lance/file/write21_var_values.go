package file

import (
	"sort"

	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// pageValues locates the bytes of a string page's values for the encoders
// that read them one by one (FSST, dictionaries): value i is bytes [ends[i-1], ends[i])
// of the page's valid bytes laid end to end, and those lie in parts: the
// arrays a flat leaf appended (no copy) or one buffer.
type pageValues struct {
	ends  []uint64
	parts []valuesPart // by first
}

// valuesPart holds values [first, the next part's first): value i is
// data[start(i)+shift : ends[i]+shift].
type valuesPart struct {
	first int
	data  []byte
	shift int
}

// contiguousValues is pageValues over data laid out as ends say.
func contiguousValues(data []byte, ends []uint64) *pageValues {
	return &pageValues{ends: ends, parts: []valuesPart{{data: data}}}
}

func (pv *pageValues) start(i int) int {
	if i == 0 {
		return 0
	}
	return int(pv.ends[i-1])
}

// value returns value i; its capacity reaches to the end of its buffer, so
// the encoders may load whole words past the value's end (compressRange).
func (pv *pageValues) value(i int) []byte {
	p := pv.parts[sort.Search(len(pv.parts), func(k int) bool { return pv.parts[k].first > i })-1]
	return p.data[pv.start(i)+p.shift : int(pv.ends[i])+p.shift : len(p.data)]
}

// each calls fn for every part holding some of values [a, b): values
// [pa, pb) of it, in data shifted by shift; it stops when fn returns false.
func (pv *pageValues) each(a, b int, fn func(data []byte, shift, pa, pb int) bool) {
	k := sort.Search(len(pv.parts), func(k int) bool { return pv.parts[k].first > a }) - 1
	for ; a < b; k++ {
		end := b
		if k+1 < len(pv.parts) {
			end = min(b, pv.parts[k+1].first)
		}
		if !fn(pv.parts[k].data, pv.parts[k].shift, a, end) {
			return
		}
		a = end
	}
}

// varValues returns the pending string page's values: in the arrays of a
// flat leaf when they lie there as the page lays them out (no null holds
// bytes), else in the copy materializeVar makes.
func (lw *leafWriter) varValues() *pageValues {
	p := &lw.p
	pv := &pageValues{ends: p.offs[:p.nVis]}
	if lw.isFlat() {
		for _, s := range p.segs {
			if nullsHoldBytes(&s) {
				pv.parts = nil
				break
			}
			pv.parts = append(pv.parts, valuesPart{first: s.first, data: s.vals, shift: int(s.offs.at(s.pos)) - pv.start(s.first)})
		}
		if pv.parts != nil {
			return pv
		}
	}
	lw.materializeVar()
	return contiguousValues(p.data, pv.ends)
}

// nullsHoldBytes reports whether a null of string segment s has bytes
// (Arrow allows it; the page leaves them out).
func nullsHoldBytes(s *flatSeg) bool {
	if s.validity == nil {
		return false
	}
	for r := range s.n {
		if !bitutil.BitIsSet(s.validity, s.vpos+r) && s.offs.at(s.pos+r+1) != s.offs.at(s.pos+r) {
			return true
		}
	}
	return false
}
