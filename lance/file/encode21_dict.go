package file

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Dictionary encoding of mini-block pages, as pylance 14 chooses it: a page
// of at least dictMinValues values whose distinct values number at most
// min(values/2, dictMaxItems), and whose dictionary plus bit-packed indices
// come to less than dictSizeRatio of the page's size without one. The page
// then stores u32 indices (InlineBitpacking{32}) in its chunks and the
// distinct values once, in page buffer 2: strings as a Variable block
// ([u32 offset bits][data start][offsets][bytes]), integers bit-packed.
// Nulls get index 0.
const (
	dictMinValues = 100
	dictMaxItems  = 100000
	dictSizeRatio = 0.8
)

// pageDict is the dictionary of a pending page.
type pageDict struct {
	idx   []uint32 // per visible value
	n     int      // distinct values
	enc   []byte   // CompressiveEncoding of the dictionary buffer
	block []byte   // the encoded dictionary buffer
	// idxBits is the width of the stored indices: 32 (0) for the pages
	// this writer dictionary-encodes, the Arrow index width for
	// dictionary-typed columns (write21_dictionary.go).
	idxBits int
}

func (d *pageDict) indexBits() int {
	if d.idxBits == 0 {
		return 32
	}
	return d.idxBits
}

// dictSample is how many leading values buildDict looks at before it
// builds a whole page's dictionary: more than half of them distinct and
// the page is not worth one (a cheap exit for unique columns).
const dictSample = 1024

// buildDict returns the pending page's dictionary, or nil when the page is
// not worth one: strings, binary and 16-byte values at 2.1 and 2.2,
// integers at 2.2 (where pylance starts to use it for them).
func (lw *leafWriter) buildDict() *pageDict {
	p := &lw.p
	if lw.colDict != nil {
		return lw.colDict.pageDict(lw)
	}
	if p.nVis < dictMinValues || p.nValid == 0 {
		return nil
	}
	switch {
	case lw.kind == leafVar:
		return lw.buildVarDict()
	case lw.kind == leafFixed && lw.v.Minor >= 2 && lw.packWord() > 0 && !opaqueBytes(lw.nodes[len(lw.nodes)-1].dt):
		return lw.buildIntDict() // pylance keeps narrow fixed_size_binary out of it
	case lw.kind == leafFixed && lw.width == dictWideBytes:
		return lw.buildWideDict()
	}
	return nil
}

func (lw *leafWriter) buildVarDict() *pageDict {
	p := &lw.p
	n := p.nVis
	if lw.isFlat() {
		// sample the first values before looking at them all
		seen := map[string]bool{}
		k := min(n, dictSample)
		p.eachSegPart(0, k, func(s *flatSeg, r0, r1 int) {
			for r := r0; r < r1 && len(seen) <= k/2; r++ {
				seen[string(s.vals[s.offs.at(s.pos+r):s.offs.at(s.pos+r+1)])] = true
			}
		})
		if len(seen) > k/2 {
			return nil
		}
	}
	return lw.varDict(lw.varValues())
}

// varDict is buildVarDict's dictionary of the page's values pv.
func (lw *leafWriter) varDict(pv *pageValues) *pageDict {
	p := &lw.p
	n := p.nVis
	limit := min(n/2, dictMaxItems)
	d := &pageDict{idx: make([]uint32, n)}
	var data []byte
	var ends []uint64
	// add files value i as the next dictionary item, or reports that the
	// page is not worth a dictionary
	add := func(i int, v []byte) (uint32, bool) {
		k := len(ends)
		if k >= limit || (i == dictSample && k > dictSample/2) {
			return 0, false
		}
		data = append(data, v...)
		ends = append(ends, uint64(len(data)))
		return uint32(k), true
	}
	paid := true
	if p.maxLen <= 8 {
		// short strings (levels, hosts, regions): keyed by their bytes as
		// one word and their length
		var seen shortKeys
		pv.each(0, n, func(data []byte, shift, a, b int) bool {
			for i := a; i < b && paid; i++ {
				start, end := uint64(pv.start(i)+shift), pv.ends[i]+uint64(shift)
				w := loadShort(data, start, end)
				k, ok := seen.get(w, end-start)
				if !ok {
					if k, paid = add(i, data[start:end]); paid {
						seen.put(w, end-start, k)
					}
				}
				d.idx[i] = k
			}
			return paid
		})
	} else {
		seen := make(map[string]uint32, 64)
		pv.each(0, n, func(data []byte, shift, a, b int) bool {
			for i := a; i < b && paid; i++ {
				v := data[pv.start(i)+shift : int(pv.ends[i])+shift]
				k, ok := seen[string(v)]
				if !ok {
					if k, paid = add(i, v); paid {
						seen[string(v)] = k
					}
				}
				d.idx[i] = k
			}
			return paid
		})
	}
	if !paid {
		return nil
	}
	d.n = len(ends)
	plain := float64(p.offs[n-1]) + float64(n*lw.offBits/8)
	if d.encodedSize(len(data)+(d.n+1)*lw.offBits/8+16) >= dictSizeRatio*plain {
		return nil
	}
	d.enc = encVariable21(lw.offBits)
	d.block = varBlock(lw.offBits, ends, data)
	return d
}

