package engine

import (
	"fmt"
	"time"

	"github.com/persisting/persisting/wal"
)

// Every append path (Append, AppendBatches, AppendRecords) buffers the same
// way; flushPoint and overBound are the one rule:
//
//   - An append that leaves flush_threshold rows buffered asks for a flush
//     in the background (askFlush) and returns: it does not wait for the
//     flush. The flush starts at once, unless the previous flush started
//     less than min_flush_interval ago: then it starts when that interval
//     has passed, so a burst coalesces into one flush (one Lance version,
//     one data file) per interval instead of one per flush_threshold rows.
//     It starts at once anyway when the buffer holds half of
//     max_buffer_bytes, or the WAL half of max_wal_size.
//   - An append that would take the buffer past its hard bound - twice
//     flush_threshold rows, or twice the rows of the running flush when it
//     writes more (a coalesced one) and the buffer holds less than
//     max_buffer_bytes, or a WAL past max_wal_size - first waits for the
//     running flush (makeRoom): back-pressure, never an error. Rows waiting
//     for min_flush_interval are not held back (half of max_buffer_bytes
//     ends that wait). If the flush it waited for fails, the append still
//     stores its rows and returns ErrNotFlushed; the rows stay buffered (and
//     logged) for the next flush.
//
// So while flushes succeed the buffer holds at most about the larger of
// twice flush_threshold rows and max_buffer_bytes (plus one append), and so
// does a flush: a producer faster than the flushes cannot grow them flush
// after flush. No caller
// has to pick another path because the buffer is full. Flush, Close and the
// auto flush (max_flush_delay) flush at once, whatever the interval.

// flushRun is one background flush; done is closed when it ended, with err
// (nil too when it found nothing left to flush).
type flushRun struct {
	done chan struct{}
	err  error
}

// flushWhen says when the buffer wants a flush (flushPoint).
type flushWhen int

const (
	noFlush    flushWhen = iota
	flushLater           // at the end of min_flush_interval
	flushNow
)

// flushPoint says whether the buffer reached a flush point, and when that
// flush may start (at, with flushLater). Under mu.
func (b *Bucket) flushPoint() (when flushWhen, at time.Time) {
	if b.wal != nil && b.wal.Size() > b.opts.WAL.MaxSize/2 {
		return flushNow, time.Time{}
	}
	if b.bufferedRows() < int64(b.opts.FlushThreshold) {
		return noFlush, time.Time{}
	}
	if b.opts.MinFlushInterval <= 0 || b.bufferedBytes() >= b.opts.MaxBufferBytes/2 {
		return flushNow, time.Time{}
	}
	at = b.lastFlushStart.Add(b.opts.MinFlushInterval)
	if !b.opts.Background.clock.Now().Before(at) {
		return flushNow, time.Time{}
	}
	return flushLater, at
}

// askFlush starts or hurries the background flush when the buffer reached
// a flush point, and wakes the parked auto flush (after an append). Under mu.
func (b *Bucket) askFlush() {
	b.wakeAutoFlush()
	switch when, _ := b.flushPoint(); when {
	case flushNow:
		b.startFlush(flushNow)
		b.hurryFlush()
	case flushLater:
		b.startFlush(flushLater)
	}
}

// startFlush returns the background flush, starting one unless one is
// scheduled or running; when is what flushPoint says now. Under mu.
func (b *Bucket) startFlush(when flushWhen) *flushRun {
	if b.flushHurry == nil {
		b.flushHurry = make(chan struct{}, 1)
	}
	if b.bgFlush == nil {
		b.bgFlush = &flushRun{done: make(chan struct{})}
		go b.runFlushes(b.bgFlush, b.flushHurry, when)
	}
	return b.bgFlush
}

// hurryFlush wakes a background flush waiting for min_flush_interval to
// look again: the buffer or the bucket changed so it may not wait. Under mu.
func (b *Bucket) hurryFlush() {
	select {
	case b.flushHurry <- struct{}{}:
	default:
	}
}

// runFlushes flushes until the buffer is below its flush point, one run
// per flush, so a waiter wakes after the flush it waited for; before a
// flush it waits for the end of min_flush_interval when flushPoint says so.
// It stops at the first failure (the next append that finds a flush due
// tries again) and when the bucket is closed (Close flushes itself). A run
// started with flushNow goes straight to its flush: taking mu first would
// let a stream of appends, which hold mu most of the time, hold it back.
func (b *Bucket) runFlushes(run *flushRun, hurry <-chan struct{}, first flushWhen) {
	if first != flushNow {
		b.mu.Lock()
		if run = b.awaitFlushPoint(run, hurry); run == nil {
			return
		}
	}
	for {
		b.flushMu.Lock()
		err := b.flush(false)
		b.flushMu.Unlock()
		if err != nil {
			b.opts.Logger("persisting: background flush failed (the rows stay buffered): %v", err)
		}
		b.mu.Lock()
		run.err = err
		close(run.done)
		if err != nil {
			b.bgFlush = nil
			b.mu.Unlock()
			return
		}
		run = &flushRun{done: make(chan struct{})}
		b.bgFlush = run
		if run = b.awaitFlushPoint(run, hurry); run == nil {
			return
		}
	}
}

