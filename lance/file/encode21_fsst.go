package file

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
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
// and keep the 255 with the highest gain (count x length). Counting works
// on token codes in flat arrays and every buffer is pooled, so learning
// allocates nothing per value; the page is then compressed only when the
// learnt table compresses the sample well.

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
	n     int
	vals  [fsstMaxSymbols]uint64 // the symbols as little-endian words
	masks [fsstMaxSymbols]uint64 // their length's low bytes set
	lens  [fsstMaxSymbols]uint8
	hash  [fsstHashSlots]int16
	short [1 << 16]int16
	byOne [256]int16
}

const fsstHashSlots = 1 << 12

func fsstHash(w uint64) int {
	w &= 0xFFFFFF
	h := w * 2971215073
	return int((h ^ h>>15) & (fsstHashSlots - 1))
}

// fsstEncoders recycles encoders: each holds 140 KB of lookup tables.
var fsstEncoders = sync.Pool{New: func() any {
	e := new(fsstEncoder)
	for i := range e.hash {
		e.hash[i] = -1
	}
	for i := range e.short {
		e.short[i] = -1
	}
	for i := range e.byOne {
		e.byOne[i] = -1
	}
	return e
}}

// newFsstEncoder returns an encoder for syms (a pooled one: give it back
// with release when done).
func newFsstEncoder(syms [][]byte) *fsstEncoder {
	e := fsstEncoders.Get().(*fsstEncoder)
	e.n = 0
	for _, s := range syms {
		var w [8]byte
		copy(w[:], s)
		e.vals[e.n], e.lens[e.n] = binary.LittleEndian.Uint64(w[:]), uint8(len(s))
		e.n++
	}
	e.index()
	return e
}

// release returns the encoder to the pool, its lookup tables back to empty.
func (e *fsstEncoder) release() {
	e.unindex()
	e.n = 0
	fsstEncoders.Put(e)
}

// index fills the lookup tables from the first n symbols.
func (e *fsstEncoder) index() {
	for i := 0; i < e.n; i++ {
		v, l := e.vals[i], e.lens[i]
		e.masks[i] = ^uint64(0) >> (64 - 8*uint(l))
		switch l {
		case 1:
			if e.byOne[byte(v)] < 0 {
				e.byOne[byte(v)] = int16(i)
			}
		case 2:
			if e.short[uint16(v)] < 0 {
				e.short[uint16(v)] = int16(i)
			}
		default:
			if h := fsstHash(v); e.hash[h] < 0 {
				e.hash[h] = int16(i)
			}
		}
	}
}

// unindex empties the slots index filled (cheaper than clearing 140 KB).
func (e *fsstEncoder) unindex() {
	for i := 0; i < e.n; i++ {
		v := e.vals[i]
		switch e.lens[i] {
		case 1:
			e.byOne[byte(v)] = -1
		case 2:
			e.short[uint16(v)] = -1
		default:
			e.hash[fsstHash(v)] = -1
		}
	}
}

// sym is symbol k's bytes.
func (e *fsstEncoder) sym(k int) []byte {
	var w [8]byte
	binary.LittleEndian.PutUint64(w[:], e.vals[k])
	return w[:e.lens[k]]
}

// matchAt returns the symbol to emit at data[i:end] (-1: escape), reading
// data as whole words: past end belongs to the next value, so a symbol
// matches only if it fits before end.
func (e *fsstEncoder) matchAt(data []byte, i, end int) int {
	r := end - i
	var word uint64
	if i+8 <= len(data) {
		word = binary.LittleEndian.Uint64(data[i:])
	} else {
		var w [8]byte
		copy(w[:], data[i:end])
		word = binary.LittleEndian.Uint64(w[:])
	}
	if r < 8 {
		word &= ^uint64(0) >> (64 - 8*uint(r))
	}
	if r >= 3 {
		if k := e.hash[fsstHash(word)]; k >= 0 && word&e.masks[k] == e.vals[k] && int(e.lens[k]) <= r {
			return int(k)
		}
	}
	if r >= 2 {
		if k := e.short[uint16(word)]; k >= 0 {
			return int(k)
		}
	}
	return int(e.byOne[byte(word)])
}

// compress appends the codes of s to dst.
func (e *fsstEncoder) compress(dst, s []byte) []byte {
	return e.compressRange(dst, s, 0, len(s))
}

// compressRange appends the codes of data[i:end] to dst. Words are loaded
// from data beyond end when it has the bytes (the next values), so only a
// page's last value takes the slow path.
func (e *fsstEncoder) compressRange(dst, data []byte, i, end int) []byte {
	pos := len(dst)
	dst = slices.Grow(dst, 2*(end-i))
	out := dst[:pos+2*(end-i)]
	for i+8 <= end {
		word := binary.LittleEndian.Uint64(data[i:])
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
	for i < end {
		if k := e.matchAt(data, i, end); k >= 0 {
			out[pos] = byte(k)
			pos++
			i += int(e.lens[k])
			continue
		}
		out[pos], out[pos+1] = fsstEscape, data[i]
		pos += 2
		i++
	}
	return out[:pos]
}

// table is the symbol table in Lance's layout.
func (e *fsstEncoder) table() []byte {
	b := make([]byte, fsstTableBytes)
	n := e.n
	binary.LittleEndian.PutUint64(b, uint64(fsstMagic)<<32|1<<24|uint64(n))
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint64(b[8+8*i:], e.vals[i])
		b[8+8*n+i] = e.lens[i]
	}
	return b
}

// Token codes while learning: a symbol's index, or fsstLiteral+b for an
// escaped byte b.
const (
	fsstLiteral = 256
	fsstCodes   = 512
)

