package file

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// Mini-block pages of the 2.1+ writer: the value encoding of a page, how
// its values and levels are cut into chunks, and the chunks themselves.

// valueEncoding is the CompressiveEncoding of the page's values (without
// General) and the number of buffers per mini-block chunk.
func (lw *leafWriter) valueEncoding() ([]byte, int) {
	switch lw.kind {
	case leafFixed:
		return encFlat21(uint64(8 * lw.width)), 1
	case leafBool:
		return encFlat21(1), 1
	case leafVar:
		return encVariable21(lw.offBits), 1
	}
	itemBits := 8 * lw.width
	if lw.kind == leafBoolFSL {
		itemBits = 1
	}
	if len(lw.outer) > 0 {
		return lw.matrixEncoding(itemBits)
	}
	if lw.p.itemNulls {
		return encFSL21(lw.dim, itemBits, true), 2
	}
	return encFSL21(lw.dim, itemBits, false), 1
}

// chunkBuffers returns the value buffers of visible values [a, b): the one
// buffer appendChunkValues builds, or - for a fixed-size list with null items -
// the items' validity bitmap and their values.
func (lw *leafWriter) chunkBuffers(a, b int) [][]byte {
	p := &lw.p
	if lw.kind == leafBoolFSL {
		return lw.boolVectorChunk(a, b)
	}
	if lw.directChunks() {
		return [][]byte{lw.appendChunkValues(nil, a, b)}
	}
	vb := lw.dim * lw.width
	data := p.fixed[a*vb : b*vb]
	if len(lw.outer) > 0 {
		return append(lw.matrixValidity(a, b), data)
	}
	if !p.itemNulls {
		return [][]byte{data}
	}
	val := make([]byte, ((b-a)*lw.dim+7)/8)
	bitutil.CopyBitmap(p.itemValid, a*lw.dim, (b-a)*lw.dim, val, 0)
	return [][]byte{val, data}
}

// directChunks reports whether appendChunkValues can write the page's
// chunk values (one buffer per chunk, uncompressed) straight into the page.
func (lw *leafWriter) directChunks() bool {
	return lw.kind != leafFSL && lw.kind != leafBoolFSL || !lw.p.itemNulls && !lw.anyOuterNulls()
}

// chunkValueSize is the length of the single value buffer of visible
// values [a, b) (see directChunks), as chunkBuffers would build it.
func (lw *leafWriter) chunkValueSize(a, b int) int {
	switch lw.kind {
	case leafBool:
		return (b - a + 7) / 8
	case leafVar:
		ow := lw.offBits / 8
		n := lw.valueBytes(a, b)
		return (n + ow - 1) / ow * ow
	case leafFSL:
		return (b - a) * lw.dim * lw.width
	case leafBoolFSL:
		return ((b-a)*lw.dim + 7) / 8
	}
	return (b - a) * lw.width
}

// appendChunkValues appends the single value buffer of visible values
// [a, b) (see directChunks) to dst: the bytes chunkBuffers returns, without
// building them apart first.
func (lw *leafWriter) appendChunkValues(dst []byte, a, b int) []byte {
	p := &lw.p
	if lw.isFlat() && lw.kind != leafVar {
		return lw.appendFlatValues(dst, a, b)
	}
	switch lw.kind {
	case leafFixed:
		return append(dst, p.fixed[a*lw.width:b*lw.width]...)
	case leafFSL:
		if len(p.segs) > 0 {
			return lw.appendFlatValues(dst, a, b)
		}
		vb := lw.dim * lw.width
		return append(dst, p.fixed[a*vb:b*vb]...)
	case leafBool, leafBoolFSL:
		d := 1 // bits per value
		if lw.kind == leafBoolFSL {
			d = lw.dim
		}
		n := len(dst)
		dst = growZero(dst, ((b-a)*d+7)/8)
		bitutil.CopyBitmap(p.boolBits, a*d, (b-a)*d, dst[n:], 0)
		return dst
	}
	// leafVar: n+1 offsets (positions within this buffer), the bytes,
	// padding to the offset width.
	n := b - a
	ow := lw.offBits / 8
	hdr := uint64(ow * (n + 1))
	var start uint64
	if a > 0 {
		start = p.offs[a-1]
	}
	base := len(dst)
	dst = growZero(dst, int(hdr))
	if ow == 8 {
		binary.LittleEndian.PutUint64(dst[base:], hdr)
		for i := a; i < b; i++ {
			binary.LittleEndian.PutUint64(dst[base+8*(i-a+1):], hdr+p.offs[i]-start)
		}
	} else {
		binary.LittleEndian.PutUint32(dst[base:], uint32(hdr))
		for i := a; i < b; i++ {
			binary.LittleEndian.PutUint32(dst[base+4*(i-a+1):], uint32(hdr+p.offs[i]-start))
		}
	}
	if lw.isFlat() {
		dst = lw.appendFlatValues(dst, a, b)
	} else {
		dst = append(dst, p.data[start:p.offs[b-1]]...)
	}
	for (len(dst)-base)%ow != 0 {
		dst = append(dst, padByte)
	}
	return dst
}

