package engine

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestFlushYield(t *testing.T) {
	var y flushYield
	if y.current() != nil {
		t.Fatal("a flush is in progress before any began")
	}
	y.begin()
	running := y.current()
	select {
	case <-running:
		t.Fatal("the flush in progress ended before end")
	default:
	}
	y.end()
	<-running // closed by end
	if y.current() != nil {
		t.Fatal("a flush is in progress after it ended")
	}
	y.end() // idempotent: nothing in progress
}

// TestCompactionStepsAsideForFlush: a background compaction that finished a
// batch while a flush is in progress waits for that flush to end before its
// next batch, then completes, and every row stays in order.
func TestCompactionStepsAsideForFlush(t *testing.T) {
	opts, _, ev := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 1 << 20, MinFlushInterval: -1,
		Background: BackgroundOptions{MaxFlushDelay: -1, CompactionTargetRows: 1 << 20, CompactionFanout: 2,
			VersionRetention: -1, CleanupInterval: time.Hour}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, eventMaintenance, 1) // one fragment: nothing to compact

	// The next flush makes two small fragments: the compaction reads one
	// batch per fragment and stops after its first until released.
	var batches, duringFlush atomic.Int32
	firstBatch, goOn := make(chan struct{}), make(chan struct{})
	b.bg.afterCompactionBatch = func() {
		if batches.Add(1) == 1 {
			close(firstBatch)
			<-goOn
		} else if b.bg.flushes.current() != nil {
			duringFlush.Add(1) // read while the flush was in progress
		}
	}
	appendRows(t, b, 10, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	<-firstBatch

	// A flush starts and stays in progress until released.
	flushing, releaseFlush := make(chan struct{}), make(chan struct{})
	b.beforeFlushWrite = func() {
		close(flushing)
		<-releaseFlush
	}
	appendRows(t, b, 20, 10)
	flushed := make(chan error, 1)
	go func() { flushed <- b.Flush() }()
	<-flushing

	close(goOn)
	ev.waitFor(t, eventCompactionYield, 1) // the compaction waits for the flush
	if n := batches.Load(); n != 1 {
		t.Fatalf("the compaction read %d batches while the flush was in progress, want 1", n)
	}
	close(releaseFlush)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	b.beforeFlushWrite = nil
	ev.waitFor(t, eventMaintenance, 2) // the compaction's pass ended
	if n := batches.Load(); n < 2 || duringFlush.Load() > 0 {
		t.Fatalf("the compaction read %d batches, %d of its later ones during the flush; want them all after it",
			n, duringFlush.Load())
	}
	if n := b.currentDataset().NumFragments(); n >= 3 {
		t.Fatalf("%d fragments after three flushes: no compaction committed", n)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 30)) {
		t.Fatalf("rows after the compaction: %v", got)
	}
}

// TestCompactionShare: between batches a compaction waits for the flush in
// progress only while it has waited less than a quarter as long as it has
// worked, so back-to-back flushes (one per small fragment it copies) cannot
// hold it to a batch per flush. (A wrong wait hangs the test: no timer.)
func TestCompactionShare(t *testing.T) {
	cases := []struct {
		name           string
		worked, waited time.Duration
		flushing       bool
		wantWait       bool
	}{
		{"no flush", time.Hour, 0, false, false},
		{"worked more than waited", time.Hour, time.Minute, true, true},
		{"waited over a quarter of its work", 4 * time.Hour, time.Hour + time.Minute, true, false},
		{"waited less than a quarter", 4 * time.Hour, time.Hour - time.Minute, true, true},
		{"waited more than worked", 0, time.Hour, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, _, ev := withFakeTime(Options{Path: t.TempDir(), MinFlushInterval: -1,
				Background: BackgroundOptions{MaxFlushDelay: -1}})
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if tc.flushing {
				b.bg.flushes.begin()
			}
			share := &compactionShare{worked: tc.worked, waited: tc.waited, since: time.Now()}
			stepped := make(chan struct{})
			go func() {
				b.stepAsideForFlush(share)
				close(stepped)
			}()
			if tc.wantWait {
				ev.waitFor(t, eventCompactionYield, 1)
				select {
				case <-stepped:
					t.Fatal("stepped on before the flush ended")
				default:
				}
				b.bg.flushes.end()
			}
			<-stepped
			if n := ev.count(eventCompactionYield); (n > 0) != tc.wantWait {
				t.Fatalf("%d waits, want a wait: %v", n, tc.wantWait)
			}
			if tc.wantWait && share.waited <= tc.waited {
				t.Fatalf("the wait was not counted: waited %v", share.waited)
			}
			b.bg.flushes.end()
		})
	}
}
