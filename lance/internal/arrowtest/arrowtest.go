// Package arrowtest generates random Arrow data of every type the Lance
// packages handle (nulls at every level, empty values, non-ASCII strings,
// long values) and compares arrays exactly. It is used by tests only.
package arrowtest

import (
	"fmt"
	"math"
	"math/rand"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/schema"
)

// GenOptions shape generated data.
type GenOptions struct {
	NullRate  float64 // probability of a null at every nullable level
	ItemNulls bool    // nulls inside fixed_size_list values
	MaxList   int     // list lengths are 0..MaxList
	LongRate  float64 // probability of a long (300..2000 bytes) string/binary value
	// Pool > 0 draws integers, strings and binary values from that many
	// distinct values (small non-negative integers): the data writers
	// dictionary-encode and bit-pack.
	Pool int
	// Text makes strings log-like lines of words (what FSST compresses).
	Text bool
	// Runs > 0 repeats each drawn row value (null or not) 1..2*Runs times
	// in a row: the data writers run-length encode such columns, and a
	// batch shorter than its first run is constant (or all null).
	Runs int
}

// DefaultGen is what the tests use unless they say otherwise.
var DefaultGen = GenOptions{NullRate: 0.15, ItemNulls: true, MaxList: 4, LongRate: 0.02}

var genRunes = []string{"a", "b", "z", "0", " ", "é", "ß", "✓", "日本", "🙂", "\x00", "Ω"}

var genWords = strings.Fields("error warn user id= request GET /api/v1 took ms ok failed retry 200 404 é 日本")

func genString(rng *rand.Rand, o GenOptions) string {
	if o.Pool > 0 && rng.Intn(8) != 0 {
		k := rng.Intn(o.Pool)
		return fmt.Sprintf("pool-%d-%s", k, genRunes[k%len(genRunes)])
	}
	if o.Text {
		var sb strings.Builder
		for k, n := 0, 3+rng.Intn(12); k < n; k++ {
			sb.WriteString(genWords[rng.Intn(len(genWords))])
			sb.WriteByte(' ')
		}
		return sb.String()
	}
	n := rng.Intn(12)
	if rng.Float64() < o.LongRate {
		n = 300 + rng.Intn(1700)
	}
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(genRunes[rng.Intn(len(genRunes))])
	}
	return sb.String()
}

func genBytes(rng *rand.Rand, o GenOptions) []byte {
	if o.Pool > 0 && rng.Intn(8) != 0 {
		return []byte{byte(rng.Intn(o.Pool)), 0, 7}
	}
	n := rng.Intn(16)
	if rng.Float64() < o.LongRate {
		n = 300 + rng.Intn(1700)
	}
	b := make([]byte, n)
	rng.Read(b)
	return b
}

func genFloat(rng *rand.Rand) float64 {
	switch rng.Intn(20) {
	case 0:
		return math.Inf(1)
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return 0
	case 3:
		return math.MaxFloat32
	}
	return rng.NormFloat64() * 1000
}

// genInt returns a random integer, often small, sometimes extreme.
func genInt(rng *rand.Rand, o GenOptions) uint64 {
	if o.Pool > 0 && rng.Intn(8) != 0 {
		return uint64(rng.Intn(o.Pool) * 37)
	}
	switch rng.Intn(8) {
	case 0:
		return rng.Uint64()
	case 1:
		return uint64(rng.Intn(3))
	}
	return uint64(rng.Int63n(2000) - 1000)
}

// AppendNullDeep appends a null, and nulls to every child of a struct (so
// a null struct hides no child values: Lance stores none under it).
func AppendNullDeep(b array.Builder) {
	b.AppendNull()
	if sb, ok := b.(*array.StructBuilder); ok {
		for i := 0; i < sb.NumField(); i++ {
			AppendNullDeep(sb.FieldBuilder(i))
		}
	}
}

