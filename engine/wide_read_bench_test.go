package engine

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// wideRecord is one row of n int64 fields f0..f{n-1}.
func wideRecord(n int) arrow.Record {
	fields := make([]arrow.Field, n)
	for i := range fields {
		fields[i] = arrow.Field{Name: fmt.Sprintf("f%d", i), Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer bld.Release()
	for i := range fields {
		bld.Field(i).(*array.Int64Builder).Append(int64(i))
	}
	return bld.NewRecord()
}

func benchmarkWideRead(b *testing.B, n int) {
	dir := b.TempDir()
	bucket, err := Open(Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	rec := wideRecord(n)
	defer rec.Release()
	if err := bucket.Append(rec); err != nil {
		b.Fatal(err)
	}
	if err := bucket.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bucket, err := Open(Options{Path: dir})
		if err != nil {
			b.Fatal(err)
		}
		_, recs, err := bucket.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		releaseAll(recs)
		bucket.Close()
	}
}

func BenchmarkWideRead4k(b *testing.B)  { benchmarkWideRead(b, 4000) }
func BenchmarkWideRead50k(b *testing.B) { benchmarkWideRead(b, 50000) }
