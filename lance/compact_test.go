package lance

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// liveRows lists the test row numbers a dataset holds, in order, given the
// fragment sizes it was written with and the deleted offsets per fragment.
func liveRows(sizes []int64, del map[int][]uint32) []int64 {
	var out []int64
	var start int64
	for i, n := range sizes {
		for r := int64(0); r < n; r++ {
			if !slices.Contains(del[i], uint32(r)) {
				out = append(out, start+r)
			}
		}
		start += n
	}
	return out
}

func fragmentRows(ds *Dataset) []int64 {
	var out []int64
	for i := range ds.manifest.Fragments {
		n := ds.rowEnds[i]
		if i > 0 {
			n -= ds.rowEnds[i-1]
		}
		out = append(out, n)
	}
	return out
}

func TestCompact(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sizes  []int64
		del    map[int][]uint32 // fragment -> deleted offsets
		opts   CompactOptions
		want   []int64 // live rows per fragment afterwards
		noop   bool
		reused []int // fragments of the original list kept as they are (by index)
	}{
		{name: "merge small", sizes: []int64{3, 4, 5}, opts: CompactOptions{TargetRowsPerFragment: 100}, want: []int64{12}},
		{name: "split at target", sizes: []int64{6, 6, 6}, opts: CompactOptions{TargetRowsPerFragment: 10}, want: []int64{10, 8}},
		{name: "large fragment breaks runs", sizes: []int64{3, 4, 20, 5}, opts: CompactOptions{TargetRowsPerFragment: 10},
			want: []int64{7, 20, 5}, reused: []int{2, 3}},
		{name: "nothing small", sizes: []int64{20, 30}, opts: CompactOptions{TargetRowsPerFragment: 10}, noop: true},
		{name: "single small fragment left", sizes: []int64{20, 3, 30}, opts: CompactOptions{TargetRowsPerFragment: 10}, noop: true},
		{name: "deletions materialized", sizes: []int64{20, 30}, del: map[int][]uint32{0: {0, 5, 19}},
			opts: CompactOptions{TargetRowsPerFragment: 10}, want: []int64{17, 30}, reused: []int{1}}, // one id, one fragment
		{name: "middle run keeps ids ascending", sizes: []int64{20, 3, 4, 20, 2, 2}, opts: CompactOptions{TargetRowsPerFragment: 10},
			want: []int64{20, 7, 20, 4}, reused: []int{0, 3}},
		{name: "few deletions kept below threshold", sizes: []int64{40, 30}, del: map[int][]uint32{0: {3}},
			opts: CompactOptions{TargetRowsPerFragment: 10}, noop: true},
		{name: "KeepDeletions", sizes: []int64{20, 30}, del: map[int][]uint32{0: {0, 5, 19}},
			opts: CompactOptions{TargetRowsPerFragment: 10, KeepDeletions: true}, noop: true},
		{name: "small with deletions merged", sizes: []int64{4, 4, 4}, del: map[int][]uint32{1: {0, 1, 2, 3}, 2: {1}},
			opts: CompactOptions{TargetRowsPerFragment: 100}, want: []int64{7}},
		{name: "fully deleted fragment dropped", sizes: []int64{30, 4}, del: map[int][]uint32{1: {0, 1, 2, 3}},
			opts: CompactOptions{TargetRowsPerFragment: 10}, want: []int64{30}, reused: []int{0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, root, tt.sizes)
			for i, d := range tt.del {
				addDeletionFile(t, root, i, DeletionArrow, d, true)
			}
			before, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := Compact(root, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := liveRows(tt.sizes, tt.del)
			if tt.noop {
				if ds.Version() != before.Version() {
					t.Fatalf("nothing to compact, but version %d committed", ds.Version())
				}
				return
			}
			if ds.Version() != before.Version()+1 {
				t.Fatalf("version %d after %d", ds.Version(), before.Version())
			}
			if got := fragmentRows(ds); !slices.Equal(got, tt.want) {
				t.Fatalf("fragments hold %v rows, want %v", got, tt.want)
			}
			// Lance wants the ids ascending (pylance's validate), and new
			// fragments take the ids of those they replace.
			var ids []uint64
			for _, f := range ds.manifest.Fragments {
				ids = append(ids, f.ID)
			}
			if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				t.Fatalf("fragment ids %v, want ascending and unique", ids)
			}
			if *ds.manifest.MaxFragmentID != *before.manifest.MaxFragmentID {
				t.Fatalf("max fragment id %d after %d: a rewrite takes no new id", *ds.manifest.MaxFragmentID, *before.manifest.MaxFragmentID)
			}
			for _, f := range ds.manifest.Fragments {
				if f.DeletionFile != nil && !slices.ContainsFunc(tt.reused, func(i int) bool { return before.manifest.Fragments[i].ID == f.ID }) {
					t.Fatalf("new fragment %d has a deletion file", f.ID)
				}
			}
			for _, i := range tt.reused {
				if !slices.ContainsFunc(ds.manifest.Fragments, func(f Fragment) bool { return f.ID == before.manifest.Fragments[i].ID }) {
					t.Fatalf("fragment %d was rewritten", before.manifest.Fragments[i].ID)
				}
			}
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			recs, err := ds.Read(0, -1, alloc)
			if err != nil {
				t.Fatal(err)
			}
			checkRowList(t, recs, want)
			releaseAll(recs)
			// Time travel: the previous version still reads the same rows.
			old, err := OpenVersion(root, before.Version())
			if err != nil {
				t.Fatal(err)
			}
			recs, err = old.Read(0, -1, alloc)
			if err != nil {
				t.Fatal(err)
			}
			checkRowList(t, recs, want)
			releaseAll(recs)
			txn, err := loadTransaction(root, ds.manifest)
			if err != nil || txn.Op != OpRewrite || txn.ReadVersion != before.Version() {
				t.Fatalf("transaction %+v %v", txn, err)
			}
			if ds.manifest.ReaderFlags&FlagDeletionFiles != 0 && len(tt.reused) == 0 {
				t.Fatal("deletion flag kept without deletion files")
			}
			// Appending after a compaction continues the fragment ids.
			rec := makeRecord(memory.DefaultAllocator, 1000, 2)
			ds2, err := Write(root, []arrow.Record{rec}, WriteOptions{})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			last := ds2.manifest.Fragments[len(ds2.manifest.Fragments)-1].ID
			if last != uint64(*ds.manifest.MaxFragmentID)+1 {
				t.Fatalf("appended fragment id %d after max %d", last, *ds.manifest.MaxFragmentID)
			}
		})
	}
}

