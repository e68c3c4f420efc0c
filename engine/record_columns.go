package engine

import (
	"bytes"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/float16"

	"github.com/persisting/persisting/pymarshal"
)

// Converting decoded records (pymarshal) into Arrow builders. A column
// converts only values it stores exactly as they are: the record rules
// (record_rules.go) decide what a record may hold and what the schema becomes;
// this is the conversion into a schema the rules settled, and its check is the
// hot path of a put whose record changes nothing. Anything it refuses goes to
// the rules, which give the error or the new schema:
//
//   - every key a str naming a field, at most once; a field the record
//     leaves out, or None, is null - unless not nullable;
//   - int -> an integer type within its range, or a float type that holds it
//     exactly; float -> float64/float32; bool -> bool only (never an int);
//     str (UTF-8) -> string/large_string; bytes -> binary/large_binary;
//     tagged timestamps, dates and decimals -> timestamp (naive or zoned as
//     the value), date32/date64, decimal128 at the column's scale,
//     time32/time64/duration in the column's unit (record_time_types.go);
//     dict -> struct (keys may be left out); list or tuple -> list/large_list,
//     or fixed_size_list of its length, of items that fit; a value that fits
//     a dictionary's values -> that dictionary, dict -> map
//     (record_dictionary_map.go);
//   - an untyped (null) column and columns of other types take None only.

type columnKind uint8

const (
	colNullOnly columnKind = iota
	colInt
	colUint
	colFloat64
	colFloat32
	colFloat16
	colBool
	colString
	colLargeString
	colBinary
	colLargeBinary
	colStruct
	colList
	colLargeList
	colFixedList
	colTimestamp
	colDate32
	colDate64
	colTime        // time32, time64, duration (record_time_types.go)
	colDecimal     // decimal128, decimal256 (record_fixed_types.go)
	colFixedBinary // fixed_size_binary (record_fixed_types.go)
	colDictionary  // record_dictionary_map.go
	colMap
	colBool8 // arrow.bool8: int8 storage, takes bools
)

// recordColumn converts values into one Arrow type; bound to its builder.
type recordColumn struct {
	kind     columnKind
	typ      arrow.DataType
	nullable bool
	path     string // for messages: "a", "a.b", "a[]"
	lo, hi   int64  // colInt
	uhi      uint64 // colUint
	unit     arrow.TimeUnit
	zoned    bool          // colTimestamp: with a time zone (takes aware values)
	size     int           // colFixedList
	item     *recordColumn // list items; colDictionary: the value check; colMap: values
	key      *recordColumn // colMap
	fields   recordFields  // colStruct
	// colDictionary with 8- or 16-bit indices: how many values the
	// dictionary builder can take, the values it holds and those a check
	// (call dictCall) would add
	dictCap           int
	dictSeen, dictNew map[string]struct{}
	dictCall          uint64
	build             array.Builder
	bin               *array.BinaryBuilder // string and binary kinds: the bytes builder under build
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
		// The rules refuse such keys whatever the schema holds: leave them unreachable.
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
	case *arrow.Float16Type:
		c.kind = colFloat16
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
	case *arrow.FixedSizeListType:
		c.kind, c.size = colFixedList, int(t.Len())
		c.item = newRecordColumn(t.ElemField(), path+"[]")
	case *arrow.TimestampType:
		c.kind, c.unit, c.zoned = colTimestamp, t.Unit, t.TimeZone != ""
	case *arrow.Date32Type:
		c.kind = colDate32
	case *arrow.Date64Type:
		c.kind = colDate64
	case *arrow.Time32Type, *arrow.Time64Type, *arrow.DurationType:
		c.kind = colTime
	case *arrow.Decimal128Type, *arrow.Decimal256Type:
		c.kind = colDecimal
	case *arrow.FixedSizeBinaryType:
		c.kind = colFixedBinary
	case *arrow.DictionaryType:
		newDictionaryColumn(c, t)
	case *arrow.MapType:
		newMapColumn(c, t)
	default:
		c.kind = colNullOnly
	}
	if isBool8(f) {
		c.kind = colBool8
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
	case colFixedList:
		c.item.bind(b.(*array.FixedSizeListBuilder).ValueBuilder())
	case colMap:
		c.key.bind(b.(*array.MapBuilder).KeyBuilder())
		c.item.bind(b.(*array.MapBuilder).ItemBuilder())
	}
}

