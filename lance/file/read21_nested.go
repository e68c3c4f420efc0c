package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Nested types in 2.1+ files: struct, list / large_list and
// fixed_size_list. Structs and lists have no column of their own; every
// leaf column below them carries their validity and offsets in its rep/def
// levels, one layer per nesting level (innermost first). A struct field
// occupies the leaf columns of its children, in pre-order; Read's columns[i]
// names the first of them. A fixed_size_list of a fixed-width type is a
// single leaf (its items live in the values, FixedSizeList encoding).
//
// Pages of one column may use different variants of a layer (a page
// without nulls says ALL_VALID_ITEM where another says NULLABLE_ITEM), so the
// def levels of each page are first mapped to a canonical scheme in which
// every item layer is NULLABLE_ITEM and every list layer NULL_AND_EMPTY_LIST.
// Then, as Lance does, layers are unravelled from the innermost out: an item
// layer yields one validity bit per slot; a list layer groups the slots
// below it into lists (offsets + validity). Each page is unravelled on its
// own right after it decodes; the pages' slots are then joined. A layer
// without nulls keeps no validity, and pages without def levels take a
// path that only looks at the (mostly zero) rep levels.

// leafCount is the number of leaf columns an Arrow type occupies.
func leafCount(dt arrow.DataType) int {
	if st, ok := dt.(*arrow.StructType); ok {
		n := 0
		for _, f := range st.Fields() {
			n += leafCount(f.Type)
		}
		return n
	}
	switch t := dt.(type) {
	case *arrow.ListType:
		return leafCount(t.Elem())
	case *arrow.LargeListType:
		return leafCount(t.Elem())
	}
	return 1
}

func isNested(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRUCT, arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		return true
	}
	return false
}

// typeLayers is the layer kind (list or not) of each nesting level of the
// path from dt down to the leaf column number leaf (innermost first).
func typeLayers(dt arrow.DataType, leaf int) ([]bool, error) {
	switch t := dt.(type) {
	case *arrow.StructType:
		for _, f := range t.Fields() {
			n := leafCount(f.Type)
			if leaf < n {
				inner, err := typeLayers(f.Type, leaf)
				return append(inner, false), err
			}
			leaf -= n
		}
		return nil, fmt.Errorf("struct has no leaf %d", leaf)
	case *arrow.ListType:
		inner, err := typeLayers(t.Elem(), leaf)
		return append(inner, true), err
	case *arrow.LargeListType:
		inner, err := typeLayers(t.Elem(), leaf)
		return append(inner, true), err
	}
	return []bool{false}, nil
}

// leafColumn is one leaf column unravelled for the rows read.
type leafColumn struct {
	layers []layerSlots   // innermost first
	vals   []*block       // the visible values, in pieces
	dt     arrow.DataType // the leaf's Arrow type
	// borrowed: pooled buffers vals point into (read21_borrow.go)
	borrowed [][]byte
}

type layerSlots struct {
	n       int
	valid   []bool  // nil: all n slots valid
	offsets []int64 // lists: n+1
}

// readNested reads a nested field whose first leaf column is first.
func (r *Reader) readNested(first int, dt arrow.DataType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	n := leafCount(dt)
	if first < 0 || first+n > len(r.cols) {
		return nil, fmt.Errorf("%s needs leaf columns %d..%d, file has %d", dt, first, first+n-1, len(r.cols))
	}
	cols := make([]int, n)
	for i := range cols {
		cols[i] = first + i
	}
	return r.readNestedCols(cols, dt, offset, limit, alloc)
}

