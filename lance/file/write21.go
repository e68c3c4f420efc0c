package file

import (
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/persisting/persisting/lance/schema"
)

// Writing file versions 2.1 and 2.2 ("structural" encodings). Every leaf
// of the schema is one column: a struct has no column of its own and a list
// none either; their validity and offsets travel in the leaves' repetition
// and definition levels (see read21.go for the level conventions). A
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
		case *arrow.MapType: // stored as its list of entries (map_storage.go)
			setTypes(n, mapStorage(t))
		}
	}
	for i, r := range roots {
		setTypes(r, sch.Field(i).Type)
	}
	return roots, nil
}

type leafKind int

const (
	leafFixed   leafKind = iota // bytes-wide values
	leafBool                    // 1 bit per value
	leafVar                     // string / binary
	leafFSL                     // fixed_size_list of fixed-width items
	leafBoolFSL                 // fixed_size_list of bool: dim bits per value
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
	case arrow.NULL: // stored as all-null stand-in values (null_column.go)
		return leafFixed, nullStandIn.BitWidth() / 8, 0, nil
	case arrow.FIXED_SIZE_BINARY, arrow.DECIMAL128, arrow.DECIMAL256:
		if w := fixedValueBits(dt) / 8; w > 0 {
			return leafFixed, w, 0, nil
		}
	case arrow.FIXED_SIZE_LIST:
		t := dt.(*arrow.FixedSizeListType)
		if t.Len() <= 0 || t.Len() > 1<<20 {
			return 0, 0, 0, fmt.Errorf("fixed_size_list of %d items is not supported", t.Len())
		}
		k, w, d, err := leafValueKind(t.Elem())
		if err == nil && (k == leafFSL || k == leafBoolFSL) && int(t.Len())*d <= 1<<20 {
			// a fixed_size_list of them (matrices): one leaf of all the items
			return k, w, int(t.Len()) * d, nil
		}
		if err != nil || k != leafFixed && k != leafBool {
			return 0, 0, 0, fmt.Errorf("fixed_size_list of %s is not supported by the writer (items must be fixed-width numbers or bool, or fixed_size_lists of them)", t.Elem())
		}
		if k == leafBool {
			return leafBoolFSL, 0, int(t.Len()), nil
		}
		return leafFSL, w, int(t.Len()), nil
	}
	return 0, 0, 0, fmt.Errorf("type %s is not supported by the writer", dt)
}

// leafWriter encodes one leaf column.
type leafWriter struct {
	v        Version
	name     string      // dotted path, for errors
	nodes    []*wnode    // top-level field (0) down to the leaf
	childIdx []int       // nodes[d+1] is child childIdx[d] of a struct nodes[d]
	colDict  *columnDict // dictionary-typed leaf: its running dictionary
	// listsBelow[d]: list nodes strictly below depth d (the rep level of
	// a list item after the first).
	listsBelow []uint16
	maxRep     uint16
	// Canonical def levels (every item layer nullable, every list layer
	// nullable and emptyable): null at depth d, empty list at depth d.
	canonNull, canonEmpty []uint16
	maxVisCanon           uint16 // canonical def of the deepest visible null
	kind                  leafKind
	width, dim            int // bytes per value (fixed) or per item (FSL, 0 for bool); FSL items
	// outer: a fixed_size_list of fixed_size_lists (write21_matrices.go):
	// the entries per value of each layer above the items, outermost first.
	outer   []int
	offBits int // leafVar: 32, or 64 for large_string / large_binary
	comp    string

	maxPageBytes, maxPageRows int64
	rowsDone                  int64 // rows in pages already written
	rowsHint                  int64 // rows the file gets in all (0: unknown)
	p                         pendingPage
	out                       []pageOut

	// Scratch reused from page to page: the page's actual def levels.
	defScratch []uint16
	probe      []byte // leadingRuns: the values it looks at
	// encoded: the pending page encoded ahead of flush (closeColumns),
	// or the error that gave.
	encoded   *encodedPage
	encodeErr error
	// turn, while appendColumns runs the columns on goroutines, is closed
	// when this leaf's column may write to the file.
	turn chan struct{}
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
	boolBits  []byte   // leafBool values; leafBoolFSL items, dim bits per value
	itemValid []byte   // leafFSL, leafBoolFSL: item validity, dim bits per value
	itemNulls bool
	// itemValidN: items itemValid covers (the bulk vector path lets it
	// fall behind; syncItemValid catches up).
	itemValidN int
	// outerValid[k] (lw.outer[k] bits per value), outerNulls[k]: layer k's
	// validity and whether it has a null (write21_matrices.go).
	outerValid [][]byte
	outerNulls []bool
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
	var colDict *columnDict
	if dt, ok := leaf.dt.(*arrow.DictionaryType); ok {
		kind, dim = leafFixed, 0
		colDict, width, err = newColumnDict(dt, len(path) > 1)
	}
	if err == nil {
		err = checkMapVersion(path, v)
	}
	if err != nil {
		return nil, fmt.Errorf("lance file: field %q: %w", name, err)
	}
	if c, ok := leaf.field.Metadata[CompressionMetadataKey]; ok {
		if comp, err = ParseCompression(string(c)); err != nil {
			return nil, fmt.Errorf("lance file: field %q: %w", name, err)
		}
	}
	lw := &leafWriter{v: v, name: name, nodes: path, childIdx: idx, kind: kind, width: width, dim: dim, comp: comp, offBits: 32, colDict: colDict}
	if kind == leafFSL || kind == leafBoolFSL {
		lw.outer = matrixLayers(leaf.dt)
	}
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
	if len(lw.outer) > 0 {
		lw.p.outerValid, lw.p.outerNulls = make([][]byte, len(lw.outer)), make([]bool, len(lw.outer))
	}
}

