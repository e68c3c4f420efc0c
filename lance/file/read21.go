package file

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// Reading 2.1+ ("structural") pages. Each page is decoded, for the rows a
// read needs, into a span21: the repetition and definition levels of those
// rows and their visible values (see read21_assemble.go for turning
// spans into Arrow arrays). Layers are listed innermost first:
//
//	layer               def levels used
//	ALL_VALID_ITEM      0
//	ALL_VALID_LIST      0
//	NULLABLE_ITEM       1  (null item / struct)
//	NULLABLE_LIST       1  (null list)
//	EMPTYABLE_LIST      1  (empty list)
//	NULL_AND_EMPTY_LIST 2  (null list, then empty list)
//
// A def level of 0 is a valid value; layer k's levels start after those of
// layers 0..k-1. The rep level of an entry is the number of list layers that
// start a new list there (max = a new row). Null and empty lists take one
// entry without a value slot ("invisible": def above the levels of the item
// layers below the first list).

type span21 struct {
	rows     int
	layers   []repDefLayer
	rep, def []uint16 // nil when absent (all zero)
	vals     *block   // visible values; nil when every visible value is null
	valParts []*block // instead of vals (mini-block pages): the values chunk by chunk
	nVis     int      // number of visible values
	// borrowed: pooled buffers the values point into (read21_borrow.go)
	borrowed [][]byte
}

// maxVisibleDef is the highest def level of a visible entry: the levels
// used by the layers below the first list layer.
func maxVisibleDef(layers []repDefLayer) uint16 {
	var m uint16
	for _, l := range layers {
		if l.isList() {
			break
		}
		m += l.defLevels()
	}
	return m
}

func maxRep(layers []repDefLayer) uint16 {
	var m uint16
	for _, l := range layers {
		if l.isList() {
			m++
		}
	}
	return m
}

// readBuf reads buffer i of page p whole.
func (r *Reader) readBuf(p *pageInfo, i int) ([]byte, error) {
	if i >= len(p.bufOffsets) {
		return nil, fmt.Errorf("page has %d buffers, need buffer %d", len(p.bufOffsets), i)
	}
	return r.readPart(p, i, 0, int64(p.bufSizes[i]))
}

// readPart reads n bytes at off within buffer i of page p.
func (r *Reader) readPart(p *pageInfo, i int, off, n int64) ([]byte, error) {
	if i >= len(p.bufOffsets) {
		return nil, fmt.Errorf("page has %d buffers, need buffer %d", len(p.bufOffsets), i)
	}
	size := int64(p.bufSizes[i])
	if off < 0 || n < 0 || off > size || n > size-off {
		return nil, fmt.Errorf("range [%d, +%d) outside page buffer %d of %d bytes", off, n, i, size)
	}
	// Bounded by the file, not by maxMetadataBytes: a page holds values of
	// any size (one string of 1.5 GB is one full-zip page buffer), and a
	// corrupt page cannot make it allocate more than the file holds.
	start := int64(p.bufOffsets[i]) + off
	if start < 0 || n > r.size-start {
		return nil, fmt.Errorf("page buffer region [%d, +%d) runs past the end of the file (%d bytes)", start, n, r.size)
	}
	if r.mem != nil && start >= 0 && start+n <= int64(len(r.mem)) {
		return r.mem[start : start+n : start+n], nil // decoders never write their input
	}
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if _, err := r.f.ReadAt(b, start); err != nil {
		return nil, err
	}
	return b, nil
}

// readPartBorrowed is readPart into a borrowed buffer (borrowed: hand it
// back when done, read21_borrow.go) when the bytes are not in memory
// already.
func (r *Reader) readPartBorrowed(p *pageInfo, i int, off, n int64) (b []byte, borrowed bool, err error) {
	if i >= len(p.bufOffsets) {
		return nil, false, fmt.Errorf("page has %d buffers, need buffer %d", len(p.bufOffsets), i)
	}
	size := int64(p.bufSizes[i])
	if off < 0 || n < 0 || off > size || n > size-off || n > maxMetadataBytes || r.mem != nil {
		b, err = r.readPart(p, i, off, n) // its errors, or memory
		return b, false, err
	}
	b, borrowed = borrowBytes(n)
	if _, err := r.f.ReadAt(b, int64(p.bufOffsets[i])+off); err != nil {
		if borrowed {
			giveBackBytes(b)
		}
		return nil, false, err
	}
	return b, borrowed, nil
}

