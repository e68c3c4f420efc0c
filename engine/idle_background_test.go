package engine

import (
	"testing"
	"time"
)

// TestIdleCleanupIsSkipped: the periodic cleanup reads every manifest of
// the dataset. Once one left no version kept only for its age, the next
// ones are skipped until a commit, a reader's pin or the end of a
// version's window can change what they would remove: 1,000 idle buckets
// otherwise read ~11 manifests each every cleanup_interval_sec (2.5% of a
// core in all).
func TestIdleCleanupIsSkipped(t *testing.T) {
	opts, clock, ev := withFakeTime(Options{Path: t.TempDir(),
		Background: BackgroundOptions{MaxFlushDelay: -1, KeepVersions: 1, VersionRetention: time.Hour}})
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	passes, kicks := 0, 0
	pass := func() { // one periodic pass
		t.Helper()
		clock.Advance(DefaultCleanupInterval)
		passes++
		ev.waitFor(t, eventPeriodicMaintenance, passes)
	}
	flush := func(first int64) { // one flush and the maintenance pass it kicks
		t.Helper()
		appendRows(t, b, first, 5)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		kicks++
		ev.waitFor(t, eventMaintenance, kicks)
	}
	cleanups := func(want int, when string) {
		t.Helper()
		if got := ev.count(eventCleanup); got != want {
			t.Fatalf("%s: %d cleanups, want %d", when, got, want)
		}
	}
	flush(0)
	pass()
	cleanups(1, "first pass")
	pass()
	pass()
	cleanups(1, "idle passes")
	flush(5)
	pass()
	cleanups(2, "pass after a flush")
	pass()
	cleanups(2, "idle again")

	// A version a reader pins, then releases: each change is looked at.
	b.pins.pin(1)
	pass()
	cleanups(3, "pass after a pin")
	pass()
	cleanups(3, "same pin")
	b.pins.unpin(1)
	pass()
	cleanups(4, "pass after the unpin")

	// A version kept for its age (the one a compaction replaced) is looked
	// at every pass until its window ends and it goes.
	if _, err := b.Compact(1000); err != nil {
		t.Fatal(err)
	}
	before := len(versionsOf(t, b))
	pass()
	pass()
	cleanups(6, "passes within the window")
	if n := len(versionsOf(t, b)); n != before {
		t.Fatalf("a version in its window went: %d versions, had %d", n, before)
	}
	clock.Advance(time.Hour)
	pass()
	cleanups(7, "pass after the window")
	if n := len(versionsOf(t, b)); n != 1 {
		t.Fatalf("%d versions after the window, want 1", n)
	}
	pass()
	cleanups(7, "settled")
}

func versionsOf(t *testing.T, b *Bucket) []Version {
	t.Helper()
	v, err := b.Versions()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
