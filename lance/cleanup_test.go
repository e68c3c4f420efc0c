package lance

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// referenced lists the data, deletion and transaction files of a version.
func referenced(t *testing.T, root string, v uint64) refs {
	t.Helper()
	m, _, err := loadManifest(root, v)
	if err != nil {
		t.Fatal(err)
	}
	r := newRefs()
	if err := r.add(m); err != nil {
		t.Fatal(err)
	}
	return r
}

func versionNumbers(t *testing.T, root string) []uint64 {
	t.Helper()
	ds, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ds.Versions()
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

// TestCleanupOldVersions: versions before the cutoff go with the files only
// they reference; the latest and tagged versions, and everything they
// reference, stay readable; young unreferenced files survive unless asked.
func TestCleanupOldVersions(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{5, 6, 7}) // v1..v3
	addDeletionFile(t, root, 1, DeletionArrow, []uint32{2}, true)
	if _, err := Compact(root, CompactOptions{TargetRowsPerFragment: 100}); err != nil { // v4: one fragment
		t.Fatal(err)
	}
	rec := makeRecord(memory.DefaultAllocator, 18, 4)
	if _, err := Write(root, []arrow.Record{rec}, WriteOptions{}); err != nil { // v5
		t.Fatal(err)
	}
	rec.Release()
	v4, err := OpenVersion(root, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Tag version 2 the way Lance does.
	os.MkdirAll(filepath.Join(root, "_refs", "tags"), 0o755)
	os.WriteFile(filepath.Join(root, "_refs", "tags", "keep.json"), []byte(`{"branch":null,"version":2,"manifestSize":123}`), 0o644)
	// A young file of a commit in progress, and an old stray one.
	young := filepath.Join(root, dataDir, "inflight.lance")
	stray := filepath.Join(root, dataDir, "stray.lance")
	os.WriteFile(young, []byte("x"), 0o644)
	os.WriteFile(stray, []byte("xy"), 0o644)
	longAgo := time.Now().Add(-8 * 24 * time.Hour)
	os.Chtimes(stray, longAgo, longAgo)

	v1refs, v2refs, v3refs := referenced(t, root, 1), referenced(t, root, 2), referenced(t, root, 3)
	st, err := CleanupOldVersions(root, v4.Timestamp(), CleanupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := versionNumbers(t, root); !slices.Equal(got, []uint64{2, 4, 5}) {
		t.Fatalf("versions after cleanup %v", got)
	}
	if st.OldVersions != 2 || st.TaggedKept != 1 || st.DataFiles != 2 || st.DeletionFiles != 1 || st.TransactionFiles != 2 || st.BytesRemoved <= 2 {
		t.Fatalf("stats %+v", st)
	}
	// v3's third fragment and deletion file were only in v1/v3: gone; v2's
	// are kept for the tag.
	for name := range v3refs[dataDir] {
		_, err := os.Stat(filepath.Join(root, dataDir, name))
		if v2refs.has(dataDir, name) != (err == nil) {
			t.Fatalf("data file %s: kept %v, tagged %v", name, err == nil, v2refs.has(dataDir, name))
		}
	}
	for name := range v3refs[deletionsDir] {
		if _, err := os.Stat(filepath.Join(root, deletionsDir, name)); err == nil {
			t.Fatalf("deletion file %s of removed versions kept", name)
		}
	}
	for name := range v1refs[transactionsDir] {
		if _, err := os.Stat(filepath.Join(root, transactionsDir, name)); err == nil {
			t.Fatalf("transaction file %s of version 1 kept", name)
		}
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatal("young unreferenced file removed")
	}
	if _, err := os.Stat(stray); err == nil {
		t.Fatal("8-day-old unreferenced file kept")
	}
	if _, err := OpenVersion(root, 1); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("version 1: %v", err)
	}
	for _, v := range []uint64{2, 4, 5} {
		ds, err := OpenVersion(root, v)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ds.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		releaseAll(recs)
	}
	// Nothing older left: a second run removes nothing; DeleteUnverified
	// removes the in-progress file once the cutoff passes it.
	st, err = CleanupOldVersions(root, v4.Timestamp(), CleanupOptions{})
	if err != nil || st != (CleanupStats{TaggedKept: 1, KeptYoung: 1}) { // v4: not before the cutoff
		t.Fatalf("second run: %+v %v", st, err)
	}
	st, err = CleanupOldVersions(root, time.Now().Add(time.Second), CleanupOptions{DeleteUnverified: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(young); err == nil {
		t.Fatal("DeleteUnverified kept the unreferenced file")
	}
	if got := versionNumbers(t, root); !slices.Equal(got, []uint64{2, 5}) {
		t.Fatalf("versions %v", got)
	}
	ds, _ := Open(root)
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkRowList(t, recs, liveRows([]int64{5, 6, 7, 4}, map[int][]uint32{1: {2}}))
	releaseAll(recs)
}

func TestCleanupRefusesCorruptManifest(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, root, []int64{1, 1, 1})
	p := filepath.Join(root, versionsDir, ManifestName(NamingV2, 1))
	os.WriteFile(p, []byte("garbage"), 0o644)
	before := dirNames(t, filepath.Join(root, dataDir))
	if _, err := CleanupOldVersions(root, time.Now().Add(time.Hour), CleanupOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v", err)
	}
	if after := dirNames(t, filepath.Join(root, dataDir)); !slices.Equal(before, after) {
		t.Fatal("files removed although a manifest did not decode")
	}
}

// TestInteropCleanup: pylance opens what remains after our cleanup (latest,
// kept and tagged versions; its versions() matches ours, timestamps
// included), appends after it, and our reads survive pylance's own cleanup.
func TestInteropCleanup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds")
	writeFragments(t, path, []int64{10, 20, 30}) // v1..v3
	runPylance(t, "delete", path, "id < 0")      // v4
	runPylance(t, "tag", path, "two", "2")
	ds, err := Compact(path, CompactOptions{TargetRowsPerFragment: 1000}) // v5
	if err != nil {
		t.Fatal(err)
	}
	rec := makeRecord(memory.DefaultAllocator, 60, 5)
	if _, err := Write(path, []arrow.Record{rec}, WriteOptions{}); err != nil { // v6
		t.Fatal(err)
	}
	rec.Release()
	if _, err := CleanupOldVersions(path, ds.Timestamp(), CleanupOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl := pylanceRead(t, path)
	ds, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ds.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Versions) != 3 || len(vs) != 3 {
		t.Fatalf("pylance versions %v, ours %v", tbl.Versions, vs)
	}
	for i, v := range tbl.Versions {
		ts := time.Unix(0, int64(v.Timestamp*1e9))
		if v.Version != vs[i].Version || ts.Sub(vs[i].Timestamp).Abs() > time.Millisecond {
			t.Fatalf("pylance version %d at %v, ours %d at %v", v.Version, ts, vs[i].Version, vs[i].Timestamp)
		}
	}
	if vs[0].Version != 2 || vs[1].Version != 5 || vs[2].Version != 6 {
		t.Fatalf("kept versions %v", vs)
	}
	recs, err := ds.Read(0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsPylance(t, recs, tbl, 0, -1)
	releaseAll(recs)
	for _, v := range []string{"2", "5"} {
		var old pyTable
		json.Unmarshal(runPylance(t, "read", path, v), &old)
		ods, err := OpenVersion(path, old.Version)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ods.Read(0, -1, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		checkSameAsPylance(t, recs, old, 0, -1)
		releaseAll(recs)
	}
	runPylance(t, "write", path, "append", testRowsJSON(100, 3)) // v7
	// pylance's cleanup of everything but the latest (the tag keeps v2).
	runPylance(t, "cleanup", path, "0")
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
	if got := versionNumbers(t, path); !slices.Equal(got, []uint64{2, 7}) {
		t.Fatalf("versions after pylance cleanup %v", got)
	}
}

// TestCleanupRemovesStagedManifestsLeftByACrash: a writer killed between
// staging a manifest (_versions/.tmp_V_UUID) and linking it leaves the
// staged file, which no reader looks at and nothing else removes. Cleanup
// removes it by the rule for other unreferenced files (older than 7 days,
// or with DeleteUnverified older than the cutoff), so a commit in progress
// keeps its own.
func TestCleanupRemovesStagedManifestsLeftByACrash(t *testing.T) {
	for _, tt := range []struct {
		name       string
		age        time.Duration
		unverified bool
		removed    bool
	}{
		{"8 days old", 8 * 24 * time.Hour, false, true},
		{"an hour old", time.Hour, false, false},
		{"an hour old, unverified removed", time.Hour, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			writeFragments(t, root, []int64{5, 7})
			staged := stagedManifestPath(root, 3)
			if err := os.WriteFile(staged, []byte("a manifest cut short"), 0o644); err != nil {
				t.Fatal(err)
			}
			mtime := time.Now().Add(-tt.age)
			if err := os.Chtimes(staged, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			cutoff := time.Now().Add(time.Second) // version 1 goes
			st, err := CleanupOldVersions(root, cutoff, CleanupOptions{DeleteUnverified: tt.unverified})
			if err != nil || st.OldVersions != 1 {
				t.Fatalf("cleanup: %+v, %v", st, err)
			}
			_, err = os.Stat(staged)
			if gone := errors.Is(err, os.ErrNotExist); gone != tt.removed {
				t.Fatalf("staged manifest removed = %v, want %v (%v)", gone, tt.removed, err)
			}
			if _, err := Open(root); err != nil {
				t.Fatal(err)
			}
		})
	}
}
