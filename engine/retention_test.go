package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance"
)

// TestRetention: each limit drops the oldest records at the periodic pass,
// whole fragments or part of one; offsets never shift: total_count stays,
// the records kept read at their offsets, an offset before the first
// retained one is refused with ErrInvalidArgument naming it, Stats and
// pylance agree, and a reopened bucket carries on from the same offsets.
func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bg    BackgroundOptions
		bytes bool // RetentionBytes: the bytes of the last two fragments
		first int64
	}{
		{"rows, inside a fragment", BackgroundOptions{RetentionRows: 250}, false, 250},
		{"rows, whole fragments", BackgroundOptions{RetentionRows: 200}, false, 300},
		{"bytes", BackgroundOptions{}, true, 300},
		{"age reached", BackgroundOptions{RetentionAge: time.Minute}, false, 500},
		{"age not reached", BackgroundOptions{RetentionAge: time.Hour}, false, 0},
		{"no limit", BackgroundOptions{}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bg := tc.bg
			bg.MaxFlushDelay = -1
			opts, clock, ev := withFakeTime(Options{Path: dir, FlushThreshold: 100, Background: bg})
			if tc.bytes {
				// Measure what two fragments of 100 rows take, in a scratch bucket.
				scratch := openBucket(t, t.TempDir(), 100)
				appendInBatches(t, scratch, 0, 500, 100)
				frags := scratch.currentDataset().FragmentStats()
				opts.Background.RetentionBytes = frags[3].Bytes + frags[4].Bytes
				scratch.Close()
			}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendInBatches(t, b, 0, 500, 100) // five fragments of 100
			clock.Advance(2 * time.Minute)
			ev.waitFor(t, eventPeriodicMaintenance, 1)
			st, err := b.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.FirstRetainedOffset != tc.first || st.TotalCount != 500 || st.PersistedCount != 500 {
				t.Fatalf("stats: first retained %d (want %d), total %d, persisted %d", st.FirstRetainedOffset, tc.first, st.TotalCount, st.PersistedCount)
			}
			if tc.first > 0 {
				_, _, err := b.Read(tc.first-1, 10, memory.DefaultAllocator)
				if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "first retained offset is "+itoa(int(tc.first))) {
					t.Fatalf("read before the first retained offset: %v", err)
				}
			}
			if got := readIDs(t, b, tc.first, -1); !equalInts(got, seq(tc.first, 500-tc.first)) {
				t.Fatalf("retained rows: %v", got)
			}
			if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(tc.first, 500-tc.first)) {
				t.Fatalf("pylance reads %v", got)
			}
			appendRows(t, b, 500, 50) // buffered, after the retained ones
			from := max(tc.first, 480)
			if got := readIDs(t, b, from, -1); !equalInts(got, seq(from, 550-from)) {
				t.Fatalf("rows %d..: %v", from, got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b = openBucket(t, dir, 100)
			defer b.Close()
			if total, _, _, _ := b.Counts(); total != 550 {
				t.Fatalf("reopened: total %d", total)
			}
			if got := readIDs(t, b, max(tc.first, 400), -1); !equalInts(got, seq(max(tc.first, 400), 550-max(tc.first, 400))) {
				t.Fatalf("reopened: %v", got)
			}
		})
	}
}

// TestRetentionKeepsOldVersionsOffsets: a version from before retention
// still reads at its own offsets (time travel), and the metrics report the
// retained range.
func TestRetentionKeepsOldVersionsOffsets(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 100, Metrics: true,
		Background: BackgroundOptions{MaxFlushDelay: -1, RetentionRows: 150}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendInBatches(t, b, 0, 300, 100)
	before := b.currentDataset().Version()
	clock.Advance(DefaultCleanupInterval)
	ev.waitFor(t, eventPeriodicMaintenance, 1)
	_, recs, err := b.ReadVersion(before, 0, -1, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, recs); !equalInts(got, seq(0, 300)) {
		t.Fatalf("version %d: %v", before, got)
	}
	releaseAll(recs)
	now := b.currentDataset()
	if _, _, err := b.ReadVersion(now.Version(), 100, 10, memory.DefaultAllocator); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("reading a dropped offset of the newest version: %v", err)
	}
	_, recs, err = b.ReadVersion(now.Version(), 150, 10, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, recs); !equalInts(got, seq(150, 10)) {
		t.Fatalf("newest version from 150: %v", got)
	}
	releaseAll(recs)
	m, err := b.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m["persisting_first_retained_offset"] != 150.0 || m["persisting_retained_records"] != 150.0 ||
		m["persisting_retention_dropped_records_total"] != 150.0 {
		t.Fatalf("metrics: %v", m)
	}
}

// TestRetentionSkipsIndexedDataset: an index would need the dropped rows
// remapped, so retention leaves an indexed dataset alone.
func TestRetentionSkipsIndexedDataset(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 100,
		Background: BackgroundOptions{MaxFlushDelay: -1, RetentionRows: 100}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendInBatches(t, b, 0, 300, 100)
	if _, err := b.CreateIndex("id", lance.IndexBTree); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultCleanupInterval)
	ev.waitFor(t, eventPeriodicMaintenance, 1)
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 300)) {
		t.Fatalf("rows: %d", len(got))
	}
}

// appendInBatches appends rows first..first+n-1 in appends of batch rows,
// flushing after each: each append makes one fragment (its threshold flush
// wrote it, or Flush does, as min_flush_interval holds the threshold flush
// back on a clock that only moves when the test says).
func appendInBatches(t *testing.T, b *Bucket, first, n, batch int64) {
	t.Helper()
	for i := first; i < first+n; i += batch {
		appendRows(t, b, i, min(batch, first+n-i))
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}
