package lance

import (
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/internal/arrowtest"
)

// TestInteropReadLegacyNested: pylance writes list, large list, list of
// lists, struct and fixed-size list columns into a 2.0 (legacy) dataset; we
// read every range exactly. One list column is long enough that its
// offsets and its items span several pages that do not line up.
func TestInteropReadLegacyNested(t *testing.T) {
	t.Parallel()
	const n = 100000
	structT := arrow.StructOf(
		arrowtest.Nullable("a", arrow.PrimitiveTypes.Int32),
		arrowtest.Nullable("b", arrow.BinaryTypes.String),
		arrowtest.Nullable("c", arrow.ListOf(arrow.PrimitiveTypes.Int16)),
	)
	sch := arrow.NewSchema([]arrow.Field{
		arrowtest.Nullable("id", arrow.PrimitiveTypes.Int64),
		arrowtest.Nullable("ls", arrow.ListOf(arrow.BinaryTypes.String)),
		arrowtest.Nullable("ll", arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int64))),
		arrowtest.Nullable("big", arrow.LargeListOf(arrow.PrimitiveTypes.Uint8)),
		{Name: "s", Type: structT}, // 2.0 stores no struct validity
		arrowtest.Nullable("fv", arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32)),
		arrowtest.Nullable("fb", arrow.FixedSizeListOf(2, arrow.FixedWidthTypes.Boolean)),
	}, nil)
	rng := rand.New(rand.NewSource(7))
	gen := arrowtest.DefaultGen
	gen.LongRate = 0
	rec := arrowtest.GenRecord(rng, sch, n, gen)
	// A long list column: ~2M float64 items, several pages of offsets and items.
	lb := array.NewListBuilder(memory.DefaultAllocator, arrow.PrimitiveTypes.Float64)
	vb := lb.ValueBuilder().(*array.Float64Builder)
	for i := 0; i < n; i++ {
		if rng.Intn(9) == 0 {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for k, m := 0, rng.Intn(41); k < m; k++ {
			vb.Append(rng.NormFloat64())
		}
	}
	long := lb.NewArray()
	lb.Release()
	cols := append(append([]arrow.Array{}, rec.Columns()...), long)
	sch = arrow.NewSchema(append(sch.Fields(), arrowtest.Nullable("v", long.DataType())), nil)
	full := array.NewRecord(sch, cols, n)
	rec.Release()
	long.Release()
	defer full.Release()

	dir := t.TempDir()
	path := filepath.Join(dir, "ds")
	ipc := filepath.Join(dir, "in.arrow")
	arrowtest.WriteIPCFile(t, ipc, sch, chunks(full, 7000)) // pylance pages per batch
	runPyArrow(t, pyOp{"op": "write", "path": path, "ipc": ipc, "options": map[string]any{"data_storage_version": "2.0"}})
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := arrowtest.ConcatColumns(t, sch, []arrow.Record{full})
	defer releaseArrays(want)
	checkDatasetEquals(t, ds, want, 11)
}

// TestInteropReadLegacyListPages: enough lists that pylance splits their
// offsets over several pages (at 450,000 rows), each with its own null
// adjustment and item count, read across the page boundary.
func TestInteropReadLegacyListPages(t *testing.T) {
	t.Parallel()
	const n = 500000
	lb := array.NewListBuilder(memory.DefaultAllocator, arrow.PrimitiveTypes.Int64)
	vb := lb.ValueBuilder().(*array.Int64Builder)
	for i := 0; i < n; i++ {
		if i%7 == 0 {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for k := 0; k < i%3; k++ {
			vb.Append(int64(i*3 + k))
		}
	}
	col := lb.NewArray()
	lb.Release()
	sch := arrow.NewSchema([]arrow.Field{arrowtest.Nullable("v", col.DataType())}, nil)
	full := array.NewRecord(sch, []arrow.Array{col}, n)
	col.Release()
	defer full.Release()
	dir := t.TempDir()
	path := filepath.Join(dir, "ds")
	ipc := filepath.Join(dir, "in.arrow")
	arrowtest.WriteIPCFile(t, ipc, sch, chunks(full, 50000))
	runPyArrow(t, pyOp{"op": "write", "path": path, "ipc": ipc, "options": map[string]any{"data_storage_version": "2.0"}})
	ds, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := arrowtest.ConcatColumns(t, sch, []arrow.Record{full})
	defer releaseArrays(want)
	checkDatasetEquals(t, ds, want, 5)
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	for _, r := range [][2]int64{{449990, 20}, {449999, 1}, {450000, 3}, {10, 499990}} {
		recs := readRange(t, ds, r[0], r[1], alloc)
		d := arrowtest.DiffRecords(recs, want, r[0], r[1])
		releaseAll(recs)
		if d != "" {
			t.Fatalf("Read(%d, %d): %s", r[0], r[1], d)
		}
	}
}

// chunks slices rec into records of at most size rows (they share rec's
// buffers and must not outlive it).
func chunks(rec arrow.Record, size int64) []arrow.Record {
	var out []arrow.Record
	for i := int64(0); i < rec.NumRows(); i += size {
		out = append(out, rec.NewSlice(i, min(i+size, rec.NumRows())))
	}
	return out
}
