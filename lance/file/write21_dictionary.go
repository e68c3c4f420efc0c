package file

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Writing dictionary-typed columns (2.1+) as pylance 14 does: every page is
// a mini-block page whose page dictionary is the column's dictionary and
// whose values are the Arrow indices at their own width (an all-null page
// has no dictionary). The first array's dictionary is taken whole (unused
// entries too); later arrays with another dictionary add the values it
// lacks, so a bucket's many small batches share one dictionary of distinct
// values (pylance appends a second dictionary whole). When the index type
// cannot address one more value, the page ends and the next starts a new
// dictionary. A row pointing at a null dictionary entry is written as a
// null row: a page dictionary has no validity. Dictionary values are
// written Variable (strings, binary) or Flat (fixed width). The 2.0 writer
// (write20_dictionary.go) shares this running dictionary.

// columnDict is the running dictionary of a dictionary-typed column.
type columnDict struct {
	dt    *arrow.DictionaryType
	width int // bytes per value (0: variable width)
	vals  []byte
	ends  []uint64         // variable width: end of each value in vals
	index map[string]int64 // value -> position
	n     int64

	// the mapping of the last dictionary seen, reused while arrays share it
	last    arrow.Array
	lastPos []int64
}

// errDictFull: the running dictionary cannot take the values of an array
// without overflowing its index type; the caller ends the page and resets.
var errDictFull = fmt.Errorf("the dictionary has more values than its index type addresses")

// ErrDictionaryFull is StreamWriter.Write's answer, before it writes
// anything, when a dictionary column's values do not fit the dictionary of
// this file: pylance 14 reads a column's page dictionaries as one
// dictionary, so a file whose pages start over reads as corrupt there. The
// caller closes the file and writes the record into the next one.
var ErrDictionaryFull = errors.New("lance file: the record's dictionary values do not fit this file's dictionary")

// DictionaryRuns splits recs, in order, into runs that can each be one
// file: the values of every top-level dictionary column of a run fit one
// dictionary of its index type (see ErrDictionaryFull). Records without
// dictionary columns make one run.
func DictionaryRuns(recs []arrow.Record) [][]arrow.Record {
	if len(recs) == 0 {
		return nil
	}
	sch := recs[0].Schema()
	dicts := make([]*columnDict, sch.NumFields())
	hasDict := false
	for i, f := range sch.Fields() {
		if dt, ok := f.Type.(*arrow.DictionaryType); ok {
			if dicts[i], _, _ = newColumnDict(dt, false); dicts[i] != nil {
				hasDict = true
			}
		}
	}
	if !hasDict {
		return [][]arrow.Record{recs}
	}
	fits := func(rec arrow.Record) bool {
		for i, cd := range dicts {
			if !cd.admits(rec.Column(i)) {
				return false
			}
		}
		return true
	}
	var runs [][]arrow.Record
	start := 0
	for i, rec := range recs {
		if fits(rec) || i == start {
			continue
		}
		runs = append(runs, recs[start:i])
		start = i
		for _, cd := range dicts {
			if cd != nil {
				cd.reset()
			}
		}
		fits(rec) // the first record of a run: whatever it holds, the writer pages it
	}
	return append(runs, recs[start:])
}

// runningDict is the running dictionary of a top-level column writer, nil
// for columns without one.
func runningDict(c columnWriter) *columnDict {
	switch c := c.(type) {
	case *fieldWriter21:
		if len(c.leaves) == 1 {
			return c.leaves[0].colDict
		}
	case *dictWriter20:
		return c.cd
	}
	return nil
}

// admitDictionaries adds the dictionary values of rec to the running
// dictionaries of cols (as writing rec would), or returns
// ErrDictionaryFull naming the first column they do not fit.
func admitDictionaries(cols []columnWriter, rec arrow.Record) error {
	for i, c := range cols {
		if !runningDict(c).admits(rec.Column(i)) {
			return fmt.Errorf("%w (column %q)", ErrDictionaryFull, rec.Schema().Field(i).Name)
		}
	}
	return nil
}

// admits adds the dictionary values of arr to c, as writing arr would, and
// reports whether they fit its index type (then c is unchanged). A nil c or
// an array without a dictionary admits anything.
func (c *columnDict) admits(arr arrow.Array) bool {
	da, ok := arr.(*array.Dictionary)
	if c == nil || !ok {
		return true
	}
	_, err := c.positions(da.Dictionary())
	return err != errDictFull
}

// newColumnDict returns the running dictionary of a column of type dt and
// the byte width of its indices, or an error when the writer cannot store it.
func newColumnDict(dt *arrow.DictionaryType, nested bool) (*columnDict, int, error) {
	if nested {
		return nil, 0, fmt.Errorf("dictionary columns inside nested types are not supported by the writer")
	}
	b := leafBits(dt.ValueType)
	if b < 0 || (b > 0 && (b < 8 || b%8 != 0)) {
		return nil, 0, fmt.Errorf("dictionary values of type %s are not supported by the writer", dt.ValueType)
	}
	c := &columnDict{dt: dt, width: b / 8}
	c.reset()
	return c, dt.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8, nil
}

