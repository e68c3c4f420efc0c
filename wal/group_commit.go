package wal

import "sync"

// committer makes entries durable with as few fsyncs as it can: a caller
// that needs index i durable either finds it durable already, waits for the
// fsync under way (and then for the next one if that did not cover i), or
// runs the next fsync itself, which covers every entry written by then. So
// while one fsync runs, all writers arriving meanwhile share the next one.
type committer struct {
	mu      sync.Mutex
	cond    sync.Cond
	synced  uint64 // every entry with index <= synced is durable
	running bool   // an fsync is under way
	err     error  // sticky: the first fsync failure

	// sync fsyncs the log and returns the last index it covers.
	sync func() (uint64, error)
}

func newCommitter(synced uint64, sync func() (uint64, error)) *committer {
	c := &committer{synced: synced, sync: sync}
	c.cond.L = &c.mu
	return c
}

// syncTo returns once every entry up to index is durable, or with the
// error of the fsync that should have made it so. After a failed fsync the
// state of the unsynced entries on disk is unknown, so every later call
// fails too (the log has to be reopened).
func (c *committer) syncTo(index uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.synced < index {
		if c.err != nil {
			return c.err
		}
		if c.running {
			c.cond.Wait()
			continue
		}
		c.running = true
		c.mu.Unlock()
		covered, err := c.sync()
		c.mu.Lock()
		c.running = false
		if err != nil {
			if c.err == nil {
				c.err = err
			}
		} else if covered > c.synced {
			c.synced = covered
		}
		c.cond.Broadcast()
	}
	return nil
}

// failure returns the sticky fsync error, if any.
func (c *committer) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// durable returns the last index known to be durable.
func (c *committer) durable() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.synced
}
