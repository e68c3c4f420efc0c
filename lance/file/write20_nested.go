package file

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"

	"github.com/persisting/persisting/lance/schema"
)

// Writers of 2.0 (legacy) files. Every field, nested ones included, has a
// column of its own, in pre-order; the layouts are those legacy_nested.go
// reads, as pylance 14 writes them:
//
//   - fixed_size_list of fixed-width values or bools: one column of
//     Nullable{FixedSizeList{dimension, Nullable{Flat}}} pages, the row
//     validity, item validity and item values in the page's buffers;
//   - list / large_list: a column of List pages (one u64 end offset per
//     list, from the page's first item; a null list's end raised by
//     null_offset_adjustment = num_items+1), then the item's columns, paged
//     on their own.
//
// 2.0 stores no struct validity, so structs (and maps, lists of structs)
// need 2.1 or later.

// newWriters20 returns a 2.0 writer per top-level field and the ids of the
// fields that get a column (all of them, in pre-order).
func newWriters20(fields []schema.Field, opts WriteOptions, comp string) ([]columnWriter, []int32, error) {
	roots, err := buildTree(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("lance file: %w", err)
	}
	cols := make([]columnWriter, len(roots))
	var ids []int32
	for i, r := range roots {
		if cols[i], err = newWriter20(r, opts, comp, &ids); err != nil {
			return nil, nil, fmt.Errorf("lance file: field %q: %w", r.field.Name, err)
		}
	}
	return cols, ids, nil
}

// newWriter20 returns the writer of the field n and appends the ids of n
// and its descendants to ids.
func newWriter20(n *wnode, opts WriteOptions, comp string, ids *[]int32) (columnWriter, error) {
	*ids = append(*ids, n.field.ID)
	lt := n.field.LogicalType
	if lt == "map" || n.kind == nodeStruct {
		return nil, fmt.Errorf("%s columns need file version 2.1 or later (maps 2.2), not 2.0", lt)
	}
	maxBytes, maxRows := pageLimits20(opts)
	switch t := n.dt.(type) {
	case *arrow.ListType, *arrow.LargeListType:
		items, err := newWriter20(n.children[0], opts, comp, ids)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", n.children[0].field.Name, err)
		}
		switch items.(type) {
		case *nullWriter, *dictWriter20:
			return nil, fmt.Errorf("lists of %s are not supported by the writer at file version 2.0", n.children[0].field.LogicalType)
		}
		return &listWriter20{dt: n.dt, items: items, maxRows: min(max(maxBytes/8, 1), maxRows)}, nil
	case *arrow.FixedSizeListType:
		c, bits, err := newFSLWriter20(t, 0)
		if err != nil {
			return nil, err
		}
		c.maxRows = min(max(maxBytes*8/bits, 1), maxRows)
		return c, nil
	}
	dt, err := schema.LeafArrowType(lt)
	if err != nil {
		return nil, err
	}
	w, err := newFlatWriter20(n.field, dt, opts, comp)
	if err == nil && w == nil {
		err = fmt.Errorf("type %s is not supported by the writer yet", lt)
	}
	return w, err
}

// newFSLWriter20 returns the writer of fixed_size_list t (its maxRows
// unset) and the bits of one of its values. A fixed_size_list of
// fixed_size_lists (a matrix) gathers its inner lists in another
// fslWriter20, depth levels down.
func newFSLWriter20(t *arrow.FixedSizeListType, depth int) (*fslWriter20, int64, error) {
	if t.Len() <= 0 || t.Len() > 1<<20 { // as the reader takes them
		return nil, 0, fmt.Errorf("fixed_size_list of %d items is not supported", t.Len())
	}
	dim := int64(t.Len())
	c := &fslWriter20{dt: t, dim: dim}
	if inner, ok := t.Elem().(*arrow.FixedSizeListType); ok && depth < 8 {
		in, bits, err := newFSLWriter20(inner, depth+1)
		if err != nil {
			return nil, 0, err
		}
		if bits*dim > 1<<20*64 {
			return nil, 0, fmt.Errorf("fixed_size_list of %d x %d items is not supported", dim, inner.Len())
		}
		in.maxRows = 1 << 62 // gathered: pages are cut by the outermost list
		c.inner = in
		return c, bits * dim, nil
	}
	bits := int64(fixedValueBits(t.Elem()))
	if t.Elem().ID() == arrow.BOOL {
		bits = 1
	}
	if bits == 0 {
		return nil, 0, fmt.Errorf("fixed_size_list of %s is not supported at file version 2.0 (items must be fixed-width numbers or bool, or fixed_size_lists of them)", t.Elem())
	}
	c.items = fixedWriter{dt: t.Elem(), bits: bits, maxRows: 1 << 62}
	return c, bits * dim, nil
}