func (lw *leafWriter) buildIntDict() *pageDict {
	p := &lw.p
	n := p.nVis
	t := lw.packWord()
	// A flat page's values are copied from the arrays in two steps: the
	// first dictSample+1 (where a column of ids is rejected), then the rest.
	var raw []byte
	head := n
	if lw.isFlat() {
		head = min(n, dictSample+1)
		raw = lw.appendFlatValues(make([]byte, 0, head*lw.width), 0, head)
	} else {
		raw = p.fixed[:n*lw.width]
	}
	// pylance decodes a bit-packed block of at most 1024 values, so an
	// integer dictionary holds no more.
	limit := min(n/2, bitpackChunkValues)
	var seen shortKeys // values as words of one length
	idx := make([]uint32, 0, head)
	var items []byte
	for i := 0; i < n; i++ {
		if i == head {
			raw = lw.appendFlatValues(slices.Grow(raw, (n-head)*lw.width), head, n)
			idx = slices.Grow(idx, n-head)
		}
		v := readWord(raw, t, i)
		k, ok := seen.get(v, 8)
		if !ok {
			if seen.n >= limit || (i == dictSample && seen.n > dictSample/2) {
				return nil
			}
			k = uint32(seen.n)
			seen.put(v, 8, k)
			items = growZero(items, t/8)
			putWord(items[len(items)-t/8:], t, 0, v)
		}
		idx = append(idx, k)
	}
	d := &pageDict{idx: idx}
	d.n = seen.n
	// Against the bit-packed page, which is what the page gets otherwise.
	packed := float64(packedInlineSize(t, raw, n))
	if d.encodedSize(packedInlineSize(t, items, d.n)) >= dictSizeRatio*packed {
		return nil
	}
	d.enc = encInlineBitpacking21(t)
	d.block = packInline(nil, t, items, d.n)
	return d
}

// encodedSize estimates the page's size with this dictionary of dictBytes.
func (d *pageDict) encodedSize(dictBytes int) float64 {
	idxBits := max(bits.Len(uint(d.n-1)), 1)
	return float64(dictBytes) + float64(len(d.idx)*idxBits/8+4*(len(d.idx)/1024+1))
}

// varBlock is the Variable block form of the values ending at ends in
// data, with ob-bit offsets.
func varBlock(ob int, ends []uint64, data []byte) []byte {
	u := len(ends)
	w := ob / 8
	hdr := 8
	if ob == 64 {
		hdr = 16
	}
	start := hdr + w*(u+1)
	b := make([]byte, start, start+len(data))
	binary.LittleEndian.PutUint32(b, uint32(ob))
	if ob == 64 {
		binary.LittleEndian.PutUint64(b[8:], uint64(start))
	} else {
		binary.LittleEndian.PutUint32(b[4:], uint32(start))
	}
	for i, e := range ends {
		putWord(b[hdr:], ob, i+1, e)
	}
	return append(b, data...)
}

// indexBytes is the little-endian indices of visible values [a, b).
func (d *pageDict) indexBytes(a, b int) []byte {
	w := d.indexBits() / 8
	out := make([]byte, w*(b-a))
	if w != 4 {
		for i, k := range d.idx[a:b] {
			putIndex(out[w*i:w*(i+1)], uint64(k))
		}
		return out
	}
	for i, k := range d.idx[a:b] {
		binary.LittleEndian.PutUint32(out[4*i:], k)
	}
	return out
}

// shortKeys maps strings of at most 8 bytes, each given as its bytes in a
// little-endian word (zero above its length) and its length, to their
// dictionary items: an open-addressing table that neither hashes nor
// compares byte strings (a Go map[string] did both for every value).
// Integers use it too, as words of length 8.
type shortKeys struct {
	slots []shortSlot // a power of two, at most half full
	shift uint        // 64 - log2(len(slots))
	n     int
}

type shortSlot struct {
	word uint64
	len  uint8 // 0: empty; else the length + 1
	item uint32
}

// slot is the home slot of (word, n): the top bits of a multiplicative
// hash, the only ones every input bit reaches.
func (m *shortKeys) slot(word, n uint64) int {
	h := (word ^ n<<60) * 0x9E3779B97F4A7C15
	return int(h >> m.shift)
}

// get returns the item of the string (word, n), if it has one.
func (m *shortKeys) get(word, n uint64) (uint32, bool) {
	if len(m.slots) == 0 {
		return 0, false
	}
	for i := m.slot(word, n); ; i = (i + 1) & (len(m.slots) - 1) {
		s := &m.slots[i]
		if s.len == 0 {
			return 0, false
		}
		if s.word == word && uint64(s.len) == n+1 {
			return s.item, true
		}
	}
}

// put files the string (word, n), which has no item yet, as item.
func (m *shortKeys) put(word, n uint64, item uint32) {
	if 2*(m.n+1) > len(m.slots) {
		old := m.slots
		m.slots = make([]shortSlot, max(64, 2*len(old)))
		m.shift = uint(64 - bits.Len(uint(len(m.slots)-1)))
		m.n = 0
		for _, s := range old {
			if s.len != 0 {
				m.put(s.word, uint64(s.len-1), s.item)
			}
		}
	}
	i := m.slot(word, n)
	for m.slots[i].len != 0 {
		i = (i + 1) & (len(m.slots) - 1)
	}
	m.slots[i] = shortSlot{word: word, len: uint8(n + 1), item: item}
	m.n++
}

// loadShort is data[start:end] (at most 8 bytes) as a little-endian word,
// zero above its length.
func loadShort(data []byte, start, end uint64) uint64 {
	n := end - start
	if n == 0 {
		return 0
	}
	if start+8 <= uint64(len(data)) {
		return binary.LittleEndian.Uint64(data[start:]) & (^uint64(0) >> (64 - 8*n))
	}
	var b [8]byte
	copy(b[:], data[start:end])
	return binary.LittleEndian.Uint64(b[:])
}
