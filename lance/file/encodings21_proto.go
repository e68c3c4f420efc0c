package file

import (
	"fmt"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
)

// lance.encodings21 (protos/encodings_v2_1.proto): the page layouts of file
// versions 2.1 and 2.2. A 2.1+ page encoding is
// Any{"/lance.encodings21.PageLayout", PageLayout}.
//
//	PageLayout        oneof 1 mini_block_layout, 2 all_null_layout (2.1) /
//	                  constant_layout (2.2, same number), 3 full_zip_layout,
//	                  4 blob_layout, 5 sparse_layout (2.3)
//	MiniBlockLayout   1 rep_compression, 2 def_compression, 3 value_compression,
//	                  4 dictionary, 5 num_dictionary_items, 6 layers (packed enum),
//	                  7 num_buffers, 8 repetition_index_depth, 9 num_items,
//	                  10 has_large_chunk (2.2)
//	ConstantLayout    5 layers, 6 inline_value, 7 rep_compression,
//	                  8 def_compression, 9 num_rep_values, 10 num_def_values
//	FullZipLayout     1 bits_rep, 2 bits_def, 3 bits_per_value | 4 bits_per_offset,
//	                  5 num_items, 6 num_visible_items, 7 value_compression, 8 layers
//	CompressiveEncoding oneof 1 flat, 2 variable, 3 constant,
//	                  4 out_of_line_bitpacking, 5 inline_bitpacking, 6 fsst,
//	                  7 dictionary, 8 rle, 9 byte_stream_split, 10 general,
//	                  11 fixed_size_list, 12 packed_struct, 13 variable_packed_struct
//
// Messages of CompressiveEncoding: Flat{1 bits_per_value, 2 data BufferCompression},
// Variable{1 offsets, 2 values BufferCompression}, Constant{1 value},
// OutOfLineBitpacking{1 uncompressed_bits_per_value, 3 values},
// InlineBitpacking{1 uncompressed_bits_per_value, 2 values BufferCompression},
// Fsst{1 symbol_table, 2 values}, Dictionary{1 indices, 2 items, 3 num_dictionary_items},
// Rle{1 values, 2 run_lengths}, ByteStreamSplit{1 values},
// General{1 compression BufferCompression, 3 values},
// FixedSizeList{1 items_per_value, 2 values, 3 has_validity},
// BufferCompression{1 scheme (1 LZ4, 2 ZSTD), 2 level}.

const typeURLPageLayout = "/lance.encodings21.PageLayout"

type repDefLayer uint8

const (
	layerAllValidItem     repDefLayer = 1
	layerAllValidList     repDefLayer = 2
	layerNullableItem     repDefLayer = 3
	layerNullableList     repDefLayer = 4
	layerEmptyableList    repDefLayer = 5
	layerNullAndEmptyList repDefLayer = 6
)

func (l repDefLayer) isList() bool { return l == layerAllValidList || l >= layerNullableList }

// defLevels is how many definition levels the layer uses.
func (l repDefLayer) defLevels() uint16 {
	switch l {
	case layerNullableItem, layerNullableList, layerEmptyableList:
		return 1
	case layerNullAndEmptyList:
		return 2
	}
	return 0
}

type layoutKind int

const (
	layoutMiniBlock layoutKind = iota + 1
	layoutConstant             // AllNullLayout (2.1) / ConstantLayout (2.2)
	layoutFullZip
	layoutBlob
	layoutSparse
)

var layoutNames = map[layoutKind]string{
	layoutMiniBlock: "MiniBlockLayout", layoutConstant: "ConstantLayout",
	layoutFullZip: "FullZipLayout", layoutBlob: "BlobLayout", layoutSparse: "SparseLayout",
}

// pageLayout is the decoded lance.encodings21.PageLayout of one page.
type pageLayout struct {
	kind   layoutKind
	layers []repDefLayer

	// mini-block
	repComp, defComp, valueComp, dict *compressive
	numDictItems                      uint64
	numBuffers                        uint64
	repIndexDepth                     uint64
	numItems                          uint64
	largeChunk                        bool

	// constant / all-null
	inline                     []byte
	hasInline                  bool
	numRepValues, numDefValues uint64

	// full-zip
	bitsRep, bitsDef            uint64
	bitsPerValue, bitsPerOffset uint64
	fzNumItems, fzNumVisible    uint64
}

