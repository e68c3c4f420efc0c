package engine

import "errors"

// autoFlushLoop bounds how long a row stays only in memory. It ticks every
// MaxFlushDelay/2 and flushes when rows that were already buffered at the
// previous tick are still not persisted: a row appended just after a tick
// is seen at the next one and flushed at the one after, less than two
// periods - one MaxFlushDelay - after it was appended. When a tick finds
// every row persisted, the loop parks its ticker (t is nil when it starts
// parked) until an append wakes it with a new one (wakeAutoFlush): the
// first row then waits at most two periods of that ticker, and an idle
// bucket has no timer at all.
func (b *Bucket) autoFlushLoop(stop <-chan struct{}, t Ticker, p *parking) {
	seen := int64(-1) // total rows at the previous tick
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		if t == nil {
			if t = p.wait(stop); t == nil {
				return
			}
			seen = -1
		}
		select {
		case <-stop:
			return
		case <-t.C():
		}
		total, persisted, _, err := b.Counts()
		if err != nil {
			return // closed
		}
		if seen > persisted && !b.waitsForRefit() {
			err := b.Flush()
			switch {
			case errors.Is(err, ErrClosed):
				return
			case err != nil:
				b.opts.Logger("persisting: automatic flush failed (the rows stay buffered): %v", err)
			default:
				b.metrics.autoFlushed()
			}
			b.opts.Background.event(eventAutoFlush)
		}
		seen = total
		if b.parkAutoFlush(p) {
			t.Stop()
			t = nil
		}
		// After the stop: a test counting tickers at this event sees it gone.
		b.opts.Background.event(eventAutoFlushTick)
	}
}

// parkAutoFlush parks the auto flush when no row waits for a flush. Under
// mu, as appends wake it: a row appended after this sees it parked.
func (b *Bucket) parkAutoFlush(p *parking) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.bufferedRows() > 0 {
		return false
	}
	return p.park(nil)
}

// waitsForRefit: the buffered rows did not fit the schema another writer
// gave the dataset (schema_concurrent.go). The flush said so; flushing at
// every tick would only fail again, so the next Flush or Close tries.
func (b *Bucket) waitsForRefit() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refitFailed != nil
}