// decodeSpan21 decodes page rows [s.from, s.to).
func (r *Reader) decodeSpan21(s pageSpan) (*span21, error) {
	L := s.page.layout
	if L == nil {
		return nil, fmt.Errorf("2.0 page encoding in a %d.%d file", r.major, r.minor)
	}
	var sp *span21
	var err error
	switch L.kind {
	case layoutMiniBlock:
		sp, err = r.miniBlockSpan(s.page, L, int(s.from), int(s.to))
	case layoutConstant:
		sp, err = r.constantSpan(s.page, L, int(s.from), int(s.to))
	case layoutFullZip:
		sp, err = r.fullZipSpan(s.page, L, int(s.from), int(s.to))
	default:
		return nil, fmt.Errorf("page layout %s is not supported", L.name())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", L.describe(), err)
	}
	return sp, nil
}

func (r *Reader) miniBlockSpan(p *pageInfo, L *pageLayout, from, to int) (*span21, error) {
	if L.valueComp == nil {
		return nil, fmt.Errorf("mini-block layout without value compression")
	}
	if L.numBuffers > 64 {
		return nil, fmt.Errorf("%d buffers per chunk not supported", L.numBuffers)
	}
	if len(p.bufOffsets) < 2 {
		return nil, fmt.Errorf("mini-block page with %d buffers", len(p.bufOffsets))
	}
	chunks, err := r.chunkTable(p, L)
	if err != nil {
		return nil, err
	}
	var dict *block
	if L.dict != nil {
		if L.numDictItems > maxBlockValues {
			return nil, fmt.Errorf("dictionary of %d items too large", L.numDictItems)
		}
		db, err := r.readBuf(p, 2)
		if err != nil {
			return nil, err
		}
		if dict, err = decodeBlock(L.dict, db, int(L.numDictItems), nil); err != nil {
			return nil, fmt.Errorf("dictionary: %w", err)
		}
	}
	if L.repComp == nil {
		if uint64(to) > L.numItems {
			return nil, fmt.Errorf("page holds %d items, need %d", L.numItems, to)
		}
		first := sort.Search(len(chunks), func(i int) bool { return chunks[i].start+chunks[i].items > from })
		last := sort.Search(len(chunks), func(i int) bool { return chunks[i].start >= to })
		return r.miniBlockFlat(p, L, chunks, dict, first, last, from, to)
	}
	if first, last, base, ok := r.repIndexChunks(p, L, len(chunks), from, to); ok {
		if sp, err := r.miniBlockRows(p, L, chunks, dict, first, last, base, from, to); err == nil {
			return sp, nil
		}
		// the index disagrees with the levels: decode the whole page,
		// which reports a real corruption
	}
	return r.miniBlockRows(p, L, chunks, dict, 0, len(chunks), 0, from, to)
}

// repIndexChunks uses a page's repetition index (its last buffer: per chunk
// repetition_index_depth+1 u64s, the first counting the rows that end in
// the chunk) to find the chunks [first, last) holding page rows [from, to)
// and base, the number of rows that end before chunk first. ok is false
// when the page has no usable index.
func (r *Reader) repIndexChunks(p *pageInfo, L *pageLayout, nChunks, from, to int) (first, last, base int, ok bool) {
	if L.repIndexDepth == 0 || L.repIndexDepth > 16 || from >= to {
		return 0, 0, 0, false
	}
	minBuf := 2
	if L.dict != nil {
		minBuf = 3
	}
	ix := len(p.bufOffsets) - 1
	per := int(L.repIndexDepth) + 1
	if ix < minBuf || p.bufSizes[ix] != uint64(8*per*nChunks) {
		return 0, 0, 0, false
	}
	b, err := r.readBuf(p, ix)
	if err != nil {
		return 0, 0, 0, false
	}
	// first: the last chunk with fewer than from rows ended before it (row
	// from-1 ends in it, so row from starts in it or opens the next);
	// last: one past the chunk where row to-1 ends
	cum := 0
	for c := 0; c < nChunks; c++ {
		if cum < from {
			first, base = c, cum
		}
		ended := binary.LittleEndian.Uint64(b[8*per*c:])
		if ended > uint64(maxBlockValues) {
			return 0, 0, 0, false
		}
		cum += int(ended)
		if cum >= to {
			return first, c + 1, base, true
		}
	}
	return 0, 0, 0, false
}