func (c *columnDict) reset() {
	c.vals, c.ends, c.n = c.vals[:0], c.ends[:0], 0
	c.index = map[string]int64{}
	c.last, c.lastPos = nil, nil
}

// entry is value j of a dictionary of c's value type.
func (c *columnDict) entry(d arrow.Array, j int) []byte {
	if c.width > 0 {
		dd := d.Data()
		o := (dd.Offset() + j) * c.width
		return dd.Buffers()[1].Bytes()[o : o+c.width]
	}
	offs, data, _ := binaryOffsets(d) // a string or binary type: checked by newColumnDict
	return data[offs.at(j):offs.at(j+1)]
}

// positions maps each entry of d to its place in the running dictionary
// (-1: a null entry). The first dictionary is taken whole, duplicates
// included; later ones add the values the running dictionary lacks.
func (c *columnDict) positions(d arrow.Array) ([]int64, error) {
	if d == c.last {
		return c.lastPos, nil
	}
	pos := make([]int64, d.Len())
	first := c.n == 0
	n0, vals0, ends0 := c.n, len(c.vals), len(c.ends)
	var added []string
	for j := range pos {
		if d.IsNull(j) {
			pos[j] = -1
			continue
		}
		v := c.entry(d, j)
		if i, ok := c.index[string(v)]; ok && !first {
			pos[j] = i
			continue
		}
		if c.n > maxIndex(c.dt.IndexType) {
			for _, k := range added { // as before the call
				delete(c.index, k)
			}
			c.n, c.vals, c.ends = n0, c.vals[:vals0], c.ends[:ends0]
			return nil, errDictFull
		}
		pos[j] = c.n
		if _, ok := c.index[string(v)]; !ok {
			c.index[string(v)] = c.n
			added = append(added, string(v))
		}
		c.vals = append(c.vals, v...)
		if c.width == 0 {
			c.ends = append(c.ends, uint64(len(c.vals)))
		}
		c.n++
	}
	c.last, c.lastPos = d, pos
	return pos, nil
}

// remapOrRestart is remap, but when the running dictionary is full it
// writes the pending page (flushPage: the page keeps the dictionary its
// indices use) and starts a new dictionary for arr.
func (c *columnDict) remapOrRestart(arr arrow.Array, flushPage func() error) (arrow.Array, error) {
	remapped, err := c.remap(arr)
	if err != errDictFull {
		return remapped, err
	}
	if err := flushPage(); err != nil {
		return nil, err
	}
	c.reset()
	return c.remap(arr)
}

// remap returns arr with its indices into the running dictionary (arr
// itself when they already are). The caller releases the result.
func (c *columnDict) remap(arr arrow.Array) (arrow.Array, error) {
	da, ok := arr.(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("column of type %s got an array of type %s", c.dt, arr.DataType())
	}
	pos, err := c.positions(da.Dictionary())
	if err != nil {
		return nil, err
	}
	identity := true
	for j, p := range pos {
		identity = identity && p == int64(j)
	}
	if identity {
		arr.Retain()
		return arr, nil
	}
	w := int64(c.dt.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8)
	n := da.Len()
	idx := make([]byte, int64(n)*w)
	valid := make([]byte, (n+7)/8)
	nulls := 0
	for i := 0; i < n; i++ {
		if da.IsNull(i) || pos[da.GetValueIndex(i)] < 0 {
			nulls++
			continue
		}
		bitutil.SetBit(valid, i)
		putIndex(idx[int64(i)*w:int64(i+1)*w], uint64(pos[da.GetValueIndex(i)]))
	}
	bufs := []*memory.Buffer{nil, memory.NewBufferBytes(idx)}
	if nulls > 0 {
		bufs[0] = memory.NewBufferBytes(valid)
	}
	data := array.NewData(c.dt, n, bufs, nil, nulls, 0)
	defer data.Release()
	data.SetDictionary(da.Dictionary().Data()) // unused: the leaf reads indices only
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
	d := &pageDict{idx: make([]uint32, p.nVis), n: int(c.n), idxBits: 8 * lw.width}
	for i := range d.idx {
		v := readWord(raw, 8*lw.width, i)
		if v >= uint64(c.n) {
			v = 0 // a null slot's index: anything in range
		}
		d.idx[i] = uint32(v)
	}
	if c.width > 0 {
		d.enc = encFlat21(uint64(8 * c.width))
		d.block = append([]byte(nil), c.vals...)
		return d
	}
	ob := 32
	if id := c.dt.ValueType.ID(); id == arrow.LARGE_STRING || id == arrow.LARGE_BINARY {
		ob = 64
	}
	d.enc = encVariable21(ob)
	d.block = varBlock(ob, c.ends, c.vals)
	return d
}

// appendDictionary is leafWriter.append for a dictionary-typed column.
func (lw *leafWriter) appendDictionary(w *fileWriter, arr arrow.Array) error {
	remapped, err := lw.colDict.remapOrRestart(arr, func() error { return lw.flush(w) })
	if err != nil {
		return fmt.Errorf("field %q: %w", lw.name, err)
	}
	defer remapped.Release()
	return lw.appendFlat(w, remapped)
}
