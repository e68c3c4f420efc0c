//go:build testhooks

package engine

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestCrashChildRacingFlush is the child of TestCrashAfterCommitOfRacingFlush:
// it flushes rows 0..19 while rows 20..39 are appended (from the flush's own
// goroutine, between taking its rows and writing them: appends must not wait
// for it), armed to be killed after the commit, before the WAL truncation.
func TestCrashChildRacingFlush(t *testing.T) {
	dir := os.Getenv("PERSISTING_CRASH_RACING_DIR")
	if dir == "" {
		return // only meaningful as a child process
	}
	b := openWALBucket(t, dir, 1000, 0)
	appendRows(t, b, 0, 10)
	appendRecords(t, b, testRecords(10, 10))
	b.beforeFlushWrite = func() {
		appendRecords(t, b, testRecords(20, 10))
		appendRows(t, b, 30, 10)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Fatal("not killed after the commit")
}

// TestCrashAfterCommitOfRacingFlush: after a kill between a flush's commit
// and its WAL truncation, reopening replays exactly the rows appended during
// the flush: the watermark is that of the flushed rows, not of later ones.
func TestCrashAfterCommitOfRacingFlush(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildRacingFlush$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PERSISTING_CRASH_RACING_DIR="+dir, "PERSISTING_TEST_CRASH_AT="+crashAfterCommit)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed after the commit: %v\n%s", err, out)
	}
	b := openWALBucket(t, dir, 1000, 0)
	defer b.Close()
	if s, err := b.Stats(); err != nil || s.PersistedCount != 20 || s.BufferCount != 20 {
		t.Fatalf("Stats = %+v, %v; want 20 persisted, 20 replayed", s, err)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 40)) {
		t.Fatalf("rows %v", got)
	}
}
