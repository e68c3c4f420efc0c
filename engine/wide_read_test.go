package engine

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestWideReadCostIsLinearInFields: opening a bucket and reading one record
// of 2n fields allocates about twice what n fields take, not four times; a
// lookup by name that scans the schema per field, or a copy of the schema per
// column, would show here without timing anything (bench: BenchmarkWideRead*).
func TestWideReadCostIsLinearInFields(t *testing.T) {
	allocs := func(n int) float64 {
		dir := t.TempDir()
		b, err := Open(Options{Path: dir})
		if err != nil {
			t.Fatal(err)
		}
		rec := wideRecord(n)
		defer rec.Release()
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(2, func() {
			b, err := Open(Options{Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].NumCols() != int64(n) {
				t.Fatalf("read %d records", len(recs))
			}
			releaseAll(recs)
		})
	}
	const n = 500
	small, large := allocs(n), allocs(2*n)
	t.Logf("allocations: %d fields %.0f, %d fields %.0f", n, small, 2*n, large)
	if large > 2.2*small {
		t.Fatalf("reading %d fields allocates %.0f times, %d fields %.0f: more than linear", n, small, 2*n, large)
	}
}
