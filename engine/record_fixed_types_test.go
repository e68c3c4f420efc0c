package engine

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// fixedTypesSchema: the columns records cannot infer but may fill - from a
// dataset or Arrow data.
var fixedTypesSchema = arrow.NewSchema([]arrow.Field{
	{Name: "f", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
	{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "e", Type: &arrow.Decimal256Type{Precision: 40, Scale: 2}, Nullable: true},
	{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "u", Type: &arrow.FixedSizeBinaryType{ByteWidth: 2}, Nullable: true}), Nullable: true},
}, nil)

// TestRecordsIntoFixedTypes: dict records into fixed_size_binary and
// decimal columns (from Arrow data), strict and evolving: what fits is
// stored exactly, the rest refused with the reason and nothing kept.
func TestRecordsIntoFixedTypes(t *testing.T) {
	steps := []ruleStep{
		ok(rec("f", []byte("abcd"), "d", pyDecimal("12.5"), "e", pyDecimal("-1234567890123456789012345678901234567.25"))),
		ok(rec("f", nil, "d", pyDecimal("0.10"), "s", rec("u", []byte("xy")))),
		ok([]any{rec("e", pyDecimal("1E+2")), rec("d", pyDecimal("-99999999.99"))}),
		refused(rec("f", []byte("abc")), ErrSchemaMismatch, `field 'f': expected fixed_size_binary\[4\], found bytes b'abc' \(the column takes bytes of length 4, this is of length 3\)`),
		refused(rec("f", []byte("abcde")), ErrSchemaMismatch, `this is of length 5`),
		refused(rec("f", "abcd"), ErrSchemaMismatch, `field 'f': expected fixed_size_binary\[4\], found str 'abcd'`),
		refused(rec("s", rec("u", []byte("x"))), ErrSchemaMismatch, `field 's.u': expected fixed_size_binary\[2\], found bytes b'x' \(the column takes bytes of length 2, this is of length 1\)`),
		refused(rec("d", pyDecimal("1.255")), ErrSchemaMismatch, `field 'd': expected decimal128\(10, 2\), found Decimal Decimal\('1.255'\) \(it has 3 digits after the point, the column's scale is 2: it would lose digits\)`),
		refused(rec("d", pyDecimal("123456789")), ErrSchemaMismatch, `field 'd': expected decimal128\(10, 2\), found Decimal Decimal\('123456789'\) \(it needs more than the column's precision of 10 digits at scale 2\)`),
		refused(rec("e", pyDecimal("1E+39")), ErrSchemaMismatch, `expected decimal256\(40, 2\), found Decimal Decimal\('1E\+39'\) \(it needs more than the column's precision of 40 digits`),
		refused(rec("e", 5), ErrSchemaMismatch, `field 'e': expected decimal256\(40, 2\), found int 5`),
		refused([]any{rec("d", pyDecimal("1")), rec("d", pyDecimal("0.001"))}, ErrSchemaMismatch, `would lose digits`),
	}
	rows := []string{ // rowsOf: bytes in base64, decimals as Arrow prints them
		"f=(null) d=(null) e=(null) s=(null) ",
		"f=YWJjZA== d=12.5 e=-1234567890123456789012345678901234567.25 s=(null) ",
		`f=(null) d=0.1 e=(null) s={"u":"eHk="} `,
		"f=(null) d=(null) e=100 s=(null) ",
		"f=(null) d=-99999999.99 e=(null) s=(null) ",
	}
	runRecordSteps(t, fixedTypesSchema, steps, rows)
}

// TestRecordsUUIDIntoFixedBinary: a UUID (tagged "uuid", its 16 bytes) fills
// fixed_size_binary[16] columns - arrow.uuid's storage - at any depth, as
// bytes of 16 do; another width or another column type refuses it (a new
// field too: test_arrow_types.py).
func TestRecordsUUIDIntoFixedBinary(t *testing.T) {
	u := func(b byte) pyTuple {
		return pyTuple{pyEllipsis{}, "uuid", []byte(strings.Repeat(string(rune('a'+b)), 16))}
	}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "u", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"ARROW:extension:name"}, []string{"arrow.uuid"})},
		{Name: "l", Type: arrow.ListOf(&arrow.FixedSizeBinaryType{ByteWidth: 16}), Nullable: true},
		{Name: "f", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	steps := []ruleStep{
		ok(rec("u", u(0), "l", []any{u(1), nil, []byte("cccccccccccccccc")})),
		refused(rec("f", u(0)), ErrSchemaMismatch, `field 'f': expected fixed_size_binary\[4\], found UUID UUID\('61616161-6161-6161-6161-6161616... \(the column takes bytes of length 4, a UUID is 16 bytes\)`),
		refused(rec("b", u(0)), ErrSchemaMismatch, `field 'b': expected binary, found UUID UUID\('61616161-`),
		refused(rec("u", pyTuple{pyEllipsis{}, "uuid", []byte("short")}), ErrInvalidArgument, `field 'u': \(Ellipsis, 'uuid', b'short'\) is not a tagged value`),
	}
	rows := []string{
		"u=(null) l=(null) f=(null) b=(null) ",
		`u=YWFhYWFhYWFhYWFhYWFhYQ== l=["YmJiYmJiYmJiYmJiYmJiYg==",null,"Y2NjY2NjY2NjY2NjY2NjYw=="] f=(null) b=(null) `,
	}
	runRecordSteps(t, sch, steps, rows)
}