// recordChecker checks decoded values against columns; gen numbers the dict
// checks, so that duplicate and missing keys are found without clearing
// per-call state. Unless explain is set a refusal is errNotExact, which costs
// nothing to make: the caller then asks the rules.
type recordChecker struct {
	d       *pymarshal.Decoder
	gen     uint64
	call    uint64 // numbers checkRecords calls
	explain bool
}

// errNotExact: a value the columns do not take as it is.
var errNotExact = fmt.Errorf("%w: a value does not fit its column as it is", ErrSchemaMismatch)

func (rc *recordChecker) mismatch(c *recordColumn, v pymarshal.Node) error {
	if !rc.explain {
		return errNotExact
	}
	rv := valueOf(rc.d, v)
	return fmt.Errorf("%w: field %s: expected %s, found %s%s", ErrSchemaMismatch, pyName(c.path), typeText(c.typ), describe(rc.d, rv), whyNotFixedType(rc.d, c.typ, rv))
}

func (rc *recordChecker) refuse(format string, args ...any) error {
	if !rc.explain {
		return errNotExact
	}
	return fmt.Errorf("%w: "+format, append([]any{ErrSchemaMismatch}, args...)...)
}

// dict checks a dict against fields; path names it ("" for a record).
func (rc *recordChecker) dict(fields *recordFields, v pymarshal.Node, path string) error {
	d := rc.d
	rc.gen++
	gen := rc.gen
	n := d.Len(v)
	if n == 0 && path == "" {
		return rc.refuse("a record must not be empty")
	}
	guess := 0
	for k, key := 0, d.First(v); k < n; k++ {
		val := d.Next(key)
		if d.Kind(key) != pymarshal.Str {
			return rc.refuse("field names must be str")
		}
		name := d.Bytes(key)
		i, ok := fields.lookup(name, guess)
		if !ok {
			return rc.refuse("%s has key %s, not a field of the schema", describePath(path), pyQuote(name, 80))
		}
		guess = i + 1
		if fields.stamp[i] == gen {
			return rc.refuse("%s has key %s twice", describePath(path), pyQuote(name, 80))
		}
		fields.stamp[i] = gen
		if err := rc.value(fields.cols[i], val); err != nil {
			return err
		}
		key = d.Next(val)
	}
	for i, c := range fields.cols {
		if fields.stamp[i] != gen && !c.nullable {
			return rc.refuse("field %s is missing and not nullable", pyName(c.path))
		}
	}
	return nil
}

func describePath(path string) string {
	if path == "" {
		return "the record"
	}
	return "field " + pyName(path)
}

// isTagged says whether a tuple is a tagged value (it starts with Ellipsis).
func isTagged(d *pymarshal.Decoder, v pymarshal.Node) bool {
	return d.Len(v) > 0 && d.Kind(d.First(v)) == pymarshal.Ellipsis
}

// listLen is the number of items of a value a list column takes - a list, a
// tuple that is not tagged, a tagged "empty" (none) - and false for others.
func listLen(d *pymarshal.Decoder, v pymarshal.Node) (int, bool) {
	switch k := d.Kind(v); {
	case k == pymarshal.List || k == pymarshal.Tuple && !isTagged(d, v):
		return d.Len(v), true
	case k == pymarshal.Tuple:
		return 0, valueOf(d, v).kind == kindEmptyList
	}
	return 0, false
}

