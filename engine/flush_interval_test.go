package engine

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// intervalBucket opens a bucket whose threshold flushes wait for
// min_flush_interval on a fake clock. Maintenance is off so the data files
// on disk are exactly the flushes' files; maxFlushDelay < 0 turns the auto
// flush off.
func intervalBucket(t *testing.T, interval, maxFlushDelay time.Duration, maxBytes int64) (*Bucket, *fakeClock, *events) {
	t.Helper()
	o, clock, ev := withFakeTime(Options{Path: t.TempDir(), FlushThreshold: 10,
		MinFlushInterval: interval, MaxBufferBytes: maxBytes, Logger: t.Logf})
	o.Background.DisableMaintenance = true
	o.Background.MaxFlushDelay = maxFlushDelay
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, clock, ev
}

// dataFileCount counts the data files a bucket's flushes wrote.
func dataFileCount(t *testing.T, b *Bucket) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(b.opts.datasetPath(), "data", "*.lance"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

func persistedCount(t *testing.T, b *Bucket) int64 {
	t.Helper()
	_, persisted, _, err := b.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return persisted
}

// TestBurstCoalescesIntoOneFlushPerInterval: appends that pass the threshold
// fifty times within one min_flush_interval make one flush, not fifty;
// after k intervals of a steady burst the dataset holds about k data files,
// whatever the threshold. The first flush of a quiet bucket and an explicit
// Flush start at once.
func TestBurstCoalescesIntoOneFlushPerInterval(t *testing.T) {
	const interval = time.Minute
	b, clock, ev := intervalBucket(t, interval, -1, 0)

	appendRows(t, b, 0, 10) // the threshold, no flush before: at once
	b.waitBackgroundFlush()
	if got := persistedCount(t, b); got != 10 {
		t.Fatalf("the first flush persisted %d rows, want 10", got)
	}

	next := int64(10)
	burst := func(appends int) {
		for range appends {
			appendRows(t, b, next, 10) // each passes the threshold
			next += 10
		}
	}
	deferred := ev.count(eventFlushDeferred)
	burst(50)
	ev.waitFor(t, eventFlushDeferred, deferred+1) // the flush waits for the interval ...
	if got, files := persistedCount(t, b), dataFileCount(t, b); got != 10 || files != 1 {
		t.Fatalf("during the interval: %d rows persisted in %d data files, want 10 in 1", got, files)
	}
	clock.Advance(interval) // ... and writes the whole burst when it has passed
	b.waitBackgroundFlush()
	if got, files := persistedCount(t, b), dataFileCount(t, b); got != next || files != 2 {
		t.Fatalf("after the interval: %d rows persisted in %d data files, want %d in 2", got, files, next)
	}

	// A steady burst: one flush per interval.
	const intervals = 4
	for k := range intervals {
		deferred := ev.count(eventFlushDeferred)
		burst(20)
		ev.waitFor(t, eventFlushDeferred, deferred+1)
		clock.Advance(interval)
		b.waitBackgroundFlush()
		if files := dataFileCount(t, b); files != 3+k {
			t.Fatalf("interval %d of the burst: %d data files, want %d", k, files, 3+k)
		}
	}

	// Flush does not wait for the interval.
	burst(3)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := persistedCount(t, b); got != next {
		t.Fatalf("after Flush: %d rows persisted, want %d", got, next)
	}
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, next)) {
		t.Fatalf("rows after the bursts: %d, want 0..%d in order", len(got), next-1)
	}
}

// TestIntervalKeepsTheDurabilityBound: a flush held back by a long
// min_flush_interval does not hold rows past max_flush_delay: the auto
// flush writes them, and Close writes what is left at once.
func TestIntervalKeepsTheDurabilityBound(t *testing.T) {
	const delay = 4 * time.Second
	b, clock, ev := intervalBucket(t, time.Hour, delay, 0)
	appendRows(t, b, 0, 10)
	b.waitBackgroundFlush()
	deferred := ev.count(eventFlushDeferred)
	appendRows(t, b, 10, 15)
	ev.waitFor(t, eventFlushDeferred, deferred+1)
	// The auto flush ticks every delay/2: rows seen at one tick and still
	// in memory at the next are flushed.
	clock.Advance(delay / 2)
	ev.waitFor(t, eventAutoFlushTick, 1)
	clock.Advance(delay / 2)
	ev.waitFor(t, eventAutoFlush, 1)
	if got := persistedCount(t, b); got != 25 {
		t.Fatalf("after max_flush_delay: %d rows persisted, want 25", got)
	}

	appendRows(t, b, 25, 10) // held back again (the auto flush just flushed)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{Path: b.opts.Path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readIDs(t, r, 0, -1); !equalInts(got, seq(0, 35)) {
		t.Fatalf("after Close: %v, want 0..34", got)
	}
}

// TestByteBudgetEndsTheInterval: rows held back by min_flush_interval are
// flushed at once when they reach half of max_buffer_bytes, with no time
// passing, so the interval never lets the buffer grow past its budget.
func TestByteBudgetEndsTheInterval(t *testing.T) {
	ten := makeRows(t, memory.DefaultAllocator, 0, 10)
	tenBytes := heldBytes(ten)
	ten.Release()
	// Half the budget is a little under three appends of 10 rows.
	b, _, ev := intervalBucket(t, time.Hour, -1, 5*tenBytes)
	appendRows(t, b, 0, 10)
	b.waitBackgroundFlush()
	deferred := ev.count(eventFlushDeferred)
	appendRows(t, b, 10, 10)
	appendRows(t, b, 20, 10)
	ev.waitFor(t, eventFlushDeferred, deferred+1)
	if got := persistedCount(t, b); got != 10 {
		t.Fatalf("below half the budget: %d rows persisted, want 10", got)
	}
	appendRows(t, b, 30, 10) // half the budget: the flush starts now
	b.waitBackgroundFlush()
	if got := persistedCount(t, b); got != 40 {
		t.Fatalf("at half the budget: %d rows persisted, want 40", got)
	}
}

