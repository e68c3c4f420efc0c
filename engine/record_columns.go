package engine

import (
	"bytes"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/persisting/persisting/pymarshal"
)

// Converting decoded Python records (pymarshal) into Arrow builders, for
// AppendRecords. The rules are strict on purpose: a record is taken only when
// the Python backend would take it unchanged into the bucket's schema (see
// python/persisting/queue.py, _validate and _fits). Everything else is
// refused with ErrSchemaMismatch and nothing appended, so that Python takes
// its Arrow path, which gives the precise error or evolves the schema.
//
//   - every key a str naming a field (non-empty, without '.'), at most once;
//     a field the record leaves out, or None, is null - unless not nullable;
//   - int -> any integer type within its range; int -> float64 while a double
//     holds it exactly (|i| <= 2^53), -> float32 while a float does (2^24);
//     float -> float64/float32;
//     bool -> bool only (never an int); str -> string/large_string;
//     bytes -> binary/large_binary; dict -> struct (same key rules, keys may be
//     left out); list or tuple -> list/large_list of items that fit;
//   - other column types (timestamps, dates, decimals, fixed-size lists ...)
//     take None only: their values cannot come from marshal.

type columnKind uint8

const (
	colNullOnly columnKind = iota
	colInt
	colUint
	colFloat64
	colFloat32
	colBool
	colString
	colLargeString
	colBinary
	colLargeBinary
	colStruct
	colList
	colLargeList
)

// exactDoubleInt is the largest magnitude of an int a float64 column takes
// (Python's _EXACT_DOUBLE_INT); exactFloatInt that of a float32 column, the
// bound pyarrow's conversion enforces (Python's put checks 2^53 there too, and
// then fails when it converts the record: such ints take the Arrow path).
const (
	exactDoubleInt = 1 << 53
	exactFloatInt  = 1 << 24
)

// recordColumn converts values into one Arrow type; bound to its builder.
type recordColumn struct {
	kind     columnKind
	typ      arrow.DataType
	nullable bool
	path     string // for messages: "a", "a.b", "a[]"
	lo, hi   int64  // colInt
	uhi      uint64 // colUint
	item     *recordColumn
	fields   recordFields // colStruct
	build    array.Builder
	bin      *array.BinaryBuilder // string and binary kinds: the bytes builder under build
}

// recordFields maps dict keys to the columns of a record or a struct.
type recordFields struct {
	cols   []*recordColumn
	names  []string // field names; "" for a name no key may take
	byName map[string]int
	stamp  []uint64 // per column: the dict check that last saw its key
}

func newRecordFields(fields []arrow.Field, prefix string) recordFields {
	rf := recordFields{byName: make(map[string]int, len(fields)), stamp: make([]uint64, len(fields)),
		names: make([]string, len(fields))}
	for i, f := range fields {
		rf.cols = append(rf.cols, newRecordColumn(f, prefix+f.Name))
		// Python refuses such keys whatever the schema holds: leave them unreachable.
		if f.Name != "" && !bytes.ContainsRune([]byte(f.Name), '.') {
			rf.byName[f.Name] = i
			rf.names[i] = f.Name
		}
	}
	return rf
}

// lookup finds the column of key name; guess is where it probably is (keys
// mostly come in schema order, as the first record named them), which spares
// the map lookup.
func (f *recordFields) lookup(name []byte, guess int) (int, bool) {
	if guess < len(f.names) && len(name) > 0 && string(name) == f.names[guess] {
		return guess, true
	}
	i, ok := f.byName[string(name)]
	return i, ok
}

