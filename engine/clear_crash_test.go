//go:build testhooks

package engine

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

var clearCrashIndexes = []int64{0, 7, 150, 151, 260, 299}

// TestClearCrashChild is the child side of TestClearCrashPoints: it runs
// only when re-executed with PERSISTING_CLEAR_CRASH_CHILD_DIR set. It
// appends rows 0..299 (flushed) and clears; the armed point kills it.
func TestClearCrashChild(t *testing.T) {
	dir := os.Getenv("PERSISTING_CLEAR_CRASH_CHILD_DIR")
	if dir == "" {
		return // only meaningful as a child process
	}
	b, err := Open(Options{Path: dir, FlushThreshold: 100, WAL: WALOptions{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 300)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Clear(clearCrashIndexes); err != nil {
		t.Fatal(err)
	}
	b.Close()
}

// TestClearCrashPoints kills the process at each point of a clear and checks
// that the bucket reopens - in the engine and in pylance - with every record
// not cleared at its offset, and the cleared ones either all there (the
// Delete version was not committed) or all gone; clearing again completes.
func TestClearCrashPoints(t *testing.T) {
	for _, tc := range []struct {
		point   string
		cleared bool // the Delete version survives
	}{
		{crashBeforeClearCommit + ":1", false},
		{crashAfterClearCommit + ":1", true},
	} {
		t.Run(tc.point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestClearCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PERSISTING_CLEAR_CRASH_CHILD_DIR="+dir, "PERSISTING_TEST_CRASH_AT="+tc.point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", tc.point, err, out)
			}
			b, err := Open(Options{Path: dir, FlushThreshold: 100, WAL: WALOptions{Enabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			want := seq(0, 300)
			if tc.cleared {
				want = without(0, 300, clearCrashIndexes...)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, want) {
				t.Fatalf("after a crash at %s: rows %v", tc.point, got)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, want) {
				t.Fatalf("after a crash at %s: pylance reads %v", tc.point, got)
			}
			if total, _, _, _ := b.Counts(); total != 300 {
				t.Fatalf("total %d", total)
			}
			if err := b.Clear(clearCrashIndexes); err != nil {
				t.Fatal(err)
			}
			if got := readIDs(t, b, 140, 20); !equalInts(got, without(140, 20, 150, 151)) {
				t.Fatalf("after clearing again: %v", got)
			}
		})
	}
}
