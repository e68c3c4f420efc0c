package lance

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/persisting/persisting/internal/queuebatch"
)

// BenchmarkWriteAppend64k appends one 64k-row batch of bench.py's shape per
// iteration (data file + commit), finding the base by listing _versions or
// taking the previous Write's result.
func BenchmarkWriteAppend64k(b *testing.B) {
	rec := queuebatch.Batch(65536, 0, 1)
	defer rec.Release()
	var size int64
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				size += int64(buf.Len())
			}
		}
	}
	for _, tc := range []struct {
		name    string
		useBase bool
	}{{"list", false}, {"base", true}} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "ds")
			ds, err := Write(path, []arrow.Record{rec}, WriteOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				opts := WriteOptions{}
				if tc.useBase {
					opts.Base = ds
				}
				if ds, err = Write(path, []arrow.Record{rec}, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