// valueBytes estimates the value bytes of visible values [a, b).
func (lw *leafWriter) valueBytes(a, b int) int {
	p := &lw.p
	if p.dict != nil {
		return p.dict.indexBits() / 8 * (b - a)
	}
	switch lw.kind {
	case leafFixed:
		return (b - a) * lw.width
	case leafBool:
		return (b - a + 7) / 8
	case leafVar:
		var start uint64
		if a > 0 {
			start = p.offs[a-1]
		}
		return lw.offBits/8*(b-a+1) + int(p.offs[b-1]-start)
	case leafBoolFSL:
		return ((b-a)*lw.dim+7)/8 + lw.validityBytes(b-a)
	}
	return (b-a)*lw.dim*lw.width + lw.validityBytes(b-a)
}

// Mini-block chunk limits: Lance aims at chunks of at most 4096 values and
// about 8 KiB of values (4 KiB for variable width); 2.1 chunks must stay
// within 32 KiB (12-bit size in the metadata word).
const (
	maxChunkValues   = 4096
	chunkValueBudget = 8186
	chunkVarBudget   = 4096
	maxChunkLevels   = 32767 // rep/def sizes are u16 byte counts
)

type chunkPlan struct {
	v0, v1 int // visible values
	l0, l1 int // level entries
	last   bool
}

// planChunks splits the page's values and levels into mini-block chunks.
// Levels go with the chunk holding the next visible value (entries after the
// last value go to the last chunk), as Lance's slicer does.
func (lw *leafWriter) planChunks(def []uint16, nLevels int, maxVis uint16) ([]chunkPlan, error) {
	p := &lw.p
	budget := chunkValueBudget
	if lw.kind == leafVar {
		budget = chunkVarBudget
		if lw.comp != "" && lw.v.Minor >= 2 {
			budget = compressedVarMax // bigger chunks compress better
		}
	}
	if p.dict != nil || lw.packWord() > 0 {
		budget = 8 * bitpackChunkValues // whole blocks of the widest words
	}
	chunkLimit := 1 << 30
	if lw.v.Minor < 2 {
		chunkLimit = 32 * 1024
	}
	hasLevels := lw.maxRep > 0 || def != nil
	// levelsFor returns the level end for c values starting at value v0,
	// level l0.
	levelsFor := func(l0, c int) int {
		if !hasLevels {
			return l0 + c
		}
		if lw.maxRep == 0 {
			return l0 + c // no lists: one level per value
		}
		taken := 0
		l := l0
		for taken < c {
			if def == nil || def[l] <= maxVis {
				taken++
			}
			l++
		}
		return l
	}
	maxValues := maxChunkValues
	if p.dict != nil || lw.packWord() > 0 {
		maxValues = bitpackChunkValues
	}
	var plans []chunkPlan
	v, l := 0, 0
	for v < p.nVis {
		rem := p.nVis - v
		c := min(rem, maxValues) // a power of two
		for {
			last := v+c == p.nVis
			vbytes := lw.valueBytes(v, v+c)
			le := nLevels
			switch {
			case vbytes > budget && c > 2:
				// too many values whatever the levels: skip counting them
				le = -1
			case !last:
				le = levelsFor(l, c)
			}
			size := 8 + 4*(le-l) + vbytes + 8*4
			sizeOK := le >= 0 && size <= chunkLimit && le-l <= maxChunkLevels
			if (sizeOK && vbytes <= budget) || c <= 2 {
				if !sizeOK {
					return nil, fmt.Errorf("a mini-block chunk of %d values and %d levels exceeds the format's limits", c, le-l)
				}
				plans = append(plans, chunkPlan{v0: v, v1: v + c, l0: l, l1: le, last: last})
				v, l = v+c, le
				break
			}
			if c&(c-1) != 0 {
				c = 1 << (bits.Len(uint(c)) - 1) // round a last chunk down to a power of two
			} else {
				c /= 2
			}
		}
	}
	return plans, nil
}

