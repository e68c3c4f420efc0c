package engine

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestCrashChild is the child side of TestCrashPoints: it runs only when
// re-executed with PERSISTING_CRASH_CHILD_DIR set. It writes rows 0..59 in
// batches of 10 through a WAL bucket that flushes every 20 rows, printing
// nothing: the parent knows which batches were acknowledged from the crash
// point it armed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("PERSISTING_CRASH_CHILD_DIR")
	if dir == "" {
		return // only meaningful as a child process
	}
	b := openWALBucket(t, dir, 20, 0)
	for i := int64(0); i < 6; i++ {
		appendRows(t, b, i*10, 10)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashPoints kills a writer at each durability-critical point and checks
// that reopening finds every acknowledged row exactly once, in order.
func TestCrashPoints(t *testing.T) {
	cases := []struct {
		point string
		// present: rows that must be there after recovery - those whose
		// append returned, plus a batch that was durable in the WAL when the
		// kill came.
		present int64
	}{
		{crashAfterWALWrite + ":1", 10}, // 1st batch durable, never acknowledged: recovered
		{crashAfterWALWrite + ":4", 40}, // rows 0..29 acked (0..19 flushed), 4th batch durable
		{crashBeforeCommit + ":1", 20},  // 2nd append reached the threshold: both batches in the WAL
		{crashAfterCommit + ":1", 20},   // committed, WAL not truncated: no duplicates
		{crashAfterCommit + ":2", 40},   // second flush
		{crashAfterTruncate + ":2", 40}, // second flush fully done
	}
	for _, c := range cases {
		t.Run(c.point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PERSISTING_CRASH_CHILD_DIR="+dir, "PERSISTING_TEST_CRASH_AT="+c.point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", c.point, err, out)
			}
			b := openWALBucket(t, dir, 20, 0)
			defer b.Close()
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, c.present)) {
				t.Fatalf("after a crash at %s: rows %v, want 0..%d", c.point, got, c.present-1)
			}
		})
	}
}
