package file

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Reading dictionary-typed columns (Arrow dictionary<values, indices>), the
// way pylance 14 returns them:
//
//   - 2.0: each page is Dictionary{indices: Nullable{Flat}, items}, indices
//     0-based into items; a null row points at a null item. The result's
//     dictionary is the items, null item included, and a row is null when
//     its item is.
//   - 2.1+: a mini-block page whose page dictionary is the column's Arrow
//     dictionary, stored whole (unused and repeated entries included), and
//     whose values are the indices; null rows come from the def levels.
//
// Pages that share a dictionary give it once; different ones are merged by
// value.
// A page written without a dictionary (all-null or constant pages) gets its
// distinct values appended as new entries.

// dictPiece is the part of a read one page contributes: rows indices
// (-1: null) into dict (nil when every row is null).
type dictPiece struct {
	dict arrow.Array
	ix   []int64
}

func (r *Reader) readDictionary(c *column, dt *arrow.DictionaryType, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	spans, err := c.spans(offset, limit)
	if err != nil {
		return nil, err
	}
	var pieces []dictPiece
	defer func() {
		for _, p := range pieces {
			if p.dict != nil {
				p.dict.Release()
			}
		}
	}()
	if r.minor >= 1 {
		pieces, err = r.dictPieces21(spans, dt, alloc)
	} else {
		pieces, err = r.dictPieces20(spans, dt, alloc)
	}
	if err != nil {
		return nil, err
	}
	return joinDictPieces(pieces, dt, limit, alloc)
}

// dictPieces20 reads the items and indices of each 2.0 page span by viewing
// them as pages of their own (same buffers, the sub-encoding as encoding).
func (r *Reader) dictPieces20(spans []pageSpan, dt *arrow.DictionaryType, alloc memory.Allocator) ([]dictPiece, error) {
	var out []dictPiece
	for _, s := range spans {
		e := s.page.encoding
		if e == nil || e.kind != encDictionary {
			return out, fmt.Errorf("dictionary column page: %w", unsupported(e))
		}
		if e.numDictItems > maxDictItems {
			return out, fmt.Errorf("dictionary of %d items too large", e.numDictItems)
		}
		k := int64(e.numDictItems)
		itemsPage := *s.page
		itemsPage.encoding, itemsPage.length = e.items, uint64(k)
		itemSpan := []pageSpan{{page: &itemsPage, from: 0, to: k}}
		var items arrow.Array
		var err error
		if bits := leafBits(dt.ValueType); bits == 0 {
			items, err = r.readBinary(itemSpan, dt.ValueType, k, alloc)
		} else if bits > 0 {
			items, err = r.readFixed(itemSpan, dt.ValueType, int64(bits), k, alloc)
		} else {
			err = fmt.Errorf("dictionary values of type %s are not supported", dt.ValueType)
		}
		if err != nil {
			return out, fmt.Errorf("dictionary items: %w", err)
		}
		out = append(out, dictPiece{dict: items})
		ixPage := *s.page
		ixPage.encoding = e.indices
		ix, err := r.readIndices20(pageSpan{page: &ixPage, from: s.from, to: s.to}, alloc)
		if err != nil {
			return out, fmt.Errorf("dictionary indices: %w", err)
		}
		for i, j := range ix {
			if j >= k {
				return out, fmt.Errorf("dictionary index %d out of range (%d items)", j, k)
			}
			if j >= 0 && items.IsNull(int(j)) {
				ix[i] = -1
			}
		}
		out[len(out)-1].ix = ix
	}
	return out, nil
}

// readIndices20 reads a 2.0 span of unsigned indices of whatever width the
// page stores (-1 for a null slot).
func (r *Reader) readIndices20(s pageSpan, alloc memory.Allocator) ([]int64, error) {
	valEnc := s.page.encoding
	if valEnc.kind == encNullable && valEnc.values != nil {
		valEnc = valEnc.values
	}
	var dt arrow.DataType
	switch valEnc.bitsPerValue {
	case 8:
		dt = arrow.PrimitiveTypes.Uint8
	case 16:
		dt = arrow.PrimitiveTypes.Uint16
	case 32:
		dt = arrow.PrimitiveTypes.Uint32
	case 64:
		dt = arrow.PrimitiveTypes.Uint64
	default:
		return nil, fmt.Errorf("%d-bit indices", valEnc.bitsPerValue)
	}
	n := s.to - s.from
	a, err := r.readFixed([]pageSpan{{page: s.page, from: s.from, to: s.to}}, dt, int64(valEnc.bitsPerValue), n, alloc)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	ix := make([]int64, n)
	for i := range ix {
		if a.IsNull(i) {
			ix[i] = -1
			continue
		}
		switch v := a.(type) {
		case *array.Uint8:
			ix[i] = int64(v.Value(i))
		case *array.Uint16:
			ix[i] = int64(v.Value(i))
		case *array.Uint32:
			ix[i] = int64(v.Value(i))
		case *array.Uint64:
			if v.Value(i) > 1<<62 {
				return nil, fmt.Errorf("dictionary index %d out of range", v.Value(i))
			}
			ix[i] = int64(v.Value(i))
		}
	}
	return ix, nil
}

