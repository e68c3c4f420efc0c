package file

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/persisting/persisting/lance/schema"
)

// Writing file versions 2.1 and 2.2 ("structural" encodings). Every leaf
// of the schema is one column: a struct has no column of its own and a list
// none either; their validity and offsets travel in the leaves' repetition
// and definition levels (see structural.go for the level conventions). A
// fixed_size_list of a fixed-width type is one leaf whose values are whole
// vectors.
//
// Each leaf column is split into pages of whole rows. A page is written as
//
//   - ConstantLayout (2.2) / AllNullLayout (2.1) when it has no valid
//     value: no buffers if the column is a single nullable item and every
//     row is null, otherwise [rep, def] level buffers (u16, Flat{16});
//   - FullZipLayout for wide values (vectors of 256 bytes or more, pages
//     holding a string of 256 bytes or more): per level entry a control word
//     (rep << bits_def | def, 1/2/4 bytes) and, for a visible entry, the
//     value (fixed width: its bytes; variable: u32 length + bytes when
//     valid); buffer 1 is the repetition index (byte offset of every row, and
//     the end) when there are lists or the values vary in width;
//   - MiniBlockLayout otherwise: chunks of 2^k visible values (the last
//     chunk holds the rest), each with its levels and values (Flat,
//     Variable{Flat{32}} or FixedSizeList{Flat}); buffers [chunk metadata,
//     chunks] plus, with lists, the repetition index (per chunk: rows
//     finished in it, level entries left over after the last finished row,
//     as u64 pairs). 2.2 pages set has_large_chunk (u32 metadata words and
//     u32 buffer sizes in chunk headers).
//
// Levels are always stored uncompressed (Flat{16}); values are stored as
// they are, or wrapped in General{zstd|lz4} when WriteOptions.Compression (or
// the field's "lance-encoding:compression" metadata) asks for it and it
// makes the page smaller: mini-block pages compress each chunk's value
// buffer (pylance's GeneralMiniBlockCompressor: the first buffer of each
// chunk, so FixedSizeList values with item validity stay uncompressed);
// full-zip string pages compress each value on its own (zstd always, lz4
// only without nulls: pylance 14 hands a null's empty slot to its lz4
// decoder and fails). In a compressed 2.2 page, strings of up to 32 KiB go
// to mini-block chunks of up to 32 KiB, which compress much better than
// single values.

type nodeKind int

const (
	nodeLeaf nodeKind = iota
	nodeStruct
	nodeList
)

// wnode is one field of the schema tree the writer walks.
type wnode struct {
	field    schema.Field
	kind     nodeKind
	dt       arrow.DataType // the field's Arrow type
	children []*wnode
}

func buildTree(fields []schema.Field) ([]*wnode, error) {
	sch, err := schema.ToArrow(fields)
	if err != nil {
		return nil, err
	}
	byID := map[int32]*wnode{}
	var roots []*wnode
	for _, f := range fields {
		n := &wnode{field: f}
		byID[f.ID] = n
		if f.ParentID == -1 {
			roots = append(roots, n)
			continue
		}
		p := byID[f.ParentID]
		if p == nil {
			return nil, fmt.Errorf("lance file: field %q precedes its parent", f.Name)
		}
		p.children = append(p.children, n)
	}
	if len(roots) != sch.NumFields() {
		return nil, fmt.Errorf("lance file: schema has %d top-level fields, arrow %d", len(roots), sch.NumFields())
	}
	var setTypes func(n *wnode, dt arrow.DataType)
	setTypes = func(n *wnode, dt arrow.DataType) {
		n.dt = dt
		switch t := dt.(type) {
		case *arrow.StructType:
			n.kind = nodeStruct
			for i, c := range n.children {
				setTypes(c, t.Field(i).Type)
			}
		case *arrow.ListType:
			n.kind = nodeList
			setTypes(n.children[0], t.Elem())
		case *arrow.LargeListType:
			n.kind = nodeList
			setTypes(n.children[0], t.Elem())
		}
	}
	for i, r := range roots {
		setTypes(r, sch.Field(i).Type)
	}
	return roots, nil
}

