//go:build linux

package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// fillDisk writes a ballast file taking every free byte of the file system
// at mnt but keep; it returns the ballast's path (remove it to free space).
func fillDisk(t *testing.T, mnt string, keep int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(mnt, "ballast")
	free := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(ballast, make([]byte, max(free-keep, 0)), 0o600); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	return ballast
}

// A consumption entry that does not fit on the disk fails with ENOSPC and
// leaves no part of itself in the log: the marks made once there is room
// again survive a reopen. (A torn frame left in the middle made the next
// open cut the log there, silently forgetting every later mark.)
func TestConsumptionLogDiskFull(t *testing.T) {
	for _, wal := range []bool{false, true} {
		mnt := mountTmpfs(t, "8m")
		dir := filepath.Join(mnt, "bucket")
		open := func() *Bucket {
			b, err := Open(Options{Path: dir, FlushThreshold: 1 << 20, WAL: WALOptions{Enabled: wal}})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		b := open()
		appendRows(t, b, 0, 60_000) // in memory (and the WAL)
		total, _, _, err := b.Counts()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.MarkConsumed("a", []int64{0}); err != nil { // the log exists, a page partly used
			t.Fatal(err)
		}
		// An entry of some 10 KiB: scattered indexes, each two bytes in the bitmap.
		r := rand.New(rand.NewPCG(1, 2))
		big := make([]int64, 0, 5000)
		for range 5000 {
			big = append(big, 1+r.Int64N(total-1))
		}
		ballast := fillDisk(t, mnt, 0)
		err = b.MarkConsumed("a", big)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("wal=%v: mark on a full disk: %v, want ENOSPC", wal, err)
		}
		t.Logf("wal=%v: %v", wal, err)
		if err := os.Remove(ballast); err != nil {
			t.Fatal(err)
		}
		// Room again: the same bucket takes the next mark, and a reopen has both.
		if err := b.MarkConsumed("a", []int64{1}); err != nil {
			t.Fatalf("wal=%v: mark once there is room: %v", wal, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		var logged []string
		logf := func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
		b, err = Open(Options{Path: dir, FlushThreshold: 1 << 20, WAL: WALOptions{Enabled: wal}, Logger: logf})
		if err != nil {
			t.Fatal(err)
		}
		got := take(t, b, "a", 3)
		b.Close()
		if want := []int64{2, 3, 4}; !equalInts(got, want) {
			t.Fatalf("wal=%v: after reopen task a gets %v, want %v (marks 0 and 1 kept); open logged %q", wal, got, want, logged)
		}
		if len(logged) != 0 {
			t.Fatalf("wal=%v: reopen logged %q", wal, logged)
		}
	}
}
