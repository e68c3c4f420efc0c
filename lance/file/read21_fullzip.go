package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// Full-zip pages (2.1+), used for wide values (strings of 256+ bytes, large
// vectors). Buffers: [0] zipped data, [1] repetition index (when there is
// repetition or the values are variable width).
//
// Each entry is a control word of 0, 1, 2 or 4 bytes (bits_rep + bits_def
// bits; rep = word >> bits_def, def = word & (1<<bits_def - 1)), then for a
// visible entry:
//
//	fixed width (bits_per_value):     the value's bytes (also for null items)
//	variable width (bits_per_offset): only if valid, u32|u64 length + bytes
//
// The repetition index holds rows+1 little-endian integers of
// size/(rows+1) bytes: the byte offset of each row in buffer 0. With it (or,
// for fixed width without repetition, by arithmetic) a row range maps to one
// byte range of buffer 0, which is all that is read.

func ctrlWordBytes(bitsRep, bitsDef uint64) int {
	switch t := bitsRep + bitsDef; {
	case t == 0:
		return 0
	case t <= 8:
		return 1
	case t <= 16:
		return 2
	}
	return 4
}

func (r *Reader) fullZipSpan(p *pageInfo, L *pageLayout, from, to int) (*span21, error) {
	if L.valueComp == nil {
		return nil, fmt.Errorf("full-zip layout without value compression")
	}
	if L.bitsRep > 16 || L.bitsDef > 16 {
		return nil, fmt.Errorf("control word of %d+%d bits not supported", L.bitsRep, L.bitsDef)
	}
	if len(p.bufOffsets) < 1 {
		return nil, fmt.Errorf("full-zip page without buffers")
	}
	cw := ctrlWordBytes(L.bitsRep, L.bitsDef)
	fixed := L.bitsPerValue > 0
	var vb int
	if fixed {
		if L.bitsPerValue%8 != 0 || L.bitsPerValue > 1<<24 {
			return nil, fmt.Errorf("full-zip values of %d bits not supported", L.bitsPerValue)
		}
		vb = int(L.bitsPerValue / 8)
	} else if L.bitsPerOffset != 32 && L.bitsPerOffset != 64 {
		return nil, fmt.Errorf("full-zip lengths of %d bits not supported", L.bitsPerOffset)
	}
	rows := int64(p.length)
	sp := &span21{rows: to - from, layers: L.layers}
	if to == from {
		sp.vals = &block{bits: map[bool]int{true: 8 * vb}[fixed]}
		return sp, nil
	}

	// Find the byte range of rows [from, to).
	var lo, hi int64
	switch {
	case L.bitsRep == 0 && fixed:
		stride := int64(cw + vb)
		lo, hi = int64(from)*stride, int64(to)*stride
	case len(p.bufOffsets) >= 2:
		w := int64(p.bufSizes[1]) / (rows + 1)
		if w != 1 && w != 2 && w != 4 && w != 8 || int64(p.bufSizes[1]) != w*(rows+1) {
			return nil, fmt.Errorf("repetition index of %d bytes for %d rows", p.bufSizes[1], rows)
		}
		a, err := r.readPart(p, 1, int64(from)*w, w)
		if err != nil {
			return nil, err
		}
		b, err := r.readPart(p, 1, int64(to)*w, w)
		if err != nil {
			return nil, err
		}
		lo, hi = int64(readWord(a, int(8*w), 0)), int64(readWord(b, int(8*w), 0))
		if lo < 0 || hi < lo {
			return nil, fmt.Errorf("corrupt repetition index")
		}
	default:
		return nil, fmt.Errorf("full-zip page with repetition but no repetition index")
	}
	data, err := r.readPart(p, 0, lo, hi-lo)
	if err != nil {
		return nil, err
	}

	mv := maxVisibleDef(L.layers)
	mr := maxRep(L.layers)
	defMask := uint64(1)<<L.bitsDef - 1
	var rep, def []uint16
	var fixedData []byte
	var offs []uint64
	var vdata []byte
	if !fixed {
		offs = []uint64{0}
	}
	lb := int(L.bitsPerOffset / 8)
	nrows, nvis := 0, 0
	pos := 0
	for pos < len(data) {
		if len(data)-pos < cw {
			return nil, fmt.Errorf("truncated control word")
		}
		var word uint64
		switch cw {
		case 1:
			word = uint64(data[pos])
		case 2:
			word = uint64(binary.LittleEndian.Uint16(data[pos:]))
		case 4:
			word = uint64(binary.LittleEndian.Uint32(data[pos:]))
		}
		pos += cw
		var rl, dl uint16
		switch {
		case L.bitsRep > 0 && L.bitsDef > 0:
			rl, dl = uint16(word>>L.bitsDef), uint16(word&defMask)
		case L.bitsRep > 0:
			rl = uint16(word)
		case L.bitsDef > 0:
			dl = uint16(word)
		}
		if L.bitsRep > 0 {
			if rl > mr {
				return nil, fmt.Errorf("repetition level %d above maximum %d", rl, mr)
			}
			if rl == mr {
				nrows++
			} else if len(rep) == 0 {
				return nil, fmt.Errorf("range does not start a row")
			}
			rep = append(rep, rl)
		} else {
			nrows++
		}
		if L.bitsDef > 0 {
			def = append(def, dl)
		}
		if dl > mv {
			continue
		}
		nvis++
		if fixed {
			if len(data)-pos < vb {
				return nil, fmt.Errorf("truncated value")
			}
			fixedData = append(fixedData, data[pos:pos+vb]...)
			pos += vb
			continue
		}
		if dl != 0 {
			offs = append(offs, uint64(len(vdata)))
			continue
		}
		if len(data)-pos < lb {
			return nil, fmt.Errorf("truncated value length")
		}
		n := readWord(data[pos:], 8*lb, 0)
		pos += lb
		if n > uint64(len(data)-pos) {
			return nil, fmt.Errorf("value of %d bytes outside page", n)
		}
		v := data[pos : pos+int(n)]
		pos += int(n)
		if v, err = perValueDecode(L.valueComp, v); err != nil {
			return nil, err
		}
		vdata = append(vdata, v...)
		offs = append(offs, uint64(len(vdata)))
	}
	if nrows != to-from {
		return nil, fmt.Errorf("byte range holds %d rows, want %d", nrows, to-from)
	}
	sp.rep, sp.def, sp.nVis = rep, def, nvis
	if fixed {
		sp.vals, err = fixedPerValue(L.valueComp, fixedData, nvis, vb)
	} else {
		sp.vals = &block{n: nvis, offs: offs, data: vdata}
	}
	return sp, err
}

