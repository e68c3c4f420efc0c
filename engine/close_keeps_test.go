//go:build linux

package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCloseOnAFullDiskKeepsTheRows: a Close whose flush fails on a full
// disk returns ENOSPC naming the dataset. Without a WAL the bucket stays
// open with its rows (readable, appendable; a Close racing it gets the
// same error) and a Close once space is back stores every row exactly
// once. With the WAL the rows are in the log: Close frees the bucket and
// the next open has them.
func TestCloseOnAFullDiskKeepsTheRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		wal  bool
	}{{"no WAL: the bucket stays open", false}, {"WAL: the bucket closes", true}} {
		t.Run(tc.name, func(t *testing.T) {
			mnt := mountTmpfs(t, "2m")
			path := filepath.Join(mnt, "bucket")
			opts := Options{Path: path, FlushThreshold: 1 << 20, Logger: t.Logf, WAL: WALOptions{Enabled: tc.wal}}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 0, 100)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 100, 300)
			ballast := fillDisk(t, mnt, 0)

			waiting := make(chan struct{})
			b.onCloseWait = func() { close(waiting) }
			inFlush := make(chan struct{})
			release := make(chan struct{})
			b.beforeFlushWrite = func() {
				b.beforeFlushWrite = nil // only Close's flush waits
				close(inFlush)
				<-release
			}
			first := make(chan error, 1)
			go func() { first <- b.Close() }()
			<-inFlush
			second := make(chan error, 1)
			go func() { second <- b.Close() }()
			<-waiting
			b.onCloseWait = nil
			close(release)
			err = <-first
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), b.DatasetPath()) {
				t.Fatalf("Close on a full disk: %v, want ENOSPC naming %s", err, b.DatasetPath())
			}
			if err2 := <-second; !tc.wal && err2 != err || tc.wal && err2 != nil {
				t.Fatalf("a Close racing the failed one: %v (the first: %v)", err2, err)
			}
			t.Logf("Close on the full disk: %v", err)

			if tc.wal {
				if !b.Closed() {
					t.Fatal("a bucket with the WAL stays open after its Close")
				}
				if err := os.Remove(ballast); err != nil {
					t.Fatal(err)
				}
				b, err = Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(0, 400)) {
					t.Fatalf("pylance after the reopen: %d rows, want 400", len(got))
				}
				return
			}
			if b.Closed() || !strings.Contains(err.Error(), "stays open with its 300 unflushed rows") {
				t.Fatalf("after the failed Close: closed %v, error %v", b.Closed(), err)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 400)) {
				t.Fatalf("rows after the failed Close: %d, want 400", len(got))
			}
			appendRows(t, b, 400, 50) // still usable
			if err := b.Close(); !errors.Is(err, syscall.ENOSPC) || b.Closed() {
				t.Fatalf("Close on the still full disk: %v (closed %v)", err, b.Closed())
			}
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil || !b.Closed() {
				t.Fatalf("Close once space is back: %v (closed %v)", err, b.Closed())
			}
			if err := b.Close(); err != nil {
				t.Fatalf("Close of a closed bucket: %v", err)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(0, 450)) {
				t.Fatalf("pylance after the Close: %d rows, want 450", len(got))
			}
			again := openBucket(t, path, 1000) // the writer lock is free
			if err := again.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
