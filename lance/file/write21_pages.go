package file

import (
	"bytes"
	"encoding/binary"

	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"google.golang.org/protobuf/encoding/protowire"
)

// Page-layout and encoding messages of the 2.1+ writer, and constant pages:
// pages without valid values, and (2.2) pages whose valid values are all
// equal, as pylance writes them.

func encCompressiveMsg(kind compKind, body []byte) []byte { return encCompressive(kind, body) }

func encVariable21(offBits int) []byte {
	return encCompressiveMsg(compVariable, pbBytes(nil, 1, encFlat21(uint64(offBits))))
}

func encFSL21(dim int, itemBits int, validity bool) []byte {
	return encFSLOf21(dim, encFlat21(uint64(itemBits)), validity)
}

// encFSLOf21 is FixedSizeList{dim, values: items, has_validity}.
func encFSLOf21(dim int, items []byte, validity bool) []byte {
	b := pbVarintNZ(nil, 1, uint64(dim))
	b = pbBytes(b, 2, items)
	if validity {
		b = pbVarint(b, 3, 1)
	}
	return encCompressiveMsg(compFixedSizeList, b)
}

// encGeneral21 wraps inner in General{compression: {scheme}}.
func encGeneral21(scheme string, inner []byte) []byte {
	code := uint64(1) // LZ4
	if scheme == CompressionZstd {
		code = 2
	}
	b := pbBytes(nil, 1, pbVarint(nil, 1, code))
	b = pbBytes(b, 3, inner)
	return encCompressiveMsg(compGeneral, b)
}

func encPageLayout(num protowire.Number, body []byte) []byte { return pbBytes(nil, num, body) }

// allNullPage writes a page without valid values: only levels, if any.
func (lw *leafWriter) allNullPage(w *fileWriter, layers []repDefLayer, rep, def []uint16) pageOut {
	return lw.constantPage(w, layers, rep, def, nil, nil)
}

// constantPage writes a ConstantLayout page (AllNullLayout in 2.1): every
// valid value is inline, or (scalar) in the page's first buffer, or there
// is none (both nil); then the levels, if the page needs any.
func (lw *leafWriter) constantPage(w *fileWriter, layers []repDefLayer, rep, def []uint16, inline, scalar []byte) pageOut {
	simple := len(layers) == 1 && layers[0] == layerNullableItem && rep == nil
	var body []byte
	body = encLayers(body, 5, layers)
	if inline != nil || scalar != nil {
		simple = rep == nil && def == nil
	}
	if inline != nil {
		body = pbBytes(body, 6, inline)
	}
	var page pageOut
	if scalar != nil {
		page.bufOffsets = []uint64{w.writeBuffer(scalar)}
		page.bufSizes = []uint64{uint64(len(scalar))}
	}
	if simple {
		page.encoding = encPageLayout(2, body)
		return page
	}
	rb, db := levelBytes(rep), levelBytes(def)
	page.bufOffsets = append(page.bufOffsets, w.writeBuffer(rb), w.writeBuffer(db))
	page.bufSizes = append(page.bufSizes, uint64(len(rb)), uint64(len(db)))
	if lw.v.Minor >= 2 {
		if rep != nil {
			body = pbBytes(body, 7, encFlat21(16))
		}
		if def != nil {
			body = pbBytes(body, 8, encFlat21(16))
		}
		body = pbVarintNZ(body, 9, uint64(len(rep)))
		body = pbVarintNZ(body, 10, uint64(len(def)))
	}
	page.encoding = encPageLayout(2, body)
	return page
}

// constantValue returns the value every valid value of the pending page
// holds, when the page is a 2.2 page (of a flat column, or of numbers,
// booleans or strings under lists and structs) with at least two valid
// values, all equal (nil, nil otherwise), as pylance stores it: numbers and
// booleans (one byte, 0 or 1) inline in the layout, strings, binary and
// fixed-width values wider than maxInlineBytes (fixed_size_binary) as a
// scalar buffer.
func (lw *leafWriter) constantValue() (inline, scalar []byte) {
	p := &lw.p
	if lw.v.Minor < 2 || lw.kind == leafFSL || lw.kind == leafBoolFSL || p.nValid < 2 {
		return nil, nil
	}
	var first []byte
	var firstBit bool
	seen, same := false, true
	// check compares valid value v (bit for booleans) with the first.
	check := func(v []byte, bit bool) {
		switch {
		case !seen:
			first, firstBit = v, bit
		case lw.kind == leafBool:
			same = bit == firstBit
		default:
			same = bytes.Equal(v, first)
		}
		seen = true
	}
	if lw.isFlat() {
		p.eachSegPart(0, p.nVis, func(s *flatSeg, r0, r1 int) {
			for r := r0; r < r1 && same; r++ {
				if s.validity != nil && !bitutil.BitIsSet(s.validity, s.vpos+r) {
					continue
				}
				switch lw.kind {
				case leafBool:
					check(nil, bitutil.BitIsSet(s.vals, s.pos+r))
				case leafFixed:
					check(s.vals[(s.pos+r)*lw.width:(s.pos+r+1)*lw.width], false)
				default:
					check(s.vals[s.offs.at(s.pos+r):s.offs.at(s.pos+r+1)], false)
				}
			}
		})
	} else {
		// Visible values in order, one per level entry of def level at
		// most maxVisCanon; valid ones have def level 0.
		vi := 0
		var start uint64
		for _, d := range p.def {
			if !same {
				break
			}
			if d > lw.maxVisCanon {
				continue
			}
			if d == 0 {
				switch lw.kind {
				case leafBool:
					check(nil, bitutil.BitIsSet(p.boolBits, vi))
				case leafFixed:
					check(p.fixed[vi*lw.width:(vi+1)*lw.width], false)
				default:
					check(p.data[start:p.offs[vi]], false)
				}
			}
			if lw.kind == leafVar {
				start = p.offs[vi]
			}
			vi++
		}
	}
	switch {
	case !same || !seen:
		return nil, nil
	case lw.kind == leafBool && firstBit:
		return []byte{1}, nil
	case lw.kind == leafBool:
		return []byte{0}, nil
	case lw.kind == leafFixed && lw.width > maxInlineBytes:
		return nil, fixedScalarBuffer(first)
	case lw.kind == leafFixed:
		return append([]byte(nil), first...), nil
	}
	return nil, scalarBuffer(first, lw.offBits)
}

// maxInlineBytes bounds the inline values the reader accepts.
const maxInlineBytes = 32

// fixedScalarBuffer is Lance's serialized one-element fixed-width array:
// u32 buffer count (1), u32 its length, the value's bytes.
func fixedScalarBuffer(v []byte) []byte {
	b := make([]byte, 8, 8+len(v))
	binary.LittleEndian.PutUint32(b, 1)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(v)))
	return append(b, v...)
}

// scalarBuffer is Lance's serialized one-element string or binary array:
// u32 buffer count (2), u32 length of each buffer, the offsets (0 and the
// value's length, ob bits each) and the value's bytes.
func scalarBuffer(v []byte, ob int) []byte {
	ow := ob / 8
	b := make([]byte, 12+2*ow, 12+2*ow+len(v))
	binary.LittleEndian.PutUint32(b, 2)
	binary.LittleEndian.PutUint32(b[4:], uint32(2*ow))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(v)))
	putWord(b[12:], ob, 1, uint64(len(v)))
	return append(b, v...)
}
