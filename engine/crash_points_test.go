//go:build testhooks

package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestCrashChild is the child side of TestCrashPoints: it runs only when
// re-executed with PERSISTING_CRASH_CHILD_DIR set. It writes rows 0..59 in
// batches of 10 through a WAL bucket whose flush threshold is 20 (flushes run
// in the background), printing "S <end>" before each append (rows below end
// may now be stored) and "A <end>" after it returned (they are acknowledged).
// With PERSISTING_CRASH_CHILD_RECORDS set, batches after the first go through
// AppendRecords, and the child also flushes every 20 rows itself.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("PERSISTING_CRASH_CHILD_DIR")
	if dir == "" {
		return // only meaningful as a child process
	}
	records := os.Getenv("PERSISTING_CRASH_CHILD_RECORDS") != ""
	b := openWALBucket(t, dir, 20, 0)
	for i := int64(0); i < 6; i++ {
		fmt.Printf("S %d\n", (i+1)*10)
		if !records || i == 0 { // the first batch fixes the schema
			appendRows(t, b, i*10, 10)
		} else {
			appendRecords(t, b, testRecords(i*10, 10))
		}
		fmt.Printf("A %d\n", (i+1)*10)
		if records && i%2 == 1 {
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
// that reopening finds every acknowledged row exactly once, in order, and
// nothing that was never appended.
func TestCrashPoints(t *testing.T) {
	cases := []struct {
		point string
		// exact: the rows that must be there, when the point says (-1: any
		// count from the acknowledged rows to the started ones).
		exact int64
	}{
		{crashAfterWALWrite + ":1", 10}, // 1st batch durable, never acknowledged: recovered
		{crashAfterWALWrite + ":4", 40}, // rows 0..29 acked, 4th batch durable
		{crashBeforeCommit + ":1", -1},  // the first flush, before it writes
		{crashAfterCommit + ":1", -1},   // committed, WAL not truncated: no duplicates
		{crashAfterCommit + ":2", -1},   // second flush
		{crashAfterTruncate + ":2", -1}, // second flush fully done
	}
	for _, records := range []bool{false, true} {
		for _, c := range cases {
			name := c.point
			if records {
				name += "/records"
			}
			t.Run(name, func(t *testing.T) { crashAndRecover(t, c.point, c.exact, records) })
		}
	}
}

// crashAndRecover runs TestCrashChild armed at point and checks that
// reopening finds rows 0..n-1, each once, in order, with n at least the
// acknowledged rows, at most the started ones, and exact when it is >= 0.
func crashAndRecover(t *testing.T, point string, exact int64, records bool) {
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
	var acked, started int64
	for _, line := range strings.Split(string(out), "\n") {
		var end int64
		if _, err := fmt.Sscanf(line, "A %d", &end); err == nil {
			acked = end
		} else if _, err := fmt.Sscanf(line, "S %d", &end); err == nil {
			started = end
		}
	}
	b := openWALBucket(t, dir, 20, 0)
	defer b.Close()
	got := readIDs(t, b, 0, -1)
	n := int64(len(got))
	if !equalInts(got, seq(0, n)) || n < acked || n > started || (exact >= 0 && n != exact) {
		t.Fatalf("after a crash at %s: rows %v; acknowledged 0..%d, started 0..%d, exact %d", point, got, acked-1, started-1, exact)
	}
}