// TestCompactConflicts: a concurrent delete of a fragment being compacted
// fails the compaction (nothing committed, its files removed); a concurrent
// append is kept.
func TestCompactConflicts(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{3, 4})
	base, scheme, err := loadLatestManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	groups := []rewriteGroup{{old: base.Fragments, new: []Fragment{*fakeFragment("x.lance", 7)}}}
	// Concurrent append: the rewrite is rebuilt on top of it.
	writeFragments(t, root, []int64{2})
	m, _, err := commit(commitRequest{root: root, base: base, scheme: scheme, op: OpRewrite, rewrite: groups,
		check: func(m *Manifest) error { return unchangedFragments(m, groups) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Fragments) != 2 || m.Fragments[0].ID != 0 || m.Fragments[1].ID != 2 || *m.MaxFragmentID != 2 {
		t.Fatalf("fragments after rewrite over an append: %+v", m.Fragments)
	}
	// A fragment changed by a later version (as a delete would): conflict.
	root2 := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root2, []int64{3, 4})
	base, scheme, _ = loadLatestManifest(root2)
	groups = []rewriteGroup{{old: base.Fragments, new: []Fragment{*fakeFragment("x.lance", 6)}}}
	writeFragments(t, root2, []int64{1})
	addDeletionFile(t, root2, 0, DeletionArrow, []uint32{1}, true)
	_, _, err = commit(commitRequest{root: root2, base: base, scheme: scheme, op: OpRewrite, rewrite: groups,
		check: func(m *Manifest) error { return unchangedFragments(m, groups) }})
	if !errors.Is(err, ErrCommitConflict) {
		t.Fatalf("err = %v", err)
	}
}

func TestCompactRefusesIndexedDataset(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{3, 4})
	rewriteLatest(t, root, func(m *Manifest) { m.IndexSection = []byte{0x0a, 0x00} })
	if _, err := Compact(root, CompactOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
}

