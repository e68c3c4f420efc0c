package file

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestWriteListsFastPathIsWalk: top-level lists of numbers written by the
// list-at-a-time path give byte for byte the file walk gives (null, empty
// and long lists, many pages, 2.1 and 2.2), and pylance reads it.
func TestWriteListsFastPathIsWalk(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		arrowtest.Nullable("l", arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64)),
		{Name: "nn", Type: arrow.LargeListOfNonNullable(arrow.PrimitiveTypes.Float32)},
		arrowtest.Nullable("ts", arrow.ListOfNonNullable(arrow.FixedWidthTypes.Timestamp_ms)),
		arrowtest.Nullable("itemnulls", arrow.ListOf(arrow.PrimitiveTypes.Int32)), // walk's path
	}, nil)
	gen := arrowtest.GenOptions{NullRate: 0.2, MaxList: 9}
	for _, v := range []Version{V2_1, V2_2} {
		for _, opts := range []WriteOptions{{Version: v}, {Version: v, MaxPageBytes: 4 << 10, MaxPageRows: 700}} {
			t.Run(fmt.Sprintf("%s/%d", v, opts.MaxPageBytes), func(t *testing.T) {
				rng := rand.New(rand.NewSource(5))
				var recs []arrow.Record
				for _, n := range []int{1500, 1, 2300} {
					rec := arrowtest.GenRecord(rng, sch, n, gen)
					recs = append(recs, rec)
				}
				defer releaseAll(recs)
				dir := t.TempDir()
				write := func(name string, fast bool) []byte {
					listFastPath = fast
					defer func() { listFastPath = true }()
					p := filepath.Join(dir, name)
					if _, err := WriteFileWithOptions(p, mustFields(t, sch), recs, opts); err != nil {
						t.Fatal(err)
					}
					b, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
				fast, slow := write("fast.lance", true), write("walk.lance", false)
				if !bytes.Equal(fast, slow) {
					t.Fatalf("fast path file (%d bytes) differs from walk's (%d bytes)", len(fast), len(slow))
				}
				want := arrowtest.ConcatColumns(t, sch, recs)
				checkBothReaders(t, filepath.Join(dir, "fast.lance"), sch, want, memory.DefaultAllocator)
			})
		}
	}
}