func newRecordColumn(f arrow.Field, path string) *recordColumn {
	c := &recordColumn{typ: f.Type, nullable: f.Nullable, path: path}
	switch t := f.Type.(type) {
	case *arrow.Int8Type:
		c.kind, c.lo, c.hi = colInt, math.MinInt8, math.MaxInt8
	case *arrow.Int16Type:
		c.kind, c.lo, c.hi = colInt, math.MinInt16, math.MaxInt16
	case *arrow.Int32Type:
		c.kind, c.lo, c.hi = colInt, math.MinInt32, math.MaxInt32
	case *arrow.Int64Type:
		c.kind, c.lo, c.hi = colInt, math.MinInt64, math.MaxInt64
	case *arrow.Uint8Type:
		c.kind, c.uhi = colUint, math.MaxUint8
	case *arrow.Uint16Type:
		c.kind, c.uhi = colUint, math.MaxUint16
	case *arrow.Uint32Type:
		c.kind, c.uhi = colUint, math.MaxUint32
	case *arrow.Uint64Type:
		c.kind, c.uhi = colUint, math.MaxUint64
	case *arrow.Float64Type:
		c.kind = colFloat64
	case *arrow.Float32Type:
		c.kind = colFloat32
	case *arrow.BooleanType:
		c.kind = colBool
	case *arrow.StringType:
		c.kind = colString
	case *arrow.LargeStringType:
		c.kind = colLargeString
	case *arrow.BinaryType:
		c.kind = colBinary
	case *arrow.LargeBinaryType:
		c.kind = colLargeBinary
	case *arrow.StructType:
		c.kind = colStruct
		c.fields = newRecordFields(t.Fields(), path+".")
	case *arrow.ListType:
		c.kind = colList
		c.item = newRecordColumn(t.ElemField(), path+"[]")
	case *arrow.LargeListType:
		c.kind = colLargeList
		c.item = newRecordColumn(t.ElemField(), path+"[]")
	default:
		c.kind = colNullOnly
	}
	return c
}

// bind attaches c (and its children) to builder b, made for c.typ.
func (c *recordColumn) bind(b array.Builder) {
	c.build = b
	switch c.kind {
	case colString:
		c.bin = b.(*array.StringBuilder).BinaryBuilder
	case colLargeString:
		c.bin = b.(*array.LargeStringBuilder).BinaryBuilder
	case colBinary, colLargeBinary:
		c.bin = b.(*array.BinaryBuilder)
	case colStruct:
		sb := b.(*array.StructBuilder)
		for i, child := range c.fields.cols {
			child.bind(sb.FieldBuilder(i))
		}
	case colList:
		c.item.bind(b.(*array.ListBuilder).ValueBuilder())
	case colLargeList:
		c.item.bind(b.(*array.LargeListBuilder).ValueBuilder())
	}
}

func (c *recordColumn) describe() string { return fmt.Sprintf("field %q", c.path) }

// recordChecker validates decoded values against columns; gen numbers the
// dict checks, so that duplicate and missing keys are found without
// clearing per-call state.
type recordChecker struct {
	d   *pymarshal.Decoder
	gen uint64
}

func (rc *recordChecker) mismatch(c *recordColumn, v pymarshal.Node, why string) error {
	return fmt.Errorf("%w: field %q: expected %s, found %s%s", ErrSchemaMismatch, c.path, c.typ, rc.d.Kind(v), why)
}

// dict checks a dict against fields; what says what it is, for messages
// (a function, so that no message is formatted unless needed).
func (rc *recordChecker) dict(fields *recordFields, v pymarshal.Node, what func() string) error {
	d := rc.d
	rc.gen++
	gen := rc.gen
	n := d.Len(v)
	guess := 0
	for k, key := 0, d.First(v); k < n; k++ {
		val := d.Next(key)
		if d.Kind(key) != pymarshal.Str {
			return fmt.Errorf("%w: %s has a key of type %s (field names are str)", ErrSchemaMismatch, what(), d.Kind(key))
		}
		name := d.Bytes(key)
		i, ok := fields.lookup(name, guess)
		if !ok {
			return fmt.Errorf("%w: %s has key %q, not a field of the schema", ErrSchemaMismatch, what(), name)
		}
		guess = i + 1
		if fields.stamp[i] == gen {
			return fmt.Errorf("%w: %s has key %q twice", ErrSchemaMismatch, what(), name)
		}
		fields.stamp[i] = gen
		if err := rc.value(fields.cols[i], val); err != nil {
			return err
		}
		key = d.Next(val)
	}
	for i, c := range fields.cols {
		if fields.stamp[i] != gen && !c.nullable {
			return fmt.Errorf("%w: field %q is missing and not nullable", ErrSchemaMismatch, c.path)
		}
	}
	return nil
}

