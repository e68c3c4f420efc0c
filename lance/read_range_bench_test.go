package lance

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// BenchmarkReadDeep100 is bench.py's measurement 5 below the C API: 100
// rows at 50 fixed deep offsets of a dataset of 1,000 fragments of 1,000
// rows, with the reader cache (reader_cache.go) and without it.
func BenchmarkReadDeep100(b *testing.B) {
	const fragments, rowsPer = 1000, 1000
	sizes := make([]int64, fragments)
	for i := range sizes {
		sizes[i] = rowsPer
	}
	ds := writeFragments(b, filepath.Join(b.TempDir(), "ds"), sizes)
	total := ds.CountRows()
	offsets := make([]int64, 50)
	for i := range offsets {
		offsets[i] = total/2 + int64(i)*(total/2-100)/int64(len(offsets)) + 37
	}
	for _, tt := range []struct {
		name  string
		limit int64
	}{{"cached", readerCacheBytes}, {"uncached", 0}} {
		b.Run(tt.name, func(b *testing.B) {
			saved := dataFiles
			dataFiles = newReaderCache(tt.limit)
			defer func() { dataFiles = saved }()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				recs, err := ds.Read(offsets[i%len(offsets)], 100, memory.DefaultAllocator)
				if err != nil {
					b.Fatal(err)
				}
				releaseAll(recs)
			}
		})
	}
}
