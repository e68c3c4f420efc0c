//go:build cgo

package file

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"
)

// TestExportThroughCDataInterface reads with a C allocator and exports the
// record through the C Data Interface, as the C API does. Run under
// GOEXPERIMENT=cgocheck2 this fails if any buffer lives on the Go heap.
func TestExportThroughCDataInterface(t *testing.T) {
	sch := fourTypes()
	recs := genRecords(sch, []int{1000, 3000}, []func(int) bool{nullIf(3), nil, nullIf(1), nullIf(4)}, []int{0, 0, 0, 0}, 1)
	defer releaseAll(recs)
	for _, path := range []string{filepath.Join(t.TempDir(), "go.lance"), filepath.Join("testdata", "pylance_2_0.lance"),
		filepath.Join("testdata", "pylance_2_1.lance"), filepath.Join("testdata", "pylance_2_2.lance")} {
		if filepath.Base(path) == "go.lance" {
			if _, err := WriteFileWithOptions(path, mustFields(t, sch), recs, WriteOptions{MaxPageRows: 700}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fields, _ := r.Schema()
		fsch := sch
		switch len(fields) {
		case 6:
			fsch = fixtureSchema()
		case 9:
			f21 := fixture21()
			fsch = f21.Schema()
			f21.Release()
		}
		cols := make([]int, fsch.NumFields())
		for i := range cols {
			cols[i] = i
		}
		mem := mallocator.NewMallocator()
		checked := memory.NewCheckedAllocator(mem)
		for _, rg := range [][2]int64{{0, r.NumRows()}, {123, 456}, {0, 0}} {
			rec, err := r.Read(fsch, cols, rg[0], rg[1], checked)
			if err != nil {
				t.Fatal(err)
			}
			var carr cdata.CArrowArray
			var csch cdata.CArrowSchema
			cdata.ExportArrowRecordBatch(rec, &carr, &csch)
			imported, err := cdata.ImportCRecordBatch(&carr, &csch)
			if err != nil {
				t.Fatal(err)
			}
			if !imported.Schema().Equal(rec.Schema()) || imported.NumRows() != rec.NumRows() {
				t.Fatalf("round trip through C changed the record")
			}
			imported.Release()
			rec.Release()
		}
		r.Close()
		checked.AssertSize(t, 0)
	}
}
