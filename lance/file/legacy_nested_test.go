package file

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/schema"
)

// TestReadLegacyNestedFixture reads the pylance 2.0 fixture of
// make_fixture20_nested.py whole and from an offset, checking the values
// the script wrote.
func TestReadLegacyNestedFixture(t *testing.T) {
	r, err := Open(filepath.Join("testdata", "pylance_2_0_nested.lance"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fields, err := r.Schema()
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.ToArrow(fields)
	if err != nil {
		t.Fatal(err)
	}
	cols := make([]int, sch.NumFields())
	c := 0
	for i, f := range sch.Fields() {
		cols[i] = c
		c += legacyColumns(f.Type)
	}
	if c != r.NumColumns() {
		t.Fatalf("schema needs %d columns, file has %d", c, r.NumColumns())
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	for _, from := range []int64{0, 13} {
		rec, err := r.Read(sch, cols, from, 60-from, alloc)
		if err != nil {
			t.Fatal(err)
		}
		l := rec.Column(0).(*array.List)
		ll := rec.Column(1).(*array.List)
		big := rec.Column(2).(*array.LargeList)
		s := rec.Column(3).(*array.Struct)
		fv := rec.Column(4).(*array.FixedSizeList)
		for j := 0; j < int(rec.NumRows()); j++ {
			i := int(from) + j
			check := func(what string, got, want any) {
				if got != want {
					t.Fatalf("from %d row %d %s: got %v want %v", from, i, what, got, want)
				}
			}
			check("l null", l.IsNull(j), i%5 == 0)
			if !l.IsNull(j) {
				a, b := l.ValueOffsets(j)
				check("l len", int(b-a), i%4)
				if b > a {
					check("l item", l.ListValues().(*array.Float64).Value(int(a)), float64(i)*0.5)
				}
			}
			check("ll null", ll.IsNull(j), i%7 == 0)
			if !ll.IsNull(j) {
				a, b := ll.ValueOffsets(j)
				check("ll len", int(b-a), min(i%3, 2))
				inner := ll.ListValues().(*array.List)
				if b-a == 2 {
					check("ll inner null", inner.IsNull(int(a)+1), true)
					x, y := inner.ValueOffsets(int(a))
					check("ll inner len", int(y-x), 2)
					check("ll inner item", inner.ListValues().(*array.Int32).Value(int(x)), int32(i))
				}
			}
			a, b := big.ValueOffsets(j)
			check("big len", int(b-a), i%2)
			check("s.a", s.Field(0).(*array.Int64).Value(j), int64(i))
			check("s.b null", s.Field(1).IsNull(j), i%3 == 0)
			check("fv null", fv.IsNull(j), i%6 == 0)
			if !fv.IsNull(j) {
				check("fv[1]", fv.ListValues().(*array.Float32).Value(2*j+1), float32(-i))
			}
		}
		rec.Release()
	}
}