// ReadLeaves returns rows [offset, offset+limit) (clamped to the file's
// end) of a struct or list field of a 2.1+ file whose leaves, in pre-order,
// are the columns leafCols - wherever they are in the file. The dataset
// reads a struct whose children pylance left in scattered columns or
// several data files this way: one part of the struct per data file
// (see lance/read_split.go).
func (r *Reader) ReadLeaves(fld arrow.Field, leafCols []int, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	if r.closed {
		return nil, errClosed
	}
	dt := fld.Type
	switch {
	case r.minor < 1 || !isNested(dt) || containsMap(dt):
		return nil, fmt.Errorf("lance file: ReadLeaves reads structs and lists of 2.1+ files, not %s (file version 2.%d)", dt, r.minor)
	case len(leafCols) != leafCount(dt):
		return nil, fmt.Errorf("lance file: %d leaf columns for %s, which has %d leaves", len(leafCols), dt, leafCount(dt))
	case offset < 0 || offset > r.numRows || limit < 0:
		return nil, fmt.Errorf("lance file: range [%d, +%d) outside file of %d rows", offset, limit, r.numRows)
	}
	for _, c := range leafCols {
		if c < 0 || c >= len(r.cols) {
			return nil, fmt.Errorf("lance file: column index %d out of range (file has %d columns)", c, len(r.cols))
		}
	}
	a, err := r.readNestedCols(leafCols, dt, offset, min(limit, r.numRows-offset), alloc)
	if err != nil {
		return nil, fmt.Errorf("lance file: columns %v (%q): %w", leafCols, fld.Name, err)
	}
	if !fld.Nullable && a.NullN() > 0 {
		a.Release()
		return nil, fmt.Errorf("lance file: columns %v (%q) are not nullable but have nulls", leafCols, fld.Name)
	}
	return a, nil
}

// readNestedCols reads a nested field whose leaves are the columns cols.
func (r *Reader) readNestedCols(cols []int, dt arrow.DataType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	n := len(cols)
	leaves := make([]*leafColumn, n)
	var leafTypes []arrow.DataType
	collectLeafTypes(dt, &leafTypes)
	for i := range leaves {
		kinds, err := typeLayers(dt, i)
		if err != nil {
			return nil, err
		}
		lc, err := r.unravelColumn(&r.cols[cols[i]], kinds, storedLeafType(leafTypes[i]), offset, limit)
		if err != nil {
			return nil, fmt.Errorf("leaf column %d: %w", cols[i], err)
		}
		leaves[i] = lc
		defer lc.giveBack() // once the array (a copy) is built
	}
	return buildNested(dt, 0, leaves, alloc)
}

func collectLeafTypes(dt arrow.DataType, out *[]arrow.DataType) {
	switch t := dt.(type) {
	case *arrow.StructType:
		for _, f := range t.Fields() {
			collectLeafTypes(f.Type, out)
		}
	case *arrow.ListType:
		collectLeafTypes(t.Elem(), out)
	case *arrow.LargeListType:
		collectLeafTypes(t.Elem(), out)
	default:
		*out = append(*out, dt)
	}
}

// canonicalDef maps the def levels of layers to the canonical scheme for
// the layer kinds: item layer k null = cbase+1; list null = cbase+1,
// empty = cbase+2.
func canonicalDef(layers []repDefLayer) ([]uint16, error) {
	table := []uint16{0}
	var cbase uint16
	for _, l := range layers {
		switch l {
		case layerNullableItem:
			table = append(table, cbase+1)
		case layerNullableList:
			table = append(table, cbase+1)
		case layerEmptyableList:
			table = append(table, cbase+2)
		case layerNullAndEmptyList:
			table = append(table, cbase+1, cbase+2)
		}
		if l.isList() {
			cbase += 2
		} else {
			cbase++
		}
	}
	return table, nil
}

// unravelColumn decodes rows [offset, offset+limit) of a leaf column whose
// nesting is kinds (true = list, innermost first) and unravels its levels.
func (r *Reader) unravelColumn(c *column, kinds []bool, leafType arrow.DataType, offset, limit int64) (*leafColumn, error) {
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	// pages decode and unravel in parallel, then their slots join in order
	type page struct {
		layers   []layerSlots
		vals     []*block
		borrowed [][]byte
	}
	pages := make([]page, len(spans))
	if err := parallelFor(len(spans), func(i int) error {
		sp, err := r.decodeSpan21(spans[i])
		if err != nil {
			return err
		}
		rep, def, err := spanLevels(sp, kinds)
		if err != nil {
			return err
		}
		vals, err := spanValues(sp, leafType)
		if err != nil {
			return err
		}
		layers, err := unravel(rep, def, kinds, sp.nVis, sp.rows)
		if err != nil {
			return err
		}
		if got := layers[len(layers)-1].n; got != sp.rows {
			return fmt.Errorf("page levels hold %d rows, want %d", got, sp.rows)
		}
		pages[i] = page{layers, vals, sp.borrowed}
		return nil
	}); err != nil {
		return nil, err
	}
	lc := &leafColumn{dt: leafType, layers: make([]layerSlots, len(kinds))}
	perPage := make([][]layerSlots, len(pages))
	for i, p := range pages {
		perPage[i] = p.layers
		lc.vals = append(lc.vals, p.vals...)
		lc.borrowed = append(lc.borrowed, p.borrowed...)
	}
	if len(lc.vals) == 0 {
		z, err := zeroBlock(leafType, 0)
		if err != nil {
			return nil, err
		}
		lc.vals = []*block{z}
	}
	for k, isList := range kinds {
		lc.layers[k] = joinSlots(perPage, k, isList)
	}
	if got := lc.layers[len(lc.layers)-1].n; int64(got) != limit {
		return nil, fmt.Errorf("levels hold %d rows, want %d", got, limit)
	}
	return lc, nil
}

