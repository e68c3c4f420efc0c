package file

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/queuebatch"
)

func arraySize(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += b.Len()
		}
	}
	for _, c := range d.Children() {
		n += arraySize(c)
	}
	return n
}

func recordsBytes(recs []arrow.Record) int64 {
	var n int64
	for _, r := range recs {
		for _, c := range r.Columns() {
			n += int64(arraySize(c.Data()))
		}
	}
	return n
}

func BenchmarkWriteFile(b *testing.B) {
	sch := fourTypes()
	recs := genRecords(sch, batchSizes(10, 10000), []func(int) bool{nullIf(10), nil, nullIf(3), nullIf(7)}, nil, 1)
	defer releaseAll(recs)
	fields := mustFields(b, sch)
	for _, v := range WritableVersions {
		b.Run(v.String(), func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(recordsBytes(recs))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := WriteFileWithOptions(filepath.Join(dir, fmt.Sprint(i, ".lance")), fields, recs, WriteOptions{Version: v}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadRange reads random 4096-row ranges of a 1M-row file.
func BenchmarkReadRange(b *testing.B) {
	sch := fourTypes()
	recs := genRecords(sch, batchSizes(10, 100000), []func(int) bool{nullIf(10), nil, nullIf(3), nullIf(7)}, nil, 1)
	path := filepath.Join(b.TempDir(), "bench.lance")
	if _, err := WriteFile(path, mustFields(b, sch), recs); err != nil {
		b.Fatal(err)
	}
	releaseAll(recs)
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const rows = 4096
	rng := rand.New(rand.NewSource(1))
	alloc := memory.NewGoAllocator()
	cols := []int{0, 1, 2, 3}
	b.ResetTimer()
	var total int64
	for i := 0; i < b.N; i++ {
		rec, err := r.Read(sch, cols, rng.Int63n(r.NumRows()-rows), rows, alloc)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range rec.Columns() {
			total += int64(arraySize(c.Data()))
		}
		rec.Release()
	}
	b.SetBytes(total / int64(b.N))
}

// BenchmarkWriteQueueBatch writes one 64k-row batch of bench.py's 8-column
// shape per file: the data-file half of one put_arrow flush.
func BenchmarkWriteQueueBatch(b *testing.B) {
	rec := queuebatch.Batch(65536, 0, 1)
	defer rec.Release()
	fields := mustFields(b, rec.Schema())
	recs := []arrow.Record{rec}
	for _, v := range WritableVersions {
		b.Run(v.String(), func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(recordsBytes(recs))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := WriteFileWithOptions(filepath.Join(dir, fmt.Sprint(i, ".lance")), fields, recs, WriteOptions{Version: v}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
