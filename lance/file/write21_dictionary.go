package file

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Writing dictionary-typed columns (2.1+) as pylance 14 does: every page is
// a mini-block page whose page dictionary is the column's Arrow dictionary,
// whole (unused entries too), and whose values are the Arrow indices at
// their own width. Arrays appended with a dictionary equal to the column's
// reuse it; any other dictionary is appended to it and its indices shifted,
// which is what pylance does with batches of different dictionaries.
// Dictionary values are written Variable (strings, binary) or Flat
// (fixed width). (The 2.0 writer, write20_dictionary.go, shares remap.)

// columnDict is the running dictionary of a dictionary-typed leaf.
type columnDict struct {
	dt   *arrow.DictionaryType
	dict arrow.Array // nil until the first array
}

// newColumnDict returns the running dictionary of a leaf of type dt, or an
// error when the writer cannot store it.
func newColumnDict(dt *arrow.DictionaryType, nested bool) (*columnDict, int, error) {
	if nested {
		return nil, 0, fmt.Errorf("dictionary columns inside nested types are not supported by the writer")
	}
	if b := leafBits(dt.ValueType); b != 0 && (b < 8 || b%8 != 0) {
		return nil, 0, fmt.Errorf("dictionary values of type %s are not supported by the writer", dt.ValueType)
	}
	return &columnDict{dt: dt}, dt.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8, nil
}

// remap returns arr with its indices into the running dictionary (arr
// itself when its dictionary is that one and has no null entry), growing
// the dictionary if needed. A row pointing at a null entry becomes a null
// row (a page dictionary has no validity; the entry is stored empty). The
// caller releases the result.
func (c *columnDict) remap(arr arrow.Array) (arrow.Array, error) {
	da, ok := arr.(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("column of type %s got an array of type %s", c.dt, arr.DataType())
	}
	d := da.Dictionary()
	if c.dict == nil {
		d.Retain()
		c.dict = d
	}
	var base int64
	if c.dict != d && !array.Equal(c.dict, d) {
		base = int64(c.dict.Len())
		if base+int64(d.Len())-1 > maxIndex(c.dt.IndexType) {
			return nil, fmt.Errorf("%d dictionary entries do not fit indices of type %s", base+int64(d.Len()), c.dt.IndexType)
		}
		grown, err := array.Concatenate([]arrow.Array{c.dict, d}, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		c.dict.Release()
		c.dict = grown
	} else if d.NullN() == 0 {
		arr.Retain()
		return arr, nil
	}
	w := int64(c.dt.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8)
	n := da.Len()
	idx := make([]byte, int64(n)*w)
	valid := make([]byte, (n+7)/8)
	nulls := 0
	for i := 0; i < n; i++ {
		if da.IsNull(i) || d.IsNull(da.GetValueIndex(i)) {
			nulls++
			continue
		}
		bitutil.SetBit(valid, i)
		putIndex(idx[int64(i)*w:int64(i+1)*w], uint64(int64(da.GetValueIndex(i))+base))
	}
	bufs := []*memory.Buffer{nil, memory.NewBufferBytes(idx)}
	if nulls > 0 {
		bufs[0] = memory.NewBufferBytes(valid)
	}
	data := array.NewData(c.dt, n, bufs, nil, nulls, 0)
	defer data.Release()
	data.SetDictionary(c.dict.Data())
	return array.MakeFromData(data), nil
}

// pageDict is the pending page's dictionary: the running one, and the
// page's indices.
func (c *columnDict) pageDict(lw *leafWriter) *pageDict {
	p := &lw.p
	var raw []byte
	if lw.isFlat() {
		raw = lw.appendFlatValues(make([]byte, 0, p.nVis*lw.width), 0, p.nVis)
	} else {
		raw = p.fixed[:p.nVis*lw.width]
	}
	size := c.dict.Len()
	d := &pageDict{idx: make([]uint32, p.nVis), n: size, idxBits: 8 * lw.width}
	for i := range d.idx {
		v := readWord(raw, 8*lw.width, i)
		if v >= uint64(size) {
			v = 0 // a null slot's index: anything in range
		}
		d.idx[i] = uint32(v)
	}
	dd := c.dict.Data()
	if bits := leafBits(c.dt.ValueType); bits > 0 {
		w := bits / 8
		b := dd.Buffers()[1].Bytes()
		d.enc = encFlat21(uint64(bits))
		d.block = append([]byte(nil), b[dd.Offset()*w:(dd.Offset()+size)*w]...)
		return d
	}
	offs, data, _ := binaryOffsets(c.dict) // a string or binary type: checked by newColumnDict
	ends := make([]uint64, size)
	start := offs.at(0)
	for i := range ends {
		ends[i] = uint64(offs.at(i+1) - start)
	}
	ob := 32
	if id := c.dt.ValueType.ID(); id == arrow.LARGE_STRING || id == arrow.LARGE_BINARY {
		ob = 64
	}
	d.enc = encVariable21(ob)
	d.block = varBlock(ob, ends, data[start:offs.at(size)])
	return d
}

func (c *columnDict) release() {
	if c.dict != nil {
		c.dict.Release()
		c.dict = nil
	}
}
