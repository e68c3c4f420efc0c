package engine

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/wal"
)

func openWALBucket(t *testing.T, path string, threshold int, sync time.Duration) *Bucket {
	t.Helper()
	b, err := Open(Options{Path: path, FlushThreshold: threshold,
		WAL: WALOptions{Enabled: true, SyncInterval: sync}, Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crash drops the bucket the way a killed process would: no flush, no
// truncation; only the file handles go, and with them the writer lock.
func crash(t *testing.T, b *Bucket) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wal != nil {
		if err := b.wal.Close(); err != nil {
			t.Fatal(err)
		}
		b.wal = nil
	}
	b.closed = true
	releaseAll(b.buf.take())
	b.lock.release()
	b.lock = nil
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

func TestWALRecovery(t *testing.T) {
	cases := []struct {
		name string
		// run writes through b (rows 0..n-1 are acknowledged) and crashes it.
		run  func(t *testing.T, path string) int64
		want func(s Stats) bool
	}{
		{"crash with everything buffered", func(t *testing.T, path string) int64 {
			b := openWALBucket(t, path, 1000, 0)
			for i := int64(0); i < 5; i++ {
				appendRows(t, b, i*10, 10)
			}
			crash(t, b)
			return 50
		}, func(s Stats) bool { return s.PersistedCount == 0 && s.BufferCount == 50 && s.WALReplayed == 5 }},

		{"crash after a flush, some rows buffered", func(t *testing.T, path string) int64 {
			b := openWALBucket(t, path, 1000, 0)
			appendRows(t, b, 0, 30)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 30, 7)
			crash(t, b)
			return 37
		}, func(s Stats) bool { return s.PersistedCount == 30 && s.BufferCount == 7 && s.WALReplayed == 1 }},

		{"crash between the Lance commit and the WAL truncation", func(t *testing.T, path string) int64 {
			b := openWALBucket(t, path, 1000, 0)
			appendRows(t, b, 0, 20)
			appendRows(t, b, 20, 20)
			saved := filepath.Join(t.TempDir(), "wal-before-flush")
			copyDir(t, filepath.Join(path, WALDirName), saved)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			crash(t, b)
			copyDir(t, saved, filepath.Join(path, WALDirName)) // as if truncation never ran
			return 40
		}, func(s Stats) bool { return s.PersistedCount == 40 && s.BufferCount == 0 && s.WALReplayed == 0 }},

		{"interval sync, clean close", func(t *testing.T, path string) int64 {
			b := openWALBucket(t, path, 1000, 10*time.Millisecond)
			appendRows(t, b, 0, 12)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			return 12
		}, func(s Stats) bool { return s.PersistedCount == 12 && s.BufferCount == 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := t.TempDir()
			n := c.run(t, path)
			b := openWALBucket(t, path, 1000, 0)
			defer b.Close()
			s, err := b.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if !c.want(s) {
				t.Fatalf("stats after recovery: %+v", s)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, n)) {
				t.Fatalf("rows after recovery: %v", got)
			}
			// offsets continue: the next row lands at offset n
			appendRows(t, b, n, 3)
			if got := readIDs(t, b, n, -1); !equalInts(got, seq(n, 3)) {
				t.Fatalf("rows appended after recovery: %v", got)
			}
		})
	}
}

// TestReopenWithoutWALKeepsItsRows: a bucket that had a WAL, reopened with the
// WAL off, flushes what the WAL held instead of dropping it.
func TestReopenWithoutWALKeepsItsRows(t *testing.T) {
	path := t.TempDir()
	b := openWALBucket(t, path, 1000, 0)
	appendRows(t, b, 0, 25)
	crash(t, b)

	b = openBucket(t, path, 1000)
	defer b.Close()
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.PersistedCount != 25 || s.WALEnabled {
		t.Fatalf("stats: %+v", s)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 25)) {
		t.Fatalf("rows: %v", got)
	}
}

func TestMaxWALSizeFlushes(t *testing.T) {
	path := t.TempDir()
	b, err := Open(Options{Path: path, FlushThreshold: 1 << 20,
		WAL: WALOptions{Enabled: true, MaxSize: 4096}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := int64(0); i < 20; i++ {
		appendRows(t, b, i*50, 50)
	}
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.PersistedCount == 0 || s.WALSize > 4096+8192 {
		t.Fatalf("the WAL outgrew max_wal_size without a flush: %+v", s)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 1000)) {
		t.Fatalf("rows: %v", got)
	}
}

func TestWALOptionsValidated(t *testing.T) {
	for _, o := range []WALOptions{{Enabled: true, SyncInterval: -time.Second}, {Enabled: true, MaxSize: -1}} {
		if _, err := Open(Options{Path: t.TempDir(), WAL: o}); err == nil {
			t.Fatalf("Open accepted %+v", o)
		}
	}
}

func TestWALRecordRoundTrip(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer alloc.AssertSize(t, 0)
	rec := makeRows(t, alloc, 7, 33)
	defer rec.Release()
	payload, err := encodeWALRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeWALRecord(payload, alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Release()
	if got := ids(t, []arrow.Record{back}); !equalInts(got, seq(7, 33)) {
		t.Fatalf("decoded %v", got)
	}
	for _, bad := range [][]byte{nil, payload[:len(payload)/2], append([]byte{0xff}, payload...)} {
		if r, err := decodeWALRecord(bad, alloc); err == nil {
			r.Release()
			t.Fatalf("decoded a damaged payload of %d bytes", len(bad))
		}
	}
}

// TestReplayRefusesUnknownEntryKind: a WAL entry whose first byte names no
// kind (doc.go, "WAL entries") stops the open with ErrWAL naming it, instead
// of being guessed at.
func TestReplayRefusesUnknownEntryKind(t *testing.T) {
	dir := t.TempDir()
	log, err := wal.Open(filepath.Join(dir, WALDirName), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Write([]byte{0x01, 'x'}); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{Path: dir, WAL: WALOptions{Enabled: true}})
	if !errors.Is(err, ErrWAL) || !strings.Contains(err.Error(), "unknown kind 0x01") {
		t.Fatalf("Open = %v, want ErrWAL naming the unknown kind", err)
	}
}