// GenValue appends one random value of type dt to b.
func GenValue(rng *rand.Rand, b array.Builder, dt arrow.DataType, nullable bool, o GenOptions) {
	if nullable && rng.Float64() < o.NullRate {
		AppendNullDeep(b)
		return
	}
	switch dt.ID() {
	case arrow.INT8:
		b.(*array.Int8Builder).Append(int8(genInt(rng, o)))
	case arrow.INT16:
		b.(*array.Int16Builder).Append(int16(genInt(rng, o)))
	case arrow.INT32:
		b.(*array.Int32Builder).Append(int32(genInt(rng, o)))
	case arrow.INT64:
		b.(*array.Int64Builder).Append(int64(genInt(rng, o)))
	case arrow.UINT8:
		b.(*array.Uint8Builder).Append(uint8(genInt(rng, o)))
	case arrow.UINT16:
		b.(*array.Uint16Builder).Append(uint16(genInt(rng, o)))
	case arrow.UINT32:
		b.(*array.Uint32Builder).Append(uint32(genInt(rng, o)))
	case arrow.UINT64:
		b.(*array.Uint64Builder).Append(genInt(rng, o))
	case arrow.FLOAT32:
		b.(*array.Float32Builder).Append(float32(genFloat(rng)))
	case arrow.FLOAT64:
		b.(*array.Float64Builder).Append(genFloat(rng))
	case arrow.BOOL:
		b.(*array.BooleanBuilder).Append(rng.Intn(2) == 0)
	case arrow.STRING:
		b.(*array.StringBuilder).Append(genString(rng, o))
	case arrow.LARGE_STRING:
		b.(*array.LargeStringBuilder).Append(genString(rng, o))
	case arrow.BINARY, arrow.LARGE_BINARY:
		b.(*array.BinaryBuilder).Append(genBytes(rng, o))
	case arrow.TIMESTAMP:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(rng.Int63n(4e12) - 2e12))
	case arrow.DATE32:
		b.(*array.Date32Builder).Append(arrow.Date32(rng.Int31n(200000) - 100000))
	case arrow.FIXED_SIZE_LIST:
		t := dt.(*arrow.FixedSizeListType)
		lb := b.(*array.FixedSizeListBuilder)
		lb.Append(true)
		for k := 0; k < int(t.Len()); k++ {
			GenValue(rng, lb.ValueBuilder(), t.Elem(), o.ItemNulls && t.ElemField().Nullable, o)
		}
	case arrow.LIST, arrow.LARGE_LIST:
		ef := dt.(arrow.ListLikeType).ElemField()
		lb := b.(array.ListLikeBuilder)
		lb.Append(true)
		for k, n := 0, rng.Intn(o.MaxList+1); k < n; k++ {
			GenValue(rng, lb.ValueBuilder(), ef.Type, ef.Nullable, o)
		}
	case arrow.STRUCT:
		t := dt.(*arrow.StructType)
		sb := b.(*array.StructBuilder)
		sb.Append(true)
		for i, f := range t.Fields() {
			GenValue(rng, sb.FieldBuilder(i), f.Type, f.Nullable, o)
		}
	default:
		panic("genValue: type " + dt.String())
	}
}

// GenRecord builds n random rows of sch.
func GenRecord(rng *rand.Rand, sch *arrow.Schema, n int, o GenOptions) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i, f := range sch.Fields() {
		fb := b.Field(i)
		if o.Runs == 0 {
			for r := 0; r < n; r++ {
				GenValue(rng, fb, f.Type, f.Nullable, o)
			}
			continue
		}
		for r := 0; r < n; {
			// The same seed draws the same value again.
			run, seed := 1+rng.Intn(2*o.Runs), rng.Int63()
			for k := 0; k < run && r < n; k, r = k+1, r+1 {
				GenValue(rand.New(rand.NewSource(seed)), fb, f.Type, f.Nullable, o)
			}
		}
	}
	return b.NewRecord()
}

// DiffArrays compares two arrays exactly: type, length, nulls, values
// (floats by their text form, which is exact and tells -0 from 0; struct
// children only where the struct is valid). It returns "" when they are
// equal, otherwise where they first differ.
func DiffArrays(want, got arrow.Array) string {
	if !schema.TypeEqual(want.DataType(), got.DataType()) {
		return fmt.Sprintf("type %s, want %s", got.DataType(), want.DataType())
	}
	if want.Len() != got.Len() {
		return fmt.Sprintf("%d rows, want %d", got.Len(), want.Len())
	}
	for i := 0; i < want.Len(); i++ {
		if d := DiffValue(want, got, i, i); d != "" {
			return fmt.Sprintf("row %d: %s", i, d)
		}
	}
	return ""
}