// TestStoredNullColumn: a null column a dataset stores (pylance writes one
// for a column of only None) stays a null column through flushes of rows
// that leave it None, and takes the type of its first value, strict bucket
// or evolving.
func TestStoredNullColumn(t *testing.T) {
	for _, evolve := range []bool{false, true} {
		dir := t.TempDir()
		o := Options{Path: dir, FlushThreshold: 1000, SchemaEvolution: evolve, Logger: t.Logf}
		sch := arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "n", Type: arrow.Null, Nullable: true}}, nil)
		row := nullRow(sch)
		if _, err := lance.Write(o.datasetPath(), []arrow.Record{row}, lance.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		row.Release()
		b, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		stored := func() string {
			ds, err := lance.Open(o.datasetPath())
			if err != nil {
				t.Fatal(err)
			}
			return schemaText(ds.Schema())
		}
		if _, err := b.AppendRecords(pyMarshal(t, []any{rec("id", 1, "n", nil), rec("id", 2)})); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := stored(); got != "id: int64, n: null" {
			t.Fatalf("evolve=%v: after a flush of None the dataset has %q", evolve, got)
		}
		if _, err := b.AppendRecords(pyMarshal(t, rec("id", 3, "n", "now"))); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := stored(); got != "id: int64, n: string" {
			t.Fatalf("evolve=%v: after a string the dataset has %q", evolve, got)
		}
		if got := strings.Join(rowsOf(t, b), "|"); got != "id=(null) n=(null) |id=1 n=(null) |id=2 n=(null) |id=3 n=now " {
			t.Fatalf("evolve=%v: rows %q", evolve, got)
		}
		_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			r.Release()
		}
		b.Close()
	}
}

// TestRecordsIntoHalfFloat: a float16 column (from a dataset or Arrow data)
// takes floats, rounded as float16 rounds them, and the ints it holds
// exactly (|i| <= 2048); a larger int or another kind is refused.
func TestRecordsIntoHalfFloat(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "h", Type: arrow.FixedWidthTypes.Float16, Nullable: true}}, nil)
	steps := []ruleStep{
		ok([]any{rec("h", 1.5), rec("h", -2048), rec("h", 0.1), rec("h", nil)}),
		refused(rec("h", 2049), ErrSchemaMismatch, `field 'h': expected halffloat, found int 2049`),
		refused(rec("h", "1.5"), ErrSchemaMismatch, `field 'h': expected halffloat, found str '1.5'`),
	}
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first := nullRow(sch)
	if err := b.Append(first); err != nil {
		t.Fatal(err)
	}
	first.Release()
	for i, s := range steps {
		n, err := b.AppendRecords(pyMarshal(t, s.recs))
		switch {
		case s.err == nil && err != nil:
			t.Fatalf("step %d: %v", i, err)
		case s.err != nil && (!errors.Is(err, s.err) || n != 0 || !regexp.MustCompile(s.msg).MatchString(err.Error())):
			t.Fatalf("step %d: AppendRecords = %d, %v; want 0, %v matching %q", i, n, err, s.err, s.msg)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "h=(null) |h=1.5 |h=-2048 |h=0.099975586 |h=(null) "
	if got := strings.Join(rowsOf(t, b), "|"); got != want {
		t.Fatalf("rows %q, want %q", got, want)
	}
}

// runRecordSteps runs steps on a bucket whose schema is sch (given by a
// row of nulls), strict and evolving: accepted steps are stored, refused
// ones leave no trace; after a flush the bucket holds rows.
func runRecordSteps(t *testing.T, sch *arrow.Schema, steps []ruleStep, rows []string) {
	t.Helper()
	for _, evolve := range []bool{false, true} {
		b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1000, SchemaEvolution: evolve, Logger: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		first := nullRow(sch)
		if err := b.Append(first); err != nil {
			t.Fatal(err)
		}
		first.Release()
		for i, s := range steps {
			before := bucketTrace(t, b)
			n, err := b.AppendRecords(pyMarshal(t, s.recs))
			switch {
			case s.err == nil && err != nil:
				t.Fatalf("evolve=%v step %d: %v", evolve, i, err)
			case s.err != nil && (!errors.Is(err, s.err) || n != 0 || !regexp.MustCompile(s.msg).MatchString(err.Error())):
				t.Fatalf("evolve=%v step %d: AppendRecords = %d, %v; want 0, %v matching %q", evolve, i, n, err, s.err, s.msg)
			case s.err != nil:
				if after := bucketTrace(t, b); after != before {
					t.Fatalf("evolve=%v step %d: a refused call left a trace:\n before %s\n after  %s", evolve, i, before, after)
				}
			}
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := rowsOf(t, b); strings.Join(got, "|") != strings.Join(rows, "|") {
			t.Fatalf("evolve=%v: rows\n %q\nwant\n %q", evolve, got, rows)
		}
		b.Close()
	}
}
