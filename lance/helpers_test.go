package lance

import (
	"fmt"
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The test table: row i of the logical dataset has these values. Every
// column is nullable and has nulls at different positions.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

type testRow struct {
	id    *int64
	score *float64
	ok    *bool
	name  *string
}

func expectedRow(i int64) testRow {
	var r testRow
	if i%7 != 3 {
		v := i*1000003 - 5
		if i%4 == 0 {
			v = -v
		}
		if i == 10 {
			v = math.MinInt64
		}
		r.id = &v
	}
	if i%5 != 1 {
		v := float64(i)*0.5 + 1.0/3
		if i%9 == 0 {
			v = -v * 1e300
		}
		r.score = &v
	}
	if i%11 != 4 {
		v := i%2 == 0
		r.ok = &v
	}
	if i%3 != 2 {
		v := fmt.Sprintf("row-%d-é✓", i)
		if i%13 == 0 {
			v = ""
		}
		r.name = &v
	}
	return r
}

// makeRecord builds rows [start, start+n) of the test table.
func makeRecord(alloc memory.Allocator, start, n int64) arrow.Record {
	b := array.NewRecordBuilder(alloc, testSchema)
	defer b.Release()
	for i := start; i < start+n; i++ {
		r := expectedRow(i)
		if r.id != nil {
			b.Field(0).(*array.Int64Builder).Append(*r.id)
		} else {
			b.Field(0).AppendNull()
		}
		if r.score != nil {
			b.Field(1).(*array.Float64Builder).Append(*r.score)
		} else {
			b.Field(1).AppendNull()
		}
		if r.ok != nil {
			b.Field(2).(*array.BooleanBuilder).Append(*r.ok)
		} else {
			b.Field(2).AppendNull()
		}
		if r.name != nil {
			b.Field(3).(*array.StringBuilder).Append(*r.name)
		} else {
			b.Field(3).AppendNull()
		}
	}
	return b.NewRecord()
}

// checkRows verifies that recs hold exactly the test rows [start, start+n).
func checkRows(t testing.TB, recs []arrow.Record, start, n int64) {
	t.Helper()
	checkRowsFunc(t, recs, n, func(k int64) int64 { return start + k })
}

// checkRowList verifies that recs hold exactly the test rows listed, in order.
func checkRowList(t testing.TB, recs []arrow.Record, rows []int64) {
	t.Helper()
	checkRowsFunc(t, recs, int64(len(rows)), func(k int64) int64 { return rows[k] })
}

// checkRowsFunc verifies that recs hold n rows, the k-th being test row
// row(k).
func checkRowsFunc(t testing.TB, recs []arrow.Record, n int64, row func(k int64) int64) {
	t.Helper()
	var k int64
	for _, rec := range recs {
		if !rec.Schema().Equal(testSchema) {
			t.Fatalf("schema %v, want %v", rec.Schema(), testSchema)
		}
		ids := rec.Column(0).(*array.Int64)
		scores := rec.Column(1).(*array.Float64)
		oks := rec.Column(2).(*array.Boolean)
		names := rec.Column(3).(*array.String)
		for j := 0; j < int(rec.NumRows()); j++ {
			if k >= n {
				t.Fatalf("more than %d rows", n)
			}
			i := row(k)
			want := expectedRow(i)
			if (want.id == nil) != ids.IsNull(j) || (want.id != nil && *want.id != ids.Value(j)) {
				t.Fatalf("row %d id: got %v (null %v)", i, ids.Value(j), ids.IsNull(j))
			}
			if (want.score == nil) != scores.IsNull(j) || (want.score != nil && math.Float64bits(*want.score) != math.Float64bits(scores.Value(j))) {
				t.Fatalf("row %d score: got %v (null %v)", i, scores.Value(j), scores.IsNull(j))
			}
			if (want.ok == nil) != oks.IsNull(j) || (want.ok != nil && *want.ok != oks.Value(j)) {
				t.Fatalf("row %d ok: got %v (null %v)", i, oks.Value(j), oks.IsNull(j))
			}
			if (want.name == nil) != names.IsNull(j) || (want.name != nil && *want.name != names.Value(j)) {
				t.Fatalf("row %d name: got %q (null %v)", i, names.Value(j), names.IsNull(j))
			}
			k++
		}
	}
	if k != n {
		t.Fatalf("got %d rows, want %d", k, n)
	}
}

func releaseAll(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// writeFragments writes one fragment per size, rows numbered consecutively.
func writeFragments(t testing.TB, path string, sizes []int64) *Dataset {
	t.Helper()
	var ds *Dataset
	var start int64
	for _, n := range sizes {
		rec := makeRecord(memory.DefaultAllocator, start, n)
		var err error
		ds, err = Write(path, []arrow.Record{rec}, WriteOptions{})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		start += n
	}
	return ds
}

// firstRowIndex recovers the test row number of rec's first row from the
// name column ("row-<i>-...").
func firstRowIndex(t testing.TB, rec arrow.Record) int64 {
	t.Helper()
	names := rec.Column(3).(*array.String)
	for j := 0; j < names.Len(); j++ {
		if !names.IsNull(j) && names.Value(j) != "" {
			var i int64
			if _, err := fmt.Sscanf(names.Value(j), "row-%d-", &i); err != nil {
				t.Fatalf("name %q: %v", names.Value(j), err)
			}
			return i - int64(j)
		}
	}
	t.Fatal("no named row in record")
	return 0
}
