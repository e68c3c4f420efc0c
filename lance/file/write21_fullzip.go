package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// Full-zip pages of the 2.1+ writer: wide values (vectors of 256 bytes or
// more, long strings) zipped with their levels, one value after another;
// strings FSST-compressed value by value when that pays, as pylance 14
// writes them.

// fullZip reports whether the pending page's values are wide enough for
// the full-zip layout (Lance's rule: a value of 256 bytes or more).
func (lw *leafWriter) fullZip() bool {
	switch lw.kind {
	case leafFSL:
		return lw.dim*lw.width+lw.validityBytes(1) >= 256
	case leafFixed: // wide fixed_size_binary
		return lw.width >= 256
	case leafVar:
		// A compressed 2.2 page keeps strings of up to 32 KiB in mini-block
		// chunks, which compress far better than values one by one.
		if lw.comp != "" && lw.v.Minor >= 2 && lw.p.maxLen < compressedVarMax {
			return false
		}
		return lw.p.maxLen >= 256
	}
	return false
}

// compressedVarMax is the longest string a compressed 2.2 mini-block page
// holds; longer ones go to full-zip pages.
const compressedVarMax = 32 << 10

// fullZipPage writes the pending page as a full-zip page.
func (lw *leafWriter) fullZipPage(w *fileWriter, layers []repDefLayer, rep, def []uint16, maxVis uint16) (pageOut, error) {
	p := &lw.p
	lw.materializeVar()
	var maxR, maxD uint16
	for _, r := range rep {
		maxR = max(maxR, r)
	}
	for _, d := range def {
		maxD = max(maxD, d)
	}
	bitsRep, bitsDef := uint64(0), uint64(0)
	if rep != nil && maxR > 0 {
		bitsRep = bitLen16(maxR)
	}
	if def != nil && maxD > 0 {
		bitsDef = bitLen16(maxD)
	}
	if bitsRep+bitsDef > 32 {
		return pageOut{}, fmt.Errorf("control words of %d bits not supported", bitsRep+bitsDef)
	}
	cw := ctrlWordBytes(bitsRep, bitsDef)
	nEntries := lw.levelCount()
	fixed := lw.kind != leafVar
	vb := 0
	var valEnc []byte
	vw := lw.dim * lw.width // value bytes of a fixed-width value
	switch {
	case lw.kind == leafFixed:
		vw, vb = lw.width, lw.width
		valEnc = encFlat21(uint64(8 * lw.width))
	case fixed:
		vb = vw + lw.validityBytes(1)
		valEnc = encFSL21(lw.dim, 8*lw.width, p.itemNulls)
		if len(lw.outer) > 0 {
			valEnc, _ = lw.matrixEncoding(8 * lw.width)
		}
	default:
		valEnc = encVariable21(lw.offBits)
	}
	// Per-value compression of variable-width values, when it saves space.
	// pylance 14 fails to read lz4 per-value data with null values (it hands
	// the empty slot of a null to the lz4 decoder), so lz4 only applies to
	// pages without visible nulls.
	var cvals [][]byte
	if !fixed && lw.comp == "" && lw.isString() {
		// Strings FSST-compressed one by one, as pylance does (not binary).
		if f := lw.buildFsst(); f != nil {
			cvals = make([][]byte, p.nVis)
			var start uint64
			for i, end := range f.ends {
				cvals[i] = f.data[start:end]
				start = end
			}
			valEnc = encFsst21(f.table, lw.offBits)
		}
	}
	if !fixed && (lw.comp == CompressionZstd || lw.comp == CompressionLZ4 && p.nValid == p.nVis) {
		cvals = make([][]byte, p.nVis)
		var plain, packed int
		var start uint64
		for i := 0; i < p.nVis; i++ {
			v := p.data[start:p.offs[i]]
			start = p.offs[i]
			c, err := compress(lw.comp, nil, v)
			if err != nil {
				return pageOut{}, err
			}
			cvals[i] = c
			plain += len(v)
			packed += len(c)
		}
		if packed < plain {
			valEnc = encGeneral21(lw.comp, valEnc)
		} else {
			cvals = nil
		}
	}
	needIndex := !fixed || rep != nil
	var index []uint64
	// The zipped values are appended to the file writer's buffer (bytes
	// [piece:]) and handed over every zipPiece bytes: the page is never
	// built whole in memory.
	outPos, written := w.pos, 0
	out := w.openPiece()
	piece := len(out)
	vi, seg := 0, 0
	for e := 0; e < nEntries; e++ {
		if len(out)-piece >= zipPiece {
			written += len(out) - piece
			w.closePiece(out)
			out = w.openPiece()
			piece = len(out)
		}
		var r, d uint16
		if rep != nil {
			r = rep[e]
		}
		if def != nil {
			d = def[e]
		}
		if needIndex && (rep == nil || r == lw.maxRep) {
			index = append(index, uint64(written+len(out)-piece))
		}
		word := uint32(r)<<bitsDef | uint32(d)
		switch cw {
		case 1:
			out = append(out, byte(word))
		case 2:
			out = binary.LittleEndian.AppendUint16(out, uint16(word))
		case 4:
			out = binary.LittleEndian.AppendUint32(out, word)
		}
		if def != nil && d > maxVis {
			continue // invisible: no value slot
		}
		if fixed {
			if len(lw.outer) > 0 {
				for _, v := range lw.matrixValidity(vi, vi+1) {
					out = append(out, v...)
				}
			} else if p.itemNulls {
				vbits := make([]byte, (lw.dim+7)/8)
				bitutil.CopyBitmap(p.itemValid, vi*lw.dim, lw.dim, vbits, 0)
				out = append(out, vbits...)
			}
			if len(p.segs) == 0 {
				out = append(out, p.fixed[vi*vw:(vi+1)*vw]...)
			} else {
				// a vector page in segments: one value at a time, in order
				for p.segs[seg].first+p.segs[seg].n <= vi {
					seg++
				}
				s := &p.segs[seg]
				out = appendSegValues(out, s, vi-s.first, vi-s.first+1, vw)
			}
		} else if d == 0 {
			var start uint64
			if vi > 0 {
				start = p.offs[vi-1]
			}
			v := p.data[start:p.offs[vi]]
			if cvals != nil {
				v = cvals[vi]
			}
			if lw.offBits == 64 {
				out = binary.LittleEndian.AppendUint64(out, uint64(len(v)))
			} else {
				if uint64(len(v)) > 1<<32-1 {
					return pageOut{}, fmt.Errorf("value of %d bytes too large", len(v))
				}
				out = binary.LittleEndian.AppendUint32(out, uint32(len(v)))
			}
			out = append(out, v...)
		}
		vi++
	}
	if vi != p.nVis {
		return pageOut{}, fmt.Errorf("internal error: %d values zipped, %d pending", vi, p.nVis)
	}
	written += len(out) - piece
	w.closePiece(out)
	w.padBuffer()
	var page pageOut
	page.bufOffsets = []uint64{outPos}
	page.bufSizes = []uint64{uint64(written)}
	if needIndex {
		index = append(index, uint64(written))
		ib := packIndex(index)
		page.bufOffsets = append(page.bufOffsets, w.writeBuffer(ib))
		page.bufSizes = append(page.bufSizes, uint64(len(ib)))
	}
	var body []byte
	body = pbVarintNZ(body, 1, bitsRep)
	body = pbVarintNZ(body, 2, bitsDef)
	if fixed {
		body = pbVarint(body, 3, uint64(8*vb))
	} else {
		body = pbVarint(body, 4, uint64(lw.offBits))
	}
	items := p.nVis
	if rep != nil {
		items = nEntries
	}
	body = pbVarintNZ(body, 5, uint64(items))
	body = pbVarintNZ(body, 6, uint64(p.nVis))
	body = pbBytes(body, 7, valEnc)
	body = encLayers(body, 8, layers)
	page.encoding = encPageLayout(3, body)
	return page, nil
}

// isString reports whether the leaf holds strings (not binary).
func (lw *leafWriter) isString() bool {
	id := lw.nodes[len(lw.nodes)-1].dt.ID()
	return id == arrow.STRING || id == arrow.LARGE_STRING
}

// zipPiece is the size of the pieces a full-zip page is written in.
const zipPiece = 64 << 10

// packIndex stores the repetition index with the narrowest of 1, 2, 4 or
// 8 bytes per entry that holds its largest value (the last).
func packIndex(idx []uint64) []byte {
	last := idx[len(idx)-1]
	w := 8
	switch {
	case last <= 0xFF:
		w = 1
	case last <= 0xFFFF:
		w = 2
	case last <= 0xFFFFFFFF:
		w = 4
	}
	b := make([]byte, w*len(idx))
	for i, x := range idx {
		switch w {
		case 1:
			b[i] = byte(x)
		case 2:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
		case 4:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		default:
			binary.LittleEndian.PutUint64(b[8*i:], x)
		}
	}
	return b
}
