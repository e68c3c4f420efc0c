package file

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Decompressors for the CompressiveEncoding tree of 2.1+ pages. They turn
// on-disk bytes into a block of n values in memory. Three contexts exist:
//
//   - mini-block: one chunk's value buffers (decodeMini)
//   - block: one whole buffer, e.g. rep/def levels or a dictionary (decodeBlock)
//   - per-value: full-zip values (read21_fullzip.go)
//
// Every length read from the file is checked before it is used; n itself is
// bounded by the callers (chunk and page item counts).

// block is a decoded run of values.
type block struct {
	n    int
	bits int    // fixed width: bits per value (1 = bitmap); 0 = variable width
	data []byte // fixed: n values packed (LSB-first for bits == 1); variable: the bytes
	offs []uint64

	// FixedSizeList values: dim items per value, bits = dim * item bits.
	// itemValid (dim*n bits, LSB first) is set when items have validity.
	// Nested fixed_size_lists (fixed_size_list<fixed_size_list<...>>): dim
	// counts the innermost items of a value, and outerValid holds the
	// validity of each layer between the value and those items, outermost
	// first (missing or nil bits: all valid).
	dim        int
	itemBits   int
	itemValid  []byte
	outerValid []fslValidity

	// Not gathered yet (mini-block pages of flat columns only): the values
	// are dict's at dictIx; data and offs are unset. gathered() resolves it.
	dict   *block
	dictIx []uint32
}

func (b *block) fixedWidth() bool { return b.bits > 0 }

// maxBlockValues bounds the values a single decode may produce.
const maxBlockValues = 1 << 24

func fixedBlock(bits, n int, data []byte) (*block, error) {
	need := (n*bits + 7) / 8
	if len(data) < need {
		return nil, fmt.Errorf("buffer of %d bytes too small for %d %d-bit values", len(data), n, bits)
	}
	return &block{n: n, bits: bits, data: data[:need]}, nil
}

func checkN(n int) error {
	if n < 0 || n > maxBlockValues {
		return fmt.Errorf("value count %d out of range", n)
	}
	return nil
}

func wordBits(bits uint64) (int, error) {
	switch bits {
	case 8, 16, 32, 64:
		return int(bits), nil
	}
	return 0, fmt.Errorf("word size of %d bits not supported", bits)
}

func flatBits(e *compressive) (int, error) {
	if e.kind != compFlat {
		return 0, fmt.Errorf("expected Flat, got %s", e.name())
	}
	if e.bits == 0 || e.bits > 1<<16 {
		return 0, fmt.Errorf("Flat with %d bits per value", e.bits)
	}
	return int(e.bits), nil
}

func maybeDecompress(scheme string, b []byte) ([]byte, error) {
	if scheme == "" {
		return b, nil
	}
	return decompress(scheme, b)
}

// decodeMini decodes the value buffers of one mini-block chunk that holds n
// values.
//
// Unpacked and expanded values may come from bl (nil: plain allocations).
func decodeMini(e *compressive, bufs [][]byte, n int, bl *borrowList) (*block, error) {
	if err := checkN(n); err != nil {
		return nil, err
	}
	one := func() ([]byte, error) {
		if len(bufs) != 1 {
			return nil, fmt.Errorf("%s chunk with %d buffers, want 1", e.name(), len(bufs))
		}
		return bufs[0], nil
	}
	switch e.kind {
	case compFlat:
		b, err := one()
		if err != nil {
			return nil, err
		}
		if b, err = maybeDecompress(e.scheme, b); err != nil {
			return nil, err
		}
		bits, err := flatBits(e)
		if err != nil {
			return nil, err
		}
		return fixedBlock(bits, n, b)
	case compInlineBitpacking:
		b, err := one()
		if err != nil {
			return nil, err
		}
		if b, err = maybeDecompress(e.scheme, b); err != nil {
			return nil, err
		}
		t, err := wordBits(e.bits)
		if err != nil {
			return nil, err
		}
		out, err := unpackInline(t, b, n, bl)
		if err != nil {
			return nil, err
		}
		return &block{n: n, bits: t, data: out}, nil
	case compVariable:
		b, err := one()
		if err != nil {
			return nil, err
		}
		if b, err = maybeDecompress(e.scheme, b); err != nil {
			return nil, err
		}
		ob, err := flatBits(e.child)
		if err != nil {
			return nil, fmt.Errorf("Variable offsets: %w", err)
		}
		return variableChunk(ob, b, n)
	case compFsst:
		inner, err := decodeMini(e.child, bufs, n, bl)
		if err != nil {
			return nil, err
		}
		return fsstDecodeOwned(e, inner, bl)
	case compRle:
		if len(bufs) != 2 {
			return nil, fmt.Errorf("Rle chunk with %d buffers, want 2", len(bufs))
		}
		return rleDecode(e, bufs[0], bufs[1], n)
	case compGeneral:
		if len(bufs) == 0 {
			return nil, fmt.Errorf("General chunk without buffers")
		}
		if e.scheme == "" {
			return nil, fmt.Errorf("General encoding without a compression scheme")
		}
		d, err := decompress(e.scheme, bufs[0])
		if err != nil {
			return nil, err
		}
		nb := append([][]byte{d}, bufs[1:]...)
		return decodeMini(e.child, nb, n, bl)
	case compByteStreamSplit:
		b, err := one()
		if err != nil {
			return nil, err
		}
		bits, err := flatBits(e.child)
		if err != nil {
			return nil, err
		}
		return byteStreamSplit(bits, b, n)
	case compPackedStruct:
		return packedRows(e, func(c *compressive) (*block, error) { return decodeMini(c, bufs, n, bl) })
	case compFixedSizeList:
		return fslDecode(e, bufs, n)
	}
	return nil, fmt.Errorf("%s is not supported in mini-block pages", e.name())
}

