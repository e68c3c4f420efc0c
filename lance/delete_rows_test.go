package lance

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestDeletePrefix: the first rows go, whole fragments by dropping them and
// the fragment the cut falls in by a deletion file; the rest keep their
// order, the config is recorded, and pylance reads exactly the same rows and
// the Delete transaction.
func TestDeletePrefix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cut     int64
		frags   int // fragments left
		delFile bool
	}{
		{"inside the first fragment", 25, 4, true},
		{"at a fragment boundary", 90, 2, false},
		{"inside a later fragment", 100, 2, true},
		{"everything", 300, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			base := writeFragments(t, path, []int64{40, 50, 60, 150})
			ds, res, err := DeletePrefix(path, tc.cut, DeletePrefixOptions{Base: base, Config: map[string]string{"k": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			if ds.Version() != base.Version()+1 || ds.NumFragments() != tc.frags || ds.CountRows() != 300-tc.cut ||
				res.Rows != tc.cut || (res.DeletionFiles == 1) != tc.delFile || ds.Config()["k"] != "v" {
				t.Fatalf("version %d, %d fragments, %d rows, %+v, config %v", ds.Version(), ds.NumFragments(), ds.CountRows(), res, ds.Config())
			}
			reopened, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := reopened.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, recs, tc.cut, 300-tc.cut)
			releaseAll(recs)
			tbl := pylanceRead(t, path)
			if tbl.Version != ds.Version() || tbl.CountRows != 300-tc.cut {
				t.Fatalf("pylance: version %d rows %d", tbl.Version, tbl.CountRows)
			}
			checkPyRows(t, tbl, tc.cut, 300-tc.cut)
			var txn struct {
				Operation string `json:"operation"`
			}
			json.Unmarshal(runPylance(t, "txn", path, formatUint(ds.Version())), &txn)
			if txn.Operation != "Delete" {
				t.Fatalf("pylance reads our transaction as %+v", txn)
			}
		})
	}
}