// releasePage drops what resetPage keeps for the next page, and the
// scratch: at Close there is no next page, and the garbage collector may
// take it while later columns are encoded.
func (lw *leafWriter) releasePage() {
	lw.p = pendingPage{}
	lw.defScratch, lw.probe = nil, nil
}

func (lw *leafWriter) pages() []pageOut { return lw.out }

// append adds the rows of arr (the top-level field's array), flushing pages
// as they fill.
func (lw *leafWriter) append(w *fileWriter, arr arrow.Array) error {
	if lw.colDict != nil {
		return lw.appendDictionary(w, arr)
	}
	if lw.nodes[len(lw.nodes)-1].dt.ID() == arrow.NULL {
		if len(lw.nodes) == 1 {
			return lw.appendFlat(w, allNullStandIn(arr.Len()))
		}
		return lw.appendRows(w, arr) // walk takes a null array's slots as nulls
	}
	if len(lw.nodes) == 1 && lw.kind != leafBoolFSL && len(lw.outer) == 0 {
		if lw.kind == leafFSL {
			return lw.appendVectors(w, arr)
		}
		return lw.appendFlat(w, arr)
	}
	if len(lw.nodes) == 2 && lw.nodes[0].kind == nodeList && lw.kind == leafFixed {
		return lw.appendLists(w, arr)
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
	if arr.IsNull(i) || arr.DataType().ID() == arrow.NULL {
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
	case leafBoolFSL:
		lw.pushNullBoolVector()
	case leafFSL:
		lw.syncItemValid()
		lw.pushMatrixValidity(nil, 0)
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
	case leafBoolFSL:
		lw.pushBoolVector(arr.(*array.FixedSizeList), i)
	case leafFSL:
		lw.syncItemValid()
		p.itemValidN += lw.dim
		l := arr.(*array.FixedSizeList)
		items := l.ListValues()
		first := (data.Offset() + i) * lw.dim // item index within items
		if len(lw.outer) > 0 {
			items, first = lw.pushMatrixValidity(l, data.Offset()+i)
		}
		idata := items.Data()
		buf := idata.Buffers()[1].Bytes()
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

// encodedPage is a pending page's encoding worked out apart from the file
// writer (see encodePage), so the pages of different columns can be
// encoded in parallel and still be written in column order.
type encodedPage struct {
	layers   []repDefLayer
	rep, def []uint16
	maxVis   uint16
	inline   []byte           // constant pages: the value, inline
	scalar   []byte           // or in a scalar buffer
	mini     *miniBlockValues // mini-block pages
	fullZip  bool
}

// encodePage works out the pending page's encoding: its layers and levels,
// its layout and, for a mini-block page, its value buffers (the costly
// part: dictionary, FSST, bit-packing, general compression). It touches
// only lw's own state.
func (lw *leafWriter) encodePage() (*encodedPage, error) {
	p := &lw.p
	if lw.kind == leafFSL && p.itemNulls {
		lw.syncItemValid() // bulk-appended rows after the first null item
	}
	layers, defMap, maxVis := lw.pageLayers()
	e := &encodedPage{layers: layers, maxVis: maxVis}
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
		e.def = p.def
	case needDef:
		lw.defScratch = growZero(lw.defScratch[:0], len(p.def))
		e.def = lw.defScratch
		for i, c := range p.def {
			e.def[i] = defMap[c]
		}
	}
	if lw.maxRep > 0 {
		e.rep = p.rep
	}
	if p.nValid > 0 && lw.colDict == nil { // dictionary pages are never constant
		e.inline, e.scalar = lw.constantValue()
	}
	switch {
	case p.nValid == 0 || e.inline != nil || e.scalar != nil:
	case lw.fullZip():
		e.fullZip = true
	default:
		var err error
		if e.mini, err = lw.encodeMiniBlock(e.def, maxVis); err != nil {
			return nil, fmt.Errorf("field %q: %w", lw.name, err)
		}
	}
	return e, nil
}

// flush writes the pending page, if any: the one closeColumns encoded, or
// encoded now.
func (lw *leafWriter) flush(w *fileWriter) error {
	p := &lw.p
	if p.rows == 0 {
		return nil
	}
	e, err := lw.encoded, lw.encodeErr
	lw.encoded, lw.encodeErr = nil, nil
	if e == nil && err == nil {
		e, err = lw.encodePage()
	}
	if lw.turn != nil {
		<-lw.turn // appendColumns: the columns before this one are written
	}
	if err != nil {
		return err
	}
	var page pageOut
	switch {
	case p.nValid == 0:
		page = lw.allNullPage(w, e.layers, e.rep, e.def)
	case e.inline != nil || e.scalar != nil:
		page = lw.constantPage(w, e.layers, e.rep, e.def, e.inline, e.scalar)
	case e.fullZip:
		page, err = lw.fullZipPage(w, e.layers, e.rep, e.def, e.maxVis)
	default:
		page, err = lw.writeMiniBlock(w, e.layers, e.rep, e.def, e.mini)
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
