package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// fixture21 recomputes in Go the table of testdata/make_fixture21.py.
func fixture21() arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "dict", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "nulls", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "c", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "runs", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "long", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	for i := 0; i < 1200; i++ {
		var v []any
		v = append(v, map[bool]any{true: nil, false: int64(i % 100)}[i%7 == 0])
		v = append(v, float64(i)/4)
		v = append(v, map[bool]any{true: nil, false: i%2 == 0}[i%5 == 0])
		v = append(v, []any{"ä", "bb", nil, ""}[i%4])
		v = append(v, nil)
		v = append(v, map[bool]any{true: nil, false: fmt.Sprintf("v%d", i*7)}[i%6 == 0])
		v = append(v, int32(5), int32(i/100))
		v = append(v, map[bool]any{true: strings.Repeat(fmt.Sprintf("long-%d-", i), 40), false: nil}[i%20 == 0])
		for k, x := range v {
			appendAny(rb.Field(k), x)
		}
	}
	return rb.NewRecord()
}

// TestPylance21Fixtures reads committed pylance 14 files of version 2.1 and
// 2.2 (testdata/make_fixture21.py) without needing python.
func TestPylance21Fixtures(t *testing.T) {
	want := fixture21()
	defer want.Release()
	for _, tc := range []struct {
		ver  string
		encs []string
	}{
		{"2.1", []string{"InlineBitpacking", "MiniBlockLayout[Rle", "AllNull", "FullZipLayout", "def=OutOfLineBitpacking"}},
		{"2.2", []string{"InlineBitpacking", "dict=General/lz4", "ConstantLayout[inline]", "ConstantLayout[null]", "MiniBlockLayout[Rle", "FullZipLayout"}},
	} {
		t.Run(tc.ver, func(t *testing.T) {
			p := filepath.Join("testdata", "pylance_"+strings.ReplaceAll(tc.ver, ".", "_")+".lance")
			r := checkGoReadVersion(t, p, want.Schema(), want.Columns(), minorOf(tc.ver))
			var all []string
			for c := range r.cols {
				all = append(all, r.pageDescriptions(c)...)
			}
			joined := strings.Join(all, " | ")
			for _, e := range tc.encs {
				if e == "AllNull" {
					e = "ConstantLayout[null]"
				}
				if !strings.Contains(joined, e) {
					t.Errorf("fixture lacks %s: %s", e, joined)
				}
			}
		})
	}
}

// BenchmarkRead22Range reads 10k rows from the middle of a 2.2 file written
// by pylance (int64 with nulls, float64, bool, FSST strings).
func BenchmarkRead22Range(b *testing.B) {
	c := case21{rows: 200000, cols: []col21{
		{"i", arrow.PrimitiveTypes.Int64, nil, nullEvery(9, func(i int) any { return int64(i % 5000) })},
		{"f", arrow.PrimitiveTypes.Float64, nil, func(i int) any { return float64(i) * 0.25 }},
		{"b", arrow.FixedWidthTypes.Boolean, nil, func(i int) any { return i%3 == 0 }},
		{"s", arrow.BinaryTypes.String, nil, nullEvery(17, func(i int) any { return fmt.Sprintf("https://example.com/%d", i) })},
	}}
	rec := c.record()
	defer rec.Release()
	dir := b.TempDir()
	arrowtest.WriteIPCFile(b, filepath.Join(dir, "in.arrow"), rec.Schema(), []arrow.Record{rec})
	p := filepath.Join(dir, "py.lance")
	runPylance(b, "writever", filepath.Join(dir, "in.arrow"), p, "2.2", fmt.Sprint(1<<20))
	r, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	cols := []int{0, 1, 2, 3}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := r.Read(rec.Schema(), cols, 123456, 10000, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
}
