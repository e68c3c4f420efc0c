package engine

import (
	"fmt"

	"github.com/persisting/persisting/wal"
)

// Every append path (Append, AppendBatches, AppendRecords) buffers the same
// way:
//
//   - An append that leaves flush_threshold rows buffered, or a WAL past half
//     of max_wal_size, starts a flush in the background (startFlush) and
//     returns: it does not wait for the flush.
//   - An append that would take the buffer past its hard bound - more than
//     twice flush_threshold rows once it holds backPressureBytes (16 MiB),
//     or a WAL past max_wal_size - first waits for the running flush
//     (makeRoom): back-pressure, never an error. If the flush it waited for
//     fails, the append still stores its rows and returns ErrNotFlushed; the
//     rows stay buffered (and logged) for the next flush.
//
// So the buffer holds at most about max(twice flush_threshold rows, 16 MiB)
// plus one append while flushes succeed, and no caller has to pick another
// path because the buffer is full.
//
// Why the bytes: a flush costs a few fsyncs whatever its size, so with small
// rows a producer outruns flushes of 2*flush_threshold rows (1,000-row
// flushes of 100-byte rows: some 20 ms each here, against 4 us per put) and
// would wait for most of its time. Letting the buffer grow to 16 MiB makes
// the next flush take everything appended meanwhile, so flushes grow until
// they keep up; rows are a poor measure of memory anyway.

// backPressureBytes is the buffer size (Options.backPressureBytes when set)
// below which appends never wait for a flush.
const backPressureBytes = 16 << 20

// flushRun is one background flush; done is closed when it ended, with err.
type flushRun struct {
	done chan struct{}
	err  error
}

// startFlush returns the background flush, starting one unless one is
// scheduled or running. Under mu.
func (b *Bucket) startFlush() *flushRun {
	if b.bgFlush == nil {
		b.bgFlush = &flushRun{done: make(chan struct{})}
		go b.runFlushes(b.bgFlush)
	}
	return b.bgFlush
}

// runFlushes flushes until the buffer is below its flush threshold, one run
// per flush, so a waiter wakes after the flush it waited for. It stops at
// the first failure (the next append that finds a flush due tries again).
func (b *Bucket) runFlushes(run *flushRun) {
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
		if err != nil || b.closed || !b.flushDue() {
			b.bgFlush = nil
			b.mu.Unlock()
			return
		}
		run = &flushRun{done: make(chan struct{})}
		b.bgFlush = run
		b.mu.Unlock()
	}
}

// flushDue says whether the buffer reached the flush threshold or the WAL
// half its maximum size: time to start a background flush. Under mu.
func (b *Bucket) flushDue() bool {
	return b.bufferedRows() >= int64(b.opts.FlushThreshold) || (b.wal != nil && b.wal.Size() > b.opts.WAL.MaxSize/2)
}

// overBound says whether appending rows more rows would take the buffer past
// its hard bound (twice the threshold once the buffer holds
// backPressureBytes, or a WAL past max_wal_size). An empty buffer takes any
// append: no flush could make room. Under mu.
func (b *Bucket) overBound(rows int64) bool {
	buffered := b.bufferedRows()
	if buffered == 0 {
		return false
	}
	if b.walOverSize() {
		return true
	}
	return buffered+rows > 2*int64(b.opts.FlushThreshold) && b.bufferedBytes() >= b.opts.backPressureBytes
}

// makeRoom holds an append of rows rows back until the buffer can take them
// within its hard bound, waiting for background flushes with mu released.
// flushErr (ErrNotFlushed) reports a flush it waited for that failed: the
// append then goes on at once and returns flushErr after storing its rows.
// err is ErrClosed when the bucket was closed meanwhile. Under mu.
func (b *Bucket) makeRoom(rows int64) (flushErr, err error) {
	for b.overBound(rows) {
		run := b.startFlush()
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