func (p *pageLayout) name() string { return layoutNames[p.kind] }

type compKind int

const (
	compFlat compKind = iota + 1
	compVariable
	compConstant
	compOutOfLineBitpacking
	compInlineBitpacking
	compFsst
	compDictionary
	compRle
	compByteStreamSplit
	compGeneral
	compFixedSizeList
	compPackedStruct
	compVariablePackedStruct
)

var compNames = map[compKind]string{
	compFlat: "Flat", compVariable: "Variable", compConstant: "Constant",
	compOutOfLineBitpacking: "OutOfLineBitpacking", compInlineBitpacking: "InlineBitpacking",
	compFsst: "Fsst", compDictionary: "Dictionary", compRle: "Rle",
	compByteStreamSplit: "ByteStreamSplit", compGeneral: "General",
	compFixedSizeList: "FixedSizeList", compPackedStruct: "PackedStruct",
	compVariablePackedStruct: "VariablePackedStruct",
}

// compressive is a decoded CompressiveEncoding node.
type compressive struct {
	kind compKind
	// Flat.bits_per_value; *Bitpacking.uncompressed_bits_per_value
	bits uint64
	// buffer compression of Flat.data / Variable.values /
	// InlineBitpacking.values / General.compression: "", "lz4" or "zstd"
	scheme string
	// children: Variable.offsets, *Bitpacking/Fsst/Rle/BSS/General/FSL .values,
	// Dictionary.indices
	child *compressive
	// Rle.run_lengths, Dictionary.items
	child2 *compressive

	symbolTable []byte // Fsst
	// fsst caches symbolTable parsed (pages are decoded chunk by chunk,
	// possibly by several reads at once).
	fsst          atomic.Pointer[fsstTable]
	value         []byte // Constant
	hasValue      bool
	numDictItems  uint64   // Dictionary
	itemsPerValue uint64   // FixedSizeList
	hasValidity   bool     // FixedSizeList
	fieldBits     []uint64 // PackedStruct: the bits of each child in a row
}

func (c *compressive) name() string {
	if c == nil {
		return "<none>"
	}
	n := compNames[c.kind]
	if c.scheme != "" {
		n += "/" + c.scheme
	}
	if c.child != nil && c.kind != compFlat {
		n += "(" + c.child.name()
		if c.child2 != nil {
			n += "," + c.child2.name()
		}
		n += ")"
	}
	return n
}

// describe summarises a layout for tests and errors, e.g.
// "MiniBlockLayout[InlineBitpacking] def=Rle(Flat,Flat) dict=General/lz4(Flat)".
func (p *pageLayout) describe() string {
	s := p.name()
	switch p.kind {
	case layoutMiniBlock:
		s += "[" + p.valueComp.name() + "]"
		if p.dict != nil {
			s += " dict=" + p.dict.name()
		}
		if p.defComp != nil {
			s += " def=" + p.defComp.name()
		}
		if p.repComp != nil {
			s += " rep=" + p.repComp.name()
		}
	case layoutFullZip:
		s += "[" + p.valueComp.name() + "]"
	case layoutConstant:
		if p.hasInline {
			s += "[inline]"
		} else {
			s += "[null]"
		}
	}
	return s
}

