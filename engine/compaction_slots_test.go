package engine

import (
	"sync"
	"testing"
	"time"
)

// TestCompactionSlotsBoundTheProcess: background compactions of different
// buckets share the process's slots. With one slot, a bucket whose
// compaction is due waits while another bucket's compaction runs, then
// compacts once that one ends; its flushes go on meanwhile.
func TestCompactionSlotsBoundTheProcess(t *testing.T) {
	saved := compactionSlots
	compactionSlots = make(chan struct{}, 1)
	defer func() { compactionSlots = saved }()

	open := func() (*Bucket, *events) {
		opts, _, ev := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 1 << 20, MinFlushInterval: -1,
			Background: BackgroundOptions{MaxFlushDelay: -1, CompactionTargetRows: 1 << 20, CompactionFanout: 2,
				VersionRetention: -1, CleanupInterval: time.Hour}})
		b, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b, ev
	}
	flushRows := func(b *Bucket, first int64) {
		t.Helper()
		appendRows(t, b, first, 10)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := open()
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before a closes, also when the test failed
	first := true
	a.bg.afterCompactionBatch = func() {
		if first {
			first = false
			close(entered)
			<-release
		}
	}
	flushRows(a, 0)
	flushRows(a, 10) // two small fragments: a's compaction starts and holds the slot
	<-entered

	b, evB := open()
	flushRows(b, 0)
	evB.waitFor(t, eventMaintenance, 1) // one fragment: nothing to compact
	flushRows(b, 10)
	evB.waitFor(t, eventCompactionSlotWait, 1)
	if b.Compacting() || !a.Compacting() {
		t.Fatalf("compacting: a %v, b %v; want a only", a.Compacting(), b.Compacting())
	}
	flushRows(b, 20) // flushes do not wait for the slot
	letGo()
	evB.waitFor(t, eventMaintenance, 3)
	b.maintMu.Lock() // the pass that waited has ended
	defer b.maintMu.Unlock()
	if n := b.currentDataset().NumFragments(); n != 1 {
		t.Fatalf("b has %d fragments after its compaction, want 1", n)
	}
	if got := readIDs(t, b, 0, 30); !equalInts(got, seq(0, 30)) {
		t.Fatalf("b reads %v", got)
	}
}
