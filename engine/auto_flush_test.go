package engine

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/persisting/persisting/lance"
)

// TestAutoFlushLoneRecord: with default options a single appended row is
// in Lance within DefaultMaxFlushDelay, with no flush and no close: not at
// the first tick (half the delay), at the second.
func TestAutoFlushLoneRecord(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir()})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRows(t, b, 0, 1)
	clock.Advance(DefaultMaxFlushDelay / 2)
	ev.waitFor(t, eventAutoFlushTick, 1)
	if _, persisted, _, _ := b.Counts(); persisted != 0 || ev.count(eventAutoFlush) != 0 {
		t.Fatalf("flushed at the first tick: persisted %d", persisted)
	}
	clock.Advance(DefaultMaxFlushDelay / 2)
	ev.waitFor(t, eventAutoFlush, 1)
	ds, err := lance.Open(b.DatasetPath())
	if err != nil {
		t.Fatal(err)
	}
	if ds.CountRows() != 1 {
		t.Fatalf("Lance holds %d rows", ds.CountRows())
	}
	if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, []int64{0}) {
		t.Fatalf("pylance reads %v", got)
	}
}

// TestAutoFlushDelay: whatever the moment a row is appended between ticks,
// it is flushed by the tick that ends MaxFlushDelay after the tick before
// it; an idle bucket does not flush; the alias and the switch work.
func TestAutoFlushDelay(t *testing.T) {
	const delay = 4 * time.Second
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(), Background: BackgroundOptions{MaxFlushDelay: delay}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ticks := 0
	tick := func() {
		clock.Advance(delay / 2)
		ticks++
		ev.waitFor(t, eventAutoFlushTick, ticks)
	}
	// An idle bucket keeps no auto flush timer: 1,000 of them would
	// otherwise wake the process 400 times a second.
	timers := func(want int, when string) {
		t.Helper()
		if n := clock.tickerCount(delay / 2); n != want {
			t.Fatalf("%s: %d auto flush tickers, want %d", when, n, want)
		}
	}
	timers(0, "open, nothing buffered")
	for i := int64(0); i < 3; i++ {
		appendRows(t, b, i*10, 10)
		timers(1, "rows appended")
		tick() // the rows are seen
		if _, persisted, _, _ := b.Counts(); persisted != i*10 {
			t.Fatalf("round %d: flushed one tick early (persisted %d)", i, persisted)
		}
		tick() // and flushed
		if _, persisted, _, _ := b.Counts(); persisted != (i+1)*10 {
			t.Fatalf("round %d: not flushed within the delay (persisted %d)", i, persisted)
		}
		timers(0, "all flushed")
	}
	flushes := ev.count(eventAutoFlush)
	clock.Advance(4 * delay)
	if ev.count(eventAutoFlush) != flushes || ev.count(eventAutoFlushTick) != ticks {
		t.Fatal("an idle bucket ticked or flushed")
	}
}

// TestAutoFlushOptions: the JSON names, the alias, and turning it off.
func TestAutoFlushOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want time.Duration
		bad  error
	}{
		{"default", `{}`, 0, nil},
		{"own name", `{"max_flush_delay_sec": 2.5}`, 2500 * time.Millisecond, nil},
		{"upstream alias", `{"auto_flush_interval_sec": 3}`, 3 * time.Second, nil},
		{"both agreeing", `{"max_flush_delay_sec": 3, "auto_flush_interval_sec": 3.0}`, 3 * time.Second, nil},
		{"both disagreeing", `{"max_flush_delay_sec": 3, "auto_flush_interval_sec": 4}`, 0, ErrInvalidArgument},
		{"off", `{"max_flush_delay_sec": 0}`, -1, nil},
		{"null: default", `{"auto_flush_interval_sec": null}`, 0, nil},
		{"negative", `{"auto_flush_interval_sec": -1}`, 0, ErrInvalidArgument},
		{"wrong type", `{"max_flush_delay_sec": "5"}`, 0, ErrType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseOptionsJSON(t.TempDir(), tc.json)
			if tc.bad != nil {
				if !errors.Is(err, tc.bad) {
					t.Fatalf("got %v, %v; want %v", o.Background.MaxFlushDelay, err, tc.bad)
				}
				return
			}
			if err != nil || o.Background.MaxFlushDelay != tc.want {
				t.Fatalf("got %v, %v", o.Background.MaxFlushDelay, err)
			}
		})
	}
	// Off: no auto flush ticker at all.
	opts, clock, _ := withFakeTime(Options{Path: t.TempDir(), Background: BackgroundOptions{MaxFlushDelay: -1}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := clock.tickerCount(DefaultMaxFlushDelay / 2); n != 0 {
		t.Fatalf("%d auto flush tickers with auto flush off", n)
	}
}

// TestCloseStopsBackgroundFirst: Close waits for an auto flush in progress
// before it marks the bucket closed or releases anything (buffer, WAL), the
// background goroutines have ended when it returns, and the row the auto
// flush was writing is in Lance once.
func TestCloseStopsBackgroundFirst(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(), WAL: WALOptions{Enabled: true},
		Background: BackgroundOptions{RetentionRows: 1000}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.beforeFlushWrite = func() {
		once.Do(func() { close(entered) })
		<-release
	}
	appendRows(t, b, 0, 5)
	clock.Advance(DefaultMaxFlushDelay / 2)
	ev.waitFor(t, eventAutoFlushTick, 1)
	clock.Advance(DefaultMaxFlushDelay / 2)
	<-entered // the auto flush is writing
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	for !b.bg.stopping() {
		runtime.Gosched() // until Close asked the background work to stop
	}
	b.mu.Lock()
	early := b.closed || b.wal == nil
	b.mu.Unlock()
	if early {
		t.Fatal("Close went on while an auto flush was running")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an auto flush was running", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := clock.tickerCount(DefaultMaxFlushDelay/2) + clock.tickerCount(DefaultCleanupInterval); n != 0 {
		t.Fatalf("%d background tickers left after Close", n)
	}
	if got := pylanceIDs(t, b.DatasetPath()); !equalInts(got, seq(0, 5)) {
		t.Fatalf("pylance reads %v", got)
	}
}
