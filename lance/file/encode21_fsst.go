package file

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"slices"
	"sort"
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
	// and compresses to less than fsstMaxRatio of them: by at least 1.2x,
	// the gain DuckDB asks of FSST too. Less is not worth compressing
	// every value on write and expanding it on every read (near-random
	// text, say, which FSST shrinks by 10-15%).
	fsstMinBytes = 16 << 10
	fsstMaxRatio = 1 / 1.2
)

// fsstEncoder finds, at each position, the symbol FSST's compressor would:
// the symbol of 3+ bytes filed under the next 3 bytes' hash slot if it
// matches, else the 2-byte symbol of the next 2 bytes, else the 1-byte
// symbol of the next byte, else an escape. A symbol that loses its hash
// slot to another (the first in the table, the one of highest gain, keeps
// it) stays in the table but is never emitted.
type fsstEncoder struct {
	n           int
	sampleRatio float64                // learnFsst: compressed / plain size of its sample
	vals        [fsstMaxSymbols]uint64 // the symbols as little-endian words
	lens        [fsstMaxSymbols]uint8
	// hash: per slot the 3+ byte symbol filed there (len 0: none), its
	// word and code side by side so a lookup touches one cache line.
	hash [fsstHashSlots]fsstSlot
	// short: per 2-byte input what to emit, as FSST's shortCodes: the code
	// of the 2-byte symbol, else of the first byte's 1-byte symbol, else an
	// escape; code | advance<<8 (advance 0: escape, consumes 1 byte).
	short [1 << 16]uint16
	byOne [256]int16 // 1-byte symbols, for a value's last byte
}

// fsstSlot is a hash slot: word&(^0>>shift) == val when the symbol matches
// (an empty slot, shift 64 and val 1, never does).
type fsstSlot struct {
	val   uint64
	shift uint8
	code  uint8
	n     uint8 // 0: empty
}

var fsstEmptySlot = fsstSlot{val: 1, shift: 64}

