package engine

import (
	"sync"
	"time"
)

// flushYield lets a background compaction step aside for a flush. On a
// busy bucket the top-tier compactions (1 Mi-row fragments, ~100 MB
// rewritten) overlap many flushes and share the cores and the disk with
// them; the flush, which a producer's durability (and back-pressure) waits
// for, then took 1.1-2x as long. The compaction waits, between two of its
// batches, for the flush in progress to end, but only while it has waited
// less than a quarter as long as it has worked (compactionShare): a stream of
// back-to-back flushes still leaves it most of its speed. (A wait per batch was not enough:
// small fragments are one batch each, so a flush per fragment stopped
// compaction from catching up, and 1,000 1k-row fragments stayed ~500.)
type flushYield struct {
	mu      sync.Mutex
	running chan struct{} // closed when the flush in progress ends; nil when none runs
}

// begin marks a flush in progress (flushes are serialised by flushMu).
func (y *flushYield) begin() {
	y.mu.Lock()
	y.running = make(chan struct{})
	y.mu.Unlock()
}

// end marks the flush ended, waking a compaction waiting for it.
func (y *flushYield) end() {
	y.mu.Lock()
	if y.running != nil {
		close(y.running)
		y.running = nil
	}
	y.mu.Unlock()
}

// current is the end of the flush in progress (nil when none runs).
func (y *flushYield) current() <-chan struct{} {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.running
}

// compactionWaitShare: a compaction waits for flushes at most a quarter as
// long as it works (its speed stays >= 80%). Enough for the flushes of a
// busy queue (one a second, 10-20% of it), not for back-to-back ones.
const compactionWaitShare = 4

// compactionShare is one compaction's time copying and time waiting for
// flushes. Real time, not the bucket's clock: it shares the machine.
type compactionShare struct {
	worked, waited time.Duration
	since          time.Time // the end of the last wait (or the start)
}

func newCompactionShare() *compactionShare { return &compactionShare{since: time.Now()} }

// stepAsideForFlush runs between two batches of a background compaction:
// it waits for the flush in progress, if any, to end (or for Close), unless
// the compaction has waited its share (compactionWaitShare).
func (b *Bucket) stepAsideForFlush(share *compactionShare) {
	if b.bg.afterCompactionBatch != nil {
		b.bg.afterCompactionBatch()
	}
	now := time.Now()
	share.worked += now.Sub(share.since)
	share.since = now
	running := b.bg.flushes.current()
	if running == nil || share.waited*compactionWaitShare >= share.worked {
		return
	}
	b.opts.Background.event(eventCompactionYield)
	select {
	case <-running:
	case <-b.bg.stop:
	}
	share.since = time.Now()
	share.waited += share.since.Sub(now)
}