// spanLevels is sp's rep and def levels in the canonical scheme (def nil:
// all 0). They may share sp's memory.
func spanLevels(sp *span21, kinds []bool) (rep, def []uint16, err error) {
	if len(sp.layers) != len(kinds) {
		return nil, nil, fmt.Errorf("page has %d rep/def layers, the type has %d", len(sp.layers), len(kinds))
	}
	for i, l := range sp.layers {
		if l.isList() != kinds[i] {
			return nil, nil, fmt.Errorf("page layers %v do not match the type's nesting", sp.layers)
		}
	}
	table, err := canonicalDef(sp.layers)
	if err != nil {
		return nil, nil, err
	}
	if sp.rep != nil && sp.def != nil && len(sp.rep) != len(sp.def) {
		return nil, nil, fmt.Errorf("%d rep levels, %d def levels", len(sp.rep), len(sp.def))
	}
	nl := max(len(sp.rep), len(sp.def))
	if sp.rep == nil && sp.def == nil {
		nl = sp.rows
	}
	rep = sp.rep
	if rep == nil {
		// every level is a row
		rep = make([]uint16, nl)
		top := maxRep(sp.layers)
		for i := range rep {
			rep[i] = top
		}
	}
	switch {
	case sp.def == nil:
	case isIdentity(table):
		def = sp.def // unravel checks the range
	default:
		def = make([]uint16, nl)
		for i, d := range sp.def {
			if int(d) >= len(table) {
				return nil, nil, fmt.Errorf("def level %d out of range", d)
			}
			def[i] = table[d]
		}
	}
	return rep, def, nil
}

// isIdentity reports whether a def level table maps every level to itself.
func isIdentity(table []uint16) bool {
	for i, d := range table {
		if int(d) != i {
			return false
		}
	}
	return true
}

// joinSlots joins layer k of consecutive pages: list offsets of a page
// continue from the items the pages before hold.
func joinSlots(pages [][]layerSlots, k int, isList bool) layerSlots {
	if len(pages) == 1 {
		return pages[0][k]
	}
	var out layerSlots
	anyNull := false
	for _, p := range pages {
		out.n += p[k].n
		anyNull = anyNull || p[k].valid != nil
	}
	if anyNull {
		out.valid = make([]bool, 0, out.n)
		for _, p := range pages {
			if s := p[k]; s.valid != nil {
				out.valid = append(out.valid, s.valid...)
			} else {
				for range s.n {
					out.valid = append(out.valid, true)
				}
			}
		}
	}
	if !isList {
		return out
	}
	out.offsets = make([]int64, 0, out.n+1)
	var base int64
	for _, p := range pages {
		s := p[k]
		for _, o := range s.offsets[:s.n] {
			out.offsets = append(out.offsets, base+o)
		}
		base += s.offsets[s.n]
	}
	out.offsets = append(out.offsets, base)
	return out
}

