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
func (b *Bucket) storeGoneAtClose(flushErr error) {
	if !errors.Is(flushErr, objstore.ErrNoAnswer) {
		return
	}
	if b.lock != nil && b.lock.lease != nil {
		b.lock.lease.mu.Lock()
		b.lock.lease.storeGone = true
		b.lock.lease.mu.Unlock()
	}
	c := &b.consumption
	c.mu.Lock()
	if r, ok := c.file.(*remoteConsumption); ok {
		r.storeGone = true
	}
	c.mu.Unlock()
}
