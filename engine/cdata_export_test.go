//go:build cgo

package engine

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"
)

// TestReadExportsToC exports rows from all three sources - the dataset, the
// buffer, and the WAL replay - through the C Data Interface as capi does.
// Under GOEXPERIMENT=cgocheck2 a Go-heap buffer among them aborts the test.
func TestReadExportsToC(t *testing.T) {
	alloc := memory.NewCheckedAllocator(mallocator.NewMallocator())
	path := t.TempDir()
	open := func() *Bucket {
		b, err := Open(Options{Path: path, WAL: WALOptions{Enabled: true}, Allocator: alloc})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	appendRows(t, b, 0, 40)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 40, 10)
	crash(t, b)

	b = open()                         // rows 40..49 come back from the WAL, decoded into alloc
	appendRowsFrom(t, b, alloc, 50, 5) // as from C: not Go memory
	_, recs, err := b.Read(0, -1, alloc)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, recs); !equalInts(got, seq(0, 55)) {
		t.Fatalf("rows: %v", got)
	}
	for _, rec := range recs {
		var arr cdata.CArrowArray
		var sch cdata.CArrowSchema
		cdata.ExportArrowRecordBatch(rec, &arr, &sch)
		back, err := cdata.ImportCRecordBatch(&arr, &sch)
		if err != nil {
			t.Fatal(err)
		}
		back.Release()
	}
	releaseAll(recs)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	alloc.AssertSize(t, 0)
}
