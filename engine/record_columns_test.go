package engine

import (
	"math"
	"math/big"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/pymarshal"
)

// TestColumnsTakeWhatFitsExactly: values into columns of types the rules
// never infer but a dataset (pylance, Arrow data) may have: taken when they
// convert exactly, refused otherwise - the conversion behind the strict
// checks' table.
func TestColumnsTakeWhatFitsExactly(t *testing.T) {
	ts := func(u arrow.TimeUnit) arrow.DataType { return &arrow.TimestampType{Unit: u} }
	cases := []struct {
		name  string
		typ   arrow.DataType
		value any
		want  string // the stored value (ValueStr); "" refused
	}{
		{"micros into timestamp[ns]", ts(arrow.Nanosecond), pyTimestamp(1_500_000), "1970-01-01 00:00:01.5Z"},
		{"whole seconds into timestamp[s]", ts(arrow.Second), pyTimestamp(2_000_000), "1970-01-01 00:00:02Z"},
		{"a fraction into timestamp[s]", ts(arrow.Second), pyTimestamp(2_000_001), ""},
		{"millis into timestamp[ms]", ts(arrow.Millisecond), pyTimestamp(3_000), "1970-01-01 00:00:00.003Z"},
		{"micros beyond timestamp[ns]", ts(arrow.Nanosecond), pyTimestamp(math.MaxInt64 / 10), ""},
		{"aware into naive", ts(arrow.Microsecond), pyTimestampTZ(1), ""},
		{"naive into aware", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, pyTimestamp(1), ""},
		{"date into date64", arrow.FixedWidthTypes.Date64, pyDate(1), "1970-01-02"},
		{"a date into a timestamp", ts(arrow.Microsecond), pyDate(1), ""},
		{"decimal rescaled", &arrow.Decimal128Type{Precision: 10, Scale: 3}, pyDecimal("1.5"), "1.5"},
		{"decimal with trailing zeros", &arrow.Decimal128Type{Precision: 10, Scale: 1}, pyDecimal("2.500"), "2.5"},
		{"decimal losing a digit", &arrow.Decimal128Type{Precision: 10, Scale: 1}, pyDecimal("2.55"), ""},
		{"decimal beyond the precision", &arrow.Decimal128Type{Precision: 3, Scale: 1}, pyDecimal("123.4"), ""},
		{"decimal in exponent form", &arrow.Decimal128Type{Precision: 10, Scale: 0}, pyDecimal("1.2E+3"), "1200"},
		{"an int beyond int64 into uint64", arrow.PrimitiveTypes.Uint64, new(big.Int).SetUint64(math.MaxUint64), "18446744073709551615"},
		{"a negative big int into uint64", arrow.PrimitiveTypes.Uint64, new(big.Int).Neg(bigInt), ""},
		{"a tuple of the size", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32), pyTuple{1, 0.5}, "[1,0.5]"},
		{"a list of another size", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32), []any{1.0}, ""},
		{"a tagged value is no list", arrow.ListOf(arrow.PrimitiveTypes.Int64), pyDate(1), ""},
		{"an int into float32, exact", arrow.PrimitiveTypes.Float32, 1 << 24, "1.6777216e+07"},
		{"an int into float32, inexact", arrow.PrimitiveTypes.Float32, 1<<24 + 1, ""},
		{"a lone surrogate into string", arrow.BinaryTypes.String, "a\xed\xa0\x80", ""},
		{"a str into large_string", arrow.BinaryTypes.LargeString, "x", "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := arrow.NewSchema([]arrow.Field{{Name: "v", Type: c.typ, Nullable: true}}, nil)
			tail := newRowTail(s, memory.DefaultAllocator)
			defer tail.release()
			var d pymarshal.Decoder
			root, err := d.Decode(pyMarshal(t, rec("v", c.value)))
			if err != nil {
				t.Fatal(err)
			}
			err = tail.checkRecords(&d, root, true)
			if c.want == "" {
				if err == nil {
					t.Fatal("taken, want refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tail.appendRecords(&d, root, 0)
			r := tail.seal()
			defer r.Release()
			if got := r.Column(0).ValueStr(0); got != c.want {
				t.Fatalf("stored %q, want %q", got, c.want)
			}
		})
	}
}

// TestPythonReprOfValues: messages render values as Python prints them.
func TestPythonReprOfValues(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{{2.5, "2.5"}, {1, "1.0"}, {math.Copysign(0, -1), "-0.0"}, {1e16, "1e+16"}, {1.5e-5, "1.5e-05"}, {123456789.125, "123456789.125"},
		{math.NaN(), "nan"}, {math.Inf(-1), "-inf"}, {0.0001, "0.0001"}} {
		if got := pyFloat(c.f); got != c.want {
			t.Errorf("pyFloat(%v) = %q, want %q", c.f, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"abc", "'abc'"}, {"it's", `"it's"`}, {`both ' "`, `'both \' "'`}, {"a\nb\x00", `'a\nb\x00'`}, {"é", "'é'"},
		{"\xed\xa0\x80", `'\xed\xa0\x80'`},
	} {
		if got := pyQuote([]byte(c.in), 100); got != c.want {
			t.Errorf("pyQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