// variableChunk decodes a mini-block Variable buffer: n+1 offsets of ob bits
// (positions within the buffer) followed by the bytes.
func variableChunk(ob int, b []byte, n int) (*block, error) {
	if ob != 32 && ob != 64 {
		return nil, fmt.Errorf("Variable offsets of %d bits not supported", ob)
	}
	w := ob / 8
	if n >= len(b)/w {
		return nil, fmt.Errorf("variable chunk of %d bytes too small for %d offsets", len(b), n+1)
	}
	offs := make([]uint64, n+1)
	base := readWord(b, ob, 0)
	if base > uint64(len(b)) {
		return nil, fmt.Errorf("variable chunk offset %d outside chunk of %d bytes", base, len(b))
	}
	// offsets never decrease and stay inside the chunk
	prev, limit := base, uint64(len(b))
	for i := range offs {
		var o uint64
		if w == 4 {
			o = uint64(binary.LittleEndian.Uint32(b[4*i:]))
		} else {
			o = binary.LittleEndian.Uint64(b[8*i:])
		}
		if o < prev || o > limit {
			return nil, fmt.Errorf("corrupt variable chunk offsets")
		}
		offs[i], prev = o-base, o
	}
	return &block{n: n, data: b[base : base+offs[n]], offs: offs}, nil
}

// byteStreamSplit undoes BSS: stream j (n bytes) holds byte j of every value.
func byteStreamSplit(bits int, b []byte, n int) (*block, error) {
	if bits%8 != 0 {
		return nil, fmt.Errorf("ByteStreamSplit of %d-bit values", bits)
	}
	w := bits / 8
	if len(b) < n*w {
		return nil, fmt.Errorf("ByteStreamSplit buffer too small")
	}
	out := make([]byte, n*w)
	for j := 0; j < w; j++ {
		s := b[j*n : (j+1)*n]
		for i, x := range s {
			out[i*w+j] = x
		}
	}
	return &block{n: n, bits: bits, data: out}, nil
}

// fslValidity is the validity of one layer of a nested fixed_size_list
// value: per bits a value (the layer's entries), LSB first; nil: all valid.
type fslValidity struct {
	per  int
	bits []byte
}

// fslLayer is one FixedSizeList encoding of a chain
// FixedSizeList{FixedSizeList{...{items}}}: its items per value, its
// entries per outermost value (per), and whether it stores their validity.
type fslLayer struct {
	dim, per    int
	hasValidity bool
}

// fslChain walks the FixedSizeList encodings nested from e (outermost
// first) down to the items' encoding. cum is the items per outermost value.
func fslChain(e *compressive, n int) (layers []fslLayer, items *compressive, cum int, err error) {
	cum = 1
	for e.kind == compFixedSizeList {
		if e.itemsPerValue == 0 || e.itemsPerValue > 1<<20 || len(layers) == 8 {
			return nil, nil, 0, fmt.Errorf("FixedSizeList of %d items not supported", e.itemsPerValue)
		}
		cum *= int(e.itemsPerValue)
		if n*cum > maxBlockValues || cum > maxBlockValues {
			return nil, nil, 0, fmt.Errorf("FixedSizeList of %d items not supported", cum)
		}
		layers = append(layers, fslLayer{dim: int(e.itemsPerValue), per: cum, hasValidity: e.hasValidity})
		if e.child == nil {
			return nil, nil, 0, fmt.Errorf("FixedSizeList without items")
		}
		e = e.child
	}
	return layers, e, cum, nil
}