// miniBlockFlat decodes page rows [from, to) of a mini-block page without
// repetition (one level and one value per row) from chunks [first, last).
func (r *Reader) miniBlockFlat(p *pageInfo, L *pageLayout, chunks []chunkMeta, dict *block, first, last, from, to int) (*span21, error) {
	sp := &span21{rows: to - from, layers: L.layers}
	if first >= last {
		if to > from {
			return nil, fmt.Errorf("no chunk holds rows [%d, %d)", from, to)
		}
		sp.vals = &block{}
		return sp, nil
	}
	// each chunk is cut to the rows wanted and looked up in the dictionary
	// on its own, in parallel; the values stay in pieces for assembleLeaf
	wins := make([]struct {
		def  []uint16
		vals *block
	}, last-first)
	err := r.forChunks(sp, p, L, chunks, first, last, func(k int, ch *miniChunk) error {
		c := chunks[first+k]
		lo, hi := max(from, c.start)-c.start, min(to, c.start+c.items)-c.start
		w := &wins[k]
		if ch.def != nil {
			w.def = ch.def[lo:hi]
		}
		if ch.vals.n != c.items {
			return fmt.Errorf("chunk %d decoded %d values, holds %d", first+k, ch.vals.n, c.items)
		}
		w.vals = ch.vals.slice(lo, hi)
		if dict != nil {
			part := &span21{def: w.def, nVis: hi - lo, layers: L.layers}
			var err error
			if w.vals, err = dictBlock(dict, w.vals, itemValidity(part)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if L.defComp != nil {
		sp.def = make([]uint16, 0, to-from)
	}
	sp.valParts = make([]*block, len(wins))
	for k, w := range wins {
		sp.def = append(sp.def, w.def...)
		sp.valParts[k] = w.vals
	}
	sp.nVis = to - from
	return sp, nil
}

// miniBlockRows decodes page rows [from, to) of a mini-block page with
// repetition from chunks [first, last), where base rows end before chunk
// first. A chunk other than the page's first may open with the tail of a
// row that started earlier; that tail is skipped.
func (r *Reader) miniBlockRows(p *pageInfo, L *pageLayout, chunks []chunkMeta, dict *block, first, last, base, from, to int) (*span21, error) {
	sp := &span21{rows: to - from, layers: L.layers}
	if first >= last {
		if to > from {
			return nil, fmt.Errorf("no chunk holds rows [%d, %d)", from, to)
		}
		sp.vals = &block{}
		return sp, nil
	}
	rep, def, parts, err := r.decodeChunks(sp, p, L, chunks, first, last)
	if err != nil {
		return nil, err
	}
	if def != nil && len(def) != len(rep) {
		return nil, fmt.Errorf("%d repetition levels but %d definition levels", len(rep), len(def))
	}
	mr, mv := maxRep(L.layers), maxVisibleDef(L.layers)
	skipLv, skipIt := 0, 0
	if first > 0 {
		for skipLv < len(rep) && rep[skipLv] != mr {
			if def == nil || def[skipLv] <= mv {
				skipIt++
			}
			skipLv++
		}
		if skipLv > 0 {
			base++ // the skipped tail ends row base
		}
	}
	rep = rep[skipLv:]
	if def != nil {
		def = def[skipLv:]
	}
	if from < base {
		return nil, fmt.Errorf("row %d starts before the decoded chunks (row %d)", from, base)
	}
	var lvLo, lvHi, itLo, itHi int
	if first == 0 && last == len(chunks) && from == 0 && uint64(to) == p.length && def == nil && (len(rep) == 0 || rep[0] == mr) {
		// the whole page, every level a value: unravel, its only reader,
		// checks the rows it holds and the rep levels
		lvHi, itHi = len(rep), len(rep)
	} else if lvLo, lvHi, itLo, itHi, err = rowsToLevels(rep, def, L.layers, from-base, to-base); err != nil {
		return nil, err
	}
	itLo, itHi = itLo+skipIt, itHi+skipIt
	nVals := 0
	for _, v := range parts {
		nVals += v.n
	}
	if itHi > nVals {
		return nil, fmt.Errorf("levels reference %d values, page has %d", itHi, nVals)
	}
	sp.rep = rep[lvLo:lvHi]
	if def != nil {
		sp.def = def[lvLo:lvHi]
	}
	sp.nVis = itHi - itLo
	if dict == nil {
		// the values stay in their chunks: the array is assembled from them
		sp.valParts = sliceParts(parts, itLo, itHi)
		return sp, nil
	}
	vals, err := concatBlocks(parts)
	if err != nil {
		return nil, err
	}
	return sp, sp.setVals(vals.slice(itLo, itHi), dict)
}

// sliceParts is values [lo, hi) of the blocks parts taken as one, still in
// pieces (at least one, possibly empty).
func sliceParts(parts []*block, lo, hi int) []*block {
	var out []*block
	start := 0
	for _, p := range parts {
		end := start + p.n
		if a, b := max(lo, start), min(hi, end); a < b {
			out = append(out, p.slice(a-start, b-start))
		}
		start = end
	}
	if len(out) == 0 {
		out = append(out, parts[0].slice(0, 0))
	}
	return out
}

// setVals stores sp's visible values, looking them up in dict if the page
// has one.
func (sp *span21) setVals(vals *block, dict *block) error {
	if dict != nil {
		var err error
		if vals, err = gatherDict(dict, vals, itemValidity(sp)); err != nil {
			return err
		}
	}
	sp.vals = vals
	return nil
}

// forChunks reads chunks [first, last) of a mini-block page and decodes
// them in parallel, passing the k-th (chunk first+k) to use.
//
// The chunks' bytes, and what they decode into, may be borrowed buffers
// (read21_borrow.go), which forChunks adds to sp.borrowed when use has
// seen every chunk (and hands back itself on an error).
func (r *Reader) forChunks(sp *span21, p *pageInfo, L *pageLayout, chunks []chunkMeta, first, last int, use func(k int, ch *miniChunk) error) error {
	hasRep := L.repComp != nil
	base := chunks[first].off
	end := chunks[last-1].off + chunks[last-1].size
	data, borrowed, err := r.readPartBorrowed(p, 1, base, end-base)
	if err != nil {
		return err
	}
	bl := &borrowList{} // what the chunks decode into
	err = parallelRanges(last-first, 4, func(lo, hi int) error {
		for k := lo; k < hi; k++ {
			i := first + k
			c := chunks[i]
			ch, err := decodeChunk(L, data[c.off-base:c.off-base+c.size], c.items, bl)
			if err != nil {
				return fmt.Errorf("chunk %d: %w", i, err)
			}
			if hasRep && ch.rep == nil || L.defComp != nil && ch.def == nil {
				return fmt.Errorf("chunk %d lacks levels", i)
			}
			if !hasRep && ch.def != nil && len(ch.def) != c.items {
				return fmt.Errorf("chunk %d has %d levels for %d values", i, len(ch.def), c.items)
			}
			if err := use(k, ch); err != nil {
				return err
			}
		}
		return nil
	})
	if borrowed {
		bl.bufs = append(bl.bufs, data)
	}
	if err != nil {
		for _, b := range bl.bufs {
			giveBackBytes(b) // the caller drops what use kept
		}
		return err
	}
	sp.borrowed = append(sp.borrowed, bl.bufs...)
	return nil
}

// decodeChunks reads and decodes chunks [first, last) of a mini-block page,
// in parallel, and joins their levels (nil when the page has none); the
// values stay one block per chunk.
func (r *Reader) decodeChunks(sp *span21, p *pageInfo, L *pageLayout, chunks []chunkMeta, first, last int) (rep, def []uint16, vals []*block, err error) {
	hasRep := L.repComp != nil
	dec := make([]*miniChunk, last-first)
	if err := r.forChunks(sp, p, L, chunks, first, last, func(k int, ch *miniChunk) error {
		dec[k] = ch
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	nRep, nDef := 0, 0
	for _, ch := range dec {
		nRep += len(ch.rep)
		nDef += len(ch.def)
	}
	if hasRep {
		rep = make([]uint16, 0, nRep)
	}
	if L.defComp != nil {
		def = make([]uint16, 0, nDef)
	}
	vals = make([]*block, len(dec))
	for k, ch := range dec {
		rep = append(rep, ch.rep...)
		def = append(def, ch.def...)
		vals[k] = ch.vals
		if ch.vals.bits != vals[0].bits || ch.vals.dim != vals[0].dim {
			return nil, nil, nil, fmt.Errorf("chunks decode to different value widths (%d, %d bits)", vals[0].bits, ch.vals.bits)
		}
	}
	return rep, def, vals, nil
}

// rowsToLevels maps rows [from, to) of a page with repetition to the range
// of level entries and of visible items holding them.
func rowsToLevels(rep, def []uint16, layers []repDefLayer, from, to int) (lvLo, lvHi, itLo, itHi int, err error) {
	mr := maxRep(layers)
	mv := maxVisibleDef(layers)
	if len(rep) > 0 && rep[0] != mr {
		return 0, 0, 0, 0, fmt.Errorf("page does not start a row")
	}
	// find the levels of rows from and to (len(rep) if the page ends first)
	row := -1
	lvLo, lvHi = -1, len(rep)
	for i := 0; i < len(rep); i++ {
		if mr == 1 {
			// one list layer: rows start at the levels above 0, which
			// are sparse in long lists
			if i = nextNonZero(rep, i); i == len(rep) {
				break
			}
		}
		r := rep[i]
		if r < mr {
			continue
		}
		if r > mr {
			return 0, 0, 0, 0, fmt.Errorf("repetition level %d above maximum %d", r, mr)
		}
		row++
		if row == from {
			lvLo = i
		}
		if row == to {
			lvHi = i
			break
		}
	}
	if lvHi == len(rep) && row+1 != to || (lvLo < 0 && to > from) {
		return 0, 0, 0, 0, fmt.Errorf("page holds %d rows, need [%d, %d)", row+1, from, to)
	}
	if to == from {
		return 0, 0, 0, 0, nil
	}
	// every level is a visible item unless def says it is a null or empty
	// list
	itLo, itHi = lvLo, lvHi
	if def != nil {
		itLo, itHi = 0, 0
		for i, d := range def[:lvHi] {
			if d <= mv {
				if i < lvLo {
					itLo++
				}
				itHi++
			}
		}
	}
	return lvLo, lvHi, itLo, itHi, nil
}

// nextNonZero is the index of the first level at or after i that is not 0,
// or len(levels). It tests 8 levels (16 bytes) at a time and finds the
// level within them from a word's trailing zeros.
func nextNonZero(levels []uint16, i int) int {
	if i+8 <= len(levels) {
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(levels))), 2*len(levels))
		for ; i+8 <= len(levels); i += 8 {
			lo, hi := binary.LittleEndian.Uint64(b[2*i:]), binary.LittleEndian.Uint64(b[2*i+8:])
			if lo|hi == 0 {
				continue
			}
			if !nativeLittleEndian {
				break // the levels' lanes are not in load order: find it below
			}
			// the first non-zero lane, from the word's trailing zeros
			if lo != 0 {
				return i + bits.TrailingZeros64(lo)/16
			}
			return i + 4 + bits.TrailingZeros64(hi)/16
		}
	}
	for ; i < len(levels) && levels[i] == 0; i++ {
	}
	return i
}

// itemValidity reports, for each visible value of sp, whether it is valid.
func itemValidity(sp *span21) []bool {
	if sp.def == nil {
		return nil
	}
	mv := maxVisibleDef(sp.layers)
	out := make([]bool, 0, sp.nVis)
	for _, d := range sp.def {
		if d <= mv {
			out = append(out, d == 0)
		}
	}
	return out
}

// gatherDict replaces dictionary indices by the dictionary's values. Null
// slots may hold any index; they get an empty / zero value.
func gatherDict(dict, idx *block, valid []bool) (*block, error) {
	lazy, err := dictBlock(dict, idx, valid)
	if err != nil {
		return nil, err
	}
	return gatherIndices(dict, lazy.dictIx)
}

// dictBlock is idx as a block of dict's values that is not gathered yet
// (block.dict): assembleLeaf copies the values straight into its output.
func dictBlock(dict, idx *block, valid []bool) (*block, error) {
	if b := idx.bits; b != 8 && b != 16 && b != 32 && b != 64 || idx.dim != 0 {
		return nil, fmt.Errorf("dictionary indices of %d bits", idx.bits)
	}
	if dict.fixedWidth() && dict.bits%8 != 0 && dict.bits != 1 {
		return nil, fmt.Errorf("dictionary of %d-bit values not supported", dict.bits)
	}
	ix, err := dictIndices(idx, dict.n, valid)
	if err != nil {
		return nil, err
	}
	return &block{n: idx.n, bits: dict.bits, dim: dict.dim, itemBits: dict.itemBits, dict: dict, dictIx: ix}, nil
}

// gathered returns b with its dictionary values looked up, if it has any.
func (b *block) gathered() (*block, error) {
	if b.dict == nil {
		return b, nil
	}
	return gatherIndices(b.dict, b.dictIx)
}

// gatherIndices is dict's values at ix (noIndex: an empty / zero value).
func gatherIndices(dict *block, ix []uint32) (*block, error) {
	n := len(ix)
	if dict.fixedWidth() && dict.bits == 1 { // bools (pylance's dictionary<bool>): bits, LSB first
		out := make([]byte, (n+7)/8)
		for i, v := range ix {
			if v != noIndex && dict.data[v/8]&(1<<(v%8)) != 0 {
				out[i/8] |= 1 << (i % 8)
			}
		}
		return &block{n: n, bits: 1, data: out}, nil
	}
	if dict.fixedWidth() {
		if dict.bits%8 != 0 {
			return nil, fmt.Errorf("dictionary of %d-bit values not supported", dict.bits)
		}
		w := dict.bits / 8
		out := make([]byte, n*w)
		switch w {
		case 4:
			for i, v := range ix {
				if v != noIndex {
					copy(out[4*i:4*i+4], dict.data[4*v:4*v+4])
				}
			}
		case 8:
			for i, v := range ix {
				if v != noIndex {
					copy(out[8*i:8*i+8], dict.data[8*v:8*v+8])
				}
			}
		default:
			for i, v := range ix {
				if v != noIndex {
					copy(out[i*w:(i+1)*w], dict.data[int(v)*w:int(v+1)*w])
				}
			}
		}
		return &block{n: n, bits: dict.bits, data: out}, nil
	}
	out := &block{n: n, offs: make([]uint64, n+1)}
	var total uint64
	for i, v := range ix {
		if v != noIndex {
			total += dict.offs[v+1] - dict.offs[v]
		}
		out.offs[i+1] = total
	}
	if total > maxMetadataBytes {
		return nil, fmt.Errorf("dictionary expands to %d bytes", total)
	}
	data := make([]byte, total)
	for i, v := range ix {
		if v != noIndex {
			copy(data[out.offs[i]:out.offs[i+1]], dict.data[dict.offs[v]:dict.offs[v+1]])
		}
	}
	out.data = data
	return out, nil
}

// noIndex marks a null slot whose index is outside the dictionary.
const noIndex = ^uint32(0)

// dictIndices reads idx's indices, checked against a dictionary of size
// items; an out-of-range index is an error unless its slot is null, when it
// becomes noIndex.
func dictIndices(idx *block, size int, valid []bool) ([]uint32, error) {
	n := idx.n
	ix := make([]uint32, n)
	bad := -1
	switch idx.bits {
	case 8:
		for i, x := range idx.data[:n] {
			ix[i] = uint32(x)
			if int(x) >= size {
				bad = i
			}
		}
	case 16:
		for i := range ix {
			x := binary.LittleEndian.Uint16(idx.data[2*i:])
			ix[i] = uint32(x)
			if int(x) >= size {
				bad = i
			}
		}
	case 32: // how pylance and this writer store them
		src := idx.data[:4*n]
		for i := range ix {
			x := binary.LittleEndian.Uint32(src[4*i:])
			ix[i] = x
			if uint64(x) >= uint64(size) {
				bad = i
			}
		}
	default:
		for i := range ix {
			x := readWord(idx.data, idx.bits, i)
			ix[i] = uint32(x)
			if x >= uint64(size) {
				bad = i
			}
		}
	}
	if bad < 0 {
		return ix, nil
	}
	for i := range ix {
		x := readWord(idx.data, idx.bits, i)
		if x < uint64(size) {
			continue
		}
		if valid == nil || i >= len(valid) || valid[i] {
			return nil, fmt.Errorf("dictionary index %d out of range (%d items)", x, size)
		}
		ix[i] = noIndex
	}
	return ix, nil
}

// concatBlocks joins chunk results into one block.
func concatBlocks(parts []*block) (*block, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	out := &block{bits: parts[0].bits, dim: parts[0].dim, itemBits: parts[0].itemBits}
	var total, nbytes int
	anyValid := false
	for _, p := range parts {
		if p.bits != out.bits || p.dim != out.dim {
			return nil, fmt.Errorf("chunks decode to different value widths (%d, %d bits)", out.bits, p.bits)
		}
		total += p.n
		nbytes += len(p.data)
		anyValid = anyValid || p.itemValid != nil
	}
	out.n = total
	switch {
	case out.bits == 0:
		out.offs = make([]uint64, 1, total+1)
		out.data = make([]byte, 0, nbytes)
		for _, p := range parts {
			base := uint64(len(out.data))
			for _, o := range p.offs[1:] {
				out.offs = append(out.offs, base+o)
			}
			out.data = append(out.data, p.data...)
		}
	case out.bits%8 == 0:
		out.data = make([]byte, 0, nbytes)
		for _, p := range parts {
			out.data = append(out.data, p.data[:p.n*p.bits/8]...)
		}
	default:
		out.data = make([]byte, (total*out.bits+7)/8)
		pos := 0
		for _, p := range parts {
			bitutil.CopyBitmap(p.data, 0, p.n*p.bits, out.data, pos)
			pos += p.n * p.bits
		}
	}
	if anyValid {
		out.itemValid = joinBitmaps(parts, out.dim, func(p *block) []byte { return p.itemValid })
	}
	deepest := parts[0]
	for _, p := range parts {
		if len(p.outerValid) > len(deepest.outerValid) {
			deepest = p
		}
	}
	for k, l := range deepest.outerValid {
		bits := joinBitmaps(parts, l.per, func(p *block) []byte { return p.outerBits(k) })
		out.outerValid = append(out.outerValid, fslValidity{per: l.per, bits: bits})
	}
	return out, nil
}

// outerBits is the bitmap of nested fixed_size_list layer k (nil: all valid).
func (b *block) outerBits(k int) []byte {
	if k < len(b.outerValid) {
		return b.outerValid[k].bits
	}
	return nil
}

// joinBitmaps joins the per-value bitmaps bitmap(p) (per bits a value; nil:
// all set) of parts; nil when every one is nil.
func joinBitmaps(parts []*block, per int, bitmap func(*block) []byte) []byte {
	total, any := 0, false
	for _, p := range parts {
		total += p.n
		any = any || bitmap(p) != nil
	}
	if !any {
		return nil
	}
	out := make([]byte, (total*per+7)/8)
	pos := 0
	for _, p := range parts {
		if b := bitmap(p); b != nil {
			bitutil.CopyBitmap(b, 0, p.n*per, out, pos)
		} else {
			bitutil.SetBitsTo(out, int64(pos), int64(p.n*per), true)
		}
		pos += p.n * per
	}
	return out
}

// slice returns values [i, j) of b.
func (b *block) slice(i, j int) *block {
	if i == 0 && j == b.n {
		return b
	}
	out := &block{n: j - i, bits: b.bits, dim: b.dim, itemBits: b.itemBits}
	switch {
	case b.bits == 0:
		base := b.offs[i]
		out.offs = make([]uint64, j-i+1)
		for k := range out.offs {
			out.offs[k] = b.offs[i+k] - base
		}
		out.data = b.data[base:b.offs[j]]
	case b.bits%8 == 0:
		w := b.bits / 8
		out.data = b.data[i*w : j*w]
	default:
		out.data = make([]byte, ((j-i)*b.bits+7)/8)
		bitutil.CopyBitmap(b.data, i*b.bits, (j-i)*b.bits, out.data, 0)
	}
	if b.itemValid != nil {
		out.itemValid = make([]byte, ((j-i)*b.dim+7)/8)
		bitutil.CopyBitmap(b.itemValid, i*b.dim, (j-i)*b.dim, out.itemValid, 0)
	}
	for _, l := range b.outerValid {
		s := fslValidity{per: l.per}
		if l.bits != nil {
			s.bits = make([]byte, ((j-i)*l.per+7)/8)
			bitutil.CopyBitmap(l.bits, i*l.per, (j-i)*l.per, s.bits, 0)
		}
		out.outerValid = append(out.outerValid, s)
	}
	return out
}

// constantSpan decodes an AllNullLayout (2.1) / ConstantLayout (2.2) page.
// Buffer shapes: none (all null, or every value the inline value);
// [rep, def] level buffers (u16 LE, or compressed per rep/def_compression)
// with or without an inline value; [scalar] or [scalar, rep, def] where the
// scalar is a value too large to inline, serialized as
// u32 num_buffers, u32 length x num_buffers, the buffers (the Arrow value
// buffers of a one-element array: value bytes, or offsets + bytes).
func (r *Reader) constantSpan(p *pageInfo, L *pageLayout, from, to int) (*span21, error) {
	sp := &span21{rows: to - from, layers: L.layers}
	var scalar *block
	if L.hasInline {
		w := len(L.inline)
		if w == 0 || w > 32 {
			return nil, fmt.Errorf("inline value of %d bytes not supported", w)
		}
		scalar = &block{n: 1, bits: 8 * w, data: L.inline}
	}
	levelBuf := -1 // index of the rep buffer; def follows
	switch nb := len(p.bufOffsets); {
	case scalar != nil && nb == 2:
		levelBuf = 0
	case scalar == nil && (nb == 1 || nb == 3):
		b, err := r.readBuf(p, 0)
		if err != nil {
			return nil, err
		}
		if scalar, err = decodeScalarBuffer(b); err != nil {
			return nil, err
		}
		if nb == 3 {
			levelBuf = 1
		}
	case nb == 0:
	case scalar == nil && nb == 2:
		levelBuf = 0
	default:
		return nil, fmt.Errorf("constant page with %d buffers not supported", nb)
	}
	if levelBuf < 0 {
		if len(L.layers) == 0 || maxRep(L.layers) > 0 {
			return nil, fmt.Errorf("constant page without levels for layers %v", L.layers)
		}
		sp.nVis = sp.rows
		if scalar == nil {
			// all null at the innermost nullable layer
			sp.def = make([]uint16, sp.rows)
			lvl := nullLevel(L.layers)
			if lvl == 0 {
				return nil, fmt.Errorf("all-null page without a nullable layer")
			}
			for i := range sp.def {
				sp.def[i] = lvl
			}
			return sp, nil
		}
		sp.vals = repeatBlock(scalar, sp.rows)
		return sp, nil
	}
	levels := func(i int, e *compressive, n uint64) ([]uint16, error) {
		if p.bufSizes[i] == 0 {
			return nil, nil
		}
		b, err := r.readBuf(p, i)
		if err != nil {
			return nil, err
		}
		if e == nil {
			n = uint64(len(b) / 2)
			e = &compressive{kind: compFlat, bits: 16}
		}
		if n > maxBlockValues {
			return nil, fmt.Errorf("%d levels too many", n)
		}
		return decodeLevels(e, b, int(n), nil)
	}
	rep, err := levels(levelBuf, L.repComp, L.numRepValues)
	if err != nil {
		return nil, fmt.Errorf("repetition levels: %w", err)
	}
	def, err := levels(levelBuf+1, L.defComp, L.numDefValues)
	if err != nil {
		return nil, fmt.Errorf("definition levels: %w", err)
	}
	mv := maxVisibleDef(L.layers)
	if rep == nil {
		if def == nil || len(def) < to {
			return nil, fmt.Errorf("constant page levels do not cover rows [%d, %d)", from, to)
		}
		sp.def = def[from:to]
	} else {
		if def != nil && len(def) != len(rep) {
			return nil, fmt.Errorf("%d repetition levels but %d definition levels", len(rep), len(def))
		}
		lvLo, lvHi, _, _, err := rowsToLevels(rep, def, L.layers, from, to)
		if err != nil {
			return nil, err
		}
		sp.rep = rep[lvLo:lvHi]
		if def != nil {
			sp.def = def[lvLo:lvHi]
		}
	}
	n := 0
	for i := 0; i < len(sp.rep) || i < len(sp.def); i++ {
		if sp.def == nil || sp.def[i] <= mv {
			n++
		}
	}
	sp.nVis = n
	if scalar != nil {
		sp.vals = repeatBlock(scalar, n)
	} else {
		for _, d := range sp.def {
			if d == 0 {
				return nil, fmt.Errorf("all-null page with a valid value")
			}
		}
		if sp.def == nil && n > 0 {
			return nil, fmt.Errorf("all-null page without definition levels")
		}
	}
	return sp, nil
}

// decodeScalarBuffer decodes Lance's serialized one-element scalar: one
// buffer (fixed-width value bytes) or two (32/64-bit offsets, bytes).
func decodeScalarBuffer(b []byte) (*block, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("scalar buffer too short")
	}
	nb := binary.LittleEndian.Uint32(b)
	if nb < 1 || nb > 2 || len(b) < 4+4*int(nb) {
		return nil, fmt.Errorf("scalar with %d buffers not supported", nb)
	}
	pos := 4 + 4*int(nb)
	bufs := make([][]byte, nb)
	for i := range bufs {
		l := int(binary.LittleEndian.Uint32(b[4+4*i:]))
		if l > len(b)-pos {
			return nil, fmt.Errorf("scalar buffer truncated")
		}
		bufs[i] = b[pos : pos+l]
		pos += l
	}
	if nb == 1 {
		w := len(bufs[0])
		if w == 0 || w > 1<<16 {
			return nil, fmt.Errorf("scalar of %d bytes not supported", w)
		}
		return &block{n: 1, bits: 8 * w, data: bufs[0]}, nil
	}
	var lo, hi uint64
	switch len(bufs[0]) {
	case 8:
		lo, hi = uint64(binary.LittleEndian.Uint32(bufs[0])), uint64(binary.LittleEndian.Uint32(bufs[0][4:]))
	case 16:
		lo, hi = binary.LittleEndian.Uint64(bufs[0]), binary.LittleEndian.Uint64(bufs[0][8:])
	default:
		return nil, fmt.Errorf("scalar offsets of %d bytes", len(bufs[0]))
	}
	if lo > hi || hi > uint64(len(bufs[1])) {
		return nil, fmt.Errorf("corrupt scalar offsets")
	}
	v := bufs[1][lo:hi]
	return &block{n: 1, offs: []uint64{0, uint64(len(v))}, data: v}, nil
}

// nullLevel is the def level meaning "null" at the innermost nullable layer.
func nullLevel(layers []repDefLayer) uint16 {
	var c uint16
	for _, l := range layers {
		if l == layerNullableItem || l == layerNullableList || l == layerNullAndEmptyList {
			return c + 1
		}
		c += l.defLevels()
	}
	return 0
}

func repeatBlock(v *block, n int) *block {
	if v.bits == 0 {
		one := v.data[v.offs[0]:v.offs[1]]
		if n > 0 && len(one) > maxMetadataBytes/n {
			n = 0 // cannot happen for sane pages; avoid a huge allocation
		}
		out := &block{n: n, offs: make([]uint64, n+1), data: make([]byte, 0, n*len(one))}
		for i := 0; i < n; i++ {
			out.data = append(out.data, one...)
			out.offs[i+1] = uint64(len(out.data))
		}
		return out
	}
	w := v.bits / 8
	out := make([]byte, n*w)
	for i := 0; i < n; i++ {
		copy(out[i*w:], v.data[:w])
	}
	return &block{n: n, bits: v.bits, data: out}
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
