package file

import (
	"encoding/binary"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// dictWriter20 writes a dictionary-typed column of a 2.0 file as pylance
// 14 does: each page is
//
//	Dictionary{indices: Nullable{no_nulls{Flat{index bits, buffer 0}}},
//	           items, num_dictionary_items: K}
//
// with 0-based indices into items, the column's dictionary plus, when
// the page has null rows, one null item they all point at. Items are
// Binary{ends, bytes} for strings and binary (buffers 1, 2), and
// Nullable{Flat} for fixed-width values (buffer 1, or validity 1 and
// values 2 with a null item).
type dictWriter20 struct {
	cd      *columnDict
	width   int    // bytes per index
	idx     []byte // the pending page's indices
	null    []bool // and which of its rows are null
	maxRows int64
	out     []pageOut
}

func newDictWriter20(dt *arrow.DictionaryType, maxRows int64) (*dictWriter20, error) {
	cd, width, err := newColumnDict(dt, false)
	if err != nil {
		return nil, err
	}
	return &dictWriter20{cd: cd, width: width, maxRows: maxRows}, nil
}

func (c *dictWriter20) dataType() arrow.DataType { return c.cd.dt }
func (c *dictWriter20) columns() [][]pageOut     { return [][]pageOut{c.out} }

func (c *dictWriter20) append(w *fileWriter, arr arrow.Array) error {
	remapped, err := c.cd.remapOrRestart(arr, func() error { return c.flush(w) })
	if err != nil {
		return err
	}
	defer remapped.Release()
	d := remapped.Data()
	raw := d.Buffers()[1].Bytes()
	for i := 0; i < remapped.Len(); i++ {
		o := (d.Offset() + i) * c.width
		c.idx = append(c.idx, raw[o:o+c.width]...)
		c.null = append(c.null, remapped.IsNull(i))
		if int64(len(c.null)) >= c.maxRows {
			if err := c.flush(w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *dictWriter20) flush(w *fileWriter) error {
	n := len(c.null)
	if n == 0 {
		return nil
	}
	cd := c.cd
	k := int(cd.n)
	hasNull := false
	for i, null := range c.null {
		if null {
			hasNull = true
			putIndex(c.idx[i*c.width:(i+1)*c.width], uint64(k))
		}
	}
	items := k
	if hasNull {
		items++
	}
	pos := []uint64{w.writeBuffer(c.idx)}
	sizes := []uint64{uint64(len(c.idx))}
	var itemsEnc []byte
	if cd.width > 0 {
		bits := uint64(8 * cd.width)
		vals := cd.vals
		if hasNull {
			vals = append(vals[:len(vals):len(vals)], make([]byte, cd.width)...)
			valid := make([]byte, (items+7)/8)
			bitutil.SetBitsTo(valid, 0, int64(k), true)
			pos = append(pos, w.writeBuffer(valid), w.writeBuffer(vals))
			sizes = append(sizes, uint64(len(valid)), uint64(len(vals)))
			itemsEnc = encSomeNulls(encFlatMsg(1, 1), encFlatMsg(bits, 2))
		} else {
			pos = append(pos, w.writeBuffer(vals))
			sizes = append(sizes, uint64(len(vals)))
			itemsEnc = encNoNulls(encFlatMsg(bits, 1))
		}
	} else {
		adj := uint64(len(cd.vals)) + 1
		ends := make([]byte, 0, 8*items)
		for _, e := range cd.ends {
			ends = binary.LittleEndian.AppendUint64(ends, e)
		}
		if hasNull {
			ends = binary.LittleEndian.AppendUint64(ends, uint64(len(cd.vals))+adj)
		}
		pos = append(pos, w.writeBuffer(ends), w.writeBuffer(cd.vals))
		sizes = append(sizes, uint64(len(ends)), uint64(len(cd.vals)))
		itemsEnc = encBinaryMsg(encNoNulls(encFlatMsg(64, 1)), encFlatMsg(8, 2), adj)
	}
	body := pbBytes(nil, 1, encNoNulls(encFlatMsg(uint64(8*c.width), 0)))
	body = pbBytes(body, 2, itemsEnc)
	body = pbVarintNZ(body, 3, uint64(items))
	c.out = append(c.out, pageOut{
		bufOffsets: pos,
		bufSizes:   sizes,
		length:     uint64(n),
		encoding:   pbBytes(nil, 7, body),
	})
	c.idx, c.null = c.idx[:0], c.null[:0]
	return w.err
}