// dictPieces21 decodes 2.1+ spans, keeping page dictionaries and their
// indices apart instead of looking the values up.
func (r *Reader) dictPieces21(spans []pageSpan, dt *arrow.DictionaryType, alloc memory.Allocator) ([]dictPiece, error) {
	parts, err := r.decodeSpans21(spans)
	defer giveBackSpans(parts)
	if err != nil {
		return nil, err
	}
	var out []dictPiece
	asArray := map[*block]arrow.Array{} // a page dictionary becomes one array
	for _, sp := range parts {
		for _, l := range sp.layers {
			if l.isList() {
				return out, fmt.Errorf("page has list levels but %s is not a list type", dt)
			}
		}
		if sp.rep != nil || sp.nVis != sp.rows || (sp.def != nil && len(sp.def) != sp.rows) {
			return out, fmt.Errorf("page levels do not match its %d rows", sp.rows)
		}
		blocks := sp.valParts
		if blocks == nil {
			blocks = []*block{sp.vals}
		}
		row := 0
		for _, b := range blocks {
			n := sp.rows - row
			if b != nil {
				n = b.n
			}
			if row+n > sp.rows {
				return out, fmt.Errorf("page decoded more values than its %d rows", sp.rows)
			}
			p := dictPiece{ix: make([]int64, n)}
			switch {
			case b == nil:
				for i := range p.ix {
					p.ix[i] = -1
				}
			case b.dict != nil:
				d, ok := asArray[b.dict]
				if !ok {
					var err error
					if d, err = blockArray(b.dict, dt.ValueType, alloc); err != nil {
						return out, fmt.Errorf("dictionary: %w", err)
					}
					asArray[b.dict] = d
				}
				d.Retain()
				p.dict = d
				for i, v := range b.dictIx {
					p.ix[i] = int64(v)
					if v == noIndex {
						p.ix[i] = -1
					}
				}
			default:
				var err error
				if p.dict, err = distinctValues(b, p.ix, dt.ValueType, alloc); err != nil {
					return out, err
				}
			}
			for i := range p.ix {
				if sp.def != nil && sp.def[row+i] != 0 {
					p.ix[i] = -1
				}
			}
			out = append(out, p)
			row += n
		}
		if row != sp.rows {
			return out, fmt.Errorf("page decoded %d values for %d rows", row, sp.rows)
		}
	}
	for _, d := range asArray {
		d.Release()
	}
	return out, nil
}

// blockArray turns a decoded block without nulls into an Arrow array.
func blockArray(b *block, dt arrow.DataType, alloc memory.Allocator) (arrow.Array, error) {
	return assembleLeaf([]*span21{{rows: b.n, vals: b, nVis: b.n}}, dt, int64(b.n), alloc)
}

// distinctValues fills ix with the position of each of b's values among its
// distinct values, which it returns in order of first appearance.
func distinctValues(b *block, ix []int64, dt arrow.DataType, alloc memory.Allocator) (arrow.Array, error) {
	if b.dim != 0 || b.bits%8 != 0 && b.bits != 1 {
		return nil, fmt.Errorf("dictionary of %s from a page of %d-bit values", dt, b.bits)
	}
	value := func(i int) []byte {
		if b.bits == 1 { // bools, LSB first
			return []byte{b.data[i/8] >> (i % 8) & 1}
		}
		if b.bits > 0 {
			w := b.bits / 8
			return b.data[i*w : (i+1)*w]
		}
		return b.data[b.offs[i]:b.offs[i+1]]
	}
	seen := map[string]int64{}
	var first []int
	for i := range ix {
		k := string(value(i))
		j, ok := seen[k]
		if !ok {
			j = int64(len(first))
			seen[k] = j
			first = append(first, i)
		}
		ix[i] = j
	}
	d := &block{n: len(first), bits: b.bits}
	if b.bits == 1 {
		d.data = make([]byte, (len(first)+7)/8)
		for j, i := range first {
			d.data[j/8] |= value(i)[0] << (j % 8)
		}
	} else if b.bits > 0 {
		for _, i := range first {
			d.data = append(d.data, value(i)...)
		}
	} else {
		d.offs = make([]uint64, 1, len(first)+1)
		for _, i := range first {
			d.data = append(d.data, value(i)...)
			d.offs = append(d.offs, uint64(len(d.data)))
		}
	}
	return blockArray(d, dt, alloc)
}

