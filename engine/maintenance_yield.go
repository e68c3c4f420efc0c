package engine

import "sync"

// flushYield lets a background compaction step aside for a flush. On a
// busy bucket the top-tier compactions (1 Mi-row fragments, ~100 MB
// rewritten) overlap many flushes and share the cores and the disk with
// them; the flush, which a producer's durability (and back-pressure) waits
// for, then took 1.1-2x as long. The compaction waits, between two of its
// batches, for the flush in progress to end - once per batch, so a stream
// of back-to-back flushes still leaves it a batch between each two and it
// always progresses.
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

// stepAsideForFlush runs between two batches of a background compaction:
// it waits for the flush in progress, if any, to end (or for Close).
func (b *Bucket) stepAsideForFlush() {
	if b.bg.afterCompactionBatch != nil {
		b.bg.afterCompactionBatch()
	}
	running := b.bg.flushes.current()
	if running == nil {
		return
	}
	b.opts.Background.event(eventCompactionYield)
	select {
	case <-running:
	case <-b.bg.stop:
	}
}