// miniBlockValues is the value side of a mini-block page: the chunks, the
// value encoding and - when they are not written straight from the
// pending page - each chunk's value buffers.
type miniBlockValues struct {
	plans  []chunkPlan
	bufs   [][][]byte // nil: appendChunkValues writes them
	valEnc []byte
	nbuf   int
}

// encodeMiniBlock chooses the pending page's value encoding and builds the
// chunks' value buffers where they need building.
func (lw *leafWriter) encodeMiniBlock(def []uint16, maxVis uint16) (*miniBlockValues, error) {
	nLevels := lw.levelCount()
	lw.p.dict = lw.buildDict()
	plans, err := lw.planChunks(def, nLevels, maxVis)
	if err != nil {
		return nil, err
	}
	valEnc, nbuf := lw.valueEncoding()
	dict := lw.p.dict
	packWord := lw.packWord()
	var fsst *pageFsst
	switch {
	case dict != nil && lw.comp != "":
		valEnc = encFlat21(uint64(dict.indexBits())) // the indices, left to the general codec
	case dict != nil:
		packWord = dict.indexBits() // the indices
	case lw.kind == leafVar && lw.comp == "":
		fsst = lw.buildFsst()
	}
	// Value buffers per chunk, built apart only when they may be packed,
	// compressed or are more than one; otherwise written straight into
	// the page.
	rleWord := 0
	switch {
	case lw.comp != "":
	case dict != nil:
		rleWord = dict.indexBits()
	case lw.kind == leafFixed:
		rleWord = lw.rleWord()
		if packWord == 0 && rleWord > 0 && !lw.leadingRuns(rleWord/8) {
			rleWord = 0 // floats without runs: written straight, uncopied
		}
	}
	var bufs [][][]byte
	if lw.comp != "" || !lw.directChunks() || packWord > 0 || fsst != nil || rleWord > 0 {
		bufs = make([][][]byte, len(plans))
		var plain int
		for i, c := range plans {
			switch {
			case dict != nil:
				bufs[i] = [][]byte{dict.indexBytes(c.v0, c.v1)}
			case fsst != nil:
				bufs[i] = [][]byte{fsst.chunk(nil, lw.offBits, c.v0, c.v1)}
			default:
				bufs[i] = lw.chunkBuffers(c.v0, c.v1)
			}
			plain += len(bufs[i][0])
		}
		if fsst != nil {
			valEnc = encFsst21(fsst.table, lw.offBits)
		}
		packedSize := -1
		if packWord > 0 && nbuf == 1 {
			packedSize = packedChunksSize(bufs, plans, packWord)
		}
		if rleWord > 0 && nbuf == 1 {
			// RLE when it beats what the values get otherwise.
			best := plain
			if packedSize >= 0 && (dict != nil || packedSize < plain) {
				best = packedSize
			}
			if rleSize(bufs, plans, rleWord/8, best) < best {
				rleChunks(bufs, plans, rleWord/8)
				valEnc, nbuf, packWord = encRle21(rleWord), 2, 0
			}
		}
		if packWord > 0 && nbuf == 1 {
			if packed, ok := packChunks(bufs, plans, packWord, plain, packedSize, dict != nil); ok {
				plain = packed
				valEnc = encInlineBitpacking21(packWord)
			}
		}
		bssWidth := 0 // byte-stream split values under the codec (0: none)
		switch {
		case lw.comp == "" || nbuf != 1:
		case dict != nil && bssWidthOK(dict.indexBits()/8):
			bssWidth = dict.indexBits() / 8 // the indices
		case lw.kind == leafFixed && lw.rleWord() > 0 && bssWidthOK(lw.width):
			bssWidth = lw.width
		}
		if bssWidth > 0 && byteEntropy(bufs, bssWidth) < bssMaxEntropy {
			for i := range plans {
				bufs[i][0] = splitBytes(nil, bufs[i][0], bssWidth)
			}
			valEnc = encBss21(8 * bssWidth)
		}
		if lw.comp != "" && nbuf == 1 && plain >= minCompressBytes {
			comp := make([][]byte, len(plans))
			total := 0
			for i := range plans {
				c, err := compress(lw.comp, nil, bufs[i][0])
				if err != nil {
					return nil, err
				}
				comp[i] = c
				total += len(c)
			}
			if total < plain {
				for i := range plans {
					bufs[i][0] = comp[i]
				}
				valEnc = encGeneral21(lw.comp, valEnc)
			}
		}
	}
	return &miniBlockValues{plans: plans, bufs: bufs, valEnc: valEnc, nbuf: nbuf}, nil
}

