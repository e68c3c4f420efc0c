package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Nested columns of 2.0 (legacy) files, as pylance writes them
// (encodings_v2_0.proto). Every field has a column of its own, in pre-order:
//
//   - struct: a column of SimpleStruct pages (no buffers: 2.0 stores no
//     struct validity), then its children's columns;
//   - list: a column of List pages, then its item's columns. A List page
//     holds one u64 end offset per list, counted from the first item of the
//     page (page k's items follow page k-1's in the item column); a null
//     list stores its end plus null_offset_adjustment;
//   - fixed-size list: one column, Nullable{FixedSizeList{dimension, items}},
//     whose items sit in the page's own buffers.

// legacyColumns is the number of 2.0 columns a field of type dt occupies.
func legacyColumns(dt arrow.DataType) int {
	switch t := dt.(type) {
	case *arrow.StructType:
		n := 1
		for _, f := range t.Fields() {
			n += legacyColumns(f.Type)
		}
		return n
	case *arrow.ListType:
		return 1 + legacyColumns(t.Elem())
	case *arrow.LargeListType:
		return 1 + legacyColumns(t.Elem())
	}
	return 1
}

// readLegacy reads rows [offset, offset+limit) of the 2.0 field of type dt
// whose (first) column is ci.
func (r *Reader) readLegacy(ci int, dt arrow.DataType, offset, limit int64, alloc memory.Allocator, depth int) (arrow.Array, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%s nested too deeply", dt)
	}
	if ci < 0 || ci+legacyColumns(dt) > len(r.cols) {
		return nil, fmt.Errorf("%s needs columns %d..%d, file has %d", dt, ci, ci+legacyColumns(dt)-1, len(r.cols))
	}
	switch t := dt.(type) {
	case *arrow.StructType:
		return r.readLegacyStruct(ci, t, offset, limit, alloc, depth)
	case *arrow.ListType:
		return r.readLegacyList(ci, dt, t.Elem(), false, offset, limit, alloc, depth)
	case *arrow.LargeListType:
		return r.readLegacyList(ci, dt, t.Elem(), true, offset, limit, alloc, depth)
	case *arrow.FixedSizeListType:
		return r.readLegacyFixedSizeList(&r.cols[ci], t, offset, limit, alloc)
	case *arrow.DictionaryType: // a list's items or a struct's child
		return r.readDictionary(&r.cols[ci], t, offset, limit, alloc)
	}
	return r.readColumn(&r.cols[ci], dt, offset, limit, alloc)
}

