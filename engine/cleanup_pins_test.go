package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// TestCleanupKeepsPinnedVersions: a cleanup - CleanupOldVersions (the
// user's cleanup_old_versions()) or the background one - runs while a read
// holds version 3 between pinning it and reading its files, after a
// compaction left the files of version 3 to older versions only. Both keep
// version 3 (one rule, keptVersions), so the read finds its files and
// answers its rows; once the read is done, the next cleanup removes it.
func TestCleanupKeepsPinnedVersions(t *testing.T) {
	cleanups := []struct {
		name string
		run  func(b *Bucket) error
	}{
		{"explicit", func(b *Bucket) error {
			_, err := b.CleanupOldVersions(0)
			return err
		}},
		{"background", func(b *Bucket) error {
			b.maintMu.Lock()
			defer b.maintMu.Unlock()
			return b.cleanupVersions(time.Now())
		}},
	}
	reads := []struct {
		name string
		read func(b *Bucket, alloc memory.Allocator) ([]arrow.Record, error)
		want []int64
	}{
		{"read", func(b *Bucket, alloc memory.Allocator) ([]arrow.Record, error) {
			_, recs, err := b.Read(0, -1, alloc)
			return recs, err
		}, seq(0, 12)},
		{"read_version", func(b *Bucket, alloc memory.Allocator) ([]arrow.Record, error) {
			_, recs, err := b.ReadVersion(3, 0, -1, alloc)
			return recs, err
		}, seq(0, 12)},
		{"lookup", func(b *Bucket, alloc memory.Allocator) ([]arrow.Record, error) {
			_, recs, _, err := b.Lookup("id", lance.CondEqual(int64(5)), alloc)
			return recs, err
		}, []int64{5}},
	}
	for _, cleanup := range cleanups {
		for _, tc := range reads {
			t.Run(cleanup.name+"/"+tc.name, func(t *testing.T) {
				testCleanupKeepsPinnedVersion(t, cleanup.run, tc.read, tc.want)
			})
		}
	}
}

func testCleanupKeepsPinnedVersion(t *testing.T, cleanup func(*Bucket) error,
	read func(*Bucket, memory.Allocator) ([]arrow.Record, error), want []int64) {
	// Maintenance off: only the cleanups the test runs; with it on, the
	// background cleanup keeps only the newest version.
	b, err := Open(Options{Path: t.TempDir(), Background: BackgroundOptions{
		DisableMaintenance: true, KeepVersions: 1, VersionRetention: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range int64(3) {
		appendRows(t, b, 4*i, 4)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	held := false
	b.afterReadPin = func() {
		if held {
			return
		}
		held = true
		appendRows(t, b, 12, 1) // version 4: one more fragment
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Compact(0); err != nil { // version 5 rewrites all four
			t.Fatal(err)
		}
		if err := cleanup(b); err != nil {
			t.Fatal(err)
		}
		// Versions 1, 2 and 4 go, and the fragment only 4 had.
		checkVersionsAndFiles(t, b, "cleanup during the read", []uint64{3, 5}, 4)
	}
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	recs, err := read(b, alloc)
	if !held {
		t.Fatal("the read never reached the hook")
	}
	if err != nil {
		t.Fatalf("read during a cleanup: %v", err)
	}
	if got := ids(t, recs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read during a cleanup: ids %v, want %v", got, want)
	}
	releaseAll(recs)
	alloc.AssertSize(t, 0)

	// The read is over: version 3 and its three files go.
	if err := cleanup(b); err != nil {
		t.Fatal(err)
	}
	checkVersionsAndFiles(t, b, "cleanup after the read", []uint64{5}, 1)
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 13)) {
		t.Fatalf("rows after both cleanups: %v", got)
	}
}

// checkVersionsAndFiles checks the versions b lists and its count of data files.
func checkVersionsAndFiles(t *testing.T, b *Bucket, when string, want []uint64, files int) {
	t.Helper()
	vs, err := b.Versions()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, v := range vs {
		got = append(got, v.Version)
	}
	entries, err := os.ReadDir(filepath.Join(b.DatasetPath(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(entries) != files {
		t.Errorf("%s: versions %v and %d data files, want %v and %d", when, got, len(entries), want, files)
	}
}
