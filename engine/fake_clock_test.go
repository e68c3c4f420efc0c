package engine

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock tests step by hand: tickers fire only when Advance
// moves the clock past them (one pending tick at most per ticker, as with
// time.Ticker). Now is the wall clock plus every Advance so far, so that it
// stays comparable with what the file system and Lance stamp with the
// wall clock (file times, manifest timestamps).
type fakeClock struct {
	mu      sync.Mutex
	offset  time.Duration
	ticks   time.Duration // the ticking time: the sum of the advances
	tickers []*fakeTicker
	timers  []*fakeTimer
}

// fakeTimer fires once, when an Advance (or its creation) finds the clock
// at or past at.
type fakeTimer struct {
	c     chan time.Time
	at    time.Time
	clock *fakeClock
}

func (c *fakeClock) NewTimerAt(at time.Time) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: at, clock: c}
	if now := time.Now().Add(c.offset); !now.Before(at) {
		t.c <- now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.clock.timers = slices.DeleteFunc(t.clock.timers, func(x *fakeTimer) bool { return x == t })
}

type fakeTicker struct {
	c      chan time.Time
	period time.Duration
	next   time.Duration
	clock  *fakeClock
}

func newFakeClock() *fakeClock { return &fakeClock{} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time, 1), period: d, next: c.ticks + d, clock: c}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves the clock by d and fires the tickers that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	c.ticks += d
	for _, t := range c.tickers {
		if t.next > c.ticks {
			continue
		}
		for t.next <= c.ticks {
			t.next += t.period
		}
		select {
		case t.c <- time.Now().Add(c.offset):
		default:
		}
	}
	now := time.Now().Add(c.offset)
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if now.Before(t.at) {
			return false
		}
		t.c <- now
		return true
	})
}

// tickers counts the tickers of period d.
func (c *fakeClock) tickerCount(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.tickers {
		if t.period == d {
			n++
		}
	}
	return n
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	for i, x := range t.clock.tickers {
		if x == t {
			t.clock.tickers = append(t.clock.tickers[:i], t.clock.tickers[i+1:]...)
			return
		}
	}
}

// events counts the background events of a bucket, so a test can wait for
// the n-th one instead of sleeping.
type events struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    map[string]int
}

func newEvents() *events {
	e := &events{n: map[string]int{}}
	e.cond = sync.NewCond(&e.mu)
	return e
}

func (e *events) record(name string) {
	e.mu.Lock()
	e.n[name]++
	e.mu.Unlock()
	e.cond.Broadcast()
}

func (e *events) count(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[name]
}

// waitFor waits until name happened at least n times. The timeout only
// bounds a failure; a passing test never waits for it.
func (e *events) waitFor(t *testing.T, name string, n int) {
	t.Helper()
	deadline := time.AfterFunc(time.Minute, func() {
		e.mu.Lock()
		e.n["timeout"]++
		e.mu.Unlock()
		e.cond.Broadcast()
	})
	defer deadline.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.n[name] < n {
		if e.n["timeout"] > 0 {
			t.Fatalf("background event %q happened %d times, waited for %d", name, e.n[name], n)
		}
		e.cond.Wait()
	}
}

// withFakeTime sets a fake clock and an event counter on o.
func withFakeTime(o Options) (Options, *fakeClock, *events) {
	c, e := newFakeClock(), newEvents()
	o.Background.clock, o.Background.event = c, e.record
	return o, c, e
}
