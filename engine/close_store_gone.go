package engine

import (
	"errors"
	"fmt"

	"github.com/persisting/persisting/lance/objstore"
)

// closeFlush is Close's last flush; gone says the store did not answer
// it, or would not have. A bucket with the WAL does not try it while the
// store counts as gone (objstore.KnownGone): at interpreter exit during an
// outage, each bucket's flush would cost one attempt - a whole timeout
// against a server that accepts connections and never answers - only to
// fail; the WAL holds every buffered row (an append logs before it
// buffers) and the next open replays them. The error then names the rows
// left there (none: no error). Without the WAL the flush is always tried:
// nothing else holds its rows (close_keeps.go). Under flushMu.
func (b *Bucket) closeFlush() (gone bool, err error) {
	var last error
	if b.wal != nil {
		last = objstore.KnownGone(b.opts.datasetPath())
	}
	if last == nil {
		err = b.flush(true)
		return errors.Is(err, objstore.ErrNoAnswer), err
	}
	b.mu.Lock()
	rows := b.bufferedRows()
	b.mu.Unlock()
	if rows > 0 {
		err = fmt.Errorf("engine: close %s: not flushed: the %d unflushed rows stay in the WAL for the next open, "+
			"the object store counting as gone (no request has got an answer since this one: %w)", b.opts.Path, rows, last)
	}
	return true, err
}

// storeGoneAtClose: when Close's flush got no answer from the object store
// after all its retries (or was not tried, closeFlush), the rest of Close (the consumption snapshot, the
// lease's release) would wait as long again for the same outcome - a
// minute and more per bucket with the defaults, at every interpreter exit
// during an outage. They are skipped: the WAL keeps the rows and the
// journal the consumption changes; the lease is left to expire (or to this
// process's next open, writer_lease.go).
//
// A flush left uncertain (flush_uncertain.go) keeps the lease too, even
// when the store answers: the next writer, finding it unreleased, commits
// a takeover version before it reads the dataset, so a held-back manifest
// PUT of that flush lands before the read (and the WAL replay skips its
// rows) or never. A released lease needs no takeover, and the held PUT
// could land between the next writer's read and its first commit, storing
// the rows twice.
func (b *Bucket) storeGoneAtClose(gone bool) {
	if !gone && b.uncertain == nil {
		return
	}
	if b.lock != nil && b.lock.lease != nil {
		b.lock.lease.mu.Lock()
		b.lock.lease.storeGone = true
		b.lock.lease.mu.Unlock()
	}
	if !gone {
		return // the consumption snapshot can be written
	}
	c := &b.consumption
	c.mu.Lock()
	if r, ok := c.file.(*remoteConsumption); ok {
		r.storeGone = true
	}
	c.mu.Unlock()
}
