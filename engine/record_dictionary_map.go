package engine

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/pymarshal"
)

// Records into dictionary and map columns. Neither type is ever inferred
// from a record: the columns come from a dataset pylance wrote or from
// put_arrow, and records fill them.
//
//   - dictionary<values, indices>: a value that fits the value type
//     (str -> string/large_string, bytes -> binary/large_binary; int, float
//     as for a plain column of that type) is stored and dictionary-encoded
//     (Arrow Go builds no large dictionaries: large values are built as
//     small ones, then copied into the large layout). Columns whose
//     values are of another type take None only. Indices of 8 or 16 bits
//     address 128 to 65,536 values: the rows appended between two seals of
//     the row tail (a read, a flush or an Arrow append) may hold at most
//     that many distinct values, and a put bringing one more is refused.
//   - map<k, v>: a Python dict whose keys fit k (never None) and whose
//     values fit v, or a list of (key, value) pairs - what get() returns for
//     a map, as pyarrow does - stored in their order. A list never infers a
//     map: only a column that is a map takes one.

// dictionaryValuesPut says whether records can put values into a
// dictionary column of type t (Arrow Go builds dictionaries of these).
func dictionaryValuesPut(t *arrow.DictionaryType) bool {
	switch t.ValueType.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// newColumnBuilder is array.NewBuilder, except for dictionary columns whose
// values Arrow Go cannot dictionary-encode (large_string, bool, ...):
// records put None there only, so their builder counts nulls.
func newColumnBuilder(alloc memory.Allocator, t arrow.DataType) array.Builder {
	if dt, ok := t.(*arrow.DictionaryType); ok && !dictionaryValuesPut(dt) {
		return &nullDictionaryBuilder{Builder: array.NewNullBuilder(alloc), dt: dt, alloc: alloc}
	}
	if dt, ok := t.(*arrow.DictionaryType); ok && (dt.ValueType.ID() == arrow.LARGE_STRING || dt.ValueType.ID() == arrow.LARGE_BINARY) {
		small := &arrow.DictionaryType{IndexType: dt.IndexType, ValueType: arrow.BinaryTypes.Binary, Ordered: dt.Ordered}
		return &largeDictionaryBuilder{BinaryDictionaryBuilder: array.NewDictionaryBuilder(alloc, small).(*array.BinaryDictionaryBuilder), dt: dt, alloc: alloc}
	}
	return array.NewBuilder(alloc, t)
}

// largeDictionaryBuilder builds dictionaries of large_string or large_binary
// values: a binary dictionary whose values are copied into the large layout.
type largeDictionaryBuilder struct {
	*array.BinaryDictionaryBuilder
	dt    *arrow.DictionaryType
	alloc memory.Allocator
}

func (b *largeDictionaryBuilder) Type() arrow.DataType { return b.dt }

func (b *largeDictionaryBuilder) NewArray() arrow.Array {
	small := b.BinaryDictionaryBuilder.NewDictionaryArray()
	defer small.Release()
	values := small.Dictionary().(*array.Binary)
	large := array.NewBinaryBuilder(b.alloc, arrow.BinaryTypes.LargeBinary)
	defer large.Release()
	large.Reserve(values.Len())
	large.ReserveData(len(values.ValueBytes()))
	for i := 0; i < values.Len(); i++ {
		large.Append(values.Value(i)) // the dictionary holds no nulls
	}
	data := large.NewArray()
	defer data.Release()
	// The same buffers, typed as the column's values (large_string is
	// large_binary's layout).
	typed := array.NewData(b.dt.ValueType, data.Len(), data.Data().Buffers(), nil, 0, 0)
	defer typed.Release()
	dict := array.MakeFromData(typed)
	defer dict.Release()
	return array.NewDictionaryArray(b.dt, small.Indices(), dict)
}

// nullDictionaryBuilder builds all-null dictionary arrays.
type nullDictionaryBuilder struct {
	array.Builder
	dt    *arrow.DictionaryType
	alloc memory.Allocator
}

func (b *nullDictionaryBuilder) Type() arrow.DataType { return b.dt }

func (b *nullDictionaryBuilder) NewArray() arrow.Array {
	n := b.Builder.Len()
	b.Builder.NewArray().Release()
	return array.MakeArrayOfNull(b.alloc, b.dt, n)
}

// newDictionaryColumn sets c up for a dictionary column of type t.
func newDictionaryColumn(c *recordColumn, t *arrow.DictionaryType) {
	if !dictionaryValuesPut(t) {
		c.kind = colNullOnly
		return
	}
	c.kind = colDictionary
	c.item = newRecordColumn(arrow.Field{Type: t.ValueType, Nullable: c.nullable}, c.path)
	if bits := t.IndexType.(arrow.FixedWidthDataType).BitWidth(); bits <= 16 {
		c.dictCap = 1 << bits
		if t.IndexType.ID() == arrow.INT8 || t.IndexType.ID() == arrow.INT16 {
			c.dictCap /= 2
		}
		c.dictSeen = map[string]struct{}{}
	}
}

// newMapColumn sets c up for a map column of type t.
func newMapColumn(c *recordColumn, t *arrow.MapType) {
	c.kind = colMap
	c.key = newRecordColumn(t.KeyField(), c.path+"{key}")
	c.item = newRecordColumn(t.ItemField(), c.path+"{}")
}

// dictKey identifies a checked value among a column's dictionary values.
func dictKey(d *pymarshal.Decoder, v pymarshal.Node) string {
	switch d.Kind(v) {
	case pymarshal.Int:
		return fmt.Sprint("i", d.Int(v))
	case pymarshal.Float:
		return fmt.Sprint("f", math.Float64bits(d.Float(v)))
	case pymarshal.BigInt:
		return fmt.Sprint("b", d.Bytes(v))
	}
	return "s" + string(d.Bytes(v))
}

// dictionaryValue checks a non-None value for a dictionary column.
func (rc *recordChecker) dictionaryValue(c *recordColumn, v pymarshal.Node) error {
	if err := rc.value(c.item, v); err != nil {
		return rc.mismatch(c, v)
	}
	if c.dictCap == 0 {
		return nil
	}
	k := dictKey(rc.d, v)
	if _, ok := c.dictSeen[k]; ok {
		return nil
	}
	if c.dictCall != rc.call || c.dictNew == nil {
		c.dictCall, c.dictNew = rc.call, map[string]struct{}{}
	}
	if _, ok := c.dictNew[k]; ok {
		return nil
	}
	if len(c.dictSeen)+len(c.dictNew) >= c.dictCap {
		return rc.refuse("field %s: %s holds at most %d distinct values until the rows are flushed (or read); %s would be one more",
			pyName(c.path), typeText(c.typ), c.dictCap, describe(rc.d, valueOf(rc.d, v)))
	}
	c.dictNew[k] = struct{}{}
	return nil
}

// mapEntries calls fn with each (key, value) of v, a dict or a list (or
// tuple) of pairs; false when v is neither or an element is no pair (a list
// or a tuple of two items, not a tagged value).
func mapEntries(d *pymarshal.Decoder, v pymarshal.Node, fn func(key, val pymarshal.Node) error) (bool, error) {
	switch d.Kind(v) {
	case pymarshal.Dict:
		for k, key := 0, d.First(v); k < d.Len(v); k++ {
			val := d.Next(key)
			if err := fn(key, val); err != nil {
				return true, err
			}
			key = d.Next(val)
		}
		return true, nil
	case pymarshal.List, pymarshal.Tuple:
		if isTagged(d, v) { // an empty numpy array is a map of no entries
			return valueOf(d, v).kind == kindEmptyList, nil
		}
		for i, pair := 0, d.First(v); i < d.Len(v); i, pair = i+1, d.Next(pair) {
			if k := d.Kind(pair); (k != pymarshal.List && k != pymarshal.Tuple) || d.Len(pair) != 2 || isTagged(d, pair) {
				return false, nil
			}
		}
		for i, pair := 0, d.First(v); i < d.Len(v); i, pair = i+1, d.Next(pair) {
			if err := fn(d.First(pair), d.Next(d.First(pair))); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	return false, nil
}

// mapValue checks a non-None value for a map column.
func (rc *recordChecker) mapValue(c *recordColumn, v pymarshal.Node) error {
	ok, err := mapEntries(rc.d, v, func(key, val pymarshal.Node) error {
		if err := rc.value(c.key, key); err != nil {
			return err
		}
		return rc.value(c.item, val)
	})
	if !ok {
		return rc.mismatch(c, v)
	}
	return err
}

// appendDictionaryValue appends a checked non-None value.
func appendDictionaryValue(d *pymarshal.Decoder, c *recordColumn, v pymarshal.Node) {
	i, f := d.Int(v), 0.0
	switch d.Kind(v) {
	case pymarshal.Float:
		f = d.Float(v)
	case pymarshal.Int:
		f = float64(i)
	case pymarshal.BigInt:
		u, _ := bigUint64(d, valueOf(d, v), c.item.typ)
		i = int64(u)
	}
	// Each append fits: the value was checked against the value type and
	// the dictionary's room.
	switch b := c.build.(type) {
	case *array.BinaryDictionaryBuilder:
		_ = b.Append(d.Bytes(v))
	case *largeDictionaryBuilder:
		_ = b.Append(d.Bytes(v))
	case *array.Int8DictionaryBuilder:
		_ = b.Append(int8(i))
	case *array.Int16DictionaryBuilder:
		_ = b.Append(int16(i))
	case *array.Int32DictionaryBuilder:
		_ = b.Append(int32(i))
	case *array.Int64DictionaryBuilder:
		_ = b.Append(i)
	case *array.Uint8DictionaryBuilder:
		_ = b.Append(uint8(i))
	case *array.Uint16DictionaryBuilder:
		_ = b.Append(uint16(i))
	case *array.Uint32DictionaryBuilder:
		_ = b.Append(uint32(i))
	case *array.Uint64DictionaryBuilder:
		_ = b.Append(uint64(i))
	case *array.Float32DictionaryBuilder:
		_ = b.Append(float32(f))
	case *array.Float64DictionaryBuilder:
		_ = b.Append(f)
	}
	if c.dictCap > 0 {
		c.dictSeen[dictKey(d, v)] = struct{}{}
	}
}

// appendMapValue appends a checked non-None dict to a map column.
func appendMapValue(d *pymarshal.Decoder, c *recordColumn, v pymarshal.Node, gen *uint64) {
	c.build.(*array.MapBuilder).Append(true)
	_, _ = mapEntries(d, v, func(key, val pymarshal.Node) error {
		appendValue(d, c.key, key, gen)
		appendValue(d, c.item, val, gen)
		return nil
	})
}

// resetDictionaries empties the dictionaries of the columns under fields
// once their rows were sealed into a record: the next rows start new ones.
func resetDictionaries(fields *recordFields) {
	var walk func(c *recordColumn)
	walk = func(c *recordColumn) {
		if c == nil {
			return
		}
		switch c.kind {
		case colDictionary:
			c.build.(array.DictionaryBuilder).ResetFull()
			clear(c.dictSeen)
			return
		case colStruct:
			resetDictionaries(&c.fields)
		}
		walk(c.item)
		walk(c.key)
	}
	for _, c := range fields.cols {
		walk(c)
	}
}

// mapType is the rules' check of a dict, or a list of pairs, for a map
// column: the column keeps its type; keys and values must fit it.
func (r *recordRules) mapType(path string, mt *arrow.MapType, rv recordValue, depth, lists int) (arrow.DataType, error) {
	d := r.d
	ok, err := mapEntries(d, rv.node, func(key, val pymarshal.Node) error {
		kv := valueOf(d, key)
		if kv.kind == kindNone {
			return fmt.Errorf("%w: field %s: a map key must not be None", ErrSchemaMismatch, pyName(path))
		}
		if _, err := r.valueType(path+"{key}", mt.KeyType(), kv, false, depth+1, lists); err != nil {
			return err
		}
		_, err := r.valueType(path+"{}", mt.ItemType(), valueOf(d, val), false, depth+1, lists)
		return err
	})
	if !ok {
		return nil, fmt.Errorf("%w: field %s: expected %s (a dict, or a list of (key, value) pairs), found %s", ErrSchemaMismatch, pyName(path), typeText(mt), describe(d, rv))
	}
	if err != nil {
		return nil, err
	}
	return mt, nil
}

// dictionaryMapText names dictionary and map types as pyarrow prints them.
func dictionaryMapText(t arrow.DataType) (string, bool) {
	switch t := t.(type) {
	case *arrow.DictionaryType:
		ordered := 0
		if t.Ordered {
			ordered = 1
		}
		return fmt.Sprintf("dictionary<values=%s, indices=%s, ordered=%d>", typeText(t.ValueType), typeText(t.IndexType), ordered), true
	case *arrow.MapType:
		return fmt.Sprintf("map<%s, %s>", typeText(t.KeyType()), typeText(t.ItemType())), true
	}
	return "", false
}