// setFSLValidity stores the validity bitmaps of layers (nil where a layer
// has none) into b: the innermost one is b.itemValid.
func (b *block) setFSLValidity(layers []fslLayer, bitmaps [][]byte) {
	for k, l := range layers {
		if k == len(layers)-1 {
			b.itemValid = bitmaps[k]
		} else {
			b.outerValid = append(b.outerValid, fslValidity{per: l.per, bits: bitmaps[k]})
		}
	}
}

// fslDecode decodes the chunk buffers of FixedSizeList{dim, has_validity,
// items}, where items is Flat{bits} or FixedSizeList again: a validity
// bitmap for each layer that has one (outermost first, each per-value
// entries x n bits), then the flat items.
func fslDecode(e *compressive, bufs [][]byte, n int) (*block, error) {
	layers, items, cum, err := fslChain(e, n)
	if err != nil {
		return nil, err
	}
	if items.kind != compFlat {
		return nil, fmt.Errorf("nested %s not supported", e.name())
	}
	bits, err := flatBits(items)
	if err != nil {
		return nil, err
	}
	want := 1
	for _, l := range layers {
		if l.hasValidity {
			want++
		}
	}
	if len(bufs) != want {
		return nil, fmt.Errorf("FixedSizeList chunk with %d buffers, want %d", len(bufs), want)
	}
	data := bufs[len(bufs)-1]
	if items.scheme != "" {
		if data, err = decompress(items.scheme, data); err != nil {
			return nil, err
		}
	}
	blk, err := fixedBlock(bits, n*cum, data)
	if err != nil {
		return nil, err
	}
	out := &block{n: n, bits: bits * cum, data: blk.data, dim: cum, itemBits: bits}
	bitmaps := make([][]byte, len(layers))
	next := 0
	for k, l := range layers {
		if !l.hasValidity {
			continue
		}
		if len(bufs[next]) < (n*l.per+7)/8 {
			return nil, fmt.Errorf("FixedSizeList validity too small")
		}
		bitmaps[k] = bufs[next]
		next++
	}
	out.setFSLValidity(layers, bitmaps)
	return out, nil
}

// decodeBlock decodes a whole buffer holding n values (block context: rep/def
// levels, dictionaries).
//
// Unpacked and expanded values may come from bl (nil: plain allocations).
func decodeBlock(e *compressive, b []byte, n int, bl *borrowList) (*block, error) {
	if err := checkN(n); err != nil {
		return nil, err
	}
	switch e.kind {
	case compFlat:
		bits, err := flatBits(e)
		if err != nil {
			return nil, err
		}
		if b, err = maybeDecompress(e.scheme, b); err != nil {
			return nil, err
		}
		return fixedBlock(bits, n, b)
	case compInlineBitpacking:
		t, err := wordBits(e.bits)
		if err != nil {
			return nil, err
		}
		if b, err = maybeDecompress(e.scheme, b); err != nil {
			return nil, err
		}
		out, err := unpackInline(t, b, n, bl)
		if err != nil {
			return nil, err
		}
		return &block{n: n, bits: t, data: out}, nil
	case compOutOfLineBitpacking:
		t, err := wordBits(e.bits)
		if err != nil {
			return nil, err
		}
		w, err := flatBits(e.child)
		if err != nil && !(e.child.kind == compFlat && e.child.bits == 0) {
			return nil, fmt.Errorf("OutOfLineBitpacking values: %w", err)
		}
		out, err := unpackOutOfLine(t, w, b, n, bl)
		if err != nil {
			return nil, err
		}
		return &block{n: n, bits: t, data: out}, nil
	case compVariable:
		return variableBlock(b, n)
	case compGeneral:
		if e.scheme == "" {
			return nil, fmt.Errorf("General encoding without a compression scheme")
		}
		d, err := decompress(e.scheme, b)
		if err != nil {
			return nil, err
		}
		return decodeBlock(e.child, d, n, bl)
	case compRle:
		if len(b) < 8 {
			return nil, fmt.Errorf("Rle block too short")
		}
		vs := binary.LittleEndian.Uint64(b)
		if vs > uint64(len(b)-8) {
			return nil, fmt.Errorf("Rle block values size %d outside %d bytes", vs, len(b))
		}
		return rleDecode(e, b[8:8+vs], b[8+vs:], n)
	case compConstant:
		if !e.hasValue {
			return nil, fmt.Errorf("Constant encoding without a value")
		}
		w := len(e.value)
		if w == 0 || w > 32 {
			return nil, fmt.Errorf("Constant value of %d bytes not supported", w)
		}
		out := make([]byte, n*w)
		for i := 0; i < n; i++ {
			copy(out[i*w:], e.value)
		}
		return &block{n: n, bits: 8 * w, data: out}, nil
	case compFixedSizeList:
		return fslDecode(e, [][]byte{b}, n)
	case compPackedStruct:
		return packedRows(e, func(c *compressive) (*block, error) { return decodeBlock(c, b, n, bl) })
	case compFsst:
		inner, err := decodeBlock(e.child, b, n, bl)
		if err != nil {
			return nil, err
		}
		return fsstDecodeOwned(e, inner, bl)
	}
	return nil, fmt.Errorf("%s is not supported as a block encoding", e.name())
}

