package file

import (
	"encoding/binary"
	"slices"
	"sort"
)

// FSST compression of string / binary mini-block pages (the inverse of
// decode21_fsst.go). A symbol table of up to 255 symbols of 1..8 bytes is learnt
// from a sample of the page; each value is then written as codes (a symbol
// index) and escapes (255, then a literal byte). The page's chunks hold
// the compressed values as Variable chunks, and the table travels in the
// encoding: Fsst{symbol_table, Variable{Flat{offset bits}}}.
//
// The table is learnt as in the FSST paper, simplified: a few rounds that
// compress the sample with the current table, count how often each symbol
// and each pair of adjacent symbols (concatenated, up to 8 bytes) occurs,
// and keep the 255 with the highest gain (count x length).

const (
	fsstSampleBytes = 16 << 10
	fsstRounds      = 5
	fsstMaxSymbols  = 255
	fsstTableBytes  = 2312 // Lance's padded table size
	// A page is FSST-encoded when it has at least fsstMinBytes of values
	// and compresses to less than fsstMaxRatio of them.
	fsstMinBytes = 16 << 10
	fsstMaxRatio = 0.9
)

// fsstEncoder finds, at each position, the symbol FSST's compressor would:
// the symbol of 3+ bytes filed under the next 3 bytes' hash slot if it
// matches, else the 2-byte symbol of the next 2 bytes, else the 1-byte
// symbol of the next byte, else an escape. A symbol that loses its hash
// slot to another (the first in the table, the one of highest gain, keeps
// it) stays in the table but is never emitted.
type fsstEncoder struct {
	syms  [][]byte
	vals  []uint64 // the symbols as little-endian words
	masks []uint64 // their length's low bytes set
	lens  []uint8
	hash  *[fsstHashSlots]int16
	short *[1 << 16]int16
	byOne [256]int16
}

const fsstHashSlots = 1 << 12

func fsstHash(w uint64) int {
	w &= 0xFFFFFF
	h := w * 2971215073
	return int((h ^ h>>15) & (fsstHashSlots - 1))
}

func newFsstEncoder(syms [][]byte) *fsstEncoder {
	e := &fsstEncoder{syms: syms, vals: make([]uint64, len(syms)), masks: make([]uint64, len(syms)), lens: make([]uint8, len(syms)),
		hash: new([fsstHashSlots]int16), short: new([1 << 16]int16)}
	for i := range e.hash {
		e.hash[i] = -1
	}
	for i := range e.short {
		e.short[i] = -1
	}
	for c := range e.byOne {
		e.byOne[c] = -1
	}
	for i, s := range syms {
		var w [8]byte
		copy(w[:], s)
		e.vals[i] = binary.LittleEndian.Uint64(w[:])
		e.masks[i] = ^uint64(0) >> (64 - 8*len(s))
		e.lens[i] = uint8(len(s))
		switch len(s) {
		case 1:
			if e.byOne[s[0]] < 0 {
				e.byOne[s[0]] = int16(i)
			}
		case 2:
			k := uint16(s[0]) | uint16(s[1])<<8
			if e.short[k] < 0 {
				e.short[k] = int16(i)
			}
		default:
			if h := fsstHash(e.vals[i]); e.hash[h] < 0 {
				e.hash[h] = int16(i)
			}
		}
	}
	return e
}

// match returns the symbol to emit at the start of s (-1: escape).
func (e *fsstEncoder) match(s []byte) int {
	if len(s) >= 3 {
		var word uint64
		if len(s) >= 8 {
			word = binary.LittleEndian.Uint64(s)
		} else {
			var w [8]byte
			copy(w[:], s)
			word = binary.LittleEndian.Uint64(w[:])
		}
		if k := e.hash[fsstHash(word)]; k >= 0 && word&e.masks[k] == e.vals[k] && len(e.syms[k]) <= len(s) {
			return int(k)
		}
		if k := e.short[uint16(word)]; k >= 0 {
			return int(k)
		}
		return int(e.byOne[s[0]])
	}
	if len(s) == 2 {
		if k := e.short[uint16(s[0])|uint16(s[1])<<8]; k >= 0 {
			return int(k)
		}
	}
	return int(e.byOne[s[0]])
}

// compress appends the codes of s to dst. While 8 bytes are left, every
// lookup works on one loaded word; the tail goes through match.
func (e *fsstEncoder) compress(dst, s []byte) []byte {
	pos := len(dst)
	dst = slices.Grow(dst, 2*len(s))
	out := dst[:pos+2*len(s)]
	i := 0
	for i+8 <= len(s) {
		word := binary.LittleEndian.Uint64(s[i:])
		if k := e.hash[fsstHash(word)]; k >= 0 && word&e.masks[k] == e.vals[k] {
			out[pos] = byte(k)
			pos++
			i += int(e.lens[k])
			continue
		}
		if k := e.short[uint16(word)]; k >= 0 {
			out[pos] = byte(k)
			pos++
			i += 2
			continue
		}
		if k := e.byOne[byte(word)]; k >= 0 {
			out[pos] = byte(k)
			pos++
			i++
			continue
		}
		out[pos], out[pos+1] = fsstEscape, byte(word)
		pos += 2
		i++
	}
	for i < len(s) {
		if k := e.match(s[i:]); k >= 0 {
			out[pos] = byte(k)
			pos++
			i += int(e.lens[k])
			continue
		}
		out[pos], out[pos+1] = fsstEscape, s[i]
		pos += 2
		i++
	}
	return out[:pos]
}

