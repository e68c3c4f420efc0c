//go:build testhooks

package engine

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// maintenanceCrashOptions make every maintenance step happen on a small
// bucket: compaction at the second fragment of 100 rows, retention of the
// newest 500 rows, cleanup of every version but the latest.
func maintenanceCrashOptions(dir string) Options {
	// Every 100-row append flushes (no min_flush_interval): the fragments
	// give the crash points the compactions and cleanups they need.
	return Options{Path: dir, FlushThreshold: 100, MinFlushInterval: -1, WAL: WALOptions{Enabled: true},
		Background: BackgroundOptions{
			MaxFlushDelay: -1, CompactionTargetRows: 1024, CompactionFanout: 2,
			KeepVersions: 1, VersionRetention: -1, CleanupInterval: time.Hour, RetentionRows: 500,
		}}
}

// TestMaintenanceCrashChild is the child side of TestMaintenanceCrashPoints:
// it runs only when re-executed with PERSISTING_MAINT_CRASH_CHILD_DIR set.
// It appends rows 0..999 (WAL: each append is durable when it returns) and
// runs the maintenance passes; the armed crash point kills it on the way.
func TestMaintenanceCrashChild(t *testing.T) {
	dir := os.Getenv("PERSISTING_MAINT_CRASH_CHILD_DIR")
	if dir == "" {
		return // only meaningful as a child process
	}
	b, err := Open(maintenanceCrashOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	// Background compaction runs during the appends: the parent learns how
	// many rows were acknowledged before the kill from the acked file.
	for i := int64(0); i < 1000; i += 100 {
		appendRows(t, b, i, 100)
		if err := os.WriteFile(dir+".acked", []byte(strconv.FormatInt(i+100, 10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b.maintain(true)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMaintenanceCrashPoints kills the process at each point of compaction,
// retention and cleanup and checks that the dataset reopens - in the engine
// and in pylance - with every record not dropped by retention, once, in
// order, at its offset.
func TestMaintenanceCrashPoints(t *testing.T) {
	for _, point := range []string{
		crashCompactionRewrite + ":1", crashCompactionRewrite + ":2",
		crashBeforeCompactionCommit + ":1", crashAfterCompactionCommit + ":1",
		crashBeforeRetentionCommit + ":1", crashAfterRetentionCommit + ":1",
		crashCleanupRemoval + ":1", crashCleanupRemoval + ":3", crashCleanupRemoval + ":10",
	} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMaintenanceCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PERSISTING_MAINT_CRASH_CHILD_DIR="+dir, "PERSISTING_TEST_CRASH_AT="+point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", point, err, out)
			}
			opts := maintenanceCrashOptions(dir)
			opts.Background = BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			st, err := b.Stats()
			if err != nil {
				t.Fatal(err)
			}
			first, total := st.FirstRetainedOffset, st.TotalCount
			text, _ := os.ReadFile(dir + ".acked")
			acked, _ := strconv.ParseInt(string(text), 10, 64)
			if total < acked || total > 1000 || (first != 0 && first != 500) {
				t.Fatalf("after a crash at %s: total %d (%d acknowledged), first retained %d", point, total, acked, first)
			}
			if got := readIDs(t, b, first, -1); !equalInts(got, seq(first, total-first)) {
				t.Fatalf("after a crash at %s: rows %v, want %d..%d", point, got, first, total-1)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(first, st.PersistedCount-first)) {
				t.Fatalf("after a crash at %s: pylance reads %v", point, got)
			}
		})
	}
}