// TestInteropCompact: pylance reads what Compact commits (same rows as
// before, the version listed, a Rewrite transaction), reads the version
// before it, and appends after it; we read pylance's own compaction.
func TestInteropCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	sizes := []int64{40, 50, 60, 7000, 30, 20}
	writeFragments(t, path, sizes)
	runPylance(t, "delete", path, "id < 0") // deletion files everywhere
	before := pylanceRead(t, path)
	// The small runs are merged, the big fragment keeps its deletion file.
	ds, err := Compact(path, CompactOptions{TargetRowsPerFragment: 100, KeepDeletions: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Version() != before.Version+1 || ds.NumFragments() != 4 || ds.manifest.Fragments[2].DeletionFile == nil {
		t.Fatalf("version %d, %d fragments", ds.Version(), ds.NumFragments())
	}
	tbl := pylanceRead(t, path)
	if tbl.Version != ds.Version() || tbl.CountRows != before.CountRows || len(tbl.Versions) != int(ds.Version()) {
		t.Fatalf("pylance after Compact: version %d rows %d versions %d", tbl.Version, tbl.CountRows, len(tbl.Versions))
	}
	if len(tbl.Fragments) != 4 {
		t.Fatalf("pylance sees %d fragments", len(tbl.Fragments))
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsPylance(t, recs, before, 0, -1) // same rows as before compaction
	checkSameAsPylance(t, recs, tbl, 0, -1)
	releaseAll(recs)
	var txn struct {
		Operation   string `json:"operation"`
		ReadVersion uint64 `json:"read_version"`
	}
	json.Unmarshal(runPylance(t, "txn", path, formatUint(ds.Version())), &txn)
	if txn.Operation != "Rewrite" || txn.ReadVersion != before.Version {
		t.Fatalf("pylance reads our transaction as %+v", txn)
	}
	var old pyTable
	json.Unmarshal(runPylance(t, "read", path, formatUint(before.Version)), &old)
	if old.CountRows != before.CountRows || len(old.Fragments) != len(before.Fragments) {
		t.Fatalf("pylance time travel to %d: %d rows %d fragments", before.Version, old.CountRows, len(old.Fragments))
	}
	runPylance(t, "write", path, "append", testRowsJSON(50000, 3))
	tbl = pylanceRead(t, path)
	ds, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err = ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsPylance(t, recs, tbl, 0, -1)
	releaseAll(recs)

	// pylance compacts (ReserveFragments + Rewrite); we read the result.
	var res struct {
		Version uint64 `json:"version"`
	}
	json.Unmarshal(runPylance(t, "compact", path, "100000"), &res)
	ds, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tbl = pylanceRead(t, path)
	if ds.Version() != res.Version || ds.NumFragments() != 1 || ds.CountRows() != tbl.CountRows {
		t.Fatalf("after pylance compaction: version %d (pylance %d) fragments %d rows %d", ds.Version(), res.Version, ds.NumFragments(), ds.CountRows())
	}
	recs, err = ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsPylance(t, recs, tbl, 0, -1)
	releaseAll(recs)
}

func formatUint(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A compaction that finds a column added after it read the fragments
// commits: the rewritten fragments lack the column, as older fragments do,
// and read it as nulls; before, every compaction of a queue whose schema
// grew at each flush failed ("schema changed concurrently"). A column
// widened meanwhile (its type changed) still conflicts.
func TestCompactOverAddedColumn(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{3, 4, 5})
	added := arrow.NewSchema([]arrow.Field{{Name: "later", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil)
	ds, err := Compact(root, CompactOptions{BeforeCommit: func() {
		if _, err := AddColumns(root, added); err != nil {
			t.Error(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ds.manifest.Fragments); n != 1 {
		t.Fatalf("%d fragments after compaction, want 1", n)
	}
	sch := ds.Schema()
	if got := sch.Field(sch.NumFields() - 1).Name; got != "later" {
		t.Fatalf("the added column is gone: last field %q", got)
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rows := int64(0)
	for _, rec := range recs {
		later := rec.Column(int(rec.NumCols()) - 1)
		if later.NullN() != later.Len() {
			t.Fatalf("the added column reads %d non-null values", later.Len()-later.NullN())
		}
		rows += rec.NumRows()
		rec.Release()
	}
	if rows != 12 {
		t.Fatalf("%d rows after compaction, want 12", rows)
	}
}
