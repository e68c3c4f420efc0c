//go:build linux

package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of the given size (such as "256k") on a new
// temporary directory, for as long as the test runs.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		t.Fatalf("%s fills a %s tmpfs it mounts and must run as root (euid is %d): run `go test ./wal` as root",
			t.Name(), size, uid)
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("%s needs to mount a tmpfs (as root, with CAP_SYS_ADMIN): %v", t.Name(), err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// A full disk fails writes with ENOSPC and leaves the log consistent: no
// partial entry stays behind for a later write to follow (Open would then
// see it as corruption in the middle), the failed entries are not readable,
// and once there is room again, writes go on with the next index. Entries
// larger than a segment are written by the log itself, not tidwall/wal: the
// same holds for them.
func TestDiskFull(t *testing.T) {
	const segSize = 16 << 10
	for _, tc := range []struct {
		name       string
		size       int // payload bytes (+ up to 40)
		minWritten int // entries that fit before the disk is full
	}{
		{"entries through tidwall/wal", 1000, 100},
		{"entries larger than a segment", segSize + 1000, 6},
	} {
		t.Run(tc.name, func(t *testing.T) { testDiskFull(t, segSize, tc.size, tc.minWritten) })
	}
}

func testDiskFull(t *testing.T, segSize, size, minWritten int) {
	mnt := mountTmpfs(t, "256k")
	// Room to free later.
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "wal")
	opts := Options{SegmentSize: int64(segSize)}
	l := mustOpen(t, dir, opts)

	var written [][]byte
	write := func(batch int) error {
		ps := make([][]byte, batch)
		for k := range ps {
			ps[k] = payload(len(written)+k, size+k)
		}
		first, last, err := l.WriteBatch(ps)
		if err != nil {
			return err
		}
		if first != uint64(len(written))+1 || last != first+uint64(batch)-1 {
			t.Fatalf("WriteBatch got %d..%d after %d entries", first, last, len(written))
		}
		written = append(written, ps...)
		return nil
	}
	check := func(when string) {
		t.Helper()
		checkIndexes(t, l, 1, uint64(len(written)))
		checkEntries(t, readAll(t, l), written, 1)
		checkTail(t, l)
	}

	// Fill the disk with batches big enough to span segments, then with
	// single entries; each failure must leave the log as it was.
	fails := 0
	for _, batch := range []int{40, 7, 1} {
		for {
			err := write(batch)
			if err == nil {
				continue
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("write on a full disk: %v, want ENOSPC", err)
			}
			fails++
			t.Logf("batch of %d after %d entries: %v", batch, len(written), err)
			check("after a failed write")
			break
		}
	}
	if fails != 3 || len(written) < minWritten {
		t.Fatalf("%d failures after %d entries", fails, len(written))
	}

	// Room again: writes go on at the next index.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for range 40 << 10 / size { // the ballast freed 64 KiB
		if err := write(1); err != nil {
			t.Fatalf("write after freeing space: %v", err)
		}
	}
	check("after freeing space")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Nothing to repair on reopen: no partial entry was left anywhere.
	rec := &recorder{}
	l, err := Open(dir, Options{SegmentSize: int64(segSize), Logger: rec.logf})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l.Close()
	if rec.count() != 0 {
		t.Fatalf("reopen warned: %s", rec)
	}
	check("after reopen")

	// TruncateFront frees space for more writes.
	if err := l.TruncateFront(uint64(len(written)) + 1); err != nil {
		t.Fatal(err)
	}
	for {
		if err := write(1); err != nil {
			break
		}
	}
	// Keeping part of a segment makes tidwall/wal copy that part, which
	// can fail on a full disk; the log stays as it was.
	if err := l.TruncateFront(uint64(len(written))); err != nil {
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("TruncateFront on a full disk: %v", err)
		}
		t.Logf("TruncateFront on a full disk: %v", err)
		first, _ := l.FirstIndex()
		checkEntries(t, readAll(t, l), written[first-1:], first)
	}
	// Dropping everything copies nothing.
	if err := l.TruncateFront(uint64(len(written)) + 1); err != nil {
		t.Fatal(err)
	}
	if err := write(3); err != nil {
		t.Fatalf("write after truncation: %v", err)
	}
	checkIndexes(t, l, uint64(len(written))-2, uint64(len(written)))
	checkEntries(t, readAll(t, l), written[len(written)-3:], uint64(len(written))-2)
}

// At interval sync a full disk fails Open when the staging file cannot be
// allocated (never a fault on a later copy into it), and fails the Append
// that needs the staged entries moved when the segments cannot take them:
// nothing staged is lost (a kill then keeps it), and once there is room
// the next Append moves them and goes on.
func TestStagingDiskFull(t *testing.T) {
	opts := Options{Sync: SyncInterval(time.Hour), SegmentSize: 64 << 10}
	small := mountTmpfs(t, "256k")
	if _, err := Open(filepath.Join(small, "wal"), opts); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), StagingName) {
		t.Fatalf("Open with no room for the staging file: %v, want ENOSPC naming it", err)
	}

	mnt := mountTmpfs(t, "2304k") // the staging file, the ballast and 256 KiB
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "wal")
	l := mustOpen(t, dir, opts)
	closed := false
	t.Cleanup(func() { // before the unmount
		if !closed {
			l.Close()
		}
	})
	var written [][]byte
	for {
		p := payload(len(written), 8<<10)
		_, err := l.Write(p)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Write on a full disk: %v, want ENOSPC", err)
			}
			break
		}
		written = append(written, p)
	}
	// The staging file was full: moving its entries failed as a whole.
	if dirSize(t, dir) != 0 || len(written) < 100 {
		t.Fatalf("%d entries written, %d bytes in segments; want the staging file full, none moved", len(written), dirSize(t, dir))
	}
	checkIndexes(t, l, 1, uint64(len(written)))
	killed := copyDir(t, dir) // what a kill now leaves
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		p := payload(len(written), 8<<10)
		if i := mustWrite(t, l, p); i != uint64(len(written))+1 {
			t.Fatalf("write after freeing space got index %d, want %d", i, len(written)+1)
		}
		written = append(written, p)
	}
	if dirSize(t, dir) == 0 {
		t.Fatal("nothing moved to the segments after freeing space")
	}
	checkEntries(t, readAll(t, l), written, 1)
	closed = true
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	k := mustOpen(t, killed, Options{Sync: opts.Sync, Logger: rec.logf})
	defer k.Close()
	checkEntries(t, readAll(t, k), written[:len(written)-4], 1)
	if strings.Contains(rec.String(), "dropping") {
		t.Fatalf("reopening after the kill dropped entries: %s", rec.String())
	}
}