type leafKind int

const (
	leafFixed leafKind = iota // bytes-wide values
	leafBool                  // 1 bit per value
	leafVar                   // string / binary
	leafFSL                   // fixed_size_list of fixed-width items
)

// leafValueKind classifies a leaf type the structural writer can encode.
func leafValueKind(dt arrow.DataType) (kind leafKind, width, dim int, err error) {
	switch dt.ID() {
	case arrow.BOOL:
		return leafBool, 0, 0, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return leafVar, 0, 0, nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.DATE64,
		arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return leafFixed, dt.(arrow.FixedWidthDataType).BitWidth() / 8, 0, nil
	case arrow.FIXED_SIZE_LIST:
		t := dt.(*arrow.FixedSizeListType)
		k, w, _, err := leafValueKind(t.Elem())
		if err != nil || k != leafFixed {
			return 0, 0, 0, fmt.Errorf("fixed_size_list of %s is not supported by the writer (items must be fixed-width numbers)", t.Elem())
		}
		if t.Len() <= 0 || t.Len() > 1<<20 {
			return 0, 0, 0, fmt.Errorf("fixed_size_list of %d items is not supported", t.Len())
		}
		return leafFSL, w, int(t.Len()), nil
	}
	return 0, 0, 0, fmt.Errorf("type %s is not supported by the writer", dt)
}

// leafWriter encodes one leaf column.
type leafWriter struct {
	v        Version
	name     string   // dotted path, for errors
	nodes    []*wnode // top-level field (0) down to the leaf
	childIdx []int    // nodes[d+1] is child childIdx[d] of a struct nodes[d]
	// listsBelow[d]: list nodes strictly below depth d (the rep level of
	// a list item after the first).
	listsBelow []uint16
	maxRep     uint16
	// Canonical def levels (every item layer nullable, every list layer
	// nullable and emptyable): null at depth d, empty list at depth d.
	canonNull, canonEmpty []uint16
	maxVisCanon           uint16 // canonical def of the deepest visible null
	kind                  leafKind
	width, dim            int // bytes per value (fixed) or per item (FSL); FSL items
	offBits               int // leafVar: 32, or 64 for large_string / large_binary
	comp                  string

	maxPageBytes, maxPageRows int64
	rowsDone                  int64 // rows in pages already written
	rowsHint                  int64 // rows the file gets in all (0: unknown)
	p                         pendingPage
	out                       []pageOut

	// Scratch reused from page to page: the page's actual def levels.
	defScratch []uint16
}

// pendingPage accumulates the rows of the page being built.
type pendingPage struct {
	rows      int64
	rep, def  []uint16 // def canonical; rep nil without lists
	hasNull   []bool   // by depth: a null seen at that node
	hasEmpty  []bool   // by depth: an empty list seen
	nVis      int      // visible values
	nValid    int      // valid visible values
	invisible int      // level entries without a value slot
	fixed     []byte   // leafFixed / leafFSL values
	boolBits  []byte   // leafBool values
	itemValid []byte   // leafFSL: item validity, dim bits per value
	itemNulls bool
	// itemValidN: items itemValid covers (the bulk vector path lets it
	// fall behind; syncItemValid catches up).
	itemValidN int
	offs       []uint64  // leafVar: end offsets
	data       []byte    // leafVar bytes
	maxLen     int       // leafVar: longest value
	bytes      int64     // approximate page size
	segs       []flatSeg // flat leaves: the values, in the appended arrays
	dict       *pageDict // leafVar: the page's dictionary, when it gets one
}

