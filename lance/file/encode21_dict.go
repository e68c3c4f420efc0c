package file

import (
	"encoding/binary"
	"math/bits"
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
}

// dictSample is how many leading values buildDict looks at before it
// builds a whole page's dictionary: more than half of them distinct and
// the page is not worth one (a cheap exit for unique columns).
const dictSample = 1024

// buildDict returns the pending page's dictionary, or nil when the page is
// not worth one: strings and binary at 2.1 and 2.2, integers at 2.2 (where
// pylance starts to use it for them).
func (lw *leafWriter) buildDict() *pageDict {
	p := &lw.p
	if p.nVis < dictMinValues || p.nValid == 0 {
		return nil
	}
	switch {
	case lw.kind == leafVar:
		return lw.buildVarDict()
	case lw.kind == leafFixed && lw.v.Minor >= 2 && lw.packWord() > 0:
		return lw.buildIntDict()
	}
	return nil
}

func (lw *leafWriter) buildVarDict() *pageDict {
	p := &lw.p
	n := p.nVis
	value := func(i int) []byte {
		var start uint64
		if i > 0 {
			start = p.offs[i-1]
		}
		return p.data[start:p.offs[i]]
	}
	if lw.isFlat() {
		// sample from the arrays before copying the page's bytes
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
		lw.materializeVar()
	}
	limit := min(n/2, dictMaxItems)
	seen := make(map[string]uint32, 64)
	d := &pageDict{idx: make([]uint32, n)}
	var data []byte
	var ends []uint64
	for i := 0; i < n; i++ {
		v := value(i)
		k, ok := seen[string(v)]
		if !ok {
			if len(seen) >= limit || (i == dictSample && len(seen) > dictSample/2) {
				return nil
			}
			k = uint32(len(seen))
			seen[string(v)] = k
			data = append(data, v...)
			ends = append(ends, uint64(len(data)))
		}
		d.idx[i] = k
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
	var raw []byte
	if lw.isFlat() {
		// sample from the arrays before copying the page's values (a
		// column of ids stops here)
		k := min(n, dictSample)
		head := lw.appendFlatValues(make([]byte, 0, k*lw.width), 0, k)
		seen := make(map[uint64]struct{}, 64)
		for i := 0; i < k && len(seen) <= k/2; i++ {
			seen[readWord(head, t, i)] = struct{}{}
		}
		if len(seen) > k/2 {
			return nil
		}
		raw = lw.appendFlatValues(make([]byte, 0, n*lw.width), 0, n)
	} else {
		raw = p.fixed[:n*lw.width]
	}
	// pylance decodes a bit-packed block of at most 1024 values, so an
	// integer dictionary holds no more.
	limit := min(n/2, bitpackChunkValues)
	seen := make(map[uint64]uint32, 64)
	d := &pageDict{idx: make([]uint32, n)}
	var items []byte
	for i := 0; i < n; i++ {
		v := readWord(raw, t, i)
		k, ok := seen[v]
		if !ok {
			if len(seen) >= limit || (i == dictSample && len(seen) > dictSample/2) {
				return nil
			}
			k = uint32(len(seen))
			seen[v] = k
			items = growZero(items, t/8)
			putWord(items[len(items)-t/8:], t, 0, v)
		}
		d.idx[i] = k
	}
	d.n = len(seen)
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

// indexBytes is the u32 little-endian indices of visible values [a, b).
func (d *pageDict) indexBytes(a, b int) []byte {
	out := make([]byte, 4*(b-a))
	for i, k := range d.idx[a:b] {
		binary.LittleEndian.PutUint32(out[4*i:], k)
	}
	return out
}