// spanValues is the visible values of sp in pieces, each gathered from its
// dictionary, with zeros for all-null pages.
func spanValues(sp *span21, leafType arrow.DataType) ([]*block, error) {
	parts := sp.valParts
	if len(parts) == 0 {
		parts = []*block{sp.vals}
	}
	out := make([]*block, len(parts))
	n := 0
	for k, vals := range parts {
		if vals == nil || vals.dim > 0 && vals.itemBits == 0 {
			// no values (all null), or FixedSizeList items without bytes
			// (all null): zeros of the leaf's width
			m := sp.nVis
			if vals != nil {
				m = vals.n
			}
			z, err := zeroBlock(leafType, m)
			if err != nil {
				return nil, err
			}
			switch {
			case vals == nil:
			case vals.dim == z.dim && len(vals.outerValid) == len(matrixLayers(leafType)):
				z.itemValid, z.outerValid = vals.itemValid, vals.outerValid
			case vals.itemValid != nil && len(vals.outerValid) < len(matrixLayers(leafType)):
				// pylance stops a matrix's encoding at a layer whose entries
				// are all null (FixedSizeList{Constant}): its validity is the
				// last one stored; nothing below it is visible
				z.outerValid = append(append([]fslValidity(nil), vals.outerValid...), fslValidity{per: vals.dim, bits: vals.itemValid})
			default:
				return nil, fmt.Errorf("page stores %d items a value, %s has %d", vals.dim, leafType, z.dim)
			}
			vals = z
		}
		vals, err := vals.gathered()
		if err != nil {
			return nil, err
		}
		if leafBits(leafType) == 1 && vals.bits == 8 && vals.dim == 0 {
			vals = boolsFromBytes(vals) // a constant bool page
		}
		out[k] = vals
		n += vals.n
	}
	if n != sp.nVis {
		return nil, fmt.Errorf("page decoded %d values, levels say %d", n, sp.nVis)
	}
	return out, nil
}

// zeroBlock is n values of leaf type dt, all zero / empty.
func zeroBlock(dt arrow.DataType, n int) (*block, error) {
	if fsl, ok := dt.(*arrow.FixedSizeListType); ok {
		_, item, d := fslShape(fsl)
		bits := leafBits(item)
		if bits <= 0 {
			return nil, fmt.Errorf("fixed_size_list of %s not supported", fsl.Elem())
		}
		return &block{n: n, bits: bits * d, dim: d, itemBits: bits, data: make([]byte, (n*d*bits+7)/8)}, nil
	}
	bits := leafBits(dt)
	switch {
	case bits < 0:
		return nil, fmt.Errorf("reading arrow type %s is not supported", dt)
	case bits == 0:
		return &block{n: n, offs: make([]uint64, n+1)}, nil
	}
	return &block{n: n, bits: bits, data: make([]byte, (n*bits+7)/8)}, nil
}

// unravel turns canonical levels into per-layer slots (see the file
// comment). nVals is the number of visible values, rows the number of
// rows expected (a capacity hint). def == nil means every
// def level is 0 (nothing null or empty). rep and def are only read.
func unravel(rep, def []uint16, kinds []bool, nVals, rows int) ([]layerSlots, error) {
	// levelsToRep[d]: the list depth at which def level d is still an entry.
	levelsToRep := []uint16{0}
	var rc uint16
	for _, k := range kinds {
		if k {
			rc++
			levelsToRep = append(levelsToRep, rc, rc)
		} else {
			levelsToRep = append(levelsToRep, rc)
		}
	}
	for _, d := range def {
		if int(d) >= len(levelsToRep) {
			return nil, fmt.Errorf("def level %d out of range", d)
		}
	}
	lastList := -1
	for k, isList := range kinds {
		if isList {
			lastList = k
		}
	}
	out := make([]layerSlots, len(kinds))
	var c, repCmp uint16
	repChecked := false
	entries := len(rep) // entries left at this layer
	for k, isList := range kinds {
		if !isList {
			if def == nil {
				// every entry left is a valid slot of this layer
				out[k].n = entries
			} else {
				out[k] = itemSlots(def, levelsToRep, repCmp, c)
			}
			if k == 0 && out[k].n != nVals {
				return nil, fmt.Errorf("levels have %d visible values, page has %d", out[k].n, nVals)
			}
			c++
			continue
		}
		if k == 0 {
			return nil, fmt.Errorf("list layer without items")
		}
		// the outermost list need not pass rep levels up when nothing is
		// null: the layers above only count the rows
		last := k == lastList
		estimate := len(rep) / 4
		if last {
			estimate = min(rows, len(rep))
		}
		var slots layerSlots
		if def == nil {
			var ok bool
			if slots, rep, ok = listSlotsAllValid(rep, !last, estimate); !ok {
				return nil, fmt.Errorf("repetition level above the number of list layers")
			}
			if last {
				repChecked = true
			}
		} else {
			nullL, emptyL := c+1, c+2
			maxL := emptyL
			for j := k + 1; j < len(kinds) && !kinds[j]; j++ {
				maxL++
			}
			slots, rep, def = listSlots(rep, def, nullL, emptyL, maxL, estimate)
		}
		c += 2
		if below := out[k-1].n; slots.offsets[slots.n] != int64(below) {
			return nil, fmt.Errorf("lists hold %d items, the layer below has %d", slots.offsets[slots.n], below)
		}
		out[k] = slots
		entries = len(rep)
		if last && def == nil {
			entries = slots.n // rep not passed up: only the count matters
		}
		repCmp++
	}
	if !repChecked {
		for _, rl := range rep {
			if rl != 0 {
				return nil, fmt.Errorf("repetition level above the number of list layers")
			}
		}
	}
	return out, nil
}

