package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestTruncationKeepsTheSyncTarget: when TruncateFront rewrites the tail
// segment (tidwall/wal writes the kept entries to a new file and removes the
// old one), the log must fsync the new file from then on, even when listing
// the directory to learn the new tail and sizes fails. Before, the failure
// was ignored and the fsync target stayed the removed file: the next fsync
// failed with "open .../00000000000000000004: no such file or directory"
// (sticky: every later Write and Close reported it), or, when the fsync
// handle was still open on the removed file, fsynced that and reported the
// entries written to the new file durable when they were not.
func TestTruncationKeepsTheSyncTarget(t *testing.T) {
	tests := []struct {
		name     string
		interval bool   // SyncInterval (the sync loop fsyncs) instead of SyncEveryWrite
		segSize  int64  // 0: default
		n        int    // entries written before the truncation
		synced   int    // SyncInterval: the loop fsyncs after this many of them
		to       uint64 // TruncateFront(to)
	}{
		{"into the tail, every write", false, 0, 6, 0, 4},
		{"into the tail, interval", true, 0, 6, 6, 4},
		{"empties the log, every write", false, 0, 6, 0, 7},
		{"empties the log, interval", true, 0, 6, 6, 7},
		{"beyond the log, every write", false, 0, 6, 0, 10},
		{"beyond the log, interval", true, 0, 6, 6, 10},
		// 64-byte segments hold 3 entries: 1..3 in ...01, 4 in ...04.
		// The session 13 error: the loop last fsynced ...01; the tail
		// became ...04 and the truncation replaced it with ...05.
		{"a tail never fsynced, interval", true, 64, 4, 2, 5},
		{"a tail never fsynced, every write", false, 64, 4, 0, 5},
		{"the tail left alone", false, 64, 6, 0, 4}, // ...07 is the (empty) tail
		{"the tail left alone, interval", true, 64, 6, 6, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var failList atomic.Bool
			var wrongFile atomic.Value // first fsync of a file that is not the tail segment
			tick := make(chan time.Time)
			var l *Log
			h := &testHooks{
				listed: func() error {
					if failList.Swap(false) {
						return errors.New("injected listing failure")
					}
					return nil
				},
				fsync: func(fsync func() error) error {
					// Runs under syncMu: l.syncFile is what is fsynced.
					if err := checkIsTail(dir, l.syncFile); err != nil && wrongFile.Load() == nil {
						wrongFile.Store(err)
					}
					return fsync()
				},
			}
			o := Options{SegmentSize: tt.segSize, Logger: t.Logf, hooks: h}
			if tt.interval {
				o.Sync, h.tick = SyncInterval(time.Hour), tick
			}
			l = mustOpen(t, dir, o)
			var ps [][]byte
			for i := 0; i < tt.n; i++ {
				ps = append(ps, payload(i, 20))
				mustWrite(t, l, ps[i])
				if tt.interval && i+1 == tt.synced {
					tick <- time.Time{} // the loop opens its handle on the tail
					tick <- time.Time{} // and has finished that fsync
				}
			}
			failList.Store(true)
			if err := l.TruncateFront(tt.to); err != nil {
				t.Fatalf("TruncateFront(%d): %v", tt.to, err)
			}
			if failList.Load() {
				t.Fatal("the truncation did not list the directory")
			}
			first := max(tt.to, 1)
			var want [][]byte
			if int(tt.to) <= tt.n {
				want = ps[tt.to-1:]
			}
			for i := 0; i < 2; i++ {
				p := payload(100+i, 2) // 2 fit one 64-byte segment, even after a stale size
				want = append(want, p)
				if _, err := l.Write(p); err != nil {
					t.Fatalf("Write after the truncation: %v", err)
				}
			}
			if tt.interval {
				tick <- time.Time{}
				tick <- time.Time{}
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err, _ := wrongFile.Load().(error); err != nil {
				t.Fatalf("an fsync went to the wrong file: %v", err)
			}
			l = mustOpen(t, dir, Options{})
			defer l.Close()
			checkEntries(t, readAll(t, l), want, first)
		})
	}
}

// checkIsTail fails unless f is the last segment file of dir.
func checkIsTail(dir string, f *os.File) error {
	segs, _, _, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		return fmt.Errorf("listing %s: %v (%d segments)", dir, err, len(segs))
	}
	tail := segs[len(segs)-1].path
	fi, err1 := f.Stat()
	ti, err2 := os.Stat(tail)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if !os.SameFile(fi, ti) {
		return fmt.Errorf("fsynced %s (removed or replaced), the tail segment is %s", f.Name(), filepath.Base(tail))
	}
	return nil
}
