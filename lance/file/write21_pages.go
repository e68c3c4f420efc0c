package file

import (
	"bytes"

	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"google.golang.org/protobuf/encoding/protowire"
)

// Page-layout and encoding messages of the 2.1+ writer, and constant pages:
// pages without valid values, and (2.2) flat fixed-width pages whose valid
// values are all equal, as pylance writes them.

func encCompressiveMsg(kind compKind, body []byte) []byte { return encCompressive(kind, body) }

func encVariable21(offBits int) []byte {
	return encCompressiveMsg(compVariable, pbBytes(nil, 1, encFlat21(uint64(offBits))))
}

func encFSL21(dim int, itemBits int, validity bool) []byte {
	b := pbVarintNZ(nil, 1, uint64(dim))
	b = pbBytes(b, 2, encFlat21(uint64(itemBits)))
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
	return lw.constantPage(w, layers, rep, def, nil)
}

// constantPage writes a ConstantLayout page (AllNullLayout in 2.1): every
// valid value is inline (nil: there is none), and the levels, if the page
// needs any.
func (lw *leafWriter) constantPage(w *fileWriter, layers []repDefLayer, rep, def []uint16, inline []byte) pageOut {
	simple := len(layers) == 1 && layers[0] == layerNullableItem && rep == nil
	var body []byte
	body = encLayers(body, 5, layers)
	if inline != nil {
		simple = rep == nil && def == nil
		body = pbBytes(body, 6, inline)
	}
	var page pageOut
	if simple {
		page.encoding = encPageLayout(2, body)
		return page
	}
	rb, db := levelBytes(rep), levelBytes(def)
	page.bufOffsets = []uint64{w.writeBuffer(rb), w.writeBuffer(db)}
	page.bufSizes = []uint64{uint64(len(rb)), uint64(len(db))}
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

// constantValue returns the value every valid row of the pending page
// holds, when the page is a flat fixed-width page of 2.2 whose valid values
// are all equal (nil otherwise).
func (lw *leafWriter) constantValue() []byte {
	p := &lw.p
	if lw.v.Minor < 2 || lw.kind != leafFixed || !lw.isFlat() || p.nValid < 2 {
		return nil
	}
	wd := lw.width
	var first []byte
	same := true
	p.eachSegPart(0, p.nVis, func(s *flatSeg, r0, r1 int) {
		for r := r0; r < r1 && same; r++ {
			if s.validity != nil && !bitutil.BitIsSet(s.validity, s.vpos+r) {
				continue
			}
			v := s.vals[(s.pos+r)*wd : (s.pos+r+1)*wd]
			if first == nil {
				first = v
				continue
			}
			same = bytes.Equal(v, first)
		}
	})
	if !same || first == nil {
		return nil
	}
	return append([]byte(nil), first...)
}