// writeMiniBlock writes the pending page, its values encoded as mv, as a
// mini-block page.
func (lw *leafWriter) writeMiniBlock(w *fileWriter, layers []repDefLayer, rep, def []uint16, mv *miniBlockValues) (pageOut, error) {
	plans, bufs, valEnc, nbuf := mv.plans, mv.bufs, mv.valEnc, mv.nbuf
	dict := lw.p.dict
	large := lw.v.Minor >= 2
	levelKinds := 0
	repW, defW := 0, 0
	if rep != nil {
		levelKinds++
		repW = levelWidth(rep)
	}
	if def != nil {
		levelKinds++
		defW = levelWidth(def)
	}
	levelSize := func(c chunkPlan, w int) int {
		if w == 0 {
			return 2 * (c.l1 - c.l0)
		}
		return packedLevelsSize(c.l1-c.l0, w)
	}
	appendLvls := func(dst []byte, ls []uint16, w int) []byte {
		if w == 0 {
			return appendLevels(dst, ls)
		}
		return appendPackedLevels(dst, ls, w)
	}
	bufSize := func(ci, k int) int {
		if bufs != nil {
			return len(bufs[ci][k])
		}
		return lw.chunkValueSize(plans[ci].v0, plans[ci].v1)
	}
	// First the chunk sizes (known without building the chunks) for the
	// metadata buffer, which precedes the chunks in the file; then the
	// chunks, one at a time, straight to the file: a page never exists
	// whole in memory.
	sizes := make([]int, len(plans))
	meta := make([]byte, 0, 4*len(plans))
	var repIndex []uint64
	sizeWidth := 2
	if large {
		sizeWidth = 4
	}
	for ci, c := range plans {
		size := pad8(2 + 2*levelKinds + sizeWidth*nbuf)
		if rep != nil {
			size += pad8(levelSize(c, repW))
		}
		if def != nil {
			size += pad8(levelSize(c, defW))
		}
		for k := 0; k < nbuf; k++ {
			bs := bufSize(ci, k)
			if !large && bs > 0xFFFF {
				return pageOut{}, fmt.Errorf("mini-block buffer of %d bytes too large for file version %s", bs, lw.v)
			}
			size += pad8(bs)
		}
		sizes[ci] = size
		words := uint64(size/8 - 1)
		logN := uint64(0)
		if !c.last {
			logN = uint64(bits.TrailingZeros(uint(c.v1 - c.v0)))
		}
		word := words<<4 | logN
		if large {
			if words >= 1<<28 {
				return pageOut{}, fmt.Errorf("mini-block chunk of %d bytes too large", size)
			}
			meta = binary.LittleEndian.AppendUint32(meta, uint32(word))
		} else {
			if words >= 1<<12 {
				return pageOut{}, fmt.Errorf("mini-block chunk of %d bytes too large for file version %s", size, lw.v)
			}
			meta = binary.LittleEndian.AppendUint16(meta, uint16(word))
		}
		if rep != nil {
			repIndex = appendRepIndex(repIndex, rep[c.l0:c.l1], lw.maxRep, ci, len(plans))
		}
	}
	var page pageOut
	add := func(b []byte) {
		page.bufOffsets = append(page.bufOffsets, w.writeBuffer(b))
		page.bufSizes = append(page.bufSizes, uint64(len(b)))
	}
	add(meta)
	dataPos, dataSize := w.pos, 0
	for ci, c := range plans {
		// The chunk is built in the file writer's buffer, bytes at
		// [start:] of it.
		chunk := w.openPiece()
		start := len(chunk)
		nl := 0
		if rep != nil || def != nil {
			nl = c.l1 - c.l0
		}
		chunk = binary.LittleEndian.AppendUint16(chunk, uint16(nl))
		if rep != nil {
			chunk = binary.LittleEndian.AppendUint16(chunk, uint16(levelSize(c, repW)))
		}
		if def != nil {
			chunk = binary.LittleEndian.AppendUint16(chunk, uint16(levelSize(c, defW)))
		}
		for k := 0; k < nbuf; k++ {
			if large {
				chunk = binary.LittleEndian.AppendUint32(chunk, uint32(bufSize(ci, k)))
			} else {
				chunk = binary.LittleEndian.AppendUint16(chunk, uint16(bufSize(ci, k)))
			}
		}
		chunk = pad8Buf(chunk, start)
		if rep != nil {
			chunk = pad8Buf(appendLvls(chunk, rep[c.l0:c.l1], repW), start)
		}
		if def != nil {
			chunk = pad8Buf(appendLvls(chunk, def[c.l0:c.l1], defW), start)
		}
		if bufs != nil {
			for _, b := range bufs[ci] {
				chunk = pad8Buf(append(chunk, b...), start)
			}
		} else {
			chunk = pad8Buf(lw.appendChunkValues(chunk, c.v0, c.v1), start)
		}
		if len(chunk)-start != sizes[ci] {
			return pageOut{}, fmt.Errorf("internal error: mini-block chunk of %d bytes, planned %d", len(chunk)-start, sizes[ci])
		}
		w.closePiece(chunk)
		dataSize += sizes[ci]
	}
	w.padBuffer()
	page.bufOffsets = append(page.bufOffsets, dataPos)
	page.bufSizes = append(page.bufSizes, uint64(dataSize))
	if dict != nil {
		add(dict.block)
	}
	if rep != nil {
		rb := make([]byte, 8*len(repIndex))
		for i, x := range repIndex {
			binary.LittleEndian.PutUint64(rb[8*i:], x)
		}
		add(rb)
	}
	var body []byte
	if rep != nil {
		body = pbBytes(body, 1, encLevels21(repW))
	}
	if def != nil {
		body = pbBytes(body, 2, encLevels21(defW))
	}
	body = pbBytes(body, 3, valEnc)
	if dict != nil {
		body = pbBytes(body, 4, dict.enc)
		body = pbVarint(body, 5, uint64(dict.n))
	}
	body = encLayers(body, 6, layers)
	body = pbVarintNZ(body, 7, uint64(nbuf))
	if rep != nil {
		body = pbVarint(body, 8, 1)
	}
	body = pbVarintNZ(body, 9, uint64(lw.p.nVis))
	if large {
		body = pbVarint(body, 10, 1)
	}
	page.encoding = encPageLayout(1, body)
	return page, nil
}

// minCompressBytes: like Lance, do not compress pages with less value data.
const minCompressBytes = 4 * 1024

func pad8Buf(b []byte, start int) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, padByte)
	}
	return b
}