// awaitFlushPoint waits, with mu released, until the buffer's flush may
// start, and returns the run that flush is (nil when it found nothing to
// flush or the bucket closed: it ended the run then). Before waiting for
// min_flush_interval it ends run and waits as a new one, so an append
// held back by a flush that no longer comes (Flush took the rows
// meanwhile) looks at the buffer again. Called under mu; returns without it.
func (b *Bucket) awaitFlushPoint(run *flushRun, hurry <-chan struct{}) *flushRun {
	for {
		when, at := b.flushPoint()
		if b.closed || when == noFlush {
			close(run.done)
			b.bgFlush = nil
			b.mu.Unlock()
			return nil
		}
		if when == flushNow {
			b.mu.Unlock()
			return run
		}
		close(run.done)
		run = &flushRun{done: make(chan struct{})}
		b.bgFlush = run
		b.mu.Unlock()
		b.opts.Background.event(eventFlushDeferred)
		t := b.opts.Background.clock.NewTimerAt(at)
		select {
		case <-t.C():
		case <-hurry:
		}
		t.Stop()
		b.mu.Lock()
	}
}

// overBound says whether appending rows more rows would take the buffer past
// its hard bound (twice the threshold; twice the running flush's rows when
// that is more and the buffer holds less than max_buffer_bytes; a WAL past
// max_wal_size). While no flush runs,
// rows waiting for min_flush_interval are not held back: their wait ends
// at half of max_buffer_bytes. An empty buffer takes any append: no flush could make
// room. Under mu.
func (b *Bucket) overBound(rows int64) bool {
	buffered := b.bufferedRows()
	if buffered == 0 {
		return false
	}
	if b.walOverSize() {
		return true
	}
	if when, _ := b.flushPoint(); when == flushLater && b.flushing == 0 {
		return false // the rows wait for the interval; half of max_buffer_bytes ends the wait
	}
	limit := 2 * int64(b.opts.FlushThreshold)
	if b.flushing > int64(b.opts.FlushThreshold) && b.bufferedBytes() < b.opts.MaxBufferBytes {
		limit = 2 * b.flushing // within the byte budget: as many rows as the flush writes
	}
	return buffered+rows > limit
}

// makeRoom holds an append of rows rows back until the buffer can take them
// within its hard bound, waiting for background flushes with mu released.
// flushErr (ErrNotFlushed) reports a flush it waited for that failed: the
// append then goes on at once and returns flushErr after storing its rows.
// err is ErrClosed when the bucket was closed meanwhile. Under mu.
func (b *Bucket) makeRoom(rows int64) (flushErr, err error) {
	for b.overBound(rows) {
		run := b.startFlush(flushNow)
		b.hurryFlush() // past the bound is past every flush point: no wait for the interval
		if b.onBackPressure != nil {
			b.onBackPressure()
		}
		b.mu.Unlock()
		<-run.done
		b.mu.Lock()
		if b.closed {
			return nil, ErrClosed
		}
		if run.err != nil {
			return fmt.Errorf("%w: %w", ErrNotFlushed, run.err), nil
		}
	}
	return nil, nil
}

// waitBackgroundFlush waits until no background flush is scheduled or
// running (Close, and tests that check what a threshold flush wrote).
func (b *Bucket) waitBackgroundFlush() {
	for {
		b.mu.Lock()
		run := b.bgFlush
		b.mu.Unlock()
		if run == nil {
			return
		}
		<-run.done
	}
}

// walWrite is what an append wrote to the WAL under mu and must see durable
// (committed) after releasing it: group commit. The zero value: nothing.
type walWrite struct {
	log   *wal.Log
	index uint64
}

// acknowledge finishes an append after mu was released: it waits for the
// WAL entry to be durable as the sync policy says (concurrent appends share
// one fsync), then reports the append's outcome. err is the append's own
// error, flushErr that of a flush it waited for.
func (b *Bucket) acknowledge(w walWrite, err, flushErr error) error {
	if err != nil {
		b.metrics.failed("append")
		return err
	}
	if w.log != nil {
		if err := w.log.Commit(w.index); err != nil {
			b.metrics.failed("append")
			return fmt.Errorf("%w: the rows are buffered, but their WAL entry may not be durable: %w", ErrWAL, err)
		}
		crashAt(crashAfterWALWrite)
	}
	return flushErr
}
