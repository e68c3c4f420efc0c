//go:build testhooks

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
// point it armed. With PERSISTING_CRASH_CHILD_RECORDS set, batches after the
// first go through AppendRecords, and the child flushes every 20 rows itself
// (that path never flushes), as the Python backend does.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("PERSISTING_CRASH_CHILD_DIR")
	if dir == "" {
		return // only meaningful as a child process
	}
	records := os.Getenv("PERSISTING_CRASH_CHILD_RECORDS") != ""
	b := openWALBucket(t, dir, 20, 0)
	for i := int64(0); i < 6; i++ {
		if !records || i == 0 { // the first batch fixes the schema
			appendRows(t, b, i*10, 10)
			continue
		}
		appendRecords(t, b, testRecords(i*10, 10))
		if i%2 == 1 {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
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
	for _, records := range []bool{false, true} {
		for _, c := range cases {
			name := c.point
			if records {
				name += "/records"
			}
			t.Run(name, func(t *testing.T) { crashAndRecover(t, c.point, c.present, records) })
		}
	}
}

// crashAndRecover runs TestCrashChild armed at point and checks that
// reopening finds rows 0..present-1, each once, in order.
func crashAndRecover(t *testing.T, point string, present int64, records bool) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PERSISTING_CRASH_CHILD_DIR="+dir, "PERSISTING_TEST_CRASH_AT="+point)
	if records {
		cmd.Env = append(cmd.Env, "PERSISTING_CRASH_CHILD_RECORDS=1")
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed at %s: %v\n%s", point, err, out)
	}
	b := openWALBucket(t, dir, 20, 0)
	defer b.Close()
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, present)) {
		t.Fatalf("after a crash at %s: rows %v, want 0..%d", point, got, present-1)
	}
}
