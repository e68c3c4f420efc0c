package engine

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/persisting/persisting/internal/miniotest"
)

// s3KillChild is what TestS3ConsumptionSurvivesKill's child process gets.
type s3KillChild struct {
	Path    string
	WALPath string
	Storage map[string]string
	Flush   bool // flush after the changes, before the kill
}

func (c s3KillChild) options() Options {
	o := Options{Path: c.Path, StorageOptions: c.Storage, FlushThreshold: 1000}
	if c.WALPath != "" {
		o.WAL, o.WALPath = WALOptions{Enabled: true}, c.WALPath
	}
	return o
}

// TestS3ConsumptionKillChild runs only as TestS3ConsumptionSurvivesKill's
// child: it appends 10 records, flushes them, takes 3 for task "a", marks 5
// for "b", optionally flushes, and kills itself with SIGKILL.
func TestS3ConsumptionKillChild(t *testing.T) {
	raw := os.Getenv("PERSISTING_S3_CONSUMPTION_CHILD")
	if raw == "" {
		return // only meaningful as a child process
	}
	var c s3KillChild
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	b, err := Open(c.options())
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	take(t, b, "a", 3)
	if err := b.MarkConsumed("b", []int64{5}); err != nil {
		t.Fatal(err)
	}
	if c.Flush {
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestS3ConsumptionSurvivesKill: a process killed with SIGKILL keeps its
// consumption state on s3:// with the WAL (the local journal) and, without
// it, from the flush on; changes made after the last flush without the WAL
// are the documented loss.
func TestS3ConsumptionSurvivesKill(t *testing.T) {
	srv := miniotest.Start(t, "killed")
	for _, tc := range []struct {
		name       string
		wal, flush bool
		kept       bool
	}{
		{"WAL, no flush", true, false, true},
		{"no WAL, flushed", false, true, true},
		{"no WAL, not flushed", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s3KillChild{Path: "s3://killed/" + t.Name() + "/bucket_0", Storage: srv.Options(), Flush: tc.flush}
			if tc.wal {
				c.WALPath = t.TempDir()
			}
			raw, _ := json.Marshal(c)
			cmd := exec.Command(os.Args[0], "-test.run=^TestS3ConsumptionKillChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PERSISTING_S3_CONSUMPTION_CHILD="+string(raw))
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed: %v\n%s", err, out)
			}
			// The killed child's writer lease is still live: reopen as a
			// node whose clock is past its expiry.
			reopen, later := c.options(), newFakeClock()
			later.Advance(DefaultWriterLease + time.Second)
			reopen.Background.clock = later
			b, err := Open(reopen)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			wantA, wantB := []int64{3, 4}, []int64{0, 1}
			if !tc.kept {
				wantA, wantB = []int64{0, 1}, []int64{0, 1}
			}
			if got := take(t, b, "a", 2); !equalInts(got, wantA) {
				t.Fatalf("a: %v, want %v", got, wantA)
			}
			if got := take(t, b, "b", 2); !equalInts(got, wantB) {
				t.Fatalf("b: %v, want %v", got, wantB)
			}
			if !tc.kept {
				return
			}
			if got := take(t, b, "b", 10); !equalInts(got, []int64{2, 3, 4, 6, 7, 8, 9}) {
				t.Fatalf("b skips 5: %v", got)
			}
		})
	}
}