func decodePageLayout(b []byte) (*pageLayout, error) {
	p := &pageLayout{}
	err := pbWalk(b, func(f pbField) error {
		if f.num < 1 || f.num > 5 {
			return nil
		}
		v, err := f.wantBytes("PageLayout")
		if err != nil {
			return err
		}
		p.kind = layoutKind(f.num)
		switch p.kind {
		case layoutMiniBlock:
			return p.decodeMiniBlock(v)
		case layoutConstant:
			return p.decodeConstant(v)
		case layoutFullZip:
			return p.decodeFullZip(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.kind == 0 {
		return nil, fmt.Errorf("lance file: empty PageLayout")
	}
	return p, nil
}

const maxLayers = 64

func appendLayers(dst []repDefLayer, f pbField) ([]repDefLayer, error) {
	vs, err := appendUint64s(nil, f, "layers", maxLayers)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v < 1 || v > 6 {
			return nil, fmt.Errorf("lance file: unknown rep/def layer %d", v)
		}
		if len(dst) >= maxLayers {
			return nil, fmt.Errorf("lance file: too many rep/def layers")
		}
		dst = append(dst, repDefLayer(v))
	}
	return dst, nil
}

func subEncoding(f pbField, what string) (*compressive, error) {
	v, err := f.wantBytes(what)
	if err != nil {
		return nil, err
	}
	return decodeCompressive(v, 0)
}

func (p *pageLayout) decodeMiniBlock(b []byte) error {
	return pbWalk(b, func(f pbField) error {
		var err error
		switch f.num {
		case 1:
			p.repComp, err = subEncoding(f, "MiniBlockLayout.rep_compression")
		case 2:
			p.defComp, err = subEncoding(f, "MiniBlockLayout.def_compression")
		case 3:
			p.valueComp, err = subEncoding(f, "MiniBlockLayout.value_compression")
		case 4:
			p.dict, err = subEncoding(f, "MiniBlockLayout.dictionary")
		case 5:
			p.numDictItems, err = f.wantVarint("MiniBlockLayout.num_dictionary_items")
		case 6:
			p.layers, err = appendLayers(p.layers, f)
		case 7:
			p.numBuffers, err = f.wantVarint("MiniBlockLayout.num_buffers")
		case 8:
			p.repIndexDepth, err = f.wantVarint("MiniBlockLayout.repetition_index_depth")
		case 9:
			p.numItems, err = f.wantVarint("MiniBlockLayout.num_items")
		case 10:
			var x uint64
			x, err = f.wantVarint("MiniBlockLayout.has_large_chunk")
			p.largeChunk = x != 0
		}
		return err
	})
}

func (p *pageLayout) decodeConstant(b []byte) error {
	return pbWalk(b, func(f pbField) error {
		var err error
		switch f.num {
		case 5:
			p.layers, err = appendLayers(p.layers, f)
		case 6:
			p.inline, err = f.wantBytes("ConstantLayout.inline_value")
			p.hasInline = true
		case 7:
			p.repComp, err = subEncoding(f, "ConstantLayout.rep_compression")
		case 8:
			p.defComp, err = subEncoding(f, "ConstantLayout.def_compression")
		case 9:
			p.numRepValues, err = f.wantVarint("ConstantLayout.num_rep_values")
		case 10:
			p.numDefValues, err = f.wantVarint("ConstantLayout.num_def_values")
		}
		return err
	})
}

func (p *pageLayout) decodeFullZip(b []byte) error {
	return pbWalk(b, func(f pbField) error {
		var err error
		switch f.num {
		case 1:
			p.bitsRep, err = f.wantVarint("FullZipLayout.bits_rep")
		case 2:
			p.bitsDef, err = f.wantVarint("FullZipLayout.bits_def")
		case 3:
			p.bitsPerValue, err = f.wantVarint("FullZipLayout.bits_per_value")
			p.bitsPerOffset = 0
		case 4:
			p.bitsPerOffset, err = f.wantVarint("FullZipLayout.bits_per_offset")
			p.bitsPerValue = 0
		case 5:
			p.fzNumItems, err = f.wantVarint("FullZipLayout.num_items")
		case 6:
			p.fzNumVisible, err = f.wantVarint("FullZipLayout.num_visible_items")
		case 7:
			p.valueComp, err = subEncoding(f, "FullZipLayout.value_compression")
		case 8:
			p.layers, err = appendLayers(p.layers, f)
		}
		return err
	})
}

func decodeBufferCompression(b []byte) (string, error) {
	scheme := ""
	err := pbWalk(b, func(f pbField) error {
		if f.num != 1 {
			return nil
		}
		x, err := f.wantVarint("BufferCompression.scheme")
		switch x {
		case 0:
			scheme = ""
		case 1:
			scheme = "lz4"
		case 2:
			scheme = "zstd"
		default:
			return fmt.Errorf("lance file: unknown compression scheme %d", x)
		}
		return err
	})
	return scheme, err
}

func decodeCompressive(b []byte, depth int) (*compressive, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("lance file: CompressiveEncoding nested too deeply")
	}
	c := &compressive{}
	err := pbWalk(b, func(f pbField) error {
		if f.num < 1 || f.num > 13 {
			return nil
		}
		v, err := f.wantBytes("CompressiveEncoding")
		if err != nil {
			return err
		}
		*c = compressive{kind: compKind(f.num)}
		return c.decodeBody(v, depth)
	})
	if err != nil {
		return nil, err
	}
	if c.kind == 0 {
		return nil, fmt.Errorf("lance file: empty CompressiveEncoding")
	}
	return c, nil
}

func (c *compressive) decodeBody(b []byte, depth int) error {
	sub := func(f pbField) (*compressive, error) {
		v, err := f.wantBytes(compNames[c.kind])
		if err != nil {
			return nil, err
		}
		return decodeCompressive(v, depth+1)
	}
	scheme := func(f pbField) error {
		v, err := f.wantBytes(compNames[c.kind] + " compression")
		if err == nil {
			c.scheme, err = decodeBufferCompression(v)
		}
		return err
	}
	err := pbWalk(b, func(f pbField) error {
		var err error
		switch c.kind {
		case compFlat:
			switch f.num {
			case 1:
				c.bits, err = f.wantVarint("Flat.bits_per_value")
			case 2:
				err = scheme(f)
			}
		case compVariable:
			switch f.num {
			case 1:
				c.child, err = sub(f)
			case 2:
				err = scheme(f)
			}
		case compConstant:
			if f.num == 1 {
				c.value, err = f.wantBytes("Constant.value")
				c.hasValue = true
			}
		case compOutOfLineBitpacking:
			switch f.num {
			case 1:
				c.bits, err = f.wantVarint("OutOfLineBitpacking.uncompressed_bits_per_value")
			case 3:
				c.child, err = sub(f)
			}
		case compInlineBitpacking:
			switch f.num {
			case 1:
				c.bits, err = f.wantVarint("InlineBitpacking.uncompressed_bits_per_value")
			case 2:
				err = scheme(f)
			}
		case compFsst:
			switch f.num {
			case 1:
				c.symbolTable, err = f.wantBytes("Fsst.symbol_table")
			case 2:
				c.child, err = sub(f)
			}
		case compDictionary:
			switch f.num {
			case 1:
				c.child, err = sub(f)
			case 2:
				c.child2, err = sub(f)
			case 3:
				c.numDictItems, err = f.wantVarint("Dictionary.num_dictionary_items")
			}
		case compRle:
			switch f.num {
			case 1:
				c.child, err = sub(f)
			case 2:
				c.child2, err = sub(f)
			}
		case compByteStreamSplit:
			if f.num == 1 {
				c.child, err = sub(f)
			}
		case compGeneral:
			switch f.num {
			case 1:
				err = scheme(f)
			case 3:
				c.child, err = sub(f)
			}
		case compFixedSizeList:
			switch f.num {
			case 1:
				c.itemsPerValue, err = f.wantVarint("FixedSizeList.items_per_value")
			case 2:
				c.child, err = sub(f)
			case 3:
				var x uint64
				x, err = f.wantVarint("FixedSizeList.has_validity")
				c.hasValidity = x != 0
			}
		case compPackedStruct:
			switch f.num {
			case 1:
				c.fieldBits, err = appendUint64s(c.fieldBits, f, "PackedStruct.bits_per_value", 1<<10)
			case 2:
				c.child, err = sub(f)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	need := func(x *compressive, what string) error {
		if x == nil {
			return fmt.Errorf("lance file: %s encoding without %s", compNames[c.kind], what)
		}
		return nil
	}
	switch c.kind {
	case compVariable, compOutOfLineBitpacking, compFsst, compByteStreamSplit, compGeneral, compFixedSizeList, compPackedStruct:
		return need(c.child, "values")
	case compRle:
		if err := need(c.child, "values"); err != nil {
			return err
		}
		return need(c.child2, "run lengths")
	case compDictionary:
		if err := need(c.child, "indices"); err != nil {
			return err
		}
		return need(c.child2, "items")
	}
	return nil
}

// Encoders used only by tests to build small pages by hand.

func encCompressive(kind compKind, body []byte) []byte {
	return pbBytes(nil, protowire.Number(kind), body)
}

func encFlat21(bits uint64) []byte {
	return encCompressive(compFlat, pbVarintNZ(nil, 1, bits))
}
