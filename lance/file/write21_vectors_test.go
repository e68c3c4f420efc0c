package file

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestWriteVectorsBulkAndRows: vector columns appended in bulk (no null
// items), row by row (null items), and both mixed within one page and
// across pages, with null vectors, small (mini-block) and wide (full-zip)
// dimensions; our reader and pylance read back exactly what was written.
func TestWriteVectorsBulkAndRows(t *testing.T) {
	batch := func(dim int32, n, seed int, nullVec, nullItem bool) arrow.Array {
		b := array.NewFixedSizeListBuilder(memory.DefaultAllocator, dim, arrow.PrimitiveTypes.Float32)
		defer b.Release()
		vb := b.ValueBuilder().(*array.Float32Builder)
		for i := 0; i < n; i++ {
			if nullVec && i%5 == 2 {
				b.AppendNull()
				continue
			}
			b.Append(true)
			for k := 0; k < int(dim); k++ {
				if nullItem && (i+k)%7 == 3 {
					vb.AppendNull()
				} else {
					vb.Append(float32(seed*1000+i) + float32(k)/8)
				}
			}
		}
		return b.NewArray()
	}
	for _, dim := range []int32{16, 96} {
		for _, tc := range []struct {
			name    string
			batches [][2]bool // null vectors, null items
			opts    WriteOptions
			sliced  bool // each array a slice of a longer one (offsets)
		}{
			{"bulk", [][2]bool{{false, false}, {true, false}}, WriteOptions{Version: V2_2}, false},
			{"rows-then-bulk", [][2]bool{{true, true}, {false, false}, {true, false}}, WriteOptions{Version: V2_2}, false},
			{"bulk-then-rows-small-pages", [][2]bool{{false, false}, {true, true}, {false, false}}, WriteOptions{Version: V2_1, MaxPageBytes: 8 << 10}, false},
			{"bulk-sliced-small-pages", [][2]bool{{true, false}, {false, false}, {true, false}}, WriteOptions{Version: V2_2, MaxPageBytes: 8 << 10}, true},
			{"bulk-rows-bulk-sliced", [][2]bool{{true, false}, {true, true}, {true, false}}, WriteOptions{Version: V2_2}, true},
		} {
			t.Run(fmt.Sprintf("%d/%s", dim, tc.name), func(t *testing.T) {
				t.Parallel()
				sch := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("v", arrow.FixedSizeListOf(dim, arrow.PrimitiveTypes.Float32))}, nil)
				var recs []arrow.Record
				for i, bt := range tc.batches {
					a := batch(dim, 300+i*37, i, bt[0], bt[1])
					if tc.sliced {
						whole := a
						a = array.NewSlice(whole, int64(3+i), int64(whole.Len()-2))
						whole.Release()
					}
					recs = append(recs, array.NewRecord(sch, []arrow.Array{a}, int64(a.Len())))
					a.Release()
				}
				defer releaseAll(recs)
				want := arrowtest.ConcatColumns(t, sch, recs)
				dir := t.TempDir()
				p := filepath.Join(dir, "v.lance")
				if _, err := WriteFileWithOptions(p, mustFields(t, sch), recs, tc.opts); err != nil {
					t.Fatal(err)
				}
				checkBothReaders(t, p, sch, want, memory.DefaultAllocator)
			})
		}
	}
}