// itemSlots is the validity of an item layer whose null def level is c+1:
// one slot per entry still present at list depth repCmp.
func itemSlots(def, levelsToRep []uint16, repCmp, c uint16) layerSlots {
	n, nulls := 0, 0
	for _, d := range def {
		if levelsToRep[d] <= repCmp {
			n++
			if d > c {
				nulls++
			}
		}
	}
	if nulls == 0 {
		return layerSlots{n: n}
	}
	valid := make([]bool, 0, n)
	for _, d := range def {
		if levelsToRep[d] <= repCmp {
			valid = append(valid, d <= c)
		}
	}
	return layerSlots{n: n, valid: valid}
}

// listSlotsAllValid groups entries into lists when nothing is null or empty:
// a list starts at every rep level above 0. With next it also returns the
// rep levels of the entries of the layer above (rep-1); without, ok reports
// whether every rep level is at most 1 (this is the outermost list).
// estimate is the expected number of lists. rep is not written.
func listSlotsAllValid(rep []uint16, next bool, estimate int) (s layerSlots, up []uint16, ok bool) {
	offs := make([]int64, 0, estimate+1)
	if next {
		up = make([]uint16, 0, estimate)
	}
	var maxRL uint16
	for i := nextNonZero(rep, 0); i < len(rep); i = nextNonZero(rep, i+1) {
		rl := rep[i]
		offs = append(offs, int64(i))
		maxRL = max(maxRL, rl)
		if next {
			up = append(up, rl-1)
		}
	}
	return layerSlots{n: len(offs), offsets: append(offs, int64(len(rep)))}, up, next || maxRL <= 1
}

// listSlots groups entries into lists (canonical def levels: nullL a null
// list, emptyL an empty one, above maxL an outer null or empty list) and
// returns the rep and def levels of the entries of the layer above.
// estimate is the expected number of lists; rep and def are not written.
func listSlots(rep, def []uint16, nullL, emptyL, maxL uint16, estimate int) (s layerSlots, upRep, upDef []uint16) {
	offs := make([]int64, 0, estimate+1)
	valid := make([]bool, 0, estimate)
	upRep, upDef = make([]uint16, 0, estimate), make([]uint16, 0, estimate)
	nulls := 0
	var cur int64
	for i, rl := range rep {
		if rl == 0 {
			cur++
			continue
		}
		d := def[i]
		upRep, upDef = append(upRep, rl-1), append(upDef, d)
		switch {
		case d == 0:
			offs = append(offs, cur)
			cur++
			valid = append(valid, true)
		case d > maxL:
			// an outer null / empty list: not a slot of this layer
		case d == nullL || d > emptyL:
			offs = append(offs, cur)
			valid = append(valid, false)
			nulls++
		case d == emptyL:
			offs = append(offs, cur)
			valid = append(valid, true)
		default:
			// a valid list whose first item is null
			offs = append(offs, cur)
			cur++
			valid = append(valid, true)
		}
	}
	s = layerSlots{n: len(valid), offsets: append(offs, cur)}
	if nulls > 0 {
		s.valid = valid
	}
	return s, upRep, upDef
}

