package wal

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingHooks count fsyncs, make each take delay (a slow disk makes
// writers pile up, as they do in production) and record the highest
// index an fsync covered.
type countingHooks struct {
	syncs atomic.Int64
	delay time.Duration
	fail  atomic.Int64 // fail the fsync with this number (1-based), 0: never
}

func (c *countingHooks) hooks() *testHooks {
	return &testHooks{fsync: func(fsync func() error) error {
		n := c.syncs.Add(1)
		time.Sleep(c.delay)
		if n == c.fail.Load() {
			return errors.New("injected fsync failure")
		}
		return fsync()
	}}
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

// Many concurrent writers share fsyncs, and none returns before an fsync
// covered its entry.
func TestGroupCommit(t *testing.T) {
	c := &countingHooks{delay: 2 * time.Millisecond}
	l := mustOpen(t, t.TempDir(), Options{hooks: c.hooks()})
	defer l.Close()
	const writers, perWriter = 64, 20
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range perWriter {
				i, err := l.Write([]byte("payload"))
				if err != nil {
					t.Error(err)
					return
				}
				if got := l.commit.durable(); got < i {
					t.Errorf("Write %d returned before an fsync covered it (durable %d)", i, got)
					return
				}
			}
		})
	}
	wg.Wait()
	const writes = writers * perWriter
	syncs := c.syncs.Load()
	t.Logf("%d writes, %d fsyncs (%.1f writes per fsync)", writes, syncs, float64(writes)/float64(syncs))
	if syncs > writes/8 {
		t.Fatalf("%d fsyncs for %d concurrent writes: no group commit", syncs, writes)
	}
	if last, _ := l.LastIndex(); last != writes {
		t.Fatalf("LastIndex %d, want %d", last, writes)
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

// Under SyncInterval writes do not wait for an fsync; one follows within
// the interval, an idle log is not fsynced, and Close fsyncs the rest.
func TestSyncInterval(t *testing.T) {
	const interval = 100 * time.Millisecond
	c := &countingHooks{}
	l := mustOpen(t, t.TempDir(), Options{Sync: SyncInterval(interval), hooks: c.hooks()})
	start := time.Now()
	var last uint64
	for range 50 {
		last = mustWrite(t, l, []byte("x"))
	}
	if time.Since(start) < interval/2 && c.syncs.Load() != 0 {
		t.Fatalf("%d fsyncs during writes under SyncInterval", c.syncs.Load())
	}
	for l.commit.durable() < last {
		if time.Since(start) > 20*interval {
			t.Fatalf("not fsynced after %v", time.Since(start))
		}
		time.Sleep(interval / 10)
	}
	if took := time.Since(start); took > 3*interval {
		t.Errorf("fsync came after %v, interval %v", took, interval)
	}
	synced := c.syncs.Load()
	time.Sleep(3 * interval)
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
