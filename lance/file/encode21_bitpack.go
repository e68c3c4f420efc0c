package file

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
)

// Integer bit-packing for mini-block values (InlineBitpacking), the inverse
// of unpackBlock / unpackInline in decode21_bitpack.go. pylance 14 packs every
// integer mini-block page this way at 2.1 and 2.2: per block of 1024 values
// one T-bit word with the block's bit width W (the widest value's bit
// length, the value's bit pattern taken as unsigned), then the W*1024/T
// packed words. Lance has no frame of reference in these versions, so a
// page whose values need all T bits (negative numbers, say) is stored Flat.

// bitpackWord is the word size InlineBitpacking uses for values of dt (0:
// not an integer the reader decodes that way).
func bitpackWord(dt arrow.DataType) int {
	switch dt.ID() {
	case arrow.INT8, arrow.UINT8:
		return 8
	case arrow.INT16, arrow.UINT16:
		return 16
	case arrow.INT32, arrow.UINT32, arrow.DATE32, arrow.TIME32:
		return 32
	case arrow.INT64, arrow.UINT64, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME64, arrow.DURATION:
		return 64
	}
	return bytesWord(dt)
}

// packBlock packs 1024 t-bit values (vals, below 1<<w) at width w into
// out (packedWords(t, w)*t/8 bytes, zeroed by the caller).
func packBlock(t, w int, vals *[1024]uint64, out []byte) {
	if w == 0 {
		return
	}
	out = out[:packedWords(t, w)*t/8]
	switch t {
	case 8:
		packWords(w, vals, out, wordsOf[uint8](out))
	case 16:
		packWords(w, vals, out, wordsOf[uint16](out))
	case 32:
		packWords(w, vals, out, wordsOf[uint32](out))
	default:
		packWords(w, vals, out, wordsOf[uint64](out))
	}
}

// packWords is packBlock for words of type W, written through the word
// view words of out when it has one (an aligned copy otherwise). Row by
// row, the mirror of unpackWords: every lane of a row (the values at one
// position of their lanes, in FastLanes order) shares its word index and
// shift, so the lane loop is a plain shift-and-or.
func packWords[W word](w int, vals *[1024]uint64, out []byte, words []W) {
	t := int(unsafe.Sizeof(W(0))) * 8
	direct := words != nil
	if !direct {
		words = make([]W, packedWords(t, w))
	}
	lanes := 1024 / t
	for row := 0; row < t; row++ {
		bit := row * w
		k, shift := bit/t, uint(bit%t)
		base := flOrder[row/8]*16 + (row%8)*128
		in := vals[base : base+lanes]
		lo := words[lanes*k : lanes*k+lanes]
		for l := range lo {
			lo[l] |= W(in[l]) << shift
		}
		if int(shift)+w > t { // the values' high bits open the next word
			hi := words[lanes*(k+1) : lanes*(k+1)+lanes]
			up := uint(t) - shift
			for l := range hi {
				hi[l] |= W(in[l] >> up)
			}
		}
	}
	if !direct {
		for i, v := range words {
			putWord(out, t, i, uint64(v))
		}
	}
}

// loadBlock copies the k t-bit little-endian values of raw from value
// from on into vals and returns their bitwise or.
func loadBlock(t int, raw []byte, from, k int, vals *[1024]uint64) uint64 {
	switch t {
	case 8:
		return loadWords(t, raw, wordsOf[uint8](raw), from, k, vals)
	case 16:
		return loadWords(t, raw, wordsOf[uint16](raw), from, k, vals)
	case 32:
		return loadWords(t, raw, wordsOf[uint32](raw), from, k, vals)
	}
	return loadWords(t, raw, wordsOf[uint64](raw), from, k, vals)
}

// loadWords is loadBlock through raw's word view (nil: none; vals nil:
// only the or).
func loadWords[W word](t int, raw []byte, view []W, from, k int, vals *[1024]uint64) uint64 {
	var or uint64
	switch {
	case view == nil:
		for i := 0; i < k; i++ {
			v := readWord(raw, t, from+i)
			if vals != nil {
				vals[i] = v
			}
			or |= v
		}
	case vals == nil:
		var o W
		for _, x := range view[from : from+k] {
			o |= x
		}
		or = uint64(o)
	default:
		for i, x := range view[from : from+k] {
			vals[i] = uint64(x)
			or |= uint64(x)
		}
	}
	return or
}

// packInline appends the InlineBitpacking form of the n t-bit little-endian
// values in raw to dst.
func packInline(dst []byte, t int, raw []byte, n int) []byte {
	wb := t / 8
	var vals [1024]uint64
	for b := 0; b < n; b += 1024 {
		k := min(1024, n-b)
		or := loadBlock(t, raw, b, k, &vals)
		clear(vals[k:])
		w := bits.Len64(or)
		start := len(dst)
		dst = growZero(dst, wb+packedWords(t, w)*wb)
		putWord(dst[start:], t, 0, uint64(w))
		packBlock(t, w, &vals, dst[start+wb:])
	}
	return dst
}

// packedInlineSize is the size packInline gives the n t-bit values in raw.
func packedInlineSize(t int, raw []byte, n int) int {
	wb := t / 8
	size := 0
	for b := 0; b < n; b += 1024 {
		k := min(1024, n-b)
		or := loadBlock(t, raw, b, k, nil)
		size += wb + packedWords(t, bits.Len64(or))*wb
	}
	return size
}

// encInlineBitpacking21 is CompressiveEncoding{inline_bitpacking{t}}.
func encInlineBitpacking21(t int) []byte {
	return encCompressive(compInlineBitpacking, pbVarint(nil, 1, uint64(t)))
}