// TestDeletePrefixTwiceAndAppend: a second cut in the same fragment keeps
// the first one's rows deleted, an append based on the version before the
// delete is rebuilt on top of it, and compaction drops the deleted rows.
func TestDeletePrefixTwiceAndAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	before := writeFragments(t, path, []int64{100, 100})
	if _, _, err := DeletePrefix(path, 10, DeletePrefixOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, _, err := DeletePrefix(path, 15, DeletePrefixOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.CountRows() != 175 {
		t.Fatalf("%d rows", ds.CountRows())
	}
	rec := makeRecord(memory.DefaultAllocator, 200, 5)
	ds, err = Write(path, []arrow.Record{rec}, WriteOptions{Base: before})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, recs, 25, 180)
	releaseAll(recs)
	checkPyRows(t, pylanceRead(t, path), 25, 180)
	ds, err = Compact(path, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.NumFragments() != 1 || ds.manifest.Fragments[0].DeletionFile != nil {
		t.Fatalf("after compaction: %d fragments", ds.NumFragments())
	}
	checkPyRows(t, pylanceRead(t, path), 25, 180)
}

// TestDeletePrefixConflict: a delete based on a version whose head fragments
// were rewritten since fails with ErrCommitConflict and leaves no file.
func TestDeletePrefixConflict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	before := writeFragments(t, path, []int64{10, 10, 10})
	if _, err := Compact(path, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := DeletePrefix(path, 15, DeletePrefixOptions{Base: before})
	if !errors.Is(err, ErrCommitConflict) {
		t.Fatalf("got %v", err)
	}
	if names := dirNames(t, filepath.Join(path, deletionsDir)); len(names) != 0 {
		t.Fatalf("left %v", names)
	}
	if _, _, err := DeletePrefix(path, 31, DeletePrefixOptions{}); err == nil {
		t.Fatal("deleting more rows than the dataset has succeeded")
	}
}

// TestDeleteRows: interior rows go through deletion files (and whole
// fragments by dropping them); every other row keeps its order, a second
// delete merges with the first one's deletion file, and pylance reads
// exactly the rows we read.
func TestDeleteRows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  [][2]int64 // deleted first, rows of the original version
		second [][2]int64 // then, rows of the version after the first delete
		gone   []int64    // original rows no longer there
		files  int        // deletion files the second delete wrote
	}{
		{"one row in the middle", [][2]int64{{45, 46}}, nil, []int64{45}, 0},
		{"ranges across fragments", [][2]int64{{0, 3}, {38, 42}, {299, 300}}, nil,
			[]int64{0, 1, 2, 38, 39, 40, 41, 299}, 0},
		{"a whole fragment and a row", [][2]int64{{40, 90}, {100, 101}}, nil,
			append(rowSpan(40, 90), 100), 0},
		{"twice in one fragment", [][2]int64{{10, 12}}, [][2]int64{{10, 11}, {20, 21}},
			[]int64{10, 11, 12, 22}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, path, []int64{40, 50, 60, 150})
			ds, _, err := DeleteRows(path, tc.first, DeleteRowsOptions{Config: map[string]string{"k": "1"}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.second != nil {
				var res DeleteRowsResult
				if ds, res, err = DeleteRows(path, tc.second, DeleteRowsOptions{Base: ds}); err != nil {
					t.Fatal(err)
				}
				if res.DeletionFiles != tc.files {
					t.Fatalf("%+v", res)
				}
			}
			gone := map[int64]bool{}
			for _, r := range tc.gone {
				gone[r] = true
			}
			var want []int64
			for r := int64(0); r < 300; r++ {
				if !gone[r] {
					want = append(want, r)
				}
			}
			reopened, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := reopened.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			checkRowList(t, recs, want)
			releaseAll(recs)
			tbl := pylanceRead(t, path)
			if tbl.CountRows != int64(len(want)) || len(tbl.Columns[0].Values) != len(want) {
				t.Fatalf("pylance: %d rows, want %d", tbl.CountRows, len(want))
			}
			for k, r := range want {
				id, got := expectedRow(r).id, string(tbl.Columns[0].Values[k])
				if (id == nil) != (got == "null") || (id != nil && got != strconv.FormatInt(*id, 10)) {
					t.Fatalf("pylance row %d: id %s, want row %d's", k, got, r)
				}
			}
		})
	}
}

// TestDeleteRowsBadRanges: ranges out of order, overlapping, empty or past
// the end are refused and commit nothing.
func TestDeleteRowsBadRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	base := writeFragments(t, path, []int64{10, 10})
	for _, ranges := range [][][2]int64{{{5, 3}}, {{0, 5}, {4, 6}}, {{3, 3}}, {{15, 21}}, {{-1, 2}}} {
		if _, _, err := DeleteRows(path, ranges, DeleteRowsOptions{}); err == nil {
			t.Fatalf("%v: no error", ranges)
		}
	}
	if ds, err := Open(path); err != nil || ds.Version() != base.Version() {
		t.Fatalf("a refused delete committed: %v", err)
	}
}

// TestDeleteRowsConfigConflict: a delete whose config values were computed
// from a version another writer has since changed them in is refused.
func TestDeleteRowsConfigConflict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	base := writeFragments(t, path, []int64{10, 10})
	if _, _, err := DeleteRows(path, [][2]int64{{0, 1}}, DeleteRowsOptions{Config: map[string]string{"k": "a"}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := DeleteRows(path, [][2]int64{{15, 16}}, DeleteRowsOptions{Base: base, Config: map[string]string{"k": "b"}})
	if !errors.Is(err, ErrCommitConflict) {
		t.Fatalf("got %v, want ErrCommitConflict", err)
	}
}

func rowSpan(lo, hi int64) []int64 {
	out := make([]int64, 0, hi-lo)
	for r := lo; r < hi; r++ {
		out = append(out, r)
	}
	return out
}
