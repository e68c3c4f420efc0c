package file

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// lance.encodings.ArrayEncoding (protos/encodings_v2_0.proto), the per-page
// encoding tree of 2.0 files. Only the variants 2.0 writers emit for the
// supported types are decoded; others are reported by name.

const (
	typeURLArrayEncoding  = "/lance.encodings.ArrayEncoding"
	typeURLColumnEncoding = "/lance.encodings.ColumnEncoding"
)

type encKind int

const (
	encUnknown encKind = iota
	encFlat
	encNullable
	encBinary
	encDictionary
	encFixedSizeList
	encList
	encSimpleStruct
	encPackedStruct // read_packed.go
)

// arrayEncodingNames maps the ArrayEncoding oneof numbers to names used in
// "unsupported encoding" errors.
var arrayEncodingNames = map[protowire.Number]string{
	1: "Flat", 2: "Nullable", 3: "FixedSizeList", 4: "List", 5: "SimpleStruct",
	6: "Binary", 7: "Dictionary", 8: "Fsst", 9: "PackedStruct", 10: "Bitpacked",
	11: "FixedSizeBinary", 12: "BitpackedForNonNeg", 13: "Constant", 14: "Bitpack2",
	15: "Variable", 16: "PackedStructFixedWidthMiniBlock", 17: "Block", 18: "Rle",
	19: "GeneralMiniBlock", 20: "ByteStreamSplit", 21: "InlineBitpacking",
}

type nullKind int

const (
	noNulls nullKind = iota + 1
	someNulls
	allNulls
)

// arrayEncoding is the decoded form of one ArrayEncoding node.
type arrayEncoding struct {
	kind encKind
	name string // oneof name, for errors about unsupported variants

	// Flat
	bitsPerValue uint64
	bufferIndex  uint32
	bufferType   uint32 // 0 page, 1 column, 2 file
	compression  string // Flat.compression.scheme; "" = none

	// Nullable
	nulls    nullKind
	validity *arrayEncoding // some_nulls
	values   *arrayEncoding // no_nulls / some_nulls

	// Binary (indices, bytes) and Dictionary (indices, items)
	indices        *arrayEncoding
	bytes          *arrayEncoding
	items          *arrayEncoding
	nullAdjustment uint64
	numDictItems   uint32

	// PackedStruct: the children's Flat encodings; the rows (their values
	// back to back) are in the buffer bufferIndex
	inner []*arrayEncoding

	// FixedSizeList (dimension, items) and List (offsets: one end offset
	// per list, nulls raised by nullAdjustment; numItems)
	dimension uint64
	offsets   *arrayEncoding
	numItems  uint64
}