func (rc *recordChecker) value(c *recordColumn, v pymarshal.Node) error {
	d := rc.d
	k := d.Kind(v)
	if k == pymarshal.None {
		if !c.nullable {
			return fmt.Errorf("%w: field %q is None but not nullable", ErrSchemaMismatch, c.path)
		}
		return nil
	}
	switch c.kind {
	case colInt:
		if k != pymarshal.Int {
			return rc.mismatch(c, v, "")
		}
		if i := d.Int(v); i < c.lo || i > c.hi {
			return rc.mismatch(c, v, fmt.Sprintf(" %d (out of range)", i))
		}
	case colUint:
		if k != pymarshal.Int {
			return rc.mismatch(c, v, "")
		}
		if i := d.Int(v); i < 0 || uint64(i) > c.uhi {
			return rc.mismatch(c, v, fmt.Sprintf(" %d (out of range)", i))
		}
	case colFloat64, colFloat32:
		switch k {
		case pymarshal.Float:
		case pymarshal.Int:
			limit := int64(exactDoubleInt)
			if c.kind == colFloat32 {
				limit = exactFloatInt
			}
			if i := d.Int(v); i < -limit || i > limit {
				return rc.mismatch(c, v, fmt.Sprintf(" %d (the float type does not hold it exactly)", i))
			}
		default:
			return rc.mismatch(c, v, "")
		}
	case colBool:
		if k != pymarshal.Bool {
			return rc.mismatch(c, v, "")
		}
	case colString, colLargeString:
		if k != pymarshal.Str {
			return rc.mismatch(c, v, "")
		}
	case colBinary, colLargeBinary:
		if k != pymarshal.Bytes {
			return rc.mismatch(c, v, "")
		}
	case colStruct:
		if k != pymarshal.Dict {
			return rc.mismatch(c, v, "")
		}
		return rc.dict(&c.fields, v, c.describe)
	case colList, colLargeList:
		if k != pymarshal.List && k != pymarshal.Tuple {
			return rc.mismatch(c, v, "")
		}
		for i, item := 0, d.First(v); i < d.Len(v); i, item = i+1, d.Next(item) {
			if err := rc.value(c.item, item); err != nil {
				return err
			}
		}
	default:
		return rc.mismatch(c, v, " (this path takes only None for such a column)")
	}
	return nil
}

// appendDict appends a checked dict's values to fields' builders, null for
// the keys it leaves out. It cannot fail: check ran first.
func appendDict(d *pymarshal.Decoder, fields *recordFields, v pymarshal.Node, gen *uint64) {
	*gen++
	g := *gen
	n := d.Len(v)
	guess := 0
	for k, key := 0, d.First(v); k < n; k++ {
		val := d.Next(key)
		i, _ := fields.lookup(d.Bytes(key), guess)
		guess = i + 1
		fields.stamp[i] = g
		appendValue(d, fields.cols[i], val, gen)
		key = d.Next(val)
	}
	for i, c := range fields.cols {
		if fields.stamp[i] != g {
			c.build.AppendNull()
		}
	}
}

func appendValue(d *pymarshal.Decoder, c *recordColumn, v pymarshal.Node, gen *uint64) {
	k := d.Kind(v)
	if k == pymarshal.None {
		c.build.AppendNull()
		return
	}
	switch c.kind {
	case colInt:
		i := d.Int(v)
		switch b := c.build.(type) {
		case *array.Int64Builder:
			b.Append(i)
		case *array.Int32Builder:
			b.Append(int32(i))
		case *array.Int16Builder:
			b.Append(int16(i))
		case *array.Int8Builder:
			b.Append(int8(i))
		}
	case colUint:
		u := uint64(d.Int(v))
		switch b := c.build.(type) {
		case *array.Uint64Builder:
			b.Append(u)
		case *array.Uint32Builder:
			b.Append(uint32(u))
		case *array.Uint16Builder:
			b.Append(uint16(u))
		case *array.Uint8Builder:
			b.Append(uint8(u))
		}
	case colFloat64, colFloat32:
		f := d.Float(v)
		if k == pymarshal.Int {
			f = float64(d.Int(v))
		}
		if c.kind == colFloat64 {
			c.build.(*array.Float64Builder).Append(f)
		} else {
			c.build.(*array.Float32Builder).Append(float32(f))
		}
	case colBool:
		c.build.(*array.BooleanBuilder).Append(d.Bool(v))
	case colString, colLargeString, colBinary, colLargeBinary:
		c.bin.Append(d.Bytes(v))
	case colStruct:
		c.build.(*array.StructBuilder).Append(true)
		appendDict(d, &c.fields, v, gen)
	case colList, colLargeList:
		c.build.(array.ListLikeBuilder).Append(true)
		for i, item := 0, d.First(v); i < d.Len(v); i, item = i+1, d.Next(item) {
			appendValue(d, c.item, item, gen)
		}
	}
}
