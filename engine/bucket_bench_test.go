package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// recordBytes is the in-memory size of one benchmark record, for b.SetBytes.
func recordBytes(t testing.TB, rows int64) int64 {
	rec := makeRows(t, memory.DefaultAllocator, 0, rows)
	defer rec.Release()
	n := int64(0)
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}

// benchmarkAppend appends batches of rows; the flush threshold is high enough
// that only the append path (and the WAL, when on) is measured.
func benchmarkAppend(b *testing.B, rows int64, wal WALOptions) {
	bucket, err := Open(Options{Path: b.TempDir(), FlushThreshold: 1 << 30, WAL: wal})
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	rec := makeRows(b, memory.DefaultAllocator, 0, rows)
	defer rec.Release()
	b.SetBytes(recordBytes(b, rows))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bucket.Append(rec); err != nil {
			b.Fatal(err)
		}
		if bucket.buf.rows > 1<<20 { // bound memory on long runs; not timed
			b.StopTimer()
			releaseAll(bucket.buf.take())
			b.StartTimer()
		}
	}
}

func BenchmarkAppend1Row(b *testing.B)   { benchmarkAppend(b, 1, WALOptions{}) }
func BenchmarkAppend1kRows(b *testing.B) { benchmarkAppend(b, 1000, WALOptions{}) }
func BenchmarkAppendWALSyncEach1Row(b *testing.B) {
	benchmarkAppend(b, 1, WALOptions{Enabled: true})
}
func BenchmarkAppendWALSyncEach1kRows(b *testing.B) {
	benchmarkAppend(b, 1000, WALOptions{Enabled: true})
}
func BenchmarkAppendWALInterval1Row(b *testing.B) {
	benchmarkAppend(b, 1, WALOptions{Enabled: true, SyncInterval: time.Second})
}
func BenchmarkAppendWALInterval1kRows(b *testing.B) {
	benchmarkAppend(b, 1000, WALOptions{Enabled: true, SyncInterval: time.Second})
}

// benchmarkFlush measures a flush of 1k buffered rows into a dataset that
// already holds `existing` rows: the cost must not grow with the dataset.
func benchmarkFlush(b *testing.B, existing int64) {
	bucket, err := Open(Options{Path: b.TempDir(), FlushThreshold: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	for done := int64(0); done < existing; done += 100_000 {
		rec := makeRows(b, memory.DefaultAllocator, done, min(100_000, existing-done))
		err := bucket.Append(rec)
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
		if err := bucket.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	rec := makeRows(b, memory.DefaultAllocator, 0, 1000)
	defer rec.Release()
	b.SetBytes(recordBytes(b, 1000))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := bucket.Append(rec); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := bucket.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFlush1kInto10k(b *testing.B) { benchmarkFlush(b, 10_000) }
func BenchmarkFlush1kInto1M(b *testing.B)  { benchmarkFlush(b, 1_000_000) }

// BenchmarkRead100 reads 100 rows at deep offsets of a dataset of many fragments.
func BenchmarkRead100(b *testing.B) {
	for _, fragments := range []int{10, 300} {
		b.Run(fmt.Sprintf("fragments=%d", fragments), func(b *testing.B) {
			bucket, err := Open(Options{Path: b.TempDir(), FlushThreshold: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer bucket.Close()
			const rows = 1000
			for f := 0; f < fragments; f++ {
				rec := makeRows(b, memory.DefaultAllocator, int64(f*rows), rows)
				if err := bucket.Append(rec); err != nil {
					b.Fatal(err)
				}
				rec.Release()
				if err := bucket.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			total := int64(fragments * rows)
			b.SetBytes(recordBytes(b, 100))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				offset := (int64(i) * 7919) % (total - 100)
				_, recs, err := bucket.Read(offset, 100, memory.DefaultAllocator)
				if err != nil {
					b.Fatal(err)
				}
				releaseAll(recs)
			}
		})
	}
}

// BenchmarkAppendFlush64k is bench.py's measurement 1 in Go: each 64k-row
// append crosses the flush threshold, so every iteration writes a data file
// and commits a version (the whole put_arrow path below the C API).
func BenchmarkAppendFlush64k(b *testing.B) {
	bucket, err := Open(Options{Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	rec := makeRows(b, memory.DefaultAllocator, 0, 65536)
	defer rec.Release()
	b.SetBytes(recordBytes(b, 65536))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bucket.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}
