package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// offsetSet is a set of record offsets (indexes), any int64 >= 0: a 32-bit
// roaring bitmap of the low 32 bits per distinct high 32 bits, ascending by
// high, none empty. It is what consumption and the cleared offsets keep.
//
// Why not roaring64.Bitmap: it hides its per-high bitmaps and has no
// CardinalityInRange, so the next absent value could only be found by Rank
// (cost: every container below the probe, 1.9 ms per take after 268M
// consumed indexes, see bitmap_search.go) or by walking values. Here the
// searches run on the 32-bit bitmap that holds the value, with the same
// code as before, and a bucket below 2^32 holds exactly one bitmap.
//
// Serialized (writeTo) it is the 32-bit portable Roaring format while every
// value is below 2^32 (what versions before 64-bit offsets wrote and read),
// else the 64-bit portable format of the Roaring format spec (a u64 LE count
// of bitmaps, then per bitmap its u32 LE high bits and the 32-bit portable
// bitmap, ascending): the same bytes roaring64.Bitmap.WriteTo writes.
type offsetSet struct {
	highs []uint32
	bms   []*roaring.Bitmap
}

func newOffsetSet() *offsetSet { return &offsetSet{} }

// offsetSetOf is a set of values (tests, small sets).
func offsetSetOf(values ...int64) *offsetSet {
	s := newOffsetSet()
	for _, v := range values {
		s.add(v)
	}
	return s
}

// fromBitmap32 wraps a 32-bit bitmap (it becomes the set's own).
func fromBitmap32(bm *roaring.Bitmap) *offsetSet {
	s := newOffsetSet()
	if !bm.IsEmpty() {
		s.highs, s.bms = []uint32{0}, []*roaring.Bitmap{bm}
	}
	return s
}

func split(v int64) (uint32, uint32) { return uint32(uint64(v) >> 32), uint32(v) }

func join(high, low uint32) int64 { return int64(high)<<32 | int64(low) }

// find is the position of high's bitmap, or where it would go.
func (s *offsetSet) find(high uint32) (int, bool) {
	if len(s.highs) == 1 { // the common case: every offset below 2^32
		if s.highs[0] >= high {
			return 0, s.highs[0] == high
		}
		return 1, false
	}
	i := sort.Search(len(s.highs), func(i int) bool { return s.highs[i] >= high })
	return i, i < len(s.highs) && s.highs[i] == high
}

// bitmap is high's bitmap, created if absent.
func (s *offsetSet) bitmap(high uint32) *roaring.Bitmap {
	i, ok := s.find(high)
	if !ok {
		s.highs = append(s.highs, 0)
		copy(s.highs[i+1:], s.highs[i:])
		s.highs[i] = high
		s.bms = append(s.bms, nil)
		copy(s.bms[i+1:], s.bms[i:])
		s.bms[i] = roaring.New()
	}
	return s.bms[i]
}

// dropEmpty removes the bitmaps an operation emptied.
func (s *offsetSet) dropEmpty() {
	n := 0
	for i, bm := range s.bms {
		if !bm.IsEmpty() {
			s.highs[n], s.bms[n] = s.highs[i], bm
			n++
		}
	}
	clear(s.bms[n:])
	s.highs, s.bms = s.highs[:n], s.bms[:n]
}

func (s *offsetSet) add(v int64) {
	high, low := split(v)
	if n := len(s.highs); n > 0 && s.highs[n-1] == high { // ascending adds, and any set below 2^32
		s.bms[n-1].Add(low)
		return
	}
	s.bitmap(high).Add(low)
}

func (s *offsetSet) contains(v int64) bool {
	if v < 0 {
		return false
	}
	high, low := split(v)
	if len(s.highs) == 1 { // every offset below 2^32, or in one 2^32 range
		return s.highs[0] == high && s.bms[0].Contains(low)
	}
	i, ok := s.find(high)
	return ok && s.bms[i].Contains(low)
}

func (s *offsetSet) isEmpty() bool { return len(s.bms) == 0 }

func (s *offsetSet) cardinality() int64 {
	var n uint64
	for _, bm := range s.bms {
		n += bm.GetCardinality()
	}
	return int64(n)
}

// minimum and maximum of a non-empty set.
func (s *offsetSet) minimum() int64 { return join(s.highs[0], s.bms[0].Minimum()) }

func (s *offsetSet) maximum() int64 {
	n := len(s.bms) - 1
	return join(s.highs[n], s.bms[n].Maximum())
}

func (s *offsetSet) clone() *offsetSet {
	c := &offsetSet{highs: append([]uint32(nil), s.highs...), bms: make([]*roaring.Bitmap, len(s.bms))}
	for i, bm := range s.bms {
		c.bms[i] = bm.Clone()
	}
	return c
}

func (s *offsetSet) equals(o *offsetSet) bool {
	if len(s.highs) != len(o.highs) {
		return false
	}
	for i := range s.highs {
		if s.highs[i] != o.highs[i] || !s.bms[i].Equals(o.bms[i]) {
			return false
		}
	}
	return true
}

// or adds o's values.
func (s *offsetSet) or(o *offsetSet) {
	for i, high := range o.highs {
		s.bitmap(high).Or(o.bms[i])
	}
}

// andNot removes o's values.
func (s *offsetSet) andNot(o *offsetSet) {
	for i, high := range o.highs {
		if j, ok := s.find(high); ok {
			s.bms[j].AndNot(o.bms[i])
		}
	}
	s.dropEmpty()
}

