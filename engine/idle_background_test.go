package engine

import (
	"testing"
	"time"
)

// TestIdleMaintenanceParks: the periodic cleanup reads every manifest of
// the dataset. Once one left no version kept only for its age, and no data
// retention runs, time alone changes nothing: the maintenance loop stops
// its ticker until a commit or a reader's released pin gives cleanup work
// again. 1,000 idle buckets otherwise read ~11 manifests each every
// cleanup_interval_sec (2.5% of a core in all) and wake the process 100
// times a second.
func TestIdleMaintenanceParks(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(),
		Background: BackgroundOptions{MaxFlushDelay: -1, KeepVersions: 1, VersionRetention: time.Hour}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	passes, kicks := 0, 0
	advance := func(d time.Duration) { // one periodic pass
		t.Helper()
		clock.Advance(d)
		passes++
		ev.waitFor(t, eventPeriodicMaintenance, passes)
	}
	pass := func() { advance(DefaultCleanupInterval) }
	flush := func(first int64) { // one flush and the maintenance pass it kicks
		t.Helper()
		appendRows(t, b, first, 5)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		kicks++
		ev.waitFor(t, eventMaintenance, kicks)
	}
	check := func(when string, cleanups, tickers, versions int) {
		t.Helper()
		if got := ev.count(eventCleanup); got != cleanups {
			t.Fatalf("%s: %d cleanups, want %d", when, got, cleanups)
		}
		if got := clock.tickerCount(DefaultCleanupInterval); got != tickers {
			t.Fatalf("%s: %d maintenance tickers, want %d", when, got, tickers)
		}
		if versions > 0 {
			if v, err := b.Versions(); err != nil || len(v) != versions {
				t.Fatalf("%s: %d versions (%v), want %d", when, len(v), err, versions)
			}
		}
	}
	check("open", 0, 1, 0)
	pass()
	check("no dataset yet", 0, 0, 0)
	flush(0)
	check("a flush wakes it", 0, 1, 1)
	pass()
	check("first cleanup", 1, 0, 1)

	// A version a reader pins is kept; releasing the pin wakes the loop.
	flush(5)
	b.pins.pin(1)
	pass()
	check("a pinned version", 2, 0, 2)
	b.unpin(1)
	check("the pin released", 2, 1, 2)
	pass()
	check("cleanup after the release", 3, 0, 1)

	// A commit that is not a flush (a manual compaction) wakes it too. The
	// version the compaction replaced is kept for its window: the loop
	// ticks (and reads the versions) until the window ends and it goes.
	if _, err := b.Compact(1000); err != nil {
		t.Fatal(err)
	}
	check("a manual compaction", 3, 1, 2)
	pass()
	pass()
	check("within the window", 5, 1, 2)
	advance(time.Hour)
	check("after the window", 6, 0, 1)
}
