package lance

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestWriteOnCallersBase: a Write given the caller's newest version appends
// on it; given a stale one (another writer committed since), it still
// commits on top of the newest, losing nothing; given another dataset's
// version, it refuses.
func TestWriteOnCallersBase(t *testing.T) {
	for _, tc := range []struct {
		name       string
		interleave bool // another writer appends between the two writes
	}{
		{"fresh base", false},
		{"stale base", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			first := writeFragments(t, path, []int64{10})
			next := int64(10)
			if tc.interleave {
				writeFragments(t, path, []int64{0}) // a version without rows
				rec := makeRecord(memory.DefaultAllocator, 10, 5)
				_, err := Write(path, []arrow.Record{rec}, WriteOptions{})
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
				next = 15
			}
			rec := makeRecord(memory.DefaultAllocator, next, 7)
			defer rec.Release()
			ds, err := Write(path, []arrow.Record{rec}, WriteOptions{Base: first})
			if err != nil {
				t.Fatal(err)
			}
			latest, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if latest.Version() != ds.Version() || ds.CountRows() != next+7 {
				t.Fatalf("wrote version %d with %d rows; latest is %d, want %d rows", ds.Version(), ds.CountRows(), latest.Version(), next+7)
			}
			recs, err := latest.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			defer releaseAll(recs)
			checkRows(t, recs, 0, next+7)
		})
	}
	t.Run("other dataset", func(t *testing.T) {
		dir := t.TempDir()
		other := writeFragments(t, filepath.Join(dir, "a"), []int64{3})
		rec := makeRecord(memory.DefaultAllocator, 0, 3)
		defer rec.Release()
		if _, err := Write(filepath.Join(dir, "b"), []arrow.Record{rec}, WriteOptions{Base: other}); err == nil {
			t.Fatal("Write accepted another dataset's version as its base")
		}
	})
}
