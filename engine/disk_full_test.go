//go:build linux

package engine

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// mountTmpfs mounts a tmpfs of the given size on a new temporary directory
// for the test's duration. It needs root; the suite runs as root in CI.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		t.Fatalf("%s mounts a %s tmpfs and must run as root (euid %d)", t.Name(), size, uid)
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull fills the bucket's file system: flushes fail with a clear
// ENOSPC error, the committed version and the WAL stay intact, nothing
// acknowledged is lost, and once space is back the same bucket flushes.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "2m")
	ballast := filepath.Join(mnt, "ballast")
	path := filepath.Join(mnt, "bucket")
	b := openWALBucket(t, path, 1<<20, 0)
	appendRows(t, b, 0, 100)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}

	// Leave a few KiB free: the WAL takes the next appends, the flush that
	// writes a data file of them does not fit.
	fill := func() {
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		free := int64(st.Bavail) * st.Bsize
		if err := os.WriteFile(ballast, make([]byte, max(free-96<<10, 0)), 0o600); err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatal(err)
		}
	}
	fill()
	acked := int64(100)
	var flushErr error
	for acked < 100_000 {
		rec := makeRows(t, memory.DefaultAllocator, acked, 200)
		err := b.Append(rec)
		rec.Release()
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append on a full disk: %v, want ENOSPC", err)
			}
			break
		}
		acked += 200
		if flushErr = b.Flush(); flushErr != nil {
			break
		}
	}
	if flushErr == nil {
		t.Fatalf("no flush failed with %d rows on a 2 MiB file system", acked)
	}
	if !errors.Is(flushErr, syscall.ENOSPC) {
		t.Fatalf("flush on a full disk: %v, want ENOSPC", flushErr)
	}
	t.Logf("flush on the full disk: %v", flushErr)

	// the committed dataset is intact and readable on its own
	ds, err := lance.Open(filepath.Join(path, DatasetDirName))
	if err != nil {
		t.Fatalf("dataset after the failed flush: %v", err)
	}
	if ds.CountRows() > acked {
		t.Fatalf("dataset has %d rows, more than the %d acknowledged", ds.CountRows(), acked)
	}
	// every acknowledged row is still readable through the bucket
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, acked)) {
		t.Fatalf("rows on the full disk: %d, want %d", len(got), acked)
	}

	// space back: the same bucket flushes, and a reopen finds everything once
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("flush once space is back: %v", err)
	}
	crash(t, b)
	b = openWALBucket(t, path, 1<<20, 0)
	defer b.Close()
	s, _ := b.Stats()
	if s.PersistedCount != acked || s.BufferCount != 0 {
		t.Fatalf("after reopen: %+v, want %d persisted", s, acked)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, acked)) {
		t.Fatalf("rows after reopen: %d, want %d", len(got), acked)
	}
}
