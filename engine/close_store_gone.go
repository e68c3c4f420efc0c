package engine

import (
	"errors"

	"github.com/persisting/persisting/lance/objstore"
)

// storeGoneAtClose: when Close's flush got no answer from the object store
// after all its retries, the rest of Close (the consumption snapshot, the
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
func (b *Bucket) storeGoneAtClose(flushErr error) {
	gone := errors.Is(flushErr, objstore.ErrNoAnswer)
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
