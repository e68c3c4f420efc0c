//go:build testhooks

package engine

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/persisting/persisting/wal"
)

// TestGroupCommit: with wal_sync_interval 0, appends write their WAL entries
// under the bucket lock and wait for the fsync outside it, so appends that
// arrive while one fsync runs all write and then share the next fsync. The
// first append's fsync is held until every other append has written its entry
// (impossible were the lock held across the fsync), so the count is exact:
// two fsyncs for 16 appends of both kinds.
func TestGroupCommit(t *testing.T) {
	const appends = 16
	var (
		armed    atomic.Bool
		base     atomic.Uint64 // WAL index before the concurrent appends
		syncs    atomic.Int64
		firstIn  = make(chan struct{})
		allIn    = make(chan struct{})
		allInSet sync.Once
	)
	fsync := func(fsync func() error) error {
		if armed.Load() && syncs.Add(1) == 1 {
			close(firstIn)
			select {
			case <-allIn:
			case <-time.After(60 * time.Second): // deadlock guard: the count then fails
			}
		}
		return fsync()
	}
	appended := func(last uint64) {
		if armed.Load() && last == base.Load()+appends {
			allInSet.Do(func() { close(allIn) })
		}
	}
	b, err := Open(Options{Path: t.TempDir(), FlushThreshold: 1 << 20, WAL: WALOptions{Enabled: true},
		testWAL: func(o wal.Options) wal.Options { return wal.WithTestHooks(o, fsync, appended) }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	appendRows(t, b, 0, 1) // fixes the schema
	last, err := b.wal.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	base.Store(last)
	armed.Store(true)

	var wg sync.WaitGroup
	put := func(i int64) {
		if i%2 == 0 {
			appendRecords(t, b, testRecord(i))
		} else {
			appendRows(t, b, i, 1)
		}
	}
	wg.Go(func() { put(1) })
	<-firstIn // its fsync runs, held, outside the bucket lock
	for i := int64(2); i <= appends; i++ {
		wg.Go(func() { put(i) })
	}
	wg.Wait()
	if got := syncs.Load(); got != 2 {
		t.Fatalf("%d fsyncs for %d concurrent appends, want 2 (one held, one shared)", got, appends)
	}
	if total, _, _, err := b.Counts(); err != nil || total != appends+1 {
		t.Fatalf("%d rows, %v", total, err)
	}
}

// TestIntervalSyncDoesNotWait: with wal_sync_interval > 0 an append returns
// after its WAL write, without an fsync.
func TestIntervalSyncDoesNotWait(t *testing.T) {
	var syncs atomic.Int64
	fsync := func(fsync func() error) error { syncs.Add(1); return fsync() }
	b, err := Open(Options{Path: t.TempDir(), WAL: WALOptions{Enabled: true, SyncInterval: time.Hour},
		testWAL: func(o wal.Options) wal.Options { return wal.WithTestHooks(o, fsync, nil) }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	before := syncs.Load()
	appendRows(t, b, 0, 1)
	appendRecords(t, b, testRecord(1))
	if got := syncs.Load() - before; got != 0 {
		t.Fatalf("%d fsyncs for appends under an interval sync", got)
	}
}