func newLeafWriters(roots []*wnode, v Version, opts WriteOptions, comp string) ([][]*leafWriter, error) {
	maxBytes := opts.MaxPageBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPageBytes
	}
	maxRows := opts.MaxPageRows
	if maxRows <= 0 {
		maxRows = 1 << 62
	}
	out := make([][]*leafWriter, len(roots))
	for i, r := range roots {
		var walk func(path []*wnode, idx []int) error
		walk = func(path []*wnode, idx []int) error {
			n := path[len(path)-1]
			switch n.kind {
			case nodeStruct:
				if len(n.children) == 0 {
					return fmt.Errorf("lance file: field %q: a struct without fields is not supported by the writer", n.field.Name)
				}
				for k, c := range n.children {
					if err := walk(append(path[:len(path):len(path)], c), append(idx[:len(idx):len(idx)], k)); err != nil {
						return err
					}
				}
				return nil
			case nodeList:
				return walk(append(path[:len(path):len(path)], n.children[0]), append(idx[:len(idx):len(idx)], 0))
			}
			lw, err := newLeafWriter(path, idx, v, comp)
			if err != nil {
				return err
			}
			lw.maxPageBytes, lw.maxPageRows = maxBytes, maxRows
			out[i] = append(out[i], lw)
			return nil
		}
		if err := walk([]*wnode{r}, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func newLeafWriter(path []*wnode, idx []int, v Version, comp string) (*leafWriter, error) {
	leaf := path[len(path)-1]
	name := ""
	for i, n := range path {
		if i > 0 {
			name += "."
		}
		name += n.field.Name
	}
	kind, width, dim, err := leafValueKind(leaf.dt)
	if err != nil {
		return nil, fmt.Errorf("lance file: field %q: %w", name, err)
	}
	if c, ok := leaf.field.Metadata[CompressionMetadataKey]; ok {
		if comp, err = ParseCompression(string(c)); err != nil {
			return nil, fmt.Errorf("lance file: field %q: %w", name, err)
		}
	}
	lw := &leafWriter{v: v, name: name, nodes: path, childIdx: idx, kind: kind, width: width, dim: dim, comp: comp, offBits: 32}
	if id := leaf.dt.ID(); id == arrow.LARGE_STRING || id == arrow.LARGE_BINARY {
		lw.offBits = 64 // Lance checks the offset width against the Arrow type
	}
	D := len(path)
	lw.listsBelow = make([]uint16, D)
	lw.canonNull = make([]uint16, D)
	lw.canonEmpty = make([]uint16, D)
	var lists, cbase uint16
	firstList := -1
	for d := D - 1; d >= 0; d-- { // innermost layer first
		lw.listsBelow[d] = lists
		lw.canonNull[d] = cbase + 1
		if path[d].kind == nodeList {
			lw.canonEmpty[d] = cbase + 2
			cbase += 2
			lists++
			if firstList < 0 {
				firstList = d
			}
		} else {
			cbase++
		}
	}
	if lists > 0 && D > 32 {
		return nil, fmt.Errorf("lance file: field %q nested too deeply", name)
	}
	lw.maxRep = lists
	// Item layers below the innermost list are visible; with no list, all.
	lw.maxVisCanon = uint16(D)
	if firstList >= 0 {
		lw.maxVisCanon = uint16(D - 1 - firstList)
	}
	lw.resetPage()
	return lw, nil
}

func (lw *leafWriter) resetPage() {
	D := len(lw.nodes)
	p := &lw.p
	keepRep, keepDef := p.rep[:0], p.def[:0]
	clear(p.segs) // drop the references to the arrays
	*p = pendingPage{
		rep: keepRep, def: keepDef, segs: p.segs[:0],
		hasNull: make([]bool, D), hasEmpty: make([]bool, D),
		fixed: p.fixed[:0], boolBits: p.boolBits[:0], itemValid: p.itemValid[:0],
		offs: p.offs[:0], data: p.data[:0],
	}
}

func (lw *leafWriter) pages() []pageOut { return lw.out }

// append adds the rows of arr (the top-level field's array), flushing pages
// as they fill.
func (lw *leafWriter) append(w *fileWriter, arr arrow.Array) error {
	if len(lw.nodes) == 1 {
		if lw.kind == leafFSL {
			return lw.appendVectors(w, arr)
		}
		return lw.appendFlat(w, arr)
	}
	return lw.appendRows(w, arr)
}

// appendRows adds the rows of arr one by one, shredding each down the
// leaf's path.
func (lw *leafWriter) appendRows(w *fileWriter, arr arrow.Array) error {
	for i := 0; i < arr.Len(); i++ {
		if err := lw.walk(0, arr, i, lw.maxRep); err != nil {
			return err
		}
		lw.p.rows++
		p := &lw.p
		if p.bytes >= lw.maxPageBytes || p.rows >= lw.maxPageRows || p.invisible >= maxInvisiblePerPage ||
			len(p.def) >= maxLevelsPerPage {
			if err := lw.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// growZero extends s by k zero elements, growing its capacity at most once.
func growZero[T any](s []T, k int) []T {
	if k <= 0 {
		return s
	}
	s = slices.Grow(s, k)
	n := len(s)
	s = s[:n+k]
	clear(s[n:])
	return s
}

// Bounds that keep every mini-block chunk within its size limits (a chunk
// holds the invisible entries before its values).
const (
	maxInvisiblePerPage = 1024
	maxLevelsPerPage    = 1 << 20
)

func (lw *leafWriter) emit(rep, def uint16) {
	p := &lw.p
	if lw.maxRep > 0 {
		p.rep = append(p.rep, rep)
	}
	p.def = append(p.def, def)
	p.bytes += 4
}

// walk shreds slot i of arr, the array at depth d of the leaf's path.
func (lw *leafWriter) walk(d int, arr arrow.Array, i int, rep uint16) error {
	n := lw.nodes[d]
	p := &lw.p
	if arr.IsNull(i) {
		if !n.field.Nullable {
			return fmt.Errorf("field %q is not nullable but has nulls", lw.name)
		}
		def := lw.canonNull[d]
		lw.emit(rep, def)
		p.hasNull[d] = true
		// pylance 14 fails to decode a null struct above a list layer that
		// has no null of its own ("Incorrect number of nulls for
		// StructArray"); its own writer never produces one because Arrow
		// children under a null parent are null too. Mark the nullable
		// layers below a null as nullable, as that writer would.
		for k := d + 1; k < len(lw.nodes); k++ {
			if lw.nodes[k].field.Nullable {
				p.hasNull[k] = true
			}
		}
		if def <= lw.maxVisCanon {
			lw.pushNull()
		} else {
			p.invisible++
		}
		return nil
	}
	switch n.kind {
	case nodeStruct:
		s, ok := arr.(*array.Struct)
		if !ok {
			return fmt.Errorf("field %q: %T is not a struct array", lw.name, arr)
		}
		return lw.walk(d+1, s.Field(lw.childIdx[d]), i, rep)
	case nodeList:
		l, ok := arr.(array.ListLike)
		if !ok {
			return fmt.Errorf("field %q: %T is not a list array", lw.name, arr)
		}
		start, end := l.ValueOffsets(i)
		if end <= start {
			lw.emit(rep, lw.canonEmpty[d])
			p.hasEmpty[d] = true
			p.invisible++
			return nil
		}
		vals := l.ListValues()
		for k := start; k < end; k++ {
			r := rep
			if k > start {
				r = lw.listsBelow[d]
			}
			if err := lw.walk(d+1, vals, int(k), r); err != nil {
				return err
			}
		}
		return nil
	}
	lw.emit(rep, 0)
	return lw.pushValue(arr, i)
}

func (lw *leafWriter) pushNull() {
	p := &lw.p
	switch lw.kind {
	case leafFixed:
		p.fixed = append(p.fixed, make([]byte, lw.width)...)
		p.bytes += int64(lw.width)
	case leafBool:
		p.boolBits = appendBit(p.boolBits, p.nVis, false)
	case leafVar:
		p.offs = append(p.offs, uint64(len(p.data)))
		p.bytes += 4
	case leafFSL:
		lw.syncItemValid()
		p.fixed = append(p.fixed, make([]byte, lw.width*lw.dim)...)
		for k := 0; k < lw.dim; k++ {
			p.itemValid = appendBit(p.itemValid, p.nVis*lw.dim+k, true)
		}
		p.itemValidN += lw.dim
		p.bytes += int64(lw.width * lw.dim)
	}
	p.nVis++
}

func appendBit(b []byte, pos int, v bool) []byte {
	if pos/8 >= len(b) {
		b = append(b, 0)
	}
	if v {
		b[pos/8] |= 1 << (pos % 8)
	}
	return b
}

func (lw *leafWriter) pushValue(arr arrow.Array, i int) error {
	p := &lw.p
	data := arr.Data()
	switch lw.kind {
	case leafFixed:
		buf := data.Buffers()[1].Bytes()
		o := (data.Offset() + i) * lw.width
		p.fixed = append(p.fixed, buf[o:o+lw.width]...)
		p.bytes += int64(lw.width)
	case leafBool:
		buf := data.Buffers()[1].Bytes()
		p.boolBits = appendBit(p.boolBits, p.nVis, bitutil.BitIsSet(buf, data.Offset()+i))
	case leafVar:
		offs, bytes, err := binaryOffsets(arr)
		if err != nil {
			return err
		}
		v := bytes[offs.at(i):offs.at(i+1)]
		p.data = append(p.data, v...)
		p.offs = append(p.offs, uint64(len(p.data)))
		p.maxLen = max(p.maxLen, len(v))
		p.bytes += int64(len(v)) + 4
	case leafFSL:
		lw.syncItemValid()
		p.itemValidN += lw.dim
		l := arr.(*array.FixedSizeList)
		items := l.ListValues()
		idata := items.Data()
		buf := idata.Buffers()[1].Bytes()
		first := (data.Offset() + i) * lw.dim // item index within items
		o := (idata.Offset() + first) * lw.width
		p.fixed = append(p.fixed, buf[o:o+lw.dim*lw.width]...)
		for k := 0; k < lw.dim; k++ {
			ok := items.IsValid(first + k)
			if !ok {
				p.itemNulls = true
				clear(p.fixed[len(p.fixed)-(lw.dim-k)*lw.width : len(p.fixed)-(lw.dim-k-1)*lw.width])
			}
			p.itemValid = appendBit(p.itemValid, p.nVis*lw.dim+k, ok)
		}
		p.bytes += int64(lw.dim * lw.width)
	}
	p.nVis++
	p.nValid++
	return nil
}

// pageLayers returns the layers (innermost first) the pending page needs
// and the map from canonical to actual def levels.
func (lw *leafWriter) pageLayers() (layers []repDefLayer, defMap []uint16, maxVisible uint16) {
	p := &lw.p
	D := len(lw.nodes)
	defMap = make([]uint16, 1, 2*D+1)
	var abase uint16
	sawList := false
	for d := D - 1; d >= 0; d-- {
		if lw.nodes[d].kind != nodeList {
			if p.hasNull[d] {
				layers = append(layers, layerNullableItem)
				defMap = append(defMap, abase+1)
				abase++
			} else {
				layers = append(layers, layerAllValidItem)
				defMap = append(defMap, 0) // unused
			}
			if !sawList {
				maxVisible = abase
			}
			continue
		}
		sawList = true
		switch null, empty := p.hasNull[d], p.hasEmpty[d]; {
		case null && empty:
			layers = append(layers, layerNullAndEmptyList)
			defMap = append(defMap, abase+1, abase+2)
			abase += 2
		case null:
			layers = append(layers, layerNullableList)
			defMap = append(defMap, abase+1, 0)
			abase++
		case empty:
			layers = append(layers, layerEmptyableList)
			defMap = append(defMap, 0, abase+1)
			abase++
		default:
			layers = append(layers, layerAllValidList)
			defMap = append(defMap, 0, 0)
		}
	}
	return layers, defMap, maxVisible
}

// flush writes the pending page, if any.
func (lw *leafWriter) flush(w *fileWriter) error {
	p := &lw.p
	if p.rows == 0 {
		return nil
	}
	if lw.kind == leafFSL && p.itemNulls {
		lw.syncItemValid() // bulk-appended rows after the first null item
	}
	layers, defMap, maxVis := lw.pageLayers()
	var def []uint16
	needDef := false
	for _, l := range layers {
		needDef = needDef || l.defLevels() > 0
	}
	identity := true
	for i, d := range defMap {
		identity = identity && d == uint16(i)
	}
	switch {
	case needDef && identity: // a flat column's levels: no copy
		def = p.def
	case needDef:
		lw.defScratch = growZero(lw.defScratch[:0], len(p.def))
		def = lw.defScratch
		for i, c := range p.def {
			def[i] = defMap[c]
		}
	}
	var rep []uint16
	if lw.maxRep > 0 {
		rep = p.rep
	}
	var page pageOut
	var err error
	switch {
	case p.nValid == 0:
		page = lw.allNullPage(w, layers, rep, def)
	case lw.fullZip():
		page, err = lw.fullZipPage(w, layers, rep, def, maxVis)
	default:
		page, err = lw.miniBlockPage(w, layers, rep, def, maxVis)
	}
	if err != nil {
		return fmt.Errorf("field %q: %w", lw.name, err)
	}
	page.length = uint64(p.rows)
	page.priority = uint64(lw.rowsDone)
	page.typeURL = typeURLPageLayout
	lw.out = append(lw.out, page)
	lw.rowsDone += p.rows
	lw.resetPage()
	return w.err
}

// fullZip reports whether the pending page's values are wide enough for
// the full-zip layout (Lance's rule: a value of 256 bytes or more).
func (lw *leafWriter) fullZip() bool {
	switch lw.kind {
	case leafFSL:
		vb := lw.dim * lw.width
		if lw.p.itemNulls {
			vb += (lw.dim + 7) / 8
		}
		return vb >= 256
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

func levelBytes(ls []uint16) []byte { return appendLevels(nil, ls) }

// appendLevels appends levels as little-endian u16s.
func appendLevels(b []byte, ls []uint16) []byte {
	n := len(b)
	b = growZero(b, 2*len(ls))
	for i, l := range ls {
		binary.LittleEndian.PutUint16(b[n+2*i:], l)
	}
	return b
}

func encLayers(b []byte, num protowire.Number, layers []repDefLayer) []byte {
	vs := make([]uint64, len(layers))
	for i, l := range layers {
		vs[i] = uint64(l)
	}
	return pbPacked(b, num, vs)
}

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
	if lw.p.itemNulls {
		return encFSL21(lw.dim, 8*lw.width, true), 2
	}
	return encFSL21(lw.dim, 8*lw.width, false), 1
}

// chunkBuffers returns the value buffers of visible values [a, b): the one
// buffer appendChunkValues builds, or - for a fixed-size list with null items -
// the items' validity bitmap and their values.
func (lw *leafWriter) chunkBuffers(a, b int) [][]byte {
	p := &lw.p
	if lw.directChunks() {
		return [][]byte{lw.appendChunkValues(nil, a, b)}
	}
	vb := lw.dim * lw.width
	data := p.fixed[a*vb : b*vb]
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
	return lw.kind != leafFSL || !lw.p.itemNulls
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
		vb := lw.dim * lw.width
		return append(dst, p.fixed[a*vb:b*vb]...)
	case leafBool:
		n := len(dst)
		dst = growZero(dst, (b-a+7)/8)
		bitutil.CopyBitmap(p.boolBits, a, b-a, dst[n:], 0)
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
		return 4 * (b - a)
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
	}
	n := (b - a) * lw.dim * lw.width
	if p.itemNulls {
		n += ((b-a)*lw.dim + 7) / 8
	}
	return n
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
			le := nLevels
			if !last {
				le = levelsFor(l, c)
			}
			vbytes := lw.valueBytes(v, v+c)
			size := 8 + 4*(le-l) + vbytes + 8*4
			sizeOK := size <= chunkLimit && le-l <= maxChunkLevels
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

// miniBlockPage writes the pending page as a mini-block page.
func (lw *leafWriter) miniBlockPage(w *fileWriter, layers []repDefLayer, rep, def []uint16, maxVis uint16) (pageOut, error) {
	nLevels := lw.levelCount()
	lw.p.dict = lw.buildDict()
	plans, err := lw.planChunks(def, nLevels, maxVis)
	if err != nil {
		return pageOut{}, err
	}
	valEnc, nbuf := lw.valueEncoding()
	dict := lw.p.dict
	packWord := lw.packWord()
	var fsst *pageFsst
	if dict != nil {
		packWord = 32 // the indices
	} else if lw.kind == leafVar {
		fsst = lw.buildFsst()
	}
	// Value buffers per chunk, built apart only when they may be packed,
	// compressed or are more than one; otherwise written straight into
	// the page.
	var bufs [][][]byte
	if lw.comp != "" || !lw.directChunks() || packWord > 0 || fsst != nil {
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
			valEnc = encFsst21(fsst.enc.table(), lw.offBits)
		}
		if packWord > 0 && nbuf == 1 {
			if packed, ok := packChunks(bufs, plans, packWord, plain, dict != nil); ok {
				plain = packed
				valEnc = encInlineBitpacking21(packWord)
			}
		}
		if lw.comp != "" && nbuf == 1 && plain >= minCompressBytes {
			comp := make([][]byte, len(plans))
			total := 0
			for i := range plans {
				c, err := compress(lw.comp, nil, bufs[i][0])
				if err != nil {
					return pageOut{}, err
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

// appendRepIndex adds the repetition index entry of chunk ci (of n) with
// repetition levels rl: rows finished in the chunk and entries left over
// after the last finished row (Lance's definition, including its fix-up of
// the previous chunk when this one starts a new row).
func appendRepIndex(ri []uint64, rl []uint16, maxRep uint16, ci, n int) []uint64 {
	var rows uint64
	for _, r := range rl[1:] {
		if r == maxRep {
			rows++
		}
	}
	var left uint64
	if ci < n-1 {
		left = uint64(len(rl))
		for k := len(rl) - 1; k >= 0; k-- {
			if rl[k] == maxRep {
				left = uint64(len(rl) - k)
				break
			}
		}
	}
	if ci != 0 && len(rl) > 0 && rl[0] == maxRep && ri[len(ri)-1] != 0 {
		ri[len(ri)-2]++
		ri[len(ri)-1] = 0
	}
	if ci == n-1 {
		rows++
	}
	return append(ri, rows, left)
}

func bitLen16(x uint16) uint64 { return uint64(bits.Len16(x)) }

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
	if fixed {
		vb = lw.dim * lw.width
		if p.itemNulls {
			vb += (lw.dim + 7) / 8
		}
		valEnc = encFSL21(lw.dim, 8*lw.width, p.itemNulls)
	} else {
		valEnc = encVariable21(lw.offBits)
	}
	// Per-value compression of variable-width values, when it saves space.
	// pylance 14 fails to read lz4 per-value data with null values (it hands
	// the empty slot of a null to the lz4 decoder), so lz4 only applies to
	// pages without visible nulls.
	var cvals [][]byte
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
	vi := 0
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
			if p.itemNulls {
				vbits := make([]byte, (lw.dim+7)/8)
				bitutil.CopyBitmap(p.itemValid, vi*lw.dim, lw.dim, vbits, 0)
				out = append(out, vbits...)
			}
			vw := lw.dim * lw.width
			out = append(out, p.fixed[vi*vw:(vi+1)*vw]...)
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