func decodeArrayEncoding(b []byte, depth int) (*arrayEncoding, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("lance file: ArrayEncoding nested too deeply")
	}
	e := &arrayEncoding{}
	err := pbWalk(b, func(f pbField) error {
		name, ok := arrayEncodingNames[f.num]
		if !ok {
			return nil // unknown field: ignore, as protobuf does
		}
		v, err := f.wantBytes("ArrayEncoding." + name)
		if err != nil {
			return err
		}
		e.name = name
		switch f.num {
		case 1:
			e.kind = encFlat
			return e.decodeFlat(v)
		case 2:
			e.kind = encNullable
			return e.decodeNullable(v, depth)
		case 6:
			e.kind = encBinary
			return e.decodeBinary(v, depth)
		case 7:
			e.kind = encDictionary
			return e.decodeDictionary(v, depth)
		case 3:
			e.kind = encFixedSizeList
			return e.decodeFixedSizeList(v, depth)
		case 4:
			e.kind = encList
			return e.decodeList(v, depth)
		case 5:
			e.kind = encSimpleStruct
		case 9:
			e.kind = encPackedStruct
			return e.decodePackedStruct(v, depth)
		default:
			e.kind = encUnknown
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e.name == "" {
		return nil, fmt.Errorf("lance file: empty ArrayEncoding")
	}
	return e, nil
}

func (e *arrayEncoding) decodeFlat(b []byte) error {
	return pbWalk(b, func(f pbField) error {
		switch f.num {
		case 1:
			v, err := f.wantVarint("Flat.bits_per_value")
			e.bitsPerValue = v
			return err
		case 2:
			v, err := f.wantBytes("Flat.buffer")
			if err != nil {
				return err
			}
			return e.decodeBuffer(v)
		case 3:
			v, err := f.wantBytes("Flat.compression")
			if err != nil {
				return err
			}
			return pbWalk(v, func(f pbField) error {
				if f.num == 1 {
					s, err := f.wantBytes("Compression.scheme")
					e.compression = string(s)
					return err
				}
				return nil
			})
		}
		return nil
	})
}

// decodeBuffer reads a Buffer{buffer_index, buffer_type} message.
func (e *arrayEncoding) decodeBuffer(v []byte) error {
	return pbWalk(v, func(f pbField) error {
		switch f.num {
		case 1:
			x, err := f.wantVarint("Buffer.buffer_index")
			e.bufferIndex = uint32(x)
			if x > 1<<16 {
				return fmt.Errorf("lance file: buffer index %d out of range", x)
			}
			return err
		case 2:
			x, err := f.wantVarint("Buffer.buffer_type")
			e.bufferType = uint32(x)
			return err
		}
		return nil
	})
}

func (e *arrayEncoding) decodeNullable(b []byte, depth int) error {
	err := pbWalk(b, func(f pbField) error {
		if f.num < 1 || f.num > 3 {
			return nil
		}
		v, err := f.wantBytes("Nullable")
		if err != nil {
			return err
		}
		switch f.num {
		case 1:
			e.nulls = noNulls
			return pbWalk(v, func(f pbField) error {
				if f.num != 1 {
					return nil
				}
				v, err := f.wantBytes("NoNull.values")
				if err == nil {
					e.values, err = decodeArrayEncoding(v, depth+1)
				}
				return err
			})
		case 2:
			e.nulls = someNulls
			return pbWalk(v, func(f pbField) error {
				if f.num != 1 && f.num != 2 {
					return nil
				}
				v, err := f.wantBytes("SomeNull")
				if err != nil {
					return err
				}
				enc, err := decodeArrayEncoding(v, depth+1)
				if f.num == 1 {
					e.validity = enc
				} else {
					e.values = enc
				}
				return err
			})
		default:
			e.nulls = allNulls
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case e.nulls == 0:
		return fmt.Errorf("lance file: Nullable encoding without nullability")
	case e.nulls == noNulls && e.values == nil,
		e.nulls == someNulls && (e.values == nil || e.validity == nil):
		return fmt.Errorf("lance file: Nullable encoding missing a child")
	}
	return nil
}

func (e *arrayEncoding) decodeBinary(b []byte, depth int) error {
	err := pbWalk(b, func(f pbField) error {
		var err error
		var v []byte
		switch f.num {
		case 1:
			if v, err = f.wantBytes("Binary.indices"); err == nil {
				e.indices, err = decodeArrayEncoding(v, depth+1)
			}
		case 2:
			if v, err = f.wantBytes("Binary.bytes"); err == nil {
				e.bytes, err = decodeArrayEncoding(v, depth+1)
			}
		case 3:
			e.nullAdjustment, err = f.wantVarint("Binary.null_adjustment")
		}
		return err
	})
	if err == nil && (e.indices == nil || e.bytes == nil) {
		err = fmt.Errorf("lance file: Binary encoding missing indices or bytes")
	}
	return err
}

func (e *arrayEncoding) decodeDictionary(b []byte, depth int) error {
	err := pbWalk(b, func(f pbField) error {
		var err error
		var v []byte
		var x uint64
		switch f.num {
		case 1:
			if v, err = f.wantBytes("Dictionary.indices"); err == nil {
				e.indices, err = decodeArrayEncoding(v, depth+1)
			}
		case 2:
			if v, err = f.wantBytes("Dictionary.items"); err == nil {
				e.items, err = decodeArrayEncoding(v, depth+1)
			}
		case 3:
			x, err = f.wantVarint("Dictionary.num_dictionary_items")
			e.numDictItems = uint32(x)
			if x > 1<<32-1 {
				err = fmt.Errorf("lance file: dictionary size %d out of range", x)
			}
		}
		return err
	})
	if err == nil && (e.indices == nil || e.items == nil) {
		err = fmt.Errorf("lance file: Dictionary encoding missing indices or items")
	}
	return err
}

func (e *arrayEncoding) decodeFixedSizeList(b []byte, depth int) error {
	err := pbWalk(b, func(f pbField) error {
		var err error
		var v []byte
		switch f.num {
		case 1:
			e.dimension, err = f.wantVarint("FixedSizeList.dimension")
			if err == nil && (e.dimension == 0 || e.dimension > 1<<20) {
				err = fmt.Errorf("lance file: fixed-size list dimension %d out of range", e.dimension)
			}
		case 2:
			if v, err = f.wantBytes("FixedSizeList.items"); err == nil {
				e.items, err = decodeArrayEncoding(v, depth+1)
			}
		}
		return err
	})
	if err == nil && (e.items == nil || e.dimension == 0) {
		err = fmt.Errorf("lance file: FixedSizeList encoding missing dimension or items")
	}
	return err
}

func (e *arrayEncoding) decodeList(b []byte, depth int) error {
	err := pbWalk(b, func(f pbField) error {
		var err error
		var v []byte
		switch f.num {
		case 1:
			if v, err = f.wantBytes("List.offsets"); err == nil {
				e.offsets, err = decodeArrayEncoding(v, depth+1)
			}
		case 2:
			e.nullAdjustment, err = f.wantVarint("List.null_offset_adjustment")
		case 3:
			e.numItems, err = f.wantVarint("List.num_items")
		}
		return err
	})
	if err == nil && (e.offsets == nil || e.nullAdjustment == 0) {
		err = fmt.Errorf("lance file: List encoding missing offsets or null adjustment")
	}
	return err
}

// Encoders for the subset the writer emits. Field presence matches what
// pylance writes (empty sub-messages such as Flat.buffer are still present).

func encFlatMsg(bits uint64, buf uint32) []byte {
	var bufMsg []byte
	bufMsg = pbVarintNZ(bufMsg, 1, uint64(buf))
	flat := pbVarintNZ(nil, 1, bits)
	flat = pbBytes(flat, 2, bufMsg)
	return pbBytes(nil, 1, flat)
}

// encFlatCompressed is Flat{bits, buffer, compression{scheme}}: a 2.0
// buffer compressed with a general-purpose codec.
func encFlatCompressed(bits uint64, buf uint32, scheme string) []byte {
	var bufMsg []byte
	bufMsg = pbVarintNZ(bufMsg, 1, uint64(buf))
	flat := pbVarintNZ(nil, 1, bits)
	flat = pbBytes(flat, 2, bufMsg)
	flat = pbBytes(flat, 3, pbBytes(nil, 1, []byte(scheme)))
	return pbBytes(nil, 1, flat)
}

func encNoNulls(values []byte) []byte {
	nn := pbBytes(nil, 1, values)
	n := pbBytes(nil, 1, nn)
	return pbBytes(nil, 2, n)
}

func encSomeNulls(validity, values []byte) []byte {
	sn := pbBytes(nil, 1, validity)
	sn = pbBytes(sn, 2, values)
	n := pbBytes(nil, 2, sn)
	return pbBytes(nil, 2, n)
}

func encAllNulls() []byte {
	n := pbBytes(nil, 3, nil)
	return pbBytes(nil, 2, n)
}

func encBinaryMsg(indices, bytes []byte, nullAdjustment uint64) []byte {
	bin := pbBytes(nil, 1, indices)
	bin = pbBytes(bin, 2, bytes)
	bin = pbVarintNZ(bin, 3, nullAdjustment)
	return pbBytes(nil, 6, bin)
}

// decodePackedStruct reads a 2.0 PackedStruct{inner: repeated ArrayEncoding,
// buffer} (read_packed.go).
func (e *arrayEncoding) decodePackedStruct(b []byte, depth int) error {
	return pbWalk(b, func(f pbField) error {
		switch f.num {
		case 1:
			v, err := f.wantBytes("PackedStruct.inner")
			if err != nil {
				return err
			}
			if len(e.inner) >= 1<<10 {
				return fmt.Errorf("lance file: packed struct of too many children")
			}
			in, err := decodeArrayEncoding(v, depth+1)
			if err == nil {
				e.inner = append(e.inner, in)
			}
			return err
		case 2:
			v, err := f.wantBytes("PackedStruct.buffer")
			if err != nil {
				return err
			}
			return e.decodeBuffer(v)
		}
		return nil
	})
}