// buildNested builds the array of type dt at depth t from the top (0 = the
// field itself) from its leaf columns.
func buildNested(dt arrow.DataType, t int, leaves []*leafColumn, alloc memory.Allocator) (arrow.Array, error) {
	lc := leaves[0]
	k := len(lc.layers) - 1 - t
	if k < 0 {
		return nil, fmt.Errorf("internal error: layer depth")
	}
	slots := lc.layers[k]
	n := slots.n
	validity, nulls := validityBuffer(slots.valid, alloc)
	if validity != nil {
		defer validity.Release()
	}
	switch tt := dt.(type) {
	case *arrow.StructType:
		var children []arrow.ArrayData
		defer func() {
			for _, c := range children {
				c.Release()
			}
		}()
		pos := 0
		for _, f := range tt.Fields() {
			m := leafCount(f.Type)
			child, err := buildNested(f.Type, t+1, leaves[pos:pos+m], alloc)
			if err != nil {
				return nil, err
			}
			cn := child.Len()
			children = append(children, child.Data())
			child.Data().Retain()
			child.Release()
			if cn != n {
				return nil, fmt.Errorf("struct child %q has %d rows, struct %d", f.Name, cn, n)
			}
			pos += m
		}
		data := array.NewData(dt, n, []*memory.Buffer{validity}, children, nulls, 0)
		defer data.Release()
		return array.MakeFromData(data), nil
	case *arrow.ListType, *arrow.LargeListType:
		var elem arrow.DataType
		large := false
		if l, ok := tt.(*arrow.ListType); ok {
			elem = l.Elem()
		} else {
			elem, large = tt.(*arrow.LargeListType).Elem(), true
		}
		child, err := buildNested(elem, t+1, leaves, alloc)
		if err != nil {
			return nil, err
		}
		defer child.Release()
		w := 4
		if large {
			w = 8
		}
		ob := newBuffer(alloc, int64((n+1)*w))
		defer ob.Release()
		for i, o := range slots.offsets {
			if large {
				binary.LittleEndian.PutUint64(ob.Bytes()[8*i:], uint64(o))
			} else {
				if int64(o) > offsetsLimit {
					return nil, fmt.Errorf("%w: a list of %d items", ErrOffsetsOverflow, o)
				}
				binary.LittleEndian.PutUint32(ob.Bytes()[4*i:], uint32(o))
			}
		}
		data := array.NewData(dt, n, []*memory.Buffer{validity, ob}, []arrow.ArrayData{child.Data()}, nulls, 0)
		defer data.Release()
		return array.MakeFromData(data), nil
	}
	if len(leaves) != 1 || k != 0 {
		return nil, fmt.Errorf("internal error: leaf %s at layer %d", dt, k)
	}
	return buildLeafArray(dt, lc.vals, slots.n, slots.valid, alloc)
}