// fslWriter20 writes a fixed_size_list column: rows validity of its own,
// items gathered (never flushed) by a fixedWriter, or - for a matrix - by
// the fslWriter20 of the inner lists.
type fslWriter20 struct {
	dt       *arrow.FixedSizeListType
	dim      int64
	maxRows  int64
	validity []byte
	n, nulls int64
	items    fixedWriter
	inner    *fslWriter20
	out      []pageOut
}

func (c *fslWriter20) dataType() arrow.DataType { return c.dt }
func (c *fslWriter20) columns() [][]pageOut     { return [][]pageOut{c.out} }

func (c *fslWriter20) append(w *fileWriter, arr arrow.Array) error {
	fsl, ok := arr.(*array.FixedSizeList)
	if !ok {
		return fmt.Errorf("unexpected array type %T", arr)
	}
	off := int64(arr.Data().Offset())
	for done := int64(0); done < int64(arr.Len()); {
		k := min(int64(arr.Len())-done, c.maxRows-c.n)
		if arr.NullN() == 0 {
			c.validity = appendSetBits(c.validity, c.n, k)
		} else {
			c.validity = appendBits(c.validity, c.n, arr.Data().Buffers()[0].Bytes(), off+done, k)
			c.nulls += k - int64(bitutil.CountSetBits(c.validity, int(c.n), int(k)))
		}
		from, _ := fsl.ValueOffsets(int(done))
		items := array.NewSlice(fsl.ListValues(), from, from+k*c.dim)
		var err error
		if c.inner != nil {
			err = c.inner.append(w, items)
		} else {
			err = c.items.append(w, items)
		}
		items.Release()
		if err != nil {
			return err
		}
		c.n += k
		done += k
		if c.n >= c.maxRows {
			if err := c.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the pending rows as one page: buffers row validity (if
// some rows are null), item validity (if some items are), item values.
func (c *fslWriter20) flush(w *fileWriter) error {
	if c.n == 0 {
		return nil
	}
	p := pageOut{length: uint64(c.n)}
	if c.nulls == c.n {
		p.encoding = encAllNulls()
	} else {
		if c.nulls > 0 {
			p.addBuffer(w, c.validity)
		}
		list := c.listEncoding(w, &p)
		if c.nulls > 0 {
			p.encoding = encSomeNulls(encFlatMsg(1, 0), list)
		} else {
			p.encoding = encNoNulls(list)
		}
	}
	c.out = append(c.out, p)
	c.reset()
	return w.err
}

// listEncoding adds the gathered items' buffers to p and returns the
// FixedSizeList encoding of the lists. The inner lists of a matrix are
// nullable items like numbers: their validity buffer (when one is null),
// then their own FixedSizeList.
func (c *fslWriter20) listEncoding(w *fileWriter, p *pageOut) []byte {
	add := func(b []byte) uint32 {
		i := uint32(len(p.bufOffsets))
		p.addBuffer(w, b)
		return i
	}
	var items []byte
	if in := c.inner; in != nil {
		if in.nulls == 0 {
			items = encNoNulls(in.listEncoding(w, p))
		} else {
			v := add(in.validity)
			items = encSomeNulls(encFlatMsg(1, v), in.listEncoding(w, p))
		}
		return encFixedSizeListMsg(uint64(c.dim), items)
	}
	it := &c.items
	switch {
	case it.nulls == 0:
		items = encNoNulls(encFlatMsg(uint64(it.bits), add(it.values)))
	case it.nulls == it.n:
		items = encAllNulls()
	default:
		v := add(it.validity)
		items = encSomeNulls(encFlatMsg(1, v), encFlatMsg(uint64(it.bits), add(it.values)))
	}
	return encFixedSizeListMsg(uint64(c.dim), items)
}

// reset empties the pending page (and the gathered items).
func (c *fslWriter20) reset() {
	c.validity = c.validity[:0]
	c.n, c.nulls = 0, 0
	if c.inner != nil {
		c.inner.reset()
		return
	}
	it := &c.items
	it.validity, it.values = it.validity[:0], it.values[:0]
	it.n, it.nulls = 0, 0
}

// addBuffer writes b as the page's next buffer.
func (p *pageOut) addBuffer(w *fileWriter, b []byte) {
	p.bufOffsets = append(p.bufOffsets, w.writeBuffer(b))
	p.bufSizes = append(p.bufSizes, uint64(len(b)))
}

// listWriter20 writes a list or large_list column; its items go to their
// own writer, which pages them independently.
type listWriter20 struct {
	dt      arrow.DataType
	items   columnWriter
	maxRows int64
	ends    []uint64 // per pending list: its end, from the page's first item
	nulls   []bool
	nItems  uint64 // items of the pending lists
	idx     []byte // scratch for the offsets buffer
	out     []pageOut
}

func (c *listWriter20) dataType() arrow.DataType { return c.dt }

func (c *listWriter20) columns() [][]pageOut {
	return append([][]pageOut{c.out}, c.items.columns()...)
}

func (c *listWriter20) append(w *fileWriter, arr arrow.Array) error {
	list, ok := arr.(array.ListLike)
	if !ok {
		return fmt.Errorf("unexpected array type %T", arr)
	}
	values := list.ListValues()
	// Items go to their writer in runs of adjacent lists; a null list's
	// items (if it has any) are dropped.
	var runFrom, runTo int64
	flushRun := func() error {
		if runTo == runFrom {
			return nil
		}
		s := array.NewSlice(values, runFrom, runTo)
		defer s.Release()
		return c.items.append(w, s)
	}
	for i := 0; i < arr.Len(); i++ {
		null := arr.IsNull(i)
		if !null {
			from, to := list.ValueOffsets(i)
			if from != runTo {
				if err := flushRun(); err != nil {
					return err
				}
				runFrom = from
			}
			runTo = to
			c.nItems += uint64(to - from)
		}
		c.ends = append(c.ends, c.nItems)
		c.nulls = append(c.nulls, null)
		if int64(len(c.ends)) >= c.maxRows {
			c.flushPage(w)
		}
	}
	return flushRun()
}

// flushPage writes the pending lists' offsets as one List page.
func (c *listWriter20) flushPage(w *fileWriter) {
	if len(c.ends) == 0 {
		return
	}
	adj := c.nItems + 1
	idx := c.idx[:0]
	for i, e := range c.ends {
		if c.nulls[i] {
			e += adj
		}
		idx = binary.LittleEndian.AppendUint64(idx, e)
	}
	p := pageOut{length: uint64(len(c.ends)), encoding: encListMsg(encNoNulls(encFlatMsg(64, 0)), adj, c.nItems)}
	p.addBuffer(w, idx)
	c.out = append(c.out, p)
	c.ends, c.nulls, c.idx, c.nItems = c.ends[:0], c.nulls[:0], idx[:0], 0
}

func (c *listWriter20) flush(w *fileWriter) error {
	c.flushPage(w)
	if err := c.items.flush(w); err != nil {
		return err
	}
	return w.err
}

func encFixedSizeListMsg(dim uint64, items []byte) []byte {
	fsl := pbVarintNZ(nil, 1, dim)
	fsl = pbBytes(fsl, 2, items)
	return pbBytes(nil, 3, fsl)
}

func encListMsg(offsets []byte, nullAdjustment, numItems uint64) []byte {
	l := pbBytes(nil, 1, offsets)
	l = pbVarintNZ(l, 2, nullAdjustment)
	l = pbVarintNZ(l, 3, numItems)
	return pbBytes(nil, 4, l)
}
