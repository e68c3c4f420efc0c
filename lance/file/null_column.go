package file

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Columns of Arrow type null (what pyarrow infers for a column of only
// None). pylance 14 gives them the pages of any all-null column and no
// values: a Nullable(AllNulls) page at 2.0, an AllNullLayout (2.1) /
// ConstantLayout (2.2) page without a value at 2.1+. The reader decodes
// such a column with a stand-in type, checks that every row is null and
// returns a null array; the writer shreds an all-null stand-in array.

// nullStandIn is the type a null column's pages are read and written as:
// the narrowest fixed width, whose value slots are never filled.
var nullStandIn = &arrow.Uint8Type{}

// readNullColumn reads rows [offset, offset+limit) of a null column.
func (r *Reader) readNullColumn(c *column, offset, limit int64, alloc memory.Allocator) (arrow.Array, error) {
	a, err := r.readColumn(c, nullStandIn, offset, limit, alloc)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return nullArrayOf(a)
}

// nullArrayOf is a null array as long as a, a stand-in read of a null
// column, or an error when a page of that column holds a value.
func nullArrayOf(a arrow.Array) (arrow.Array, error) {
	if a.NullN() != a.Len() {
		return nil, fmt.Errorf("column of type null has %d non-null values", a.Len()-a.NullN())
	}
	return array.NewNull(a.Len()), nil
}

// allNullStandIn is the stand-in array the 2.1+ writer shreds for the n
// rows of a null array.
func allNullStandIn(n int) arrow.Array {
	return array.MakeArrayOfNull(memory.DefaultAllocator, nullStandIn, n)
}

// nullWriter writes a 2.0 null column: one Nullable(AllNulls) page per
// flush, without buffers.
type nullWriter struct {
	n   int64
	out []pageOut
}

func (c *nullWriter) dataType() arrow.DataType { return arrow.Null }
func (c *nullWriter) columns() [][]pageOut     { return [][]pageOut{c.out} }

func (c *nullWriter) append(_ *fileWriter, arr arrow.Array) error {
	c.n += int64(arr.Len())
	return nil
}

func (c *nullWriter) flush(*fileWriter) error {
	if c.n > 0 {
		c.out = append(c.out, pageOut{length: uint64(c.n), encoding: encAllNulls()})
		c.n = 0
	}
	return nil
}

// storedLeafType is the type a leaf column of type dt is decoded as.
func storedLeafType(dt arrow.DataType) arrow.DataType {
	switch dt.ID() {
	case arrow.NULL:
		return nullStandIn
	case arrow.DICTIONARY: // stored as its values (buildDictLeaf)
		return dt.(*arrow.DictionaryType).ValueType
	}
	return dt
}

// buildNullLeaf is buildLeafArray for a null leaf below a struct or list,
// decoded as its stand-in.
func buildNullLeaf(parts []*block, n int, valid []bool, alloc memory.Allocator) (arrow.Array, error) {
	a, err := buildLeafArray(nullStandIn, parts, n, valid, alloc)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return nullArrayOf(a)
}