func (r *Reader) readLegacyStruct(ci int, t *arrow.StructType, offset, limit int64, alloc memory.Allocator, depth int) (arrow.Array, error) {
	for _, p := range r.cols[ci].pages {
		if p.encoding == nil || p.encoding.kind != encSimpleStruct {
			return nil, fmt.Errorf("struct column %d has a page that is not SimpleStruct", ci)
		}
	}
	children := make([]arrow.ArrayData, 0, t.NumFields())
	defer func() {
		for _, c := range children {
			c.Release()
		}
	}()
	col := ci + 1
	for _, f := range t.Fields() {
		a, err := r.readLegacy(col, f.Type, offset, limit, alloc, depth+1)
		if err != nil {
			return nil, fmt.Errorf("struct field %q: %w", f.Name, err)
		}
		children = append(children, a.Data())
		a.Data().Retain()
		a.Release()
		col += legacyColumns(f.Type)
	}
	data := array.NewData(t, int(limit), []*memory.Buffer{nil}, children, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

func (r *Reader) readLegacyList(ci int, dt, elem arrow.DataType, large bool, offset, limit int64, alloc memory.Allocator, depth int) (arrow.Array, error) {
	c := &r.cols[ci]
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	// itemsBefore[j]: items referenced by the pages before page j.
	itemsBefore := make([]int64, len(c.pages)+1)
	for j := range c.pages {
		e := c.pages[j].encoding
		if e == nil || e.kind != encList {
			return nil, fmt.Errorf("list column %d has a page that is not List", ci)
		}
		if e.numItems > 1<<62 || itemsBefore[j]+int64(e.numItems) < itemsBefore[j] {
			return nil, fmt.Errorf("list column %d: item count overflow", ci)
		}
		itemsBefore[j+1] = itemsBefore[j] + int64(e.numItems)
	}
	ends := make([]int64, 0, limit+1) // absolute item positions
	valid := make([]bool, 0, limit)
	var nulls int64
	for _, s := range spans {
		j := pageIndex(c, s.page)
		e := s.page.encoding
		first := s.from
		if first > 0 {
			first-- // the end of the list before the span is where it starts
		}
		sub := pageInfo{bufOffsets: s.page.bufOffsets, bufSizes: s.page.bufSizes, length: s.page.length, encoding: e.offsets}
		arr, err := r.readFixed([]pageSpan{{page: &sub, from: first, to: s.to}}, arrow.PrimitiveTypes.Uint64, 64, s.to-first, alloc)
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
		vals := arr.(*array.Uint64).Uint64Values()
		hasNulls := arr.NullN() > 0
		adj := e.nullAdjustment
		start := uint64(0)
		if s.from > 0 {
			start = vals[0] % adj
			vals = vals[1:]
		}
		if len(ends) == 0 {
			ends = append(ends, itemsBefore[j]+int64(start))
		} else if ends[len(ends)-1] != itemsBefore[j]+int64(start) {
			arr.Release()
			return nil, fmt.Errorf("list column %d: page %d does not continue the items of the page before", ci, j)
		}
		prev := start
		for _, v := range vals {
			end := v % adj
			if end < prev || end > e.numItems {
				arr.Release()
				return nil, fmt.Errorf("list column %d: offset %d out of order or past the page's %d items", ci, v, e.numItems)
			}
			ok := v < adj
			if !ok {
				nulls++
			}
			valid = append(valid, ok)
			ends = append(ends, itemsBefore[j]+int64(end))
			prev = end
		}
		arr.Release()
		if hasNulls {
			return nil, fmt.Errorf("list column %d: offsets with nulls", ci)
		}
	}
	if len(ends) == 0 {
		ends = append(ends, 0)
	}
	itemStart, itemEnd := ends[0], ends[len(ends)-1]
	items, err := r.readLegacy(ci+1, elem, itemStart, itemEnd-itemStart, alloc, depth+1)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	defer items.Release()

	width := int64(4)
	if large {
		width = 8
	}
	offBuf := newBuffer(alloc, (limit+1)*width)
	defer offBuf.Release()
	ob := offBuf.Bytes()
	for i, e := range ends {
		rel := e - itemStart
		if large {
			binary.LittleEndian.PutUint64(ob[i*8:], uint64(rel))
		} else {
			if rel > offsetsLimit {
				return nil, fmt.Errorf("%w: a list of %d items", ErrOffsetsOverflow, rel)
			}
			binary.LittleEndian.PutUint32(ob[i*4:], uint32(rel))
		}
	}
	var validBuf *memory.Buffer
	if nulls > 0 {
		validBuf = newBuffer(alloc, (limit+7)/8)
		defer validBuf.Release()
		for i, ok := range valid {
			if ok {
				bitutil.SetBit(validBuf.Bytes(), i)
			}
		}
	}
	data := array.NewData(dt, int(limit), []*memory.Buffer{validBuf, offBuf}, []arrow.ArrayData{items.Data()}, int(nulls), 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// pageIndex is the index of page p (a pointer into c.pages) in c.
func pageIndex(c *column, p *pageInfo) int {
	for j := range c.pages {
		if &c.pages[j] == p {
			return j
		}
	}
	return -1
}

func (r *Reader) readLegacyFixedSizeList(c *column, t *arrow.FixedSizeListType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	return r.readLegacyFSLSpans(spans, t, limit, alloc, 0)
}

// readLegacyFSLSpans reads the limit fixed-size lists of spans (output
// positions from 0). A fixed-size list of fixed-size lists (pylance: a
// FixedSizeList page whose items are a [Nullable] FixedSizeList again) reads
// its items the same way, depth levels down.
func (r *Reader) readLegacyFSLSpans(spans []pageSpan, t *arrow.FixedSizeListType, limit int64, alloc memory.Allocator, depth int) (arrow.Array, error) {
	elem := t.Elem()
	inner, nested := elem.(*arrow.FixedSizeListType)
	var bits int64
	switch {
	case nested && depth < 8:
	case elem.ID() == arrow.BOOL:
		bits = 1
	case fixedValueBits(elem) > 0:
		bits = int64(fixedValueBits(elem))
	default:
		return nil, fmt.Errorf("reading 2.0 fixed-size lists of %s is not supported", elem)
	}
	dim := int64(t.Len())
	validity := newBuffer(alloc, (limit+7)/8)
	defer validity.Release()
	bitutil.SetBitsTo(validity.Bytes(), 0, limit, true)
	var nulls int64
	var parts []arrow.Array
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for _, s := range spans {
		k := s.to - s.from
		e := s.page.encoding
		if e == nil {
			return nil, fmt.Errorf("2.1+ page layout in a 2.0 file")
		}
		fsl := e
		if e.kind == encNullable {
			switch e.nulls {
			case allNulls:
				bitutil.SetBitsTo(validity.Bytes(), s.out, k, false)
				nulls += k
				parts = append(parts, array.MakeArrayOfNull(alloc, elem, int(k*dim)))
				continue
			case someNulls:
				if err := r.readBits(s, e.validity, validity.Bytes()); err != nil {
					return nil, fmt.Errorf("validity: %w", err)
				}
				nulls += k - int64(bitutil.CountSetBits(validity.Bytes(), int(s.out), int(k)))
			}
			fsl = e.values
		}
		if fsl.kind != encFixedSizeList || int64(fsl.dimension) != dim {
			return nil, fmt.Errorf("page is %s (dimension %d), want FixedSizeList of dimension %d", fsl.name, fsl.dimension, dim)
		}
		sub := pageInfo{bufOffsets: s.page.bufOffsets, bufSizes: s.page.bufSizes, length: s.page.length * uint64(dim), encoding: fsl.items}
		subSpans := []pageSpan{{page: &sub, from: s.from * dim, to: s.to * dim}}
		var a arrow.Array
		var err error
		if nested {
			a, err = r.readLegacyFSLSpans(subSpans, inner, k*dim, alloc, depth+1)
		} else {
			a, err = r.readFixed(subSpans, elem, bits, k*dim, alloc)
		}
		if err != nil {
			return nil, fmt.Errorf("fixed-size list items: %w", err)
		}
		parts = append(parts, a)
	}
	var items arrow.Array
	switch len(parts) {
	case 0:
		items = array.MakeArrayOfNull(alloc, elem, 0)
	case 1:
		items = parts[0]
		items.Retain()
	default:
		var err error
		if items, err = array.Concatenate(parts, alloc); err != nil {
			return nil, err
		}
	}
	defer items.Release()
	bufs := []*memory.Buffer{nil}
	if nulls > 0 {
		bufs[0] = validity
	}
	data := array.NewData(t, int(limit), bufs, []arrow.ArrayData{items.Data()}, int(nulls), 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// LegacyColumns is the number of columns a 2.0 file stores a field of type
// dt in (a struct or list: its own, then its children's).
func LegacyColumns(dt arrow.DataType) int { return legacyColumns(dt) }
