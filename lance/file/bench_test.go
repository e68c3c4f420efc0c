package file

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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

// rlLists is bench/sizes' "RL samples" list columns: list<float32> of 8-32
// items and list<int32> of 1-4 small ints per row, no nulls.
func rlLists(n int) arrow.Record {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "obs", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)},
		{Name: "actions", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	ob, ab := b.Field(0).(*array.ListBuilder), b.Field(1).(*array.ListBuilder)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < n; i++ {
		ob.Append(true)
		for k, m := 0, 8+rng.Intn(25); k < m; k++ {
			ob.ValueBuilder().(*array.Float32Builder).Append(float32(rng.NormFloat64()))
		}
		ab.Append(true)
		for k, m := 0, 1+rng.Intn(4); k < m; k++ {
			ab.ValueBuilder().(*array.Int32Builder).Append(int32(rng.Intn(18)))
		}
	}
	return b.NewRecord()
}

// BenchmarkScanLists reads a whole 100k-row file of rlLists' columns, one
// column per sub-benchmark: the nested-list half of bench/sizes' RL scan.
func BenchmarkScanLists(b *testing.B) {
	rec := rlLists(100000)
	defer rec.Release()
	path := filepath.Join(b.TempDir(), "lists.lance")
	if _, err := WriteFileWithOptions(path, mustFields(b, rec.Schema()), []arrow.Record{rec}, WriteOptions{Version: V2_2}); err != nil {
		b.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	alloc := memory.NewGoAllocator()
	for col, f := range rec.Schema().Fields() {
		b.Run(f.Name, func(b *testing.B) {
			sch := arrow.NewSchema([]arrow.Field{f}, nil)
			b.SetBytes(int64(arraySize(rec.Column(col).Data())))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := r.Read(sch, []int{col}, 0, r.NumRows(), alloc)
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
		})
	}
}

// BenchmarkWriteShortStrings: a file of 200k rows of low-cardinality
// short strings (log levels, hosts), which take dictionary pages.
func BenchmarkWriteShortStrings(b *testing.B) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "level", Type: arrow.BinaryTypes.String}, {Name: "host", Type: arrow.BinaryTypes.String}}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	rng := rand.New(rand.NewSource(1))
	levels := []string{"DEBUG", "INFO", "WARN", "ERROR"}
	for i := 0; i < 200000; i++ {
		rb.Field(0).(*array.StringBuilder).Append(levels[rng.Intn(4)])
		rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("host-%02d", rng.Intn(64)))
	}
	rec := rb.NewRecord()
	defer rec.Release()
	benchWrite22(b, sch, rec)
}

// BenchmarkWriteSmallInts: a file of 400k low-cardinality integers (18
// values), which take dictionary pages at 2.2.
func BenchmarkWriteSmallInts(b *testing.B) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "action", Type: arrow.PrimitiveTypes.Int32}}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 400000; i++ {
		rb.Field(0).(*array.Int32Builder).Append(int32(rng.Intn(18)))
	}
	rec := rb.NewRecord()
	defer rec.Release()
	benchWrite22(b, sch, rec)
}

// benchWrite22 times writing rec as one 2.2 file (no fsync), a new file per
// iteration.
func benchWrite22(b *testing.B, sch *arrow.Schema, rec arrow.Record) {
	fields := mustFields(b, sch)
	dir := b.TempDir()
	b.SetBytes(recordsBytes([]arrow.Record{rec}))
	for i := 0; b.Loop(); i++ {
		if _, err := WriteFileWithOptions(filepath.Join(dir, fmt.Sprint(i, ".lance")), fields, []arrow.Record{rec}, WriteOptions{Version: V2_2, NoSync: true}); err != nil {
			b.Fatal(err)
		}
	}
}