// validityBuffer is a validity bitmap of valid (nil buffer: no nulls).
func validityBuffer(valid []bool, alloc memory.Allocator) (*memory.Buffer, int) {
	nulls := 0
	for _, v := range valid {
		if !v {
			nulls++
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	b := newBuffer(alloc, int64(len(valid)+7)/8)
	for i, v := range valid {
		if v {
			bitutil.SetBit(b.Bytes(), i)
		}
	}
	return b, nulls
}

// buildFSLItems builds the child array of a fixed_size_list from its
// values, parts (items of itemType, nItems in all). Without item validity
// the items are flat runs, one per part, copied once, into the child.
func buildFSLItems(itemType arrow.DataType, parts []*block, nItems int, anyItemValid bool, alloc memory.Allocator) (arrow.Array, error) {
	if !anyItemValid {
		items := make([]*block, len(parts))
		for k, v := range parts {
			items[k] = &block{n: v.n * v.dim, bits: v.itemBits, data: v.data}
		}
		sp := &span21{rows: nItems, layers: []repDefLayer{layerNullableItem}, valParts: items, nVis: nItems}
		if len(items) == 0 {
			sp.valParts, sp.vals = nil, &block{bits: leafBits(itemType)}
		}
		return assembleLeaf([]*span21{sp}, itemType, int64(nItems), alloc)
	}
	vals, err := concatBlocks(parts)
	if err != nil {
		return nil, err
	}
	items := &block{n: vals.n * vals.dim, bits: vals.itemBits, data: vals.data}
	itemValid := make([]bool, items.n)
	for i := range itemValid {
		itemValid[i] = bitutil.BitIsSet(vals.itemValid, i)
	}
	return buildLeafArray(itemType, []*block{items}, items.n, itemValid, alloc)
}

// buildLeafArray builds a leaf array (flat type or fixed_size_list) from
// its values (in pieces) and the validity of its n slots (valid nil: all
// valid).
func buildLeafArray(dt arrow.DataType, parts []*block, n int, valid []bool, alloc memory.Allocator) (arrow.Array, error) {
	switch dt.ID() {
	case arrow.NULL:
		return buildNullLeaf(parts, n, valid, alloc)
	case arrow.DICTIONARY:
		return buildDictLeaf(dt.(*arrow.DictionaryType), parts, n, valid, alloc)
	}
	nVals := 0
	for _, v := range parts {
		nVals += v.n
	}
	if nVals != n || valid != nil && len(valid) != n {
		return nil, fmt.Errorf("%d values for %d slots", nVals, n)
	}
	fsl, ok := dt.(*arrow.FixedSizeListType)
	if !ok {
		var def []uint16 // nil: all valid
		for i, v := range valid {
			if !v {
				if def == nil {
					def = make([]uint16, len(valid))
				}
				def[i] = 1
			}
		}
		sp := &span21{rows: n, layers: []repDefLayer{layerNullableItem}, def: def, valParts: parts, nVis: n}
		return assembleLeaf([]*span21{sp}, dt, int64(n), alloc)
	}
	layers, item, d := fslShape(fsl)
	bits := leafBits(item)
	var filled []*block // the parts with values
	anyItemValid := false
	for _, v := range parts {
		if v.n == 0 {
			continue
		}
		if v.dim != d || v.itemBits != bits || v.bits != d*bits {
			return nil, fmt.Errorf("page stores %d x %d-bit items, %s needs %d x %d", v.dim, v.itemBits, dt, d, bits)
		}
		filled = append(filled, v)
		anyItemValid = anyItemValid || v.itemValid != nil
	}
	var outer []fslValidity // nested fixed_size_lists: their layers' validity
	if len(layers) > 1 && len(filled) > 0 {
		v, err := concatBlocks(filled)
		if err != nil {
			return nil, err
		}
		filled, outer = []*block{v}, v.outerValid
	}
	child, err := buildFSLItems(item, filled, n*d, anyItemValid, alloc)
	if err != nil {
		return nil, err
	}
	// wrap the items in the inner layers, innermost first
	for k := len(layers) - 1; k >= 1; k-- {
		per := d / int(layers[k].Len())
		var vb *memory.Buffer
		nulls := 0
		if k-1 < len(outer) && outer[k-1].bits != nil {
			nulls = n*per - bitutil.CountSetBits(outer[k-1].bits, 0, n*per)
			if nulls > 0 {
				vb = newBuffer(alloc, int64(n*per+7)/8)
				bitutil.CopyBitmap(outer[k-1].bits, 0, n*per, vb.Bytes(), 0)
			}
		}
		data := array.NewData(layers[k], n*per, []*memory.Buffer{vb}, []arrow.ArrayData{child.Data()}, nulls, 0)
		child.Release()
		if vb != nil {
			vb.Release()
		}
		child = array.MakeFromData(data)
		data.Release()
		d = per
	}
	defer child.Release()
	validity, nulls := validityBuffer(valid, alloc)
	if validity != nil {
		defer validity.Release()
	}
	data := array.NewData(dt, n, []*memory.Buffer{validity}, []arrow.ArrayData{child.Data()}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// fslShape is the fixed_size_list layers of dt, outermost (dt) first, the
// innermost items' type and their number per value of dt.
func fslShape(dt *arrow.FixedSizeListType) (layers []*arrow.FixedSizeListType, item arrow.DataType, per int) {
	per = 1
	var t arrow.DataType = dt
	for {
		f, ok := t.(*arrow.FixedSizeListType)
		if !ok {
			return layers, t, per
		}
		layers = append(layers, f)
		per *= int(f.Len())
		t = f.Elem()
	}
}

// buildDictLeaf builds a dictionary leaf below a struct or list (stored as
// its values, as pylance writes it) as pylance reads it back: of its
// dictionary type, the values encoded again.
func buildDictLeaf(dt *arrow.DictionaryType, parts []*block, n int, valid []bool, alloc memory.Allocator) (arrow.Array, error) {
	vals, err := buildLeafArray(dt.ValueType, parts, n, valid, alloc)
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	return encodeDictionary(dt, vals, alloc)
}

// encodeDictionary is vals as an array of type dt.
func encodeDictionary(dt *arrow.DictionaryType, vals arrow.Array, alloc memory.Allocator) (arrow.Array, error) {
	b := array.NewDictionaryBuilder(alloc, dt)
	defer b.Release()
	if err := b.AppendArray(vals); err != nil {
		return nil, fmt.Errorf("dictionary of %s: %w", dt.ValueType, err)
	}
	return b.NewArray(), nil
}
