package main

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Each value is printed as the Python CLI printed pyarrow's to_pylist()
// value after its conversions (isoformat, base64, str(Decimal), ...).
func TestRecordJSONConvertsLikeThePythonCLI(t *testing.T) {
	mem := memory.NewGoAllocator()
	utc := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	for _, c := range []struct {
		name  string
		typ   arrow.DataType
		build func(b array.Builder)
		want  string
	}{
		{"null", arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.AppendNull() }, "null"},
		{"bool", arrow.FixedWidthTypes.Boolean, func(b array.Builder) { b.(*array.BooleanBuilder).Append(true) }, "true"},
		{"uint64", arrow.PrimitiveTypes.Uint64, func(b array.Builder) { b.(*array.Uint64Builder).Append(1<<64 - 1) }, "18446744073709551615"},
		{"float", arrow.PrimitiveTypes.Float64, func(b array.Builder) { b.(*array.Float64Builder).Append(2) }, "2.0"},
		{"string", arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).Append("a\"<é>") }, `"a\"<é>"`},
		{"binary", arrow.BinaryTypes.Binary, func(b array.Builder) { b.(*array.BinaryBuilder).Append([]byte{0, 1}) }, `"AAE="`},
		{"date", arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).Append(19000) }, `"2022-01-08"`},
		{"naive timestamp", &arrow.TimestampType{Unit: arrow.Millisecond},
			func(b array.Builder) { b.(*array.TimestampBuilder).Append(1_600_000_000_123) }, `"2020-09-13T12:26:40.123000"`},
		{"whole-second timestamp", &arrow.TimestampType{Unit: arrow.Second},
			func(b array.Builder) { b.(*array.TimestampBuilder).Append(-1) }, `"1969-12-31T23:59:59"`},
		{"zoned timestamp", utc, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1_600_000_000_000_001) },
			`"2020-09-13T12:26:40.000001+00:00"`},
		{"time", arrow.FixedWidthTypes.Time64us, func(b array.Builder) { b.(*array.Time64Builder).Append(3_723_000_500) }, `"01:02:03.000500"`},
		{"duration", arrow.FixedWidthTypes.Duration_ms, func(b array.Builder) { b.(*array.DurationBuilder).Append(1500) }, "1.5"},
		{"decimal", &arrow.Decimal128Type{Precision: 10, Scale: 2},
			func(b array.Builder) { b.(*array.Decimal128Builder).Append(decimal128.FromI64(-12345)) }, `"-123.45"`},
		{"list", arrow.ListOf(arrow.PrimitiveTypes.Float32), func(b array.Builder) {
			lb := b.(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Float32Builder).AppendValues([]float32{0.5, 1}, nil)
		}, "[0.5, 1.0]"},
		{"struct", arrow.StructOf(arrow.Field{Name: "z", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true}), func(b array.Builder) {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			sb.FieldBuilder(0).(*array.Int32Builder).Append(7)
			sb.FieldBuilder(1).AppendNull()
		}, `{"z": 7, "a": null}`},
		{"map", arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), func(b array.Builder) {
			mb := b.(*array.MapBuilder)
			mb.Append(true)
			mb.KeyBuilder().(*array.StringBuilder).Append("k")
			mb.ItemBuilder().(*array.Int64Builder).Append(1)
		}, `[["k", 1]]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := array.NewBuilder(mem, c.typ)
			defer b.Release()
			c.build(b)
			arr := b.NewArray()
			defer arr.Release()
			rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "v", Type: c.typ, Nullable: true}}, nil), []arrow.Array{arr}, 1)
			defer rec.Release()
			var out strings.Builder
			if err := recordJSON(&out, rec, 0); err != nil {
				t.Fatal(err)
			}
			if want := `{"v": ` + c.want + `}`; out.String() != want {
				t.Errorf("got %s, want %s", out.String(), want)
			}
		})
	}
}
