package wal

import (
	"bytes"
	"testing"

	"github.com/persisting/persisting/internal/memtest"
)

// TestBigEntryIsNotCopied: writing an entry larger than a segment copies
// neither the payload nor its framing: the log writes them to the segment
// file as they are, and keeps nothing of them in memory afterwards.
// Before, a 1 GiB entry was copied three times (framing, tidwall/wal's
// batch buffer, its in-memory tail segment), two of which stayed.
func TestBigEntryIsNotCopied(t *testing.T) {
	for _, n := range memtest.Sizes(t, "WAL_BIG_ENTRY_SIZES") {
		for _, batch := range []bool{false, true} {
			if batch {
				t.Run("many entries", func(t *testing.T) { testManyEntriesNotCopied(t, n) })
			}
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{Sync: SyncEveryWrite})
			mustWrite(t, l, payload(1, 100))
			p := bytes.Repeat(payload(7, 4096), n/4096)
			var err error
			peak, kept := memtest.AllocDuring(func() {
				if batch {
					_, _, err = l.WriteBatch([][]byte{payload(2, 100), p, payload(3, 100)})
				} else {
					_, err = l.Write(p)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d MiB entry (batch %v): %.2f copies allocated during the write, %.2f kept after it",
				n>>20, batch, float64(peak)/float64(n), float64(kept)/float64(n))
			if peak > int64(n)/8 || kept > int64(n)/8 {
				t.Errorf("%d MiB entry (batch %v): the write allocated %d bytes and kept %d", n>>20, batch, peak, kept)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, Options{})
			var got []byte
			if err := l.ReadFrom(0, func(i uint64, q []byte) error {
				if len(q) == n {
					got = q
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, p) {
				t.Fatalf("the %d MiB entry did not read back", n>>20)
			}
			l.Close()
		}
	}
}

// testManyEntriesNotCopied: a batch of 1 MiB entries as large as n is not
// copied either (tidwall/wal would hold all of it in its batch buffer).
func testManyEntriesNotCopied(t *testing.T, n int) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	var ps [][]byte
	for i := 0; i < n>>20; i++ {
		ps = append(ps, payload(i, 1<<20))
	}
	var err error
	peak, kept := memtest.AllocDuring(func() { _, _, err = l.WriteBatch(ps) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d entries of 1 MiB: %.2f copies allocated, %.2f kept", len(ps), float64(peak)/float64(n), float64(kept)/float64(n))
	if peak > int64(n)/8 || kept > int64(n)/8 {
		t.Errorf("%d entries of 1 MiB: the write allocated %d bytes and kept %d", len(ps), peak, kept)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, Options{})
	defer l.Close()
	checkEntries(t, readAll(t, l), ps, 1)
}

// TestBigEntryReadsWithOneCopy: reading a big entry back (the replay at
// open) reads its segment into memory once and hands out the payload in
// place. Before, tidwall/wal also copied it out of the segment: two copies.
func TestBigEntryReadsWithOneCopy(t *testing.T) {
	for _, n := range memtest.Sizes(t, "WAL_BIG_ENTRY_SIZES") {
		dir := t.TempDir()
		l := mustOpen(t, dir, Options{})
		mustWrite(t, l, payload(1, 100))
		mustWrite(t, l, make([]byte, n))
		mustWrite(t, l, payload(3, 100))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = mustOpen(t, dir, Options{})
		var err error
		got := 0
		peak, _ := memtest.AllocDuring(func() {
			err = l.ReadFrom(0, func(i uint64, p []byte) error {
				got += len(p)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != n+200 {
			t.Fatalf("read %d bytes, want %d", got, n+200)
		}
		t.Logf("%d MiB entry: reading it allocated %.2f copies", n>>20, float64(peak)/float64(n))
		if peak > int64(n)+int64(n)/8 {
			t.Errorf("%d MiB entry: reading it allocated %d bytes", n>>20, peak)
		}
		l.Close()
	}
}
