package file

import (
	"encoding/binary"

	"github.com/apache/arrow/go/v17/arrow"
)

// Run-length encoding of mini-block values, as pylance 14 writes it for
// fixed-width values of 8, 16, 32 or 64 bits (integers, floats, dictionary
// indices) at 2.1 and 2.2 when the page has runs: each chunk holds two
// buffers, the value of every run and its length as a u8 (longer runs are
// split), Rle{values: Flat{bits}, run_lengths: Flat{8}}. pylance picks it
// by size: when the runs take fewer bytes than the values stored plain and
// than their bit-packed form. So does the writer, counting the runs of
// each chunk and giving up as soon as they exceed the other encodings
// (floats, which are not bit-packed, only when their first values have runs).

// maxRunLength is the longest run one u8 run length holds.
const maxRunLength = 255

// rleWidthOK reports whether values of w bytes can be run-length encoded.
func rleWidthOK(w int) bool { return w == 1 || w == 2 || w == 4 || w == 8 }

// rleWord is the value width, in bits, at which the leaf's values may be
// run-length encoded (0: not a number).
func (lw *leafWriter) rleWord() int {
	dt := lw.nodes[len(lw.nodes)-1].dt
	switch dt.ID() {
	case arrow.FLOAT16:
		return 16
	case arrow.FLOAT32:
		return 32
	case arrow.FLOAT64:
		return 64
	}
	return bitpackWord(dt)
}

// rleProbe is how many leading values leadingRuns looks at.
const rleProbe = 1024

// leadingRuns reports whether the page's first rleProbe values of w bytes
// have runs enough to make RLE pay on them. It spares pages of values
// without runs (floats, mostly) the copy and the count a whole-page
// estimate would cost: a page whose runs start later keeps its plain values.
func (lw *leafWriter) leadingRuns(w int) bool {
	k := min(lw.p.nVis, rleProbe)
	lw.probe = lw.appendChunkValues(lw.probe[:0], 0, k)
	return rleRuns(lw.probe, w, k, k)*(w+1) < k*w
}

// valueAt is the i-th w-byte little-endian value of raw.
func valueAt(raw []byte, w, i int) uint64 {
	switch w {
	case 1:
		return uint64(raw[i])
	case 2:
		return uint64(binary.LittleEndian.Uint16(raw[2*i:]))
	case 4:
		return uint64(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return binary.LittleEndian.Uint64(raw[8*i:])
}

// rleRuns counts the runs (of at most maxRunLength) of the n w-byte values
// in raw; it stops counting once they pass limit.
func rleRuns(raw []byte, w, n, limit int) int {
	if n == 0 {
		return 0
	}
	runs, length := 1, 1
	prev := valueAt(raw, w, 0)
	for i := 1; i < n; i++ {
		v := valueAt(raw, w, i)
		if v == prev && length < maxRunLength {
			length++
			continue
		}
		runs++
		if runs > limit {
			return runs
		}
		prev, length = v, 1
	}
	return runs
}

// rleSize is the mini-block value bytes of chunks encoded with RLE: each
// chunk's two buffers, padded to 8 bytes (their 4-byte sizes are the same
// for every encoding but are counted too, as the extra buffer costs them).
// It stops at limit, returning a size above it.
func rleSize(bufs [][][]byte, plans []chunkPlan, w, limit int) int {
	total := 0
	for i, c := range plans {
		runs := rleRuns(bufs[i][0], w, c.v1-c.v0, (limit-total)/(w+1)+1)
		total += pad8(runs*w) + pad8(runs) + 4
		if total > limit {
			return total
		}
	}
	return total
}

// plainChunkSize is the mini-block value bytes of chunks stored as they
// are in bufs (one buffer per chunk, padded to 8 bytes).
func plainChunkSize(bufs [][][]byte) int {
	total := 0
	for _, b := range bufs {
		total += pad8(len(b[0]))
	}
	return total
}

// appendRle appends the runs of the n w-byte values in raw to vals (each
// run's value) and lens (each run's length, u8).
func appendRle(vals, lens, raw []byte, w, n int) ([]byte, []byte) {
	for i := 0; i < n; {
		v := raw[i*w : i*w+w]
		first := valueAt(raw, w, i)
		e := i + 1
		for e < n && e-i < maxRunLength && valueAt(raw, w, e) == first {
			e++
		}
		vals = append(vals, v...)
		lens = append(lens, byte(e-i))
		i = e
	}
	return vals, lens
}

// rleChunks replaces each chunk's single buffer of w-byte values by its two
// RLE buffers.
func rleChunks(bufs [][][]byte, plans []chunkPlan, w int) {
	for i, c := range plans {
		vals, lens := appendRle(nil, nil, bufs[i][0], w, c.v1-c.v0)
		bufs[i] = [][]byte{vals, lens}
	}
}

// encRle21 is CompressiveEncoding{rle{values: Flat{bits}, run_lengths: Flat{8}}}.
func encRle21(bits int) []byte {
	b := pbBytes(nil, 1, encFlat21(uint64(bits)))
	b = pbBytes(b, 2, encFlat21(8))
	return encCompressive(compRle, b)
}
