package engine

import "fmt"

// A Close whose flush fails would drop rows that nothing else holds when
// the bucket has no WAL: acknowledged rows, lost to a full disk, a process
// out of file descriptors or an unreachable store. So such a Close gives
// up instead: the bucket stays open and usable with its rows (appends,
// reads, flushes, its writer lock and background work as before), and the
// error says so. A later Close or Flush, once the cause is gone, stores
// them. With the WAL the rows are in its log, and Close frees the bucket
// as ever: the next open replays them.

// closeAttempt is one Close in progress; done is closed when it ended,
// kept is its error when it left the bucket open.
type closeAttempt struct {
	done chan struct{}
	kept error
}

// keepOpenAfter reopens the bucket when Close's flush failed (err) and its
// rows are in no WAL, and returns the error Close returns then; nil when
// Close goes on. Called by Close under flushMu, which it releases when it
// keeps the bucket open.
func (b *Bucket) keepOpenAfter(a *closeAttempt, err error) error {
	if err == nil {
		return nil
	}
	b.mu.Lock()
	rows := b.bufferedRows()
	if b.wal != nil || rows == 0 {
		b.mu.Unlock()
		return nil
	}
	a.kept = fmt.Errorf("%w; the bucket stays open with its %d unflushed rows, which no WAL holds: "+
		"remove the cause and close (or flush) it again", err, rows)
	b.startBackground() // stopped by this Close
	b.closed = false
	b.closing = nil
	b.mu.Unlock()
	b.flushMu.Unlock()
	return a.kept
}

// Closed reports whether the bucket is closed: after a Close returned nil,
// or an error that did not keep it open.
func (b *Bucket) Closed() bool { return b.isClosed() }