// variableBlock decodes the block form of Variable:
// [u32 32][u32 data_start][(n+1) u32 offsets][bytes] or the u64 equivalent;
// offsets index the data area.
func variableBlock(b []byte, n int) (*block, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("variable block too short")
	}
	var ob int
	var start uint64
	var first int
	switch binary.LittleEndian.Uint32(b) {
	case 32:
		ob, start, first = 32, uint64(binary.LittleEndian.Uint32(b[4:])), 8
	case 64:
		if len(b) < 16 {
			return nil, fmt.Errorf("variable block too short")
		}
		ob, start, first = 64, binary.LittleEndian.Uint64(b[8:]), 16
	default:
		return nil, fmt.Errorf("variable block with %d-bit offsets not supported", binary.LittleEndian.Uint32(b))
	}
	w := ob / 8
	if start < uint64(first) || start > uint64(len(b)) || (start-uint64(first))/uint64(w) < uint64(n)+1 {
		return nil, fmt.Errorf("variable block offsets do not fit (%d values)", n)
	}
	ob0 := b[first:start]
	data := b[start:]
	offs := make([]uint64, n+1)
	for i := range offs {
		offs[i] = readWord(ob0, ob, i)
		if offs[i] > uint64(len(data)) || (i > 0 && offs[i] < offs[i-1]) {
			return nil, fmt.Errorf("corrupt variable block offsets")
		}
	}
	base := offs[0]
	for i := range offs {
		offs[i] -= base
	}
	return &block{n: n, data: data[base : base+offs[n]], offs: offs}, nil
}

// rleDecode expands runs: values (T-bit words) and run lengths (u8, u16 or
// u32 words) into n values. Extra runs beyond n are ignored.
func rleDecode(e *compressive, vals, lens []byte, n int) (*block, error) {
	vb, err := flatBits(e.child)
	if err == nil {
		_, err = wordBits(uint64(vb))
	}
	if err != nil {
		return nil, fmt.Errorf("Rle values: %w", err)
	}
	lb, err := flatBits(e.child2)
	if err == nil && lb != 8 && lb != 16 && lb != 32 {
		err = fmt.Errorf("run lengths of %d bits not supported", lb)
	}
	if err != nil {
		return nil, fmt.Errorf("Rle run lengths: %w", err)
	}
	if vals, err = maybeDecompress(e.child.scheme, vals); err != nil {
		return nil, err
	}
	if lens, err = maybeDecompress(e.child2.scheme, lens); err != nil {
		return nil, err
	}
	w := vb / 8
	runs := len(vals) / w
	if nl := len(lens) / (lb / 8); nl < runs {
		runs = nl
	}
	out := make([]byte, n*w)
	pos := 0
	for r := 0; r < runs && pos < n; r++ {
		l := int(readWord(lens, lb, r))
		v := vals[r*w : r*w+w]
		for k := 0; k < l && pos < n; k++ {
			copy(out[pos*w:], v)
			pos++
		}
	}
	if pos != n {
		return nil, fmt.Errorf("Rle runs cover %d values, want %d", pos, n)
	}
	return &block{n: n, bits: vb, data: out}, nil
}

// nativeLittleEndian: the machine stores a uint16 as the file does, so
// decoded levels can be used in place.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// levelsOf views a decoded block of 16-bit little-endian levels as
// []uint16. The result may share b's memory (which may be the file's
// read-only mapping): callers never write to it.
func levelsOf(b *block) ([]uint16, error) {
	if b.bits != 16 {
		return nil, fmt.Errorf("levels decoded as %d-bit values, want 16", b.bits)
	}
	if b.n == 0 {
		return []uint16{}, nil
	}
	data := b.data[:2*b.n]
	if p := unsafe.Pointer(unsafe.SliceData(data)); nativeLittleEndian && uintptr(p)%2 == 0 {
		return unsafe.Slice((*uint16)(p), b.n), nil
	}
	out := make([]uint16, b.n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(data[2*i:])
	}
	return out, nil
}