// bitpackChunkValues is the mini-block chunk size of bit-packed pages: one
// block, as pylance writes them.
const bitpackChunkValues = 1024

// packWord is the InlineBitpacking word size of the leaf's values (0: the
// leaf is not an integer column, or is compressed with a general codec:
// pylance then stores its values plain under that codec, and strings
// without FSST).
func (lw *leafWriter) packWord() int {
	if lw.kind != leafFixed || lw.comp != "" {
		return 0
	}
	return bitpackWord(lw.nodes[len(lw.nodes)-1].dt)
}

// packedChunksSize is the InlineBitpacking size of the chunks' single value
// buffers (t-bit values).
func packedChunksSize(bufs [][][]byte, plans []chunkPlan, t int) int {
	total := 0
	for i, c := range plans {
		total += packedInlineSize(t, bufs[i][0], c.v1-c.v0)
	}
	return total
}

// packChunks replaces each chunk's single value buffer (t-bit values) by its
// InlineBitpacking form, total bytes (packedChunksSize), when that makes the
// page smaller than plain bytes (always, with must: dictionary indices have
// no other encoding here). It returns the packed size.
func packChunks(bufs [][][]byte, plans []chunkPlan, t, plain, total int, must bool) (int, bool) {
	if !must && total >= plain {
		return plain, false
	}
	for i, c := range plans {
		bufs[i][0] = packInline(make([]byte, 0, total/len(plans)+8), t, bufs[i][0], c.v1-c.v0)
	}
	return total, true
}

// Rep and def levels of mini-block chunks are bit-packed at one width per
// page (OutOfLineBitpacking{16, Flat{w}}), as pylance stores them: whole
// blocks of 1024 levels packed at w bits, then the rest either raw (u16s)
// or as one zero-padded packed block, whichever is strictly smaller (the
// reader tells them apart by size).

// levelWidth is the bit width the page's levels ls are packed at (0: store
// them as plain u16s).
func levelWidth(ls []uint16) int {
	var or uint16
	for _, l := range ls {
		or |= l
	}
	w := bits.Len16(or)
	if w == 0 {
		w = 1
	}
	if w >= 16 {
		return 0
	}
	return w
}

// appendPackedLevels appends the OutOfLineBitpacking form of ls at width w.
func appendPackedLevels(dst []byte, ls []uint16, w int) []byte {
	full := len(ls) / 1024 * 1024
	per := packedWords(16, w) * 2
	for b := 0; b < full; b += 1024 {
		n := len(dst)
		dst = growZero(dst, per)
		packLevelBlock(w, (*[1024]uint16)(ls[b:b+1024]), dst[n:])
	}
	tail := ls[full:]
	switch {
	case len(tail) == 0:
	case per < 2*len(tail):
		var last [1024]uint16
		copy(last[:], tail)
		n := len(dst)
		dst = growZero(dst, per)
		packLevelBlock(w, &last, dst[n:])
	default:
		dst = appendLevels(dst, tail)
	}
	return dst
}

// packLevelBlock is packBlock(16, w) for 1024 levels (below 1<<w), into
// out (zeroed). A row's 64 lanes are 64 consecutive levels, so on a
// little-endian machine they pack four per 64-bit operation straight from
// the levels' bytes (each lane's bits stay in its lane: masks cut what a
// shift would carry into the next).
func packLevelBlock(w int, ls *[1024]uint16, out []byte) {
	if w == 0 {
		return
	}
	if !nativeLittleEndian {
		var vals [1024]uint64
		for i, l := range ls {
			vals[i] = uint64(l)
		}
		packBlock(16, w, &vals, out)
		return
	}
	const t, lanes = 16, 64
	out = out[:packedWords(t, w)*t/8]
	in := bytesOf(ls[:])
	rep := func(m uint64) uint64 { return m * 0x0001000100010001 } // m in every lane
	for row := 0; row < t; row++ {
		bit := row * w
		k, shift := bit/t, uint(bit%t)
		base := flOrder[row/8]*16 + (row%8)*128
		src := in[2*base : 2*(base+lanes)]
		lo := out[2*lanes*k : 2*lanes*(k+1)]
		keep := rep(0xFFFF << shift & 0xFFFF) // the lane bits the low word takes
		for j := 0; j < len(lo); j += 8 {
			x := binary.LittleEndian.Uint64(src[j:])
			binary.LittleEndian.PutUint64(lo[j:], binary.LittleEndian.Uint64(lo[j:])|x<<shift&keep)
		}
		if int(shift)+w > t { // the levels' high bits open the next word
			up := uint(t) - shift
			spill := rep(1<<(uint(w)-up) - 1)
			hi := out[2*lanes*(k+1) : 2*lanes*(k+2)]
			for j := 0; j < len(hi); j += 8 {
				x := binary.LittleEndian.Uint64(src[j:])
				binary.LittleEndian.PutUint64(hi[j:], binary.LittleEndian.Uint64(hi[j:])|x>>up&spill)
			}
		}
	}
}

// packedLevelsSize is len(appendPackedLevels(nil, ls, w)) for n levels.
func packedLevelsSize(n, w int) int {
	per := packedWords(16, w) * 2
	size := n / 1024 * per
	if tail := n % 1024; tail > 0 {
		if per < 2*tail {
			size += per
		} else {
			size += 2 * tail
		}
	}
	return size
}

// encLevels21 is the CompressiveEncoding of levels packed at width w (0:
// Flat{16}).
func encLevels21(w int) []byte {
	if w == 0 {
		return encFlat21(16)
	}
	b := pbVarint(nil, 1, 16)
	b = pbBytes(b, 3, encFlat21(uint64(w)))
	return encCompressive(compOutOfLineBitpacking, b)
}
