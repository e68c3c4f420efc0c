package engine

import (
	"runtime"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestWideReadCostIsLinearInFields: opening a bucket and reading one record
// of 2n fields allocates about twice the objects and bytes n fields take, not
// four times; a lookup by name that scans the schema per field allocates
// objects per field, a copy of the field list per field bytes (one object
// each time) - both show here without timing anything (bench:
// BenchmarkWideRead*; the Python side: tests/python/test_wide_reads.py).
func TestWideReadCostIsLinearInFields(t *testing.T) {
	type cost struct{ objects, bytes float64 }
	measure := func(n int) cost {
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
		read := func() {
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
		}
		// as testing.AllocsPerRun, with bytes too: one P, a warm-up, then an average
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		read()
		const runs = 2
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			read()
		}
		runtime.ReadMemStats(&after)
		return cost{float64(after.Mallocs-before.Mallocs) / runs, float64(after.TotalAlloc-before.TotalAlloc) / runs}
	}
	const n = 500
	small, large := measure(n), measure(2*n)
	t.Logf("%d fields: %.0f objects, %.0f bytes; %d fields: %.0f objects, %.0f bytes",
		n, small.objects, small.bytes, 2*n, large.objects, large.bytes)
	if large.objects > 2.2*small.objects || large.bytes > 2.2*small.bytes {
		t.Fatalf("reading %d fields allocates %+v, %d fields %+v: more than linear", n, small, 2*n, large)
	}
}