func DiffValue(want, got arrow.Array, i, j int) string {
	if want.IsNull(i) != got.IsNull(j) {
		return fmt.Sprintf("null %v, want null %v (want %s)", got.IsNull(j), want.IsNull(i), short(want.ValueStr(i)))
	}
	if want.IsNull(i) {
		return ""
	}
	switch w := want.(type) {
	case *array.Struct:
		g := got.(*array.Struct)
		for f := 0; f < w.NumField(); f++ {
			if d := DiffValue(w.Field(f), g.Field(f), i, j); d != "" {
				return fmt.Sprintf("field %d: %s", f, d)
			}
		}
		return ""
	case array.ListLike:
		g := got.(array.ListLike)
		ws, we := w.ValueOffsets(i)
		gs, ge := g.ValueOffsets(j)
		if we-ws != ge-gs {
			return fmt.Sprintf("list of %d items, want %d", ge-gs, we-ws)
		}
		for k := int64(0); k < we-ws; k++ {
			if d := DiffValue(w.ListValues(), g.ListValues(), int(ws+k), int(gs+k)); d != "" {
				return fmt.Sprintf("item %d: %s", k, d)
			}
		}
		return ""
	}
	if ws, gs := want.ValueStr(i), got.ValueStr(j); ws != gs {
		return fmt.Sprintf("%s, want %s", short(gs), short(ws))
	}
	return ""
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// DiffRecords compares recs (in order) with rows [from, from+n) of the
// columns want.
func DiffRecords(recs []arrow.Record, want []arrow.Array, from, n int64) string {
	var total int64
	for _, r := range recs {
		total += r.NumRows()
	}
	if total != n {
		return fmt.Sprintf("%d rows, want %d", total, n)
	}
	row := from
	for _, r := range recs {
		if int(r.NumCols()) != len(want) {
			return fmt.Sprintf("%d columns, want %d", r.NumCols(), len(want))
		}
		for c := range want {
			exp := array.NewSlice(want[c], row, row+r.NumRows())
			d := DiffArrays(exp, r.Column(c))
			exp.Release()
			if d != "" {
				return fmt.Sprintf("column %q, rows from %d: %s", r.Schema().Field(c).Name, row, d)
			}
		}
		row += r.NumRows()
	}
	return ""
}

// Nullable is a nullable field.
func Nullable(name string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: dt, Nullable: true}
}

// VecType is fixed_size_list<float32>[dim] with nullable items.
func VecType(dim int32) arrow.DataType {
	return arrow.FixedSizeListOfField(dim, Nullable("item", arrow.PrimitiveTypes.Float32))
}

// FlatTypes are the non-nested column types of issue #3.
func FlatTypes() []arrow.Field {
	return []arrow.Field{
		Nullable("i8", arrow.PrimitiveTypes.Int8), Nullable("i16", arrow.PrimitiveTypes.Int16),
		Nullable("i32", arrow.PrimitiveTypes.Int32), Nullable("i64", arrow.PrimitiveTypes.Int64),
		Nullable("u8", arrow.PrimitiveTypes.Uint8), Nullable("u16", arrow.PrimitiveTypes.Uint16),
		Nullable("u32", arrow.PrimitiveTypes.Uint32), Nullable("u64", arrow.PrimitiveTypes.Uint64),
		Nullable("f32", arrow.PrimitiveTypes.Float32), Nullable("f64", arrow.PrimitiveTypes.Float64),
		Nullable("b", arrow.FixedWidthTypes.Boolean),
		Nullable("s", arrow.BinaryTypes.String), Nullable("ls", arrow.BinaryTypes.LargeString),
		Nullable("bin", arrow.BinaryTypes.Binary), Nullable("lbin", arrow.BinaryTypes.LargeBinary),
		Nullable("ts_s", &arrow.TimestampType{Unit: arrow.Second}),
		Nullable("ts_ms", &arrow.TimestampType{Unit: arrow.Millisecond}),
		Nullable("ts_us", &arrow.TimestampType{Unit: arrow.Microsecond}),
		Nullable("ts_ns", &arrow.TimestampType{Unit: arrow.Nanosecond}),
		Nullable("ts_s_tz", &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}),
		Nullable("ts_ms_tz", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}),
		Nullable("ts_us_tz", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}),
		Nullable("ts_ns_tz", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "America/New_York"}),
		Nullable("d32", arrow.FixedWidthTypes.Date32),
	}
}