// removeBelow removes the values < v.
func (s *offsetSet) removeBelow(v int64) {
	if v <= 0 {
		return
	}
	high, low := split(v)
	for i, h := range s.highs {
		switch {
		case h < high:
			s.bms[i].Clear()
		case h == high:
			s.bms[i].RemoveRange(0, uint64(low))
		}
	}
	s.dropEmpty()
}

// removeFrom removes the values >= v (v >= 0).
func (s *offsetSet) removeFrom(v int64) {
	high, low := split(v)
	for i, h := range s.highs {
		switch {
		case h > high:
			s.bms[i].Clear()
		case h == high:
			s.bms[i].RemoveRange(uint64(low), math.MaxUint32+1)
		}
	}
	s.dropEmpty()
}

// countBelow is how many values are < v.
func (s *offsetSet) countBelow(v int64) int64 {
	if v <= 0 {
		return 0
	}
	high, low := split(v)
	var n uint64
	for i, h := range s.highs {
		switch {
		case h < high:
			n += s.bms[i].GetCardinality()
		case h == high && low > 0:
			n += s.bms[i].Rank(low - 1)
		}
	}
	return int64(n)
}

// nextAbsent is the smallest value >= from (>= 0) the set does not hold, or
// -1 when it holds every one up to math.MaxInt64.
func (s *offsetSet) nextAbsent(from int64) int64 {
	for {
		high, low := split(from)
		i, ok := s.find(high)
		if !ok {
			return from
		}
		if v := nextAbsent(s.bms[i], low); v >= 0 {
			return join(high, uint32(v))
		}
		if high == math.MaxInt32 { // every value up to math.MaxInt64
			return -1
		}
		from = join(high+1, 0) // this bitmap is full from low on
	}
}

// nextPresent is the smallest value >= from (>= 0) the set holds, or -1.
func (s *offsetSet) nextPresent(from int64) int64 {
	high, low := split(from)
	i, ok := s.find(high)
	if ok {
		if v := nextPresent(s.bms[i], low); v >= 0 {
			return join(high, uint32(v))
		}
		i++
	}
	if i < len(s.bms) {
		return join(s.highs[i], s.bms[i].Minimum())
	}
	return -1
}

// each calls fn with every value, ascending.
func (s *offsetSet) each(fn func(int64)) {
	for i, bm := range s.bms {
		it := bm.Iterator()
		for it.HasNext() {
			fn(join(s.highs[i], it.Next()))
		}
	}
}

func (s *offsetSet) runOptimize() {
	for _, bm := range s.bms {
		bm.RunOptimize()
	}
}

// fits32 says whether every value is below 2^32: the set serializes as a
// 32-bit bitmap, the format versions before 64-bit offsets read.
func (s *offsetSet) fits32() bool {
	return len(s.highs) == 0 || (len(s.highs) == 1 && s.highs[0] == 0)
}

// writeTo serializes the set: the 32-bit portable format when fits32, else
// the 64-bit portable format (see offsetSet).
func (s *offsetSet) writeTo(w io.Writer) error {
	s.runOptimize()
	if s.fits32() {
		bm := roaring.New()
		if len(s.bms) == 1 {
			bm = s.bms[0]
		}
		_, err := bm.WriteTo(w)
		return err
	}
	var head [8]byte
	binary.LittleEndian.PutUint64(head[:], uint64(len(s.highs)))
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	for i, high := range s.highs {
		binary.LittleEndian.PutUint32(head[:4], high)
		if _, err := w.Write(head[:4]); err != nil {
			return err
		}
		if _, err := s.bms[i].WriteTo(w); err != nil {
			return err
		}
	}
	return nil
}

// readOffsetSet decodes what writeTo wrote (wide: the 64-bit format). A
// malformed 32-bit bitmap may make roaring panic: the callers recover.
func readOffsetSet(data []byte, wide bool) (*offsetSet, error) {
	r := bytes.NewReader(data)
	if !wide {
		bm := roaring.New()
		if _, err := bm.ReadFrom(r); err != nil {
			return nil, err
		}
		return fromBitmap32(bm), nil
	}
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("64-bit offsets: %w", err)
	}
	n := binary.LittleEndian.Uint64(head[:])
	if n > uint64(r.Len())/12 { // each bitmap takes at least its high bits and an 8-byte header
		return nil, fmt.Errorf("64-bit offsets: %d bitmaps in %d bytes", n, r.Len())
	}
	s := newOffsetSet()
	for i := uint64(0); i < n; i++ {
		if _, err := io.ReadFull(r, head[:4]); err != nil {
			return nil, fmt.Errorf("64-bit offsets: %w", err)
		}
		high := binary.LittleEndian.Uint32(head[:4])
		if high > math.MaxInt32 || (i > 0 && high <= s.highs[len(s.highs)-1]) {
			return nil, fmt.Errorf("64-bit offsets: high bits %d out of order or past the int64 range", high)
		}
		bm := roaring.New()
		if _, err := bm.ReadFrom(r); err != nil {
			return nil, fmt.Errorf("64-bit offsets: bitmap %d: %w", i, err)
		}
		if !bm.IsEmpty() {
			s.highs, s.bms = append(s.highs, high), append(s.bms, bm)
		}
	}
	return s, nil
}
