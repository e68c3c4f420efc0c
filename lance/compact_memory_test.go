package lance

import (
	"math/rand"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// blobRecord holds rows [start, start+n) of (id, 32 KiB of random bytes
// seeded by id): large rows that no encoding shrinks.
func blobRecord(start, n int64) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "blob", Type: arrow.BinaryTypes.Binary},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	blob := make([]byte, 32<<10)
	for i := start; i < start+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		rand.New(rand.NewSource(i)).Read(blob)
		b.Field(1).(*array.BinaryBuilder).Append(blob)
	}
	return b.NewRecord()
}

// liveHeap is the Go heap still reachable (after a collection).
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestCompactMemoryIsBounded: compacting 64 MiB of large rows into one
// fragment holds a bounded part of it at any time (a read batch and about
// a page per column), not the output fragment. The live heap is measured
// after every batch, with a collection first, so the figure is what
// compaction keeps reachable, not garbage or timing.
func TestCompactMemoryIsBounded(t *testing.T) {
	for _, version := range []string{"2.0", "2.1"} {
		t.Run(version, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			const frags, rows = 8, 256 // 8 fragments of 8 MiB
			for f := int64(0); f < frags; f++ {
				rec := blobRecord(f*rows, rows)
				_, err := Write(root, []arrow.Record{rec}, WriteOptions{DataStorageVersion: version})
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
			}
			base := liveHeap()
			var peak int64
			batches := 0
			ds, err := Compact(root, CompactOptions{AfterBatch: func() {
				batches++
				peak = max(peak, liveHeap()-base)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if ds.NumFragments() != 1 || ds.CountRows() != frags*rows {
				t.Fatalf("compacted to %d fragments of %d rows, want 1 of %d", ds.NumFragments(), ds.CountRows(), frags*rows)
			}
			// 64 MiB went through; a read batch is 1 MiB and a page 1 MiB.
			const bound = 6 << 20
			t.Logf("file version %s: %d batches, peak live heap %.1f MiB over the baseline", version, batches, float64(peak)/(1<<20))
			if batches < 16 || peak > bound {
				t.Fatalf("file version %s: %d batches, peak live heap %.1f MiB above the baseline (bound %d MiB)",
					version, batches, float64(peak)/(1<<20), bound>>20)
			}
			recs, err := ds.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			defer releaseAll(recs)
			next := int64(0)
			for _, r := range recs {
				ids := r.Column(0).(*array.Int64)
				blobs := r.Column(1).(*array.Binary)
				for i := 0; i < ids.Len(); i++ {
					want := make([]byte, 32<<10)
					rand.New(rand.NewSource(next)).Read(want)
					if ids.Value(i) != next || string(blobs.Value(i)) != string(want) {
						t.Fatalf("row %d: id %d or its blob differs after compaction", next, ids.Value(i))
					}
					next++
				}
			}
			if next != frags*rows {
				t.Fatalf("read %d rows back, want %d", next, frags*rows)
			}
		})
	}
}
