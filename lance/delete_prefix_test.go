package lance

import (
	"encoding/json"
	"errors"
	"path/filepath"
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