// fsstKey is a candidate symbol: its bytes as a little-endian word and
// its length.
type fsstKey struct {
	val uint64
	n   uint8
}

// less orders keys as their byte strings compare.
func (a fsstKey) less(b fsstKey) bool {
	x, y := bits.ReverseBytes64(a.val), bits.ReverseBytes64(b.val)
	if x != y {
		return x < y
	}
	return a.n < b.n
}

// fsstLearner holds the counting state of learnFsst, pooled.
type fsstLearner struct {
	sample  [][2]int // value ranges of the sample
	single  [fsstCodes]uint32
	pairs   []uint32 // fsstCodes x fsstCodes
	touched []uint32 // pair indices counted this round
	merged  map[fsstKey]uint32
	cands   []fsstCand
}

type fsstCand struct {
	key  fsstKey
	gain int
}

var fsstLearners = sync.Pool{New: func() any {
	return &fsstLearner{pairs: make([]uint32, fsstCodes*fsstCodes), merged: make(map[fsstKey]uint32, 1024)}
}}

// learnFsst learns a symbol table from values (their concatenation is data,
// value i ending at ends[i]). The encoder is pooled: release it when done.
func learnFsst(data []byte, ends []uint64) *fsstEncoder {
	l := fsstLearners.Get().(*fsstLearner)
	defer fsstLearners.Put(l)
	l.sample = l.sample[:0]
	n := len(ends)
	total := 0
	// Values spread over the page, up to fsstSampleBytes.
	step := max(1, int(ends[n-1])/fsstSampleBytes)
	var start uint64
	for i := 0; i < n && total < fsstSampleBytes; i++ {
		if i > 0 {
			start = ends[i-1]
		}
		if i%step != 0 || ends[i] == start {
			continue
		}
		l.sample = append(l.sample, [2]int{int(start), int(ends[i])})
		total += int(ends[i] - start)
	}
	enc := newFsstEncoder(nil)
	for round := 0; round < fsstRounds; round++ {
		l.count(enc, data)
		l.choose(enc)
		enc.unindex()
		enc.n = 0
		for _, c := range l.cands {
			enc.vals[enc.n], enc.lens[enc.n] = c.key.val, c.key.n
			enc.n++
		}
		enc.index()
	}
	return enc
}

// count tokenises the sample with enc, counting every token and every
// pair of adjacent tokens within a value.
func (l *fsstLearner) count(enc *fsstEncoder, data []byte) {
	clear(l.single[:])
	for _, p := range l.touched {
		l.pairs[p] = 0
	}
	l.touched = l.touched[:0]
	for _, r := range l.sample {
		prev := -1
		for i, end := r[0], r[1]; i < end; {
			code := enc.matchAt(data, i, end)
			if code >= 0 {
				i += int(enc.lens[code])
			} else {
				code = fsstLiteral + int(data[i])
				i++
			}
			l.single[code]++
			if prev >= 0 {
				p := prev*fsstCodes + code
				if l.pairs[p] == 0 {
					l.touched = append(l.touched, uint32(p))
				}
				l.pairs[p]++
			}
			prev = code
		}
	}
}

// key is the string a token code stands for.
func (enc *fsstEncoder) key(code int) fsstKey {
	if code >= fsstLiteral {
		return fsstKey{uint64(code - fsstLiteral), 1}
	}
	return fsstKey{enc.vals[code], enc.lens[code]}
}

// choose puts the (up to 255) candidates of highest gain in l.cands, best
// first: tokens and pairs that spell the same string count together.
func (l *fsstLearner) choose(enc *fsstEncoder) {
	clear(l.merged)
	for code, c := range l.single {
		if c > 0 {
			l.merged[enc.key(code)] += c
		}
	}
	for _, p := range l.touched {
		a, b := enc.key(int(p/fsstCodes)), enc.key(int(p%fsstCodes))
		k := fsstKey{a.val | b.val<<(8*uint(a.n)), min(a.n+b.n, 8)}
		k.val &= ^uint64(0) >> (64 - 8*uint(k.n))
		l.merged[k] += l.pairs[p]
	}
	l.cands = l.cands[:0]
	for k, c := range l.merged {
		if c <= 1 && k.n != 1 {
			continue
		}
		g := int(c) * int(k.n)
		if k.n == 1 {
			g = int(c) // a single byte saves only its escape
		}
		l.cands = append(l.cands, fsstCand{k, g})
	}
	slices.SortFunc(l.cands, func(a, b fsstCand) int {
		switch {
		case a.gain != b.gain:
			return b.gain - a.gain
		case a.key.less(b.key):
			return -1
		case b.key.less(a.key):
			return 1
		}
		return 0
	})
	if len(l.cands) > fsstMaxSymbols {
		l.cands = l.cands[:fsstMaxSymbols]
	}
}

// pageFsst is the FSST form of a string page: the compressed values.
type pageFsst struct {
	table []byte
	data  []byte
	ends  []uint64
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
	defer enc.release()
	if enc.n == 0 {
		return nil
	}
	f := &pageFsst{data: make([]byte, 0, p.offs[n-1]/2), ends: make([]uint64, n)}
	var start uint64
	for i := 0; i < n; i++ {
		f.data = enc.compressRange(f.data, p.data, int(start), int(p.offs[i]))
		start = p.offs[i]
		f.ends[i] = uint64(len(f.data))
		if i == n/8 && float64(len(f.data)) > fsstMaxRatio*float64(p.offs[i]) {
			return nil // not paying on the first eighth: give up early
		}
	}
	if float64(len(f.data)+fsstTableBytes) >= fsstMaxRatio*float64(p.offs[n-1]) {
		return nil
	}
	f.table = enc.table()
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
