package engine

import (
	"sync"
	"time"
)

// parking lets a background loop stop its ticker while it has nothing to
// do, so that an idle bucket costs the process no wake-ups: 1,000 idle
// buckets otherwise tick ~500 times a second (2.5% of a core in all, the
// scheduler's work alone). The loop parks; what gives it work again
// (rows appended, a flush committed, a reader's pin released) wakes it
// with a new ticker made there and then, so the ticks count from that
// moment, and a test's fake clock has the ticker before the call that
// woke the loop returns.
type parking struct {
	mu     sync.Mutex
	parked bool
	period time.Duration
	clock  Clock
	resume chan Ticker // cap 1: the ticker a woken loop goes on with
}

func newParking(clock Clock, period time.Duration) *parking {
	return &parking{clock: clock, period: period, resume: make(chan Ticker, 1)}
}

// park marks the loop parked unless ready says there is work after all
// (checked under the same lock as wake, so no wake is lost in between).
func (p *parking) park(ready func() bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ready != nil && ready() {
		return false
	}
	p.parked = true
	return true
}

// wake restarts a parked loop; a no-op when it is not parked. It never blocks.
func (p *parking) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked {
		p.parked = false
		p.resume <- p.clock.NewTicker(p.period)
	}
}

// wait is where a parked loop waits: it returns the ticker to go on
// with, or nil once stop is closed.
func (p *parking) wait(stop <-chan struct{}) Ticker {
	select {
	case <-stop:
		return nil
	case t := <-p.resume:
		return t
	}
}

// end runs after the loop returned: no later wake makes a ticker, and one
// a wake made in the meantime is stopped.
func (p *parking) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parked = false
	select {
	case t := <-p.resume:
		t.Stop()
	default:
	}
}