// fsstShortEscape is the short entry of a 2-byte input without a symbol.
const fsstShortEscape = fsstEscape

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
		e.hash[i] = fsstEmptySlot
	}
	for i := range e.short {
		e.short[i] = fsstShortEscape
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

// index fills the lookup tables from the first n symbols; where two
// symbols compete for an entry, the first (of higher gain) keeps it.
func (e *fsstEncoder) index() {
	for i := 0; i < e.n; i++ {
		v, l := e.vals[i], e.lens[i]
		switch l {
		case 1:
			if e.byOne[byte(v)] < 0 {
				e.byOne[byte(v)] = int16(i)
			}
		case 2:
		default:
			if h := &e.hash[fsstHash(v)]; h.n == 0 {
				*h = fsstSlot{val: v, shift: 64 - 8*l, code: uint8(i), n: l}
			}
		}
	}
	// 2-byte symbols first; then every other entry whose first byte has a
	// 1-byte symbol falls back to it (256 entries per such byte).
	for i := e.n - 1; i >= 0; i-- {
		if e.lens[i] == 2 {
			e.short[uint16(e.vals[i])] = uint16(i) | 2<<8
		}
	}
	for b, k := range e.byOne {
		if k < 0 {
			continue
		}
		for c := 0; c < 256; c++ {
			if x := &e.short[b|c<<8]; *x == fsstShortEscape {
				*x = uint16(k) | 1<<8
			}
		}
	}
}

// unindex empties the entries index filled (cheaper than clearing 140 KB).
func (e *fsstEncoder) unindex() {
	for b, k := range e.byOne {
		if k < 0 {
			continue
		}
		for c := 0; c < 256; c++ {
			e.short[b|c<<8] = fsstShortEscape
		}
		e.byOne[b] = -1
	}
	for i := 0; i < e.n; i++ {
		v := e.vals[i]
		switch e.lens[i] {
		case 1:
		case 2:
			e.short[uint16(v)] = fsstShortEscape
		default:
			e.hash[fsstHash(v)] = fsstEmptySlot
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
		if h := &e.hash[fsstHash(word)]; word&(^uint64(0)>>h.shift) == h.val && int(h.n) <= r {
			return int(h.code)
		}
	}
	if r >= 2 {
		if x := e.short[uint16(word)]; x != fsstShortEscape {
			return int(byte(x))
		}
		return -1
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
	if need := pos + 2*(end-i); need > cap(dst) {
		dst = slices.Grow(dst, need-pos)
	}
	out := dst[:pos+2*(end-i)]
	for i+8 <= end {
		word := binary.LittleEndian.Uint64(data[i:])
		if h := &e.hash[fsstHash(word)]; word&(^uint64(0)>>h.shift) == h.val {
			out[pos] = h.code
			pos++
			i += int(h.n)
			continue
		}
		if x := e.short[uint16(word)]; x != fsstShortEscape {
			out[pos] = byte(x)
			pos++
			i += int(x >> 8)
			continue
		}
		out[pos], out[pos+1] = fsstEscape, byte(word)
		pos += 2
		i++
	}
	// The value's last bytes: words still load whole while data has them
	// (masked to the value's end), so a symbol must fit in what is left.
	for i < end && i+8 <= len(data) {
		r := end - i
		word := binary.LittleEndian.Uint64(data[i:]) & (^uint64(0) >> (64 - 8*uint(r)))
		if h := &e.hash[fsstHash(word)]; word&(^uint64(0)>>h.shift) == h.val && int(h.n) <= r {
			out[pos] = h.code
			pos++
			i += int(h.n)
			continue
		}
		if x := e.short[uint16(word)]; x != fsstShortEscape && int(x>>8) <= r {
			out[pos] = byte(x)
			pos++
			i += int(x >> 8)
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
	for i < end { // the page's last bytes
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
	sample  [][]byte // the values of the sample (see pageValues.value)
	held    [][]byte // the values the table is tried on
	single  [fsstCodes]uint32
	pairs   []uint32 // fsstCodes x fsstCodes
	touched []uint32 // pair indices counted this round
	// merged: an open-addressing table counting candidate strings (slots
	// of an older generation are empty, so it is never cleared).
	scratch []byte // compressed sample
	merged  []fsstMergeSlot
	gen     uint32
	used    []int32 // slots filled this round
	cands   []fsstCand
}

type fsstMergeSlot struct {
	key   fsstKey
	count uint32
	gen   uint32
}

type fsstCand struct {
	key  fsstKey
	gain int
}

var fsstLearners = sync.Pool{New: func() any {
	return &fsstLearner{pairs: make([]uint32, fsstCodes*fsstCodes)}
}}

// learnFsst learns a symbol table from a page's values. The encoder is
// pooled: release it when done.
func learnFsst(pv *pageValues) *fsstEncoder {
	l := fsstLearners.Get().(*fsstLearner)
	defer func() {
		clear(l.sample) // the pooled learner must not hold the page's arrays
		clear(l.held)
		fsstLearners.Put(l)
	}()
	ends := pv.ends
	// Values spread over the page, up to fsstSampleBytes.
	step := max(1, int(ends[len(ends)-1])/fsstSampleBytes)
	var next int
	l.sample, next = fsstSample(l.sample[:0], pv, 0, step)
	enc := newFsstEncoder(nil)
	for round := 0; round < fsstRounds; round++ {
		l.count(enc)
		// The counts tell how the table learnt so far does on its own
		// sample: hopeless data (random bytes) stops learning early.
		if round >= 2 && l.trainedRatio() > fsstHopeless {
			break
		}
		l.choose(enc)
		enc.unindex()
		enc.n = 0
		for _, c := range l.cands {
			enc.vals[enc.n], enc.lens[enc.n] = c.key.val, c.key.n
			enc.n++
		}
		enc.index()
	}
	// How well the table does on other values than those it was learnt
	// from (the ones between them, or after them), so a page it does not
	// pay for is given up before any of it is compressed.
	held := l.held[:0]
	if step > 1 {
		held, _ = fsstSample(held, pv, step/2, step)
	} else {
		held, _ = fsstSample(held, pv, next, 1)
	}
	if len(held) == 0 {
		held = append(held, l.sample...) // the page is all sample
	}
	l.held = held
	var in, out int
	for _, v := range held {
		l.scratch = enc.compressRange(l.scratch[:0], v[:cap(v)], 0, len(v))
		in += len(v)
		out += len(l.scratch)
	}
	enc.sampleRatio = float64(out) / float64(max(in, 1))
	return enc
}

// fsstHopeless: a table learnt in two rounds that compresses its own
// sample to more than this will not get near fsstMaxRatio.
const fsstHopeless = 0.95

// trainedRatio is the compressed / plain size of the sample under the
// table count just used: a code per token, two bytes per escape.
func (l *fsstLearner) trainedRatio() float64 {
	var out, in int
	for code, c := range l.single {
		out += int(c)
		if code >= fsstLiteral {
			out += int(c)
		}
	}
	for _, v := range l.sample {
		in += len(v)
	}
	return float64(out) / float64(max(in, 1))
}

// fsstSample appends to dst the non-empty values first, first+step, ...
// until they hold fsstSampleBytes, and returns the index after the last
// value it took.
func fsstSample(dst [][]byte, pv *pageValues, first, step int) ([][]byte, int) {
	total := 0
	i := first
	for ; i < len(pv.ends) && total < fsstSampleBytes; i += step {
		if v := pv.value(i); len(v) > 0 {
			dst = append(dst, v)
			total += len(v)
		}
	}
	return dst, i - step + 1
}

// count tokenises the sample with enc, counting every token and every
// pair of adjacent tokens within a value.
func (l *fsstLearner) count(enc *fsstEncoder) {
	clear(l.single[:])
	for _, p := range l.touched {
		l.pairs[p] = 0
	}
	l.touched = l.touched[:0]
	for _, v := range l.sample {
		prev := -1
		data := v[:cap(v)]
		for i, end := 0, len(v); i < end; {
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
	l.startMerge(len(l.touched) + fsstCodes)
	for code, c := range l.single {
		if c > 0 {
			l.add(enc.key(code), c)
		}
	}
	for _, p := range l.touched {
		a, b := enc.key(int(p/fsstCodes)), enc.key(int(p%fsstCodes))
		k := fsstKey{a.val | b.val<<(8*uint(a.n)), min(a.n+b.n, 8)}
		k.val &= ^uint64(0) >> (64 - 8*uint(k.n))
		l.add(k, l.pairs[p])
	}
	// The best fsstMaxSymbols by a bounded heap whose root is the worst
	// kept, then those sorted.
	h := l.cands[:0]
	for _, si := range l.used {
		m := &l.merged[si]
		if m.count <= 1 && m.key.n != 1 {
			continue
		}
		g := int(m.count) * int(m.key.n)
		if m.key.n == 1 {
			g = int(m.count) // a single byte saves only its escape
		}
		c := fsstCand{m.key, g}
		switch {
		case len(h) < fsstMaxSymbols:
			h = append(h, c)
			for k := len(h) - 1; k > 0; { // sift up
				parent := (k - 1) / 2
				if !h[parent].better(h[k]) {
					break
				}
				h[parent], h[k] = h[k], h[parent]
				k = parent
			}
		case c.better(h[0]):
			h[0] = c
			for k := 0; ; { // sift down
				worst := k
				for _, ch := range [2]int{2*k + 1, 2*k + 2} {
					if ch < len(h) && h[worst].better(h[ch]) {
						worst = ch
					}
				}
				if worst == k {
					break
				}
				h[k], h[worst] = h[worst], h[k]
				k = worst
			}
		}
	}
	slices.SortFunc(h, func(a, b fsstCand) int {
		switch {
		case a.better(b):
			return -1
		case b.better(a):
			return 1
		}
		return 0
	})
	l.cands = h
}

// better orders candidates: higher gain first, then by their bytes.
func (a fsstCand) better(b fsstCand) bool {
	if a.gain != b.gain {
		return a.gain > b.gain
	}
	return a.key.less(b.key)
}

// startMerge readies the merge table for up to n strings.
func (l *fsstLearner) startMerge(n int) {
	size := 1 << 12
	for size < 2*n {
		size *= 2
	}
	if len(l.merged) < size {
		l.merged = make([]fsstMergeSlot, size)
		l.gen = 0
	}
	l.gen++
	l.used = l.used[:0]
}

// add counts c more occurrences of string k.
func (l *fsstLearner) add(k fsstKey, c uint32) {
	mask := uint64(len(l.merged) - 1)
	i := ((k.val ^ uint64(k.n)) * 0x9E3779B97F4A7C15 >> 20) & mask
	for {
		m := &l.merged[i]
		if m.gen != l.gen {
			*m = fsstMergeSlot{key: k, count: c, gen: l.gen}
			l.used = append(l.used, int32(i))
			return
		}
		if m.key == k {
			m.count += c
			return
		}
		i = (i + 1) & mask
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
	pv := lw.varValues()
	enc := learnFsst(pv)
	defer enc.release()
	if enc.n == 0 || enc.sampleRatio >= fsstMaxRatio {
		return nil
	}
	// Room for what the sample says the page compresses to, and a margin:
	// growing a page-sized buffer copies it.
	room := float64(p.offs[n-1]) * min(enc.sampleRatio+0.1, fsstMaxRatio)
	f := &pageFsst{data: make([]byte, 0, int(room)+64), ends: make([]uint64, n)}
	if parts := min(runtime.GOMAXPROCS(0), n); parts > 1 && p.offs[n-1] >= fsstParallelBytes {
		f.compressParallel(enc, pv, parts)
	} else {
		f.data = f.compressValues(enc, pv, 0, n/8+1, f.data)
		if float64(len(f.data)) > fsstMaxRatio*float64(p.offs[n/8]) {
			return nil // not paying on the first eighth: give up early
		}
		f.data = f.compressValues(enc, pv, n/8+1, n, f.data)
	}
	if float64(len(f.data)+fsstTableBytes) >= fsstMaxRatio*float64(p.offs[n-1]) {
		return nil
	}
	f.table = enc.table()
	return f
}

// fsstParallelBytes: a page of at least this many value bytes is
// compressed in parts on several goroutines (a long page of one string
// column is otherwise the longest task of a write).
const fsstParallelBytes = 1 << 20

// compressValues appends the codes of values [a, b) to out, f.ends[i]
// the length of out after value i.
func (f *pageFsst) compressValues(enc *fsstEncoder, pv *pageValues, a, b int, out []byte) []byte {
	pv.each(a, b, func(data []byte, shift, pa, pb int) bool {
		for i := pa; i < pb; i++ {
			out = enc.compressRange(out, data, pv.start(i)+shift, int(pv.ends[i])+shift)
			f.ends[i] = uint64(len(out))
		}
		return true
	})
	return out
}

// compressParallel compresses the page's values into f in parts of about
// equal bytes, one goroutine each, and joins them: the bytes one goroutine
// would produce, since each value is compressed on its own.
func (f *pageFsst) compressParallel(enc *fsstEncoder, pv *pageValues, parts int) {
	ends := pv.ends
	n := len(ends)
	total := ends[n-1]
	first := make([]int, parts+1) // part k holds values [first[k], first[k+1])
	for k := 1; k < parts; k++ {
		target := total * uint64(k) / uint64(parts)
		first[k] = max(first[k-1], sort.Search(n, func(i int) bool { return ends[i] > target }))
	}
	first[parts] = n
	bufs := make([][]byte, parts)
	var failure any
	var once sync.Once
	var wg sync.WaitGroup
	for k := 0; k < parts; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { // re-raised below, where callers recover
				if r := recover(); r != nil {
					once.Do(func() { failure = r })
				}
			}()
			a, b := first[k], first[k+1]
			if a == b {
				return
			}
			var start uint64
			if a > 0 {
				start = ends[a-1]
			}
			out := make([]byte, 0, int(float64(ends[b-1]-start)*enc.sampleRatio*1.1)+64)
			bufs[k] = f.compressValues(enc, pv, a, b, out) // ends within the part, for now
		}()
	}
	wg.Wait()
	if failure != nil {
		panic(failure)
	}
	for k, b := range bufs {
		base := uint64(len(f.data))
		for i := first[k]; i < first[k+1]; i++ {
			f.ends[i] += base
		}
		f.data = append(f.data, b...)
	}
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
