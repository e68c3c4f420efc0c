package file

import (
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestChunkTablesMemoized: a Reader parses each mini-block page's chunk
// table once, whatever the number of (concurrent) reads, the memoized
// table equals a fresh parse, and FootprintBytes covers the tables.
func TestChunkTablesMemoized(t *testing.T) {
	for _, v := range []Version{V2_1, V2_2} {
		t.Run(v.String(), func(t *testing.T) {
			sch := fourTypes()
			recs := genRecords(sch, batchSizes(4, 20000), []func(int) bool{nullIf(10), nil, nullIf(3), nullIf(7)}, nil, 1)
			path := filepath.Join(t.TempDir(), "f.lance")
			if _, err := WriteFileWithOptions(path, mustFields(t, sch), recs, WriteOptions{Version: v}); err != nil {
				t.Fatal(err)
			}
			releaseAll(recs)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			footprint := r.FootprintBytes()
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for k := 0; k < 5; k++ {
						rec, err := r.Read(sch, []int{0, 1, 2, 3}, int64(g*17000+k*300), 100, memory.DefaultAllocator)
						if err != nil {
							t.Error(err)
							return
						}
						rec.Release()
					}
				}(g)
			}
			wg.Wait()
			if len(r.chunks.byPage) == 0 {
				t.Fatal("no chunk table memoized")
			}
			var tables int64
			for p, got := range r.chunks.byPage {
				meta, err := r.readBuf(p, 0)
				if err != nil {
					t.Fatal(err)
				}
				want, err := parseChunkMeta(meta, p.layout.largeChunk, p.layout.numItems)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatal("memoized chunk table differs from the page's")
				}
				tables += chunkTableBytes(p)
				if int64(len(got))*32 > chunkTableBytes(p) {
					t.Fatalf("a table of %d chunks exceeds its estimate %d", len(got), chunkTableBytes(p))
				}
			}
			if r.FootprintBytes() != footprint || footprint < tables {
				t.Fatalf("footprint %d (after reads %d) does not cover the tables' %d bytes", footprint, r.FootprintBytes(), tables)
			}
		})
	}
}
