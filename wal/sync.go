package wal

import (
	"fmt"
	"time"
)

// SyncPolicy says when written entries are made durable with fsync.
// The zero value is SyncEveryWrite.
type SyncPolicy struct {
	interval time.Duration // 0: every write
	invalid  bool          // SyncInterval got a non-positive duration
}

// SyncEveryWrite makes Write and WriteBatch return only after the entries
// are fsynced. Concurrent writers share one fsync (group commit).
var SyncEveryWrite = SyncPolicy{}

// SyncInterval makes Write and WriteBatch return once the entries are in
// the operating system's page cache; a background goroutine fsyncs them at
// least every d. A crash of the machine (not of the process) can lose the
// entries written in the last d. d must be positive.
func SyncInterval(d time.Duration) SyncPolicy {
	return SyncPolicy{interval: d, invalid: d <= 0}
}

func (p SyncPolicy) String() string {
	if p.interval == 0 && !p.invalid {
		return "SyncEveryWrite"
	}
	return fmt.Sprintf("SyncInterval(%v)", p.interval)
}

func (p SyncPolicy) everyWrite() bool { return p.interval == 0 }

// syncLoop fsyncs the log every interval while it has unsynced entries.
// It ends when stop is closed.
func (l *Log) syncLoop(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick, stopTicker := l.tickEvery(interval)
	defer stopTicker()
	failing := false
	for {
		select {
		case <-stop:
			return
		case <-tick:
			// Staged entries that cannot be moved stay staged (they
			// survive a killed process) and the next tick tries again.
			// An fsync error is sticky in the committer and reported by
			// the next Write, Sync or Close.
			target, err := l.transferForSync()
			if err != nil && !failing {
				l.opts.Logger("%v (retried at each sync)", err)
			}
			failing = err != nil
			_ = l.commit.syncTo(target)
		}
	}
}

// tickEvery returns the sync loop's ticks, a ticker's or the test hook's,
// and how to stop them.
func (l *Log) tickEvery(interval time.Duration) (<-chan time.Time, func()) {
	if h := l.opts.hooks; h != nil && h.tick != nil {
		return h.tick, func() {}
	}
	t := time.NewTicker(interval)
	return t.C, t.Stop
}