// perValueDecode undoes the per-value compression of one variable-width
// full-zip value.
func perValueDecode(e *compressive, v []byte) ([]byte, error) {
	switch e.kind {
	case compVariable:
		return v, nil
	case compGeneral:
		if e.scheme == "" {
			return nil, fmt.Errorf("General encoding without a compression scheme")
		}
		return decompress(e.scheme, v)
	case compFsst:
		t, err := fsstTableOf(e)
		if err != nil {
			return nil, err
		}
		if !t.on {
			return v, nil
		}
		return t.decode(make([]byte, 0, 3*len(v)), v)
	}
	return nil, fmt.Errorf("%s is not supported for variable-width full-zip values", e.name())
}

// fixedPerValue turns n zipped fixed-width values of vb bytes into a block:
// Flat values as they are; FixedSizeList values are [item validity bytes if
// has_validity][items].
func fixedPerValue(e *compressive, data []byte, n, vb int) (*block, error) {
	switch e.kind {
	case compFlat:
		if int(e.bits) != 8*vb {
			return nil, fmt.Errorf("Flat of %d bits in %d-byte full-zip values", e.bits, vb)
		}
		return &block{n: n, bits: 8 * vb, data: data}, nil
	case compFixedSizeList:
		// Items are Flat, or Constant: pylance writes FixedSizeList{Constant{}}
		// (no item bytes at all) when every item of the page is null, and
		// Constant{value} when every item is that value. A value is the
		// validity bytes of each layer that has them (outermost first,
		// ceil(entries/8) bytes each), then its items.
		layers, c, dim, err := fslChain(e, n)
		if err != nil {
			return nil, err
		}
		var ib int
		var constant []byte
		switch {
		case c.kind == compFlat && c.bits%8 == 0 && c.bits != 0:
			ib = int(c.bits / 8)
		case c.kind == compConstant:
			if c.hasValue {
				constant = c.value
			}
			ib = len(constant)
		default:
			return nil, fmt.Errorf("full-zip %s not supported", e.name())
		}
		vbytes := 0
		for _, l := range layers {
			if l.hasValidity {
				vbytes += (l.per + 7) / 8
			}
		}
		if dim <= 0 || vbytes+dim*ib != vb || len(data) < n*vb {
			return nil, fmt.Errorf("FixedSizeList of %d x %d bytes in %d-byte values", dim, ib, vb)
		}
		if c.kind == compConstant {
			// Expand the constant (no bytes: itemBits 0, filled in with
			// zeros of the Arrow item width by the nested reader), re-zipped
			// as [validity][items] per value for the code below.
			zipped := make([]byte, 0, n*(vbytes+dim*ib))
			for i := 0; i < n; i++ {
				zipped = append(zipped, data[i*vb:i*vb+vbytes]...)
				for k := 0; k < dim; k++ {
					zipped = append(zipped, constant...)
				}
			}
			data, vb = zipped, vbytes+dim*ib
		}
		out := &block{n: n, bits: dim * ib * 8, dim: dim, itemBits: ib * 8, data: data}
		if vbytes > 0 {
			out.data = make([]byte, 0, n*dim*ib)
			bitmaps := make([][]byte, len(layers))
			for k, l := range layers {
				if l.hasValidity {
					bitmaps[k] = make([]byte, (n*l.per+7)/8)
				}
			}
			for i := 0; i < n; i++ {
				v := data[i*vb : (i+1)*vb]
				off := 0
				for k, l := range layers {
					if l.hasValidity {
						bitutil.CopyBitmap(v[off:], 0, l.per, bitmaps[k], i*l.per)
						off += (l.per + 7) / 8
					}
				}
				out.data = append(out.data, v[vbytes:]...)
			}
			out.setFSLValidity(layers, bitmaps)
		} else if len(layers) > 1 {
			out.setFSLValidity(layers, make([][]byte, len(layers)))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not supported for fixed-width full-zip values", e.name())
}
