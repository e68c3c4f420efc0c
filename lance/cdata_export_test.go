//go:build cgo

package lance

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"
)

// TestReadExportsToC reads with a C allocator and exports the records
// through the C Data Interface, as the C API does. Run under
// GOEXPERIMENT=cgocheck2, any buffer not allocated from alloc (a Go pointer
// written into C memory by the export) aborts the test.
func TestReadExportsToC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	ds := writeFragments(t, path, []int64{3, 40, 2, 0, 17})
	alloc := memory.NewCheckedAllocator(mallocator.NewMallocator())
	defer alloc.AssertSize(t, 0)
	for _, r := range [][2]int64{{0, -1}, {1, 45}, {43, 1}, {61, 1}} {
		recs, err := ds.Read(r[0], r[1], alloc)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			var arr cdata.CArrowArray
			var sch cdata.CArrowSchema
			cdata.ExportArrowRecordBatch(rec, &arr, &sch)
			back, err := cdata.ImportCRecordBatch(&arr, &sch)
			if err != nil {
				t.Fatal(err)
			}
			if back.NumRows() != rec.NumRows() {
				t.Fatalf("imported %d rows, exported %d", back.NumRows(), rec.NumRows())
			}
			back.Release()
			cdata.ReleaseCArrowSchema(&sch)
		}
		n := ds.CountRows() - r[0]
		if r[1] >= 0 && r[1] < n {
			n = r[1]
		}
		checkRows(t, recs, r[0], n)
		releaseAll(recs)
	}
}
