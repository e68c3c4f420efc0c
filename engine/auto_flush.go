package engine

import "errors"

// autoFlushLoop bounds how long a row stays only in memory. It ticks every
// MaxFlushDelay/2 and flushes when rows that were already buffered at the
// previous tick are still not persisted: a row appended just after a tick
// is seen at the next one and flushed at the one after, less than two
// periods - one MaxFlushDelay - after it was appended. It needs no hook in
// the append path and costs an idle bucket one lock per tick.
func (b *Bucket) autoFlushLoop(stop <-chan struct{}, t Ticker) {
	seen := int64(-1) // total rows at the previous tick
	for {
		select {
		case <-stop:
			return
		case <-t.C():
		}
		total, persisted, _, err := b.Counts()
		if err != nil {
			return // closed
		}
		if seen > persisted {
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
		b.opts.Background.event(eventAutoFlushTick)
	}
}