// joinDictPieces builds the dictionary array of n rows from pieces. Pieces
// sharing a dictionary (the usual case: a column's pages repeat it) give it
// once, as it is; different dictionaries are merged by value.
func joinDictPieces(pieces []dictPiece, dt *arrow.DictionaryType, n int64, alloc memory.Allocator) (arrow.Array, error) {
	var dict arrow.Array
	same := true
	for _, p := range pieces {
		switch {
		case p.dict == nil:
		case dict == nil:
			dict = p.dict
		case dict != p.dict && !array.Equal(dict, p.dict):
			same = false
		}
	}
	var err error
	switch {
	case dict == nil:
		dict = array.MakeArrayOfNull(alloc, dt.ValueType, 0)
	case same:
		dict.Retain()
	default:
		if dict, err = mergeDictionaries(pieces, dt.ValueType, alloc); err != nil {
			return nil, err
		}
	}
	defer dict.Release()
	if size := int64(dict.Len()); size-1 > maxIndex(dt.IndexType) {
		return nil, fmt.Errorf("%d rows use %d dictionary values, more than indices of type %s address (read fewer rows at a time)",
			n, size, dt.IndexType)
	}
	w := int64(dt.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8)
	values := newBuffer(alloc, n*w)
	defer values.Release()
	var validity *memory.Buffer
	var nulls, row int64
	xb := values.Bytes()
	for _, p := range pieces {
		for _, j := range p.ix {
			if row >= n {
				return nil, fmt.Errorf("pages hold more than %d rows", n)
			}
			if j < 0 {
				if validity == nil {
					validity = newBuffer(alloc, (n+7)/8)
					defer validity.Release()
					bitutil.SetBitsTo(validity.Bytes(), 0, n, true)
				}
				bitutil.ClearBit(validity.Bytes(), int(row))
				nulls++
			} else {
				putIndex(xb[row*w:(row+1)*w], uint64(j))
			}
			row++
		}
	}
	if row != n {
		return nil, fmt.Errorf("pages hold %d rows, want %d", row, n)
	}
	data := array.NewData(dt, int(n), []*memory.Buffer{validity, values}, nil, int(nulls), 0)
	defer data.Release()
	data.SetDictionary(dict.Data())
	return array.MakeFromData(data), nil
}

// mergeDictionaries returns the distinct valid values of the pieces'
// dictionaries, in order of appearance, and points each piece's indices
// at them.
func mergeDictionaries(pieces []dictPiece, values arrow.DataType, alloc memory.Allocator) (arrow.Array, error) {
	seen := map[string]int64{}
	var parts []arrow.Array
	defer func() {
		for _, a := range parts {
			a.Release()
		}
	}()
	mapped := map[arrow.Array][]int64{}
	for _, p := range pieces {
		if p.dict == nil {
			continue
		}
		pos, ok := mapped[p.dict]
		if !ok {
			pos = make([]int64, p.dict.Len())
			for j := range pos {
				if p.dict.IsNull(j) {
					pos[j] = -1
					continue
				}
				k := p.dict.ValueStr(j)
				i, ok := seen[k]
				if !ok {
					i = int64(len(parts))
					seen[k] = i
					parts = append(parts, array.NewSlice(p.dict, int64(j), int64(j+1)))
				}
				pos[j] = i
			}
			mapped[p.dict] = pos
		}
		for i, j := range p.ix {
			if j >= 0 {
				p.ix[i] = pos[j]
			}
		}
	}
	if len(parts) == 0 {
		return array.MakeArrayOfNull(alloc, values, 0), nil
	}
	return array.Concatenate(parts, alloc)
}

// maxIndex is the largest value of an integer index type.
func maxIndex(t arrow.DataType) int64 {
	bits := t.(arrow.FixedWidthDataType).BitWidth()
	switch t.ID() {
	case arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return 1<<bits - 1
	}
	return 1<<(bits-1) - 1
}

// putIndex stores v little-endian in len(dst) bytes.
func putIndex(dst []byte, v uint64) {
	for i := range dst {
		dst[i] = byte(v >> (8 * i))
	}
}
