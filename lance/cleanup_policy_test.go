package lance

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestCleanupPolicyOptions: KeepLatest, Keep and BySuperseded each keep
// the versions they name, and only those, besides the latest.
func TestCleanupPolicyOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts CleanupOptions
		at   int // the cutoff is the commit time of this version (1-based); 0: far future
		want []uint64
	}{
		{"all old", CleanupOptions{}, 0, []uint64{6}},
		{"keep latest 3", CleanupOptions{KeepLatest: 3}, 0, []uint64{4, 5, 6}},
		{"keep in use", CleanupOptions{KeepLatest: 2, Keep: []uint64{2}}, 0, []uint64{2, 5, 6}},
		{"own commit time", CleanupOptions{}, 4, []uint64{4, 5, 6}},
		{"superseded time", CleanupOptions{BySuperseded: true}, 4, []uint64{3, 4, 5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			var stamps []time.Time
			for i := int64(0); i < 6; i++ {
				ds := writeFragments(t, path, []int64{1})
				stamps = append(stamps, ds.Timestamp())
				time.Sleep(2 * time.Millisecond) // distinct commit times (this is not a wait for an event)
			}
			before := time.Now().Add(time.Hour)
			if tc.at > 0 {
				before = stamps[tc.at-1]
			}
			if _, err := CleanupOldVersions(path, before, tc.opts); err != nil {
				t.Fatal(err)
			}
			if got := versionNumbers(t, path); !slices.Equal(got, tc.want) {
				t.Fatalf("versions left %v, want %v", got, tc.want)
			}
			for _, v := range tc.want {
				ds, err := OpenVersion(path, v)
				if err != nil {
					t.Fatal(err)
				}
				recs, err := ds.Read(0, -1, nil)
				if err != nil {
					t.Fatalf("version %d: %v", v, err)
				}
				releaseAll(recs)
			}
		})
	}
}

// TestCleanupDropCovered: with DropCovered, a version whose files the next
// version all references goes at any age; the version before a compaction
// (whose small files the compaction replaced) stays until it is old. A
// reader that opened any version before the cleanup still reads all of it
// after: only manifests and transaction files of covered versions went.
func TestCleanupDropCovered(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts CleanupOptions
		want []uint64
	}{
		// v1..v6 appends, v7 compacts them, v8 and v9 append.
		{"covered go", CleanupOptions{DropCovered: true}, []uint64{6, 9}},
		{"keep latest 2", CleanupOptions{DropCovered: true, KeepLatest: 2}, []uint64{6, 8, 9}},
		{"keep in use", CleanupOptions{DropCovered: true, Keep: []uint64{3}}, []uint64{3, 6, 9}},
		{"without it nothing young goes", CleanupOptions{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, path, []int64{1, 1, 1, 1, 1, 1})
			if _, err := Compact(path, CompactOptions{TargetRowsPerFragment: 100}); err != nil {
				t.Fatal(err)
			}
			writeFragments(t, path, []int64{1, 1})
			var readers []*Dataset
			for v := uint64(1); v <= 9; v++ {
				ds, err := OpenVersion(path, v)
				if err != nil {
					t.Fatal(err)
				}
				readers = append(readers, ds)
			}
			// Nothing is old: the cutoff is before every commit.
			if _, err := CleanupOldVersions(path, time.Unix(0, 0), tc.opts); err != nil {
				t.Fatal(err)
			}
			if got := versionNumbers(t, path); !slices.Equal(got, tc.want) {
				t.Fatalf("versions left %v, want %v", got, tc.want)
			}
			// pylance opens every version left, gaps and all.
			for _, v := range tc.want {
				if !tc.opts.DropCovered {
					break // no gaps to check
				}
				var tbl pyTable
				if err := json.Unmarshal(runPylance(t, "read", path, strconv.FormatUint(v, 10)), &tbl); err != nil {
					t.Fatal(err)
				}
				recs, err := readers[v-1].Read(0, -1, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				checkSameAsPylance(t, recs, tbl, 0, -1)
				releaseAll(recs)
			}
			for _, ds := range readers {
				recs, err := ds.Read(0, -1, nil)
				if err != nil {
					t.Fatalf("a reader of version %d: %v", ds.Version(), err)
				}
				n := int64(0)
				for _, r := range recs {
					n += r.NumRows()
				}
				releaseAll(recs)
				if n != ds.CountRows() {
					t.Fatalf("a reader of version %d read %d rows, want %d", ds.Version(), n, ds.CountRows())
				}
			}
		})
	}
}
