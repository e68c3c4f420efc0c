package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// s3HolderEnv carries the options of TestHelperS3WriterWithWAL's bucket.
const s3HolderEnv = "PERSISTING_TEST_S3_WAL_HOLDER"

type s3Holder struct {
	Path    string            `json:"path"`
	WALPath string            `json:"wal_path"`
	Storage map[string]string `json:"storage"`
}

func (h s3Holder) options() Options {
	return Options{Path: h.Path, StorageOptions: h.Storage, WALPath: h.WALPath, WAL: WALOptions{Enabled: true},
		WriterLease: WriterLeaseOptions{Duration: 30 * time.Second, RenewInterval: 10 * time.Second},
		Background:  BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}}
}

// TestHelperS3WriterWithWAL is not a test: run in a child process by
// TestPausedWriterKeepsItsWALFromANewWriterOnItsNode, it opens an s3://
// bucket with a local WAL, appends rows 0..4 (acknowledged: in the WAL
// only), says "holding" and waits to be stopped and killed.
func TestHelperS3WriterWithWAL(t *testing.T) {
	var h s3Holder
	if err := json.Unmarshal([]byte(os.Getenv(s3HolderEnv)), &h); err != nil {
		t.Skip("helper process for TestPausedWriterKeepsItsWALFromANewWriterOnItsNode")
	}
	b, err := Open(h.options())
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	rec := makeRows(t, memory.DefaultAllocator, 0, 5)
	if err := b.Append(rec); err != nil {
		fmt.Println("append failed:", err)
		os.Exit(2)
	}
	fmt.Println("holding")
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(3)
}

// TestPausedWriterKeepsItsWALFromANewWriterOnItsNode: a writer of an s3://
// bucket is stopped past its lease (SIGSTOP). Another writer on the same
// node, with the same wal_path, would take the lease over and share the
// stopped writer's WAL with it (each replaying and truncating the other's
// entries: acknowledged rows lost). It is refused with ErrBusy naming the
// WAL directory, and leaves the lease alone; once the stopped process is
// gone, the bucket opens with its acknowledged rows.
func TestPausedWriterKeepsItsWALFromANewWriterOnItsNode(t *testing.T) {
	srv := miniotest.Start(t, "paused-wal")
	h := s3Holder{Path: "s3://paused-wal/q/bucket_0", WALPath: t.TempDir(), Storage: srv.Options()}
	env, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cmd, line := startChild(t, "TestHelperS3WriterWithWAL", s3HolderEnv+"="+string(env))
	if line != "holding" {
		t.Fatalf("helper process: %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	// This node's clock is past the stopped writer's lease.
	o := h.options()
	o.Background.clock = newFakeClock()
	o.Background.clock.(*fakeClock).Advance(31 * time.Second)
	_, err = Open(o)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "WAL directory "+o.walPath()) {
		t.Fatalf("open beside a stopped writer's WAL on its node: err = %v, want ErrBusy naming the WAL", err)
	}
	if lease := describeLease(objstore.JoinURL(o.Path, WriterLeaseName)); !strings.Contains(lease, fmt.Sprintf("pid %d ", cmd.Process.Pid)) || !strings.Contains(lease, "(epoch 1)") {
		t.Fatalf("the refused open touched the lease: %s", lease)
	}

	cmd.Process.Kill()
	cmd.Wait()
	b, err := Open(o)
	if err != nil {
		t.Fatalf("open once the stopped writer is gone: %v", err)
	}
	defer b.Close()
	if total, _, _, err := b.Counts(); err != nil || total != 5 {
		t.Fatalf("after the takeover the bucket holds %d rows (%v), want the 5 acknowledged", total, err)
	}
}