// NestedTypes are the nested column types of issue #3.
func NestedTypes() []arrow.Field {
	return []arrow.Field{
		Nullable("vec4", VecType(4)),
		Nullable("vec768", VecType(768)),
		Nullable("l_i64", arrow.ListOfField(Nullable("item", arrow.PrimitiveTypes.Int64))),
		Nullable("l_str", arrow.ListOfField(Nullable("item", arrow.BinaryTypes.String))),
		Nullable("ll_i32", arrow.LargeListOfField(Nullable("item", arrow.PrimitiveTypes.Int32))),
		Nullable("ll_str", arrow.LargeListOfField(Nullable("item", arrow.BinaryTypes.LargeString))),
		Nullable("st", arrow.StructOf(
			Nullable("a", arrow.PrimitiveTypes.Int32),
			Nullable("b", arrow.BinaryTypes.String),
			Nullable("c", arrow.StructOf(Nullable("d", arrow.PrimitiveTypes.Float64), Nullable("e", arrow.ListOfField(Nullable("item", arrow.PrimitiveTypes.Int32))))),
		)),
		Nullable("l_st", arrow.ListOfField(Nullable("item", arrow.StructOf(Nullable("p", arrow.PrimitiveTypes.Int16), Nullable("q", arrow.BinaryTypes.String))))),
	}
}

// AllTypesSchema has one column of every type of issue #3.
func AllTypesSchema() *arrow.Schema {
	return arrow.NewSchema(append(FlatTypes(), NestedTypes()...), nil)
}

// RandomType returns a random column type from the types of issue #3:
// any flat type, fixed_size_list<float32> (at the top level or in a
// struct), list and large_list of flat types or structs, and structs of
// those, at most depth levels of nesting. nested=false returns flat types
// only.
func RandomType(rng *rand.Rand, nested bool, depth int) arrow.DataType {
	flat := FlatTypes()
	if !nested || depth <= 0 || rng.Intn(10) < 5 {
		return flat[rng.Intn(len(flat))].Type
	}
	return randomNested(rng, depth, true)
}

func randomNested(rng *rand.Rand, depth int, vecOK bool) arrow.DataType {
	flat := FlatTypes()
	leaf := func() arrow.DataType { return flat[rng.Intn(len(flat))].Type }
	switch k := rng.Intn(10); {
	case k < 2 && vecOK:
		dims := []int32{1, 2, 3, 4, 8, 16, 100, 768}
		d := dims[rng.Intn(len(dims))]
		if d == 768 && rng.Intn(3) != 0 {
			d = 64 // 768 is slow to generate: keep it rare
		}
		return VecType(d)
	case k < 6:
		var elem arrow.DataType
		if depth > 1 && rng.Intn(3) == 0 {
			elem = randomStruct(rng, depth-1, false)
		} else {
			elem = leaf()
		}
		if rng.Intn(2) == 0 {
			return arrow.ListOfField(Nullable("item", elem))
		}
		return arrow.LargeListOfField(Nullable("item", elem))
	default:
		return randomStruct(rng, depth, true)
	}
}

func randomStruct(rng *rand.Rand, depth int, vecOK bool) arrow.DataType {
	flat := FlatTypes()
	n := 1 + rng.Intn(3)
	fields := make([]arrow.Field, n)
	for i := range fields {
		var dt arrow.DataType
		if depth > 1 && rng.Intn(2) == 0 {
			dt = randomNested(rng, depth-1, vecOK)
		} else {
			dt = flat[rng.Intn(len(flat))].Type
		}
		fields[i] = Nullable(fmt.Sprintf("f%d", i), dt)
	}
	return arrow.StructOf(fields...)
}

// RandomSchema returns 1..maxCols columns of random types (see RandomType);
// some top-level columns are not nullable.
func RandomSchema(rng *rand.Rand, nested bool, maxCols int) *arrow.Schema {
	n := 1 + rng.Intn(maxCols)
	fields := make([]arrow.Field, n)
	for i := range fields {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: RandomType(rng, nested, 3), Nullable: rng.Intn(5) != 0}
	}
	return arrow.NewSchema(fields, nil)
}

// RandomGen returns random generator options: null rates from none to
// most, empty to longer lists, sometimes long strings, sometimes runs of
// equal values or constant columns.
func RandomGen(rng *rand.Rand) GenOptions {
	rates := []float64{0, 0.05, 0.3, 0.9}
	return GenOptions{
		NullRate:  rates[rng.Intn(len(rates))],
		ItemNulls: rng.Intn(2) == 0,
		MaxList:   rng.Intn(7),
		LongRate:  []float64{0, 0, 0.01, 0.2}[rng.Intn(4)],
		Pool:      []int{0, 0, 3, 40}[rng.Intn(4)],
		Text:      rng.Intn(3) == 0,
		Runs:      []int{0, 0, 6, 1000}[rng.Intn(4)],
	}
}

// SchemaString describes a schema on one line, for failure messages.
func SchemaString(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = fmt.Sprintf("%s %s", f.Name, f.Type)
		if !f.Nullable {
			parts[i] += " not null"
		}
	}
	return strings.Join(parts, ", ")
}