// TestCoalescedFlushBoundsAppends: while a flush that coalesced a burst
// writes, appends may add as many rows as it writes (twice its rows, as
// twice the threshold for a flush of threshold rows); one past that waits
// for it (back-pressure).
func TestCoalescedFlushBoundsAppends(t *testing.T) {
	const interval = time.Hour
	b, clock, ev := intervalBucket(t, interval, -1, 0)
	appendRows(t, b, 0, 10)
	b.waitBackgroundFlush()
	deferred := ev.count(eventFlushDeferred)
	for i := int64(10); i < 50; i += 10 {
		appendRows(t, b, i, 10)
	}
	ev.waitFor(t, eventFlushDeferred, deferred+1)
	entered, release := holdFlush(b)
	defer release()
	clock.Advance(interval) // the flush of rows 10..49 starts, and is held
	<-entered
	waiting := make(chan struct{}, 1)
	b.onBackPressure = func() { waiting <- struct{}{} }
	noWait(t, "appends within twice the running flush", func() { appendRows(t, b, 50, 30) }) // 70 of 80 rows
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		appendRows(t, b, 80, 20) // 90 rows: past twice the running flush's 40
	}()
	<-waiting
	select {
	case <-acked:
		t.Fatal("an append past twice the running flush returned while it was held")
	default:
	}
	release()
	<-acked
	if got := readIDs(t, b, 0, -1); !equalInts(got, seq(0, 100)) {
		t.Fatalf("rows %v", got)
	}
	if got := persistedCount(t, b); got < 50 {
		t.Fatalf("%d rows persisted, want the held flush's 50 at least", got)
	}
}

// TestFlushPacingOptionsJSON: the two keys of flush pacing, their defaults
// and their checks (ParseOptionsJSON is their one parser).
func TestFlushPacingOptionsJSON(t *testing.T) {
	for _, tc := range []struct {
		json         string
		wantInterval time.Duration
		wantBytes    int64
		wantErr      error
	}{
		{`{}`, DefaultMinFlushInterval, DefaultMaxBufferBytes, nil},
		{`{"min_flush_interval_sec": 2.5}`, 2500 * time.Millisecond, DefaultMaxBufferBytes, nil},
		{`{"min_flush_interval_sec": 0}`, -1, DefaultMaxBufferBytes, nil}, // off
		{`{"min_flush_interval_sec": null}`, DefaultMinFlushInterval, DefaultMaxBufferBytes, nil},
		{`{"max_buffer_bytes": 1048576}`, DefaultMinFlushInterval, 1 << 20, nil},
		{`{"min_flush_interval_sec": -1}`, 0, 0, ErrInvalidArgument},
		{`{"min_flush_interval_sec": "1"}`, 0, 0, ErrType},
		{`{"max_buffer_bytes": 0}`, 0, 0, ErrInvalidArgument},
		{`{"max_buffer_bytes": -5}`, 0, 0, ErrInvalidArgument},
		{`{"max_buffer_bytes": 1.5}`, 0, 0, ErrType},
	} {
		t.Run(tc.json, func(t *testing.T) {
			o, err := ParseOptionsJSON(t.TempDir(), tc.json)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o = o.withDefaults()
			if o.MinFlushInterval != tc.wantInterval || o.MaxBufferBytes != tc.wantBytes {
				t.Fatalf("min_flush_interval %s, max_buffer_bytes %d; want %s, %d",
					o.MinFlushInterval, o.MaxBufferBytes, tc.wantInterval, tc.wantBytes)
			}
		})
	}
}

// TestBackPressureAllowanceEndsAtMaxBufferBytes: the allowance of a large
// running flush (twice its rows) holds only while the buffer is within
// max_buffer_bytes; past it an append waits at twice flush_threshold as
// without the flush. Without this a producer faster than the flushes
// doubles the buffer (and the next flush) flush after flush.
func TestBackPressureAllowanceEndsAtMaxBufferBytes(t *testing.T) {
	b, _, _ := intervalBucket(t, time.Hour, -1, 0)
	b.mu.Lock()
	b.opts.FlushThreshold = 1 << 30 // the 15 rows below stay buffered
	b.mu.Unlock()
	appendRows(t, b, 0, 15)
	b.mu.Lock()
	defer b.mu.Unlock()
	bytes := b.bufferedBytes()
	if bytes <= 0 {
		t.Fatalf("buffered bytes %d", bytes)
	}
	b.opts.FlushThreshold = 10
	for _, tc := range []struct {
		name     string
		flushing int64
		maxBytes int64
		add      int64
		want     bool
	}{
		{"within twice the threshold", 0, 1 << 30, 5, false},
		{"past twice the threshold, no large flush", 10, 1 << 30, 6, true},
		{"within twice a large flush, under the budget", 1000, bytes + 1, 1900, false},
		{"past twice a large flush", 1000, 1 << 30, 1986, true},
		{"a large flush, the budget reached", 1000, bytes, 6, true},
		{"the budget reached, within twice the threshold", 1000, bytes, 5, false},
	} {
		b.flushing, b.opts.MaxBufferBytes = tc.flushing, tc.maxBytes
		if got := b.overBound(tc.add); got != tc.want {
			t.Errorf("%s: overBound(%d) with %d rows flushing, %d of %d bytes buffered = %v, want %v",
				tc.name, tc.add, tc.flushing, bytes, tc.maxBytes, got, tc.want)
		}
	}
	b.flushing = 0
}