// table is the symbol table in Lance's layout.
func (e *fsstEncoder) table() []byte {
	b := make([]byte, fsstTableBytes)
	n := len(e.syms)
	binary.LittleEndian.PutUint64(b, uint64(fsstMagic)<<32|1<<24|uint64(n))
	for i, s := range e.syms {
		copy(b[8+8*i:8+8*i+8], s)
		b[8+8*n+i] = byte(len(s))
	}
	return b
}

// learnFsst learns a symbol table from values (their concatenation is data,
// value i ending at ends[i]).
func learnFsst(data []byte, ends []uint64) *fsstEncoder {
	var sample [][]byte
	n := len(ends)
	total := 0
	// Values spread over the page, up to fsstSampleBytes.
	step := max(1, int(ends[n-1])/fsstSampleBytes)
	var start uint64
	for i := 0; i < n && total < fsstSampleBytes; i++ {
		if i > 0 {
			start = ends[i-1]
		}
		if i%step != 0 {
			continue
		}
		v := data[start:ends[i]]
		if len(v) == 0 {
			continue
		}
		sample = append(sample, v)
		total += len(v)
	}
	enc := newFsstEncoder(nil)
	counts := map[string]int{}
	for round := 0; round < fsstRounds; round++ {
		clear(counts)
		for _, v := range sample {
			prev := ""
			for len(v) > 0 {
				var tok []byte
				if k := enc.match(v); k >= 0 {
					tok = enc.syms[k]
				} else {
					tok = v[:1]
				}
				v = v[len(tok):]
				cur := string(tok)
				counts[cur]++
				if prev != "" {
					pair := prev + cur
					if len(pair) > 8 {
						pair = pair[:8]
					}
					counts[pair]++
				}
				prev = cur
			}
		}
		type cand struct {
			s    string
			gain int
		}
		cands := make([]cand, 0, len(counts))
		for s, c := range counts {
			g := c * len(s)
			if len(s) == 1 {
				g = c // a single byte saves only its escape
			}
			if c > 1 || len(s) == 1 {
				cands = append(cands, cand{s, g})
			}
		}
		sort.Slice(cands, func(a, b int) bool {
			if cands[a].gain != cands[b].gain {
				return cands[a].gain > cands[b].gain
			}
			return cands[a].s < cands[b].s
		})
		if len(cands) > fsstMaxSymbols {
			cands = cands[:fsstMaxSymbols]
		}
		syms := make([][]byte, len(cands))
		for i, c := range cands {
			syms[i] = []byte(c.s)
		}
		enc = newFsstEncoder(syms)
	}
	return enc
}

// pageFsst is the FSST form of a string page: the compressed values.
type pageFsst struct {
	enc  *fsstEncoder
	data []byte
	ends []uint64
}

// buildFsst compresses the pending string page when that pays.
func (lw *leafWriter) buildFsst() *pageFsst {
	p := &lw.p
	n := p.nVis
	if lw.kind != leafVar || n == 0 || p.nValid == 0 || p.offs[n-1] < fsstMinBytes {
		return nil
	}
	lw.materializeVar()
	enc := learnFsst(p.data, p.offs[:n])
	if len(enc.syms) == 0 {
		return nil
	}
	f := &pageFsst{enc: enc, data: make([]byte, 0, p.offs[n-1]/2), ends: make([]uint64, n)}
	var start uint64
	for i := 0; i < n; i++ {
		f.data = enc.compress(f.data, p.data[start:p.offs[i]])
		start = p.offs[i]
		f.ends[i] = uint64(len(f.data))
		if i == n/8 && float64(len(f.data)) > fsstMaxRatio*float64(p.offs[i]) {
			return nil // not paying on the first eighth: give up early
		}
	}
	if float64(len(f.data)+fsstTableBytes) >= fsstMaxRatio*float64(p.offs[n-1]) {
		return nil
	}
	return f
}

// chunk appends the Variable chunk of compressed values [a, b) with ob-bit
// offsets to dst.
func (f *pageFsst) chunk(dst []byte, ob, a, b int) []byte {
	return appendVarChunk(dst, ob, f.ends, f.data, a, b)
}

// appendVarChunk appends the mini-block Variable chunk of values [a, b)
// (value i ends at ends[i] in data): n+1 offsets of ob bits counted from
// the chunk start, the bytes, padding to the offset width.
func appendVarChunk(dst []byte, ob int, ends []uint64, data []byte, a, b int) []byte {
	n := b - a
	ow := ob / 8
	hdr := uint64(ow * (n + 1))
	var start uint64
	if a > 0 {
		start = ends[a-1]
	}
	base := len(dst)
	dst = growZero(dst, int(hdr))
	putWord(dst[base:], ob, 0, hdr)
	for i := a; i < b; i++ {
		putWord(dst[base:], ob, i-a+1, hdr+ends[i]-start)
	}
	dst = append(dst, data[start:ends[b-1]]...)
	for (len(dst)-base)%ow != 0 {
		dst = append(dst, padByte)
	}
	return dst
}

// encFsst21 is CompressiveEncoding{fsst{table, Variable{Flat{ob}}}}.
func encFsst21(table []byte, ob int) []byte {
	b := pbBytes(nil, 1, table)
	b = pbBytes(b, 2, encVariable21(ob))
	return encCompressive(compFsst, b)
}
