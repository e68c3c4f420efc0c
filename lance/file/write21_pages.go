package file

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Page-layout and encoding messages of the 2.1+ writer, and pages without
// valid values.

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
	simple := len(layers) == 1 && layers[0] == layerNullableItem && rep == nil
	var body []byte
	body = encLayers(body, 5, layers)
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
