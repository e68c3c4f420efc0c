package wal

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingHooks count fsyncs and can fail one of them.
type countingHooks struct {
	syncs atomic.Int64
	fail  atomic.Int64 // fail the fsync with this number (1-based), 0: never
	// hold, when set, runs inside every fsync before it happens (with the
	// fsync's number): a test blocks it there to make writers pile up.
	hold func(n int64)
	// appended, when set, gets the last index of every write.
	appended func(last uint64)
	tick     chan time.Time
}

func (c *countingHooks) hooks() *testHooks {
	h := &testHooks{fsync: func(fsync func() error) error {
		n := c.syncs.Add(1)
		if c.hold != nil {
			c.hold(n)
		}
		if n == c.fail.Load() {
			return errors.New("injected fsync failure")
		}
		return fsync()
	}, appended: c.appended}
	if c.tick != nil {
		h.tick = c.tick
	}
	return h
}

func TestSyncEveryWriteSyncsEachWrite(t *testing.T) {
	c := &countingHooks{}
	l := mustOpen(t, t.TempDir(), Options{hooks: c.hooks()})
	defer l.Close()
	for k := 1; k <= 10; k++ {
		i := mustWrite(t, l, []byte("x"))
		if got := l.commit.durable(); got < i {
			t.Fatalf("Write %d returned before an fsync covered it (durable %d)", i, got)
		}
		if got := c.syncs.Load(); got != int64(k) {
			t.Fatalf("%d fsyncs after %d sequential writes", got, k)
		}
	}
	if _, _, err := l.WriteBatch([][]byte{{1}, {2}, {3}}); err != nil {
		t.Fatal(err)
	}
	if got := c.syncs.Load(); got != 11 {
		t.Fatalf("a batch took %d fsyncs", got-10)
	}
}

// Writers that arrive while an fsync runs all write at once and share the
// next fsync, and none returns before an fsync covered its entry. The first
// fsync is held until every other writer has written its entry (they could
// not, were writes serialised behind the fsync), so the count is exact.
func TestGroupCommit(t *testing.T) {
	const writers = 64
	c := &countingHooks{}
	allWritten := make(chan struct{})
	firstSync := make(chan struct{})
	var once sync.Once
	c.appended = func(last uint64) {
		if last == writers {
			close(allWritten)
		}
	}
	l := mustOpen(t, t.TempDir(), Options{hooks: c.hooks()})
	defer l.Close()
	opened := c.syncs.Load()
	c.hold = func(n int64) {
		if n == opened+1 { // the first writer's fsync
			once.Do(func() { close(firstSync) })
			<-allWritten
		}
	}
	var wg sync.WaitGroup
	write := func() {
		i, err := l.Write([]byte("payload"))
		if err != nil {
			t.Error(err)
			return
		}
		if got := l.commit.durable(); got < i {
			t.Errorf("Write %d returned before an fsync covered it (durable %d)", i, got)
		}
	}
	wg.Go(write)
	<-firstSync // the first writer's fsync runs (and waits)
	for range writers - 1 {
		wg.Go(write)
	}
	wg.Wait()
	// One fsync for the first writer, one shared by the 63 others.
	if syncs := c.syncs.Load() - opened; syncs != 2 {
		t.Fatalf("%d fsyncs for %d concurrent writes, want 2", syncs, writers)
	}
	if last, _ := l.LastIndex(); last != writers {
		t.Fatalf("LastIndex %d, want %d", last, writers)
	}
}

// Append returns before the fsync and Commit waits for it: a caller can
// append under its own lock and commit outside it.
func TestAppendThenCommit(t *testing.T) {
	c := &countingHooks{}
	l := mustOpen(t, t.TempDir(), Options{hooks: c.hooks()})
	defer l.Close()
	opened := c.syncs.Load()
	_, last, err := l.Append([][]byte{[]byte("a"), []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	if c.syncs.Load() != opened || l.commit.durable() >= last {
		t.Fatal("Append waited for an fsync")
	}
	if err := l.Commit(last); err != nil {
		t.Fatal(err)
	}
	if c.syncs.Load() != opened+1 || l.commit.durable() < last {
		t.Fatalf("Commit: %d fsyncs, durable %d < %d", c.syncs.Load()-opened, l.commit.durable(), last)
	}
	if err := l.Commit(last); err != nil || c.syncs.Load() != opened+1 {
		t.Fatalf("Commit of a durable index fsynced again (%v)", err)
	}
}

// After a failed fsync nobody knows what reached the disk: the writer gets
// the error, and the log refuses writes (reads still work) until reopened.
func TestFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	c := &countingHooks{}
	c.fail.Store(3)
	l := mustOpen(t, dir, Options{hooks: c.hooks()})
	mustWrite(t, l, []byte("one"))
	mustWrite(t, l, []byte("two"))
	if _, err := l.Write([]byte("three")); err == nil {
		t.Fatal("Write succeeded though its fsync failed")
	}
	if _, err := l.Write([]byte("four")); err == nil {
		t.Fatal("Write succeeded after a failed fsync")
	}
	if err := l.TruncateFront(2); err == nil {
		t.Fatal("TruncateFront succeeded after a failed fsync")
	}
	if err := l.Sync(); err == nil {
		t.Fatal("Sync succeeded after a failed fsync")
	}
	if es, err := readFrom(l, 0); err != nil || len(es) != 3 {
		t.Fatalf("reading after a failed fsync: %d entries, %v", len(es), err)
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close hid the failed fsync")
	}
	l = mustOpen(t, dir, Options{})
	defer l.Close()
	checkEntries(t, readAll(t, l), [][]byte{[]byte("one"), []byte("two"), []byte("three")}, 1)
}

// Under SyncInterval writes do not wait for an fsync; the next tick fsyncs
// them, a tick of an idle log does not fsync, Sync does at once, and Close
// fsyncs the rest. The ticks come from the test (a channel), not a clock.
func TestSyncInterval(t *testing.T) {
	c := &countingHooks{tick: make(chan time.Time)}
	l := mustOpen(t, t.TempDir(), Options{Sync: SyncInterval(time.Hour), hooks: c.hooks()})
	opened := c.syncs.Load()
	var last uint64
	for range 50 {
		last = mustWrite(t, l, []byte("x"))
	}
	if got := c.syncs.Load() - opened; got != 0 {
		t.Fatalf("%d fsyncs during writes under SyncInterval", got)
	}
	if err := l.Commit(last); err != nil || c.syncs.Load() != opened {
		t.Fatalf("Commit under SyncInterval fsynced or failed: %v", err)
	}
	// The loop takes a tick only once it has finished the previous one, so
	// after the second send the first tick's fsync is done.
	tick := func() { c.tick <- time.Time{} }
	tick()
	tick()
	if got := l.commit.durable(); got < last {
		t.Fatalf("a tick left entries up to %d unsynced (durable %d)", last, got)
	}
	synced := c.syncs.Load()
	if synced != opened+1 {
		t.Fatalf("%d fsyncs for one tick with unsynced entries", synced-opened)
	}
	tick()
	tick()
	if got := c.syncs.Load(); got != synced {
		t.Fatalf("idle log fsynced %d times", got-synced)
	}
	// Sync makes it durable at once.
	last = mustWrite(t, l, []byte("y"))
	if err := l.Sync(); err != nil || l.commit.durable() < last {
		t.Fatalf("Sync: %v, durable %d < %d", err, l.commit.durable(), last)
	}
	// Close fsyncs what the background has not.
	mustWrite(t, l, []byte("z"))
	before := c.syncs.Load()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c.syncs.Load() == before {
		t.Fatal("Close did not fsync")
	}
}