func (rc *recordChecker) value(c *recordColumn, v pymarshal.Node) error {
	d := rc.d
	k := d.Kind(v)
	if k == pymarshal.None {
		if !c.nullable {
			return rc.refuse("field %s: expected a value (not nullable), found None", pyName(c.path))
		}
		return nil
	}
	switch c.kind {
	case colInt:
		if k != pymarshal.Int {
			return rc.mismatch(c, v)
		}
		if i := d.Int(v); i < c.lo || i > c.hi {
			return rc.mismatch(c, v)
		}
	case colUint:
		if k == pymarshal.BigInt {
			if _, ok := bigUint64(d, valueOf(d, v), c.typ); ok {
				return nil
			}
			return rc.mismatch(c, v)
		}
		if k != pymarshal.Int {
			return rc.mismatch(c, v)
		}
		if i := d.Int(v); i < 0 || uint64(i) > c.uhi {
			return rc.mismatch(c, v)
		}
	case colFloat64, colFloat32, colFloat16:
		switch k {
		case pymarshal.Float:
		case pymarshal.Int:
			if limit := exactIntLimit(c.typ.ID()); d.Int(v) < -limit || d.Int(v) > limit {
				return rc.mismatch(c, v)
			}
		default:
			return rc.mismatch(c, v)
		}
	case colBool:
		if k != pymarshal.Bool {
			return rc.mismatch(c, v)
		}
	case colBool8:
		if k != pymarshal.Bool {
			return rc.refuse("field %s: expected arrow.bool8 (a bool), found %s", pyName(c.path), describe(d, valueOf(d, v)))
		}
	case colString, colLargeString:
		if k != pymarshal.Str || !d.ValidUTF8(v) {
			return rc.mismatch(c, v)
		}
	case colBinary, colLargeBinary:
		if k != pymarshal.Bytes {
			return rc.mismatch(c, v)
		}
	case colFixedBinary:
		if k != pymarshal.Bytes && k != pymarshal.Tuple || !fits(d, c.typ, valueOf(d, v)) {
			return rc.mismatch(c, v)
		}
	case colTimestamp, colDate32, colDate64, colDecimal, colTime:
		if k != pymarshal.Tuple || !fits(d, c.typ, valueOf(d, v)) {
			return rc.mismatch(c, v)
		}
	case colStruct:
		if k != pymarshal.Dict {
			return rc.mismatch(c, v)
		}
		return rc.dict(&c.fields, v, c.path)
	case colDictionary:
		return rc.dictionaryValue(c, v)
	case colMap:
		return rc.mapValue(c, v)
	case colList, colLargeList, colFixedList:
		n, ok := listLen(d, v)
		if !ok {
			return rc.mismatch(c, v)
		}
		if c.kind == colFixedList && n != c.size {
			return rc.refuse("field %s: expected %s (%d elements), found %d elements", pyName(c.path), typeText(c.typ), c.size, n)
		}
		for i, item := 0, d.First(v); i < n; i, item = i+1, d.Next(item) {
			if err := rc.value(c.item, item); err != nil {
				return err
			}
		}
	default:
		return rc.mismatch(c, v)
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
		if k == pymarshal.BigInt {
			u, _ = bigUint64(d, valueOf(d, v), c.typ)
		}
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
	case colFloat64, colFloat32, colFloat16:
		f := d.Float(v)
		if k == pymarshal.Int {
			f = float64(d.Int(v))
		}
		switch b := c.build.(type) {
		case *array.Float64Builder:
			b.Append(f)
		case *array.Float32Builder:
			b.Append(float32(f))
		case *array.Float16Builder:
			b.Append(float16.New(float32(f)))
		}
	case colBool:
		c.build.(*array.BooleanBuilder).Append(d.Bool(v))
	case colBool8:
		var b int8
		if d.Bool(v) {
			b = 1
		}
		c.build.(*array.Int8Builder).Append(b)
	case colString, colLargeString, colBinary, colLargeBinary:
		value := d.Bytes(v)
		if n := len(value); n >= 1<<20 && n > c.bin.DataLen() {
			// Room of the value's size: Append would round the room up
			// to a power of two, up to twice a big value (a tensor).
			// Still at least doubling, so many big values cost no more
			// copying than Append's own growth.
			c.bin.ReserveData(n)
		}
		c.bin.Append(value)
	case colStruct:
		c.build.(*array.StructBuilder).Append(true)
		appendDict(d, &c.fields, v, gen)
	case colDictionary:
		appendDictionaryValue(d, c, v)
	case colMap:
		appendMapValue(d, c, v, gen)
	case colList, colLargeList, colFixedList:
		c.build.(array.ListLikeBuilder).Append(true)
		n, _ := listLen(d, v)
		for i, item := 0, d.First(v); i < n; i, item = i+1, d.Next(item) {
			appendValue(d, c.item, item, gen)
		}
	case colTimestamp:
		rv := valueOf(d, v)
		n, _ := rv.ticks(d)
		ts, _ := ticksIn(n, rv.unit, c.unit)
		c.build.(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
	case colDate32:
		c.build.(*array.Date32Builder).Append(arrow.Date32(d.Int(tagArg(d, v))))
	case colDate64:
		c.build.(*array.Date64Builder).Append(arrow.Date64(d.Int(tagArg(d, v)) * 86400000))
	case colDecimal, colFixedBinary:
		appendFixedType(d, c, v)
	case colTime:
		appendTimeType(d, c, v)
	}
}

// tagArg is the payload of a tagged value (its third item).
func tagArg(d *pymarshal.Decoder, v pymarshal.Node) pymarshal.Node {
	return d.Next(d.Next(d.First(v)))
}
