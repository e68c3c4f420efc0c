package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestConsumptionStateBoundedByRetention: a bucket trained on for months
// with retention keeps a consumption state (memory, the log's rewrites,
// s3:// snapshots) the size of the retained records, not of its history.
// Each round appends 100 records, one task takes them all, a sampler task
// marks every third, every other one is cleared, tasks come and go, and a
// periodic pass lets retention keep 1,000 records. Before, the cleared
// set and the tasks' bitmaps kept every index retention had dropped: the
// state grew by about 50 scattered indexes per round, forever.
func TestConsumptionStateBoundedByRetention(t *testing.T) {
	dir := t.TempDir()
	opts, clock, ev := withFakeTime(Options{Path: dir, FlushThreshold: 100,
		Background: BackgroundOptions{MaxFlushDelay: -1, RetentionRows: 1000, VersionRetention: -1}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { b.Close() }()
	const rounds = 60
	var sizes []int
	handed := roaring.New() // task "train": never one index twice
	for r := int64(0); r < rounds; r++ {
		appendRows(t, b, 100*r, 100)
		for _, v := range take(t, b, "train", 100) {
			if handed.Contains(uint32(v)) {
				t.Fatalf("round %d: index %d handed out twice", r, v)
			}
			handed.Add(uint32(v))
		}
		var marks, clears []int64
		for i := 100 * r; i < 100*r+100; i++ {
			if i%3 == 0 {
				marks = append(marks, i)
			}
			if i%2 == 0 {
				clears = append(clears, i)
			}
		}
		sampler := fmt.Sprintf("sampler-%d", r/10)
		if err := b.MarkConsumed(sampler, marks); err != nil {
			t.Fatal(err)
		}
		if r%10 == 9 {
			if err := b.ResetConsumption(sampler); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Clear(clears); err != nil {
			t.Fatal(err)
		}
		clock.Advance(DefaultCleanupInterval)
		ev.waitFor(t, eventPeriodicMaintenance, int(r)+1)

		if _, err := b.LiveIndexes(nil); err != nil { // any call sees the new first offset
			t.Fatal(err)
		}
		first := b.currentOffsets().first
		b.consumption.mu.Lock()
		for _, bm := range b.consumption.bitmaps() {
			if !bm.isEmpty() && bm.minimum() < first {
				b.consumption.mu.Unlock()
				t.Fatalf("round %d: the state holds index %d, below the first retained %d", r, bm.minimum(), first)
			}
		}
		snap, err := encodeConsumptionEntries(b.consumption.snapshot())
		b.consumption.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(snap))
	}
	if first := b.currentOffsets().first; first < 100*rounds-2100 { // 1,000 live records: half the offsets are cleared
		t.Fatalf("retention kept from %d", first)
	}
	if grown, early := sizes[len(sizes)-1], sizes[rounds/4]; grown > early*3/2 {
		t.Fatalf("the state grew from %d bytes (round %d) to %d (round %d)", early, rounds/4, grown, rounds)
	}
	// A reopened bucket carries on where it was, with the same small state.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 100*rounds, 5)
	if got := take(t, b, "train", 10); !equalInts(got, seq(100*rounds, 5)) {
		t.Fatalf("after reopen: %v", got)
	}
	if got := take(t, b, "new", 3); len(got) != 3 || got[0] < b.currentOffsets().first || got[0]%2 == 0 {
		t.Fatalf("a new task starts at the first retained live record: %v", got)
	}
	st, err := os.Stat(filepath.Join(dir, ConsumptionLogName))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state %d bytes at round %d, %d at round %d; log %d bytes", sizes[rounds/4], rounds/4, sizes[rounds-1], rounds, st.Size())
}
