package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// One writer per s3:// bucket, against a real S3 server: the lease refuses
// a second writer while it is live and lets the next one in when it is
// released or has expired; the epoch in every commit stops a writer that
// was taken over while it was paused. Time is a fake clock per node.
func TestS3WriterLease(t *testing.T) {
	srv := miniotest.Start(t, "writer-lease")
	optsFor := func(path string, clock Clock) Options {
		return Options{Path: "s3://writer-lease/" + path, StorageOptions: srv.Options(),
			WriterLease: WriterLeaseOptions{Duration: 30 * time.Second, RenewInterval: 10 * time.Second},
			// Nothing moves by itself when a clock is advanced.
			Background: BackgroundOptions{clock: clock, MaxFlushDelay: -1, DisableMaintenance: true}}
	}
	open := func(t *testing.T, o Options) *Bucket {
		t.Helper()
		b, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	appendRows := func(t *testing.T, b *Bucket, first, n int64) {
		t.Helper()
		rec := makeRows(t, memory.DefaultAllocator, first, n)
		defer rec.Release()
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	epochOf := func(t *testing.T, o Options) (version, epoch uint64) {
		t.Helper()
		ds, err := lance.Open(o.datasetPath())
		if err != nil {
			t.Fatal(err)
		}
		e, err := lance.RecordedEpoch(ds.Config(), writerEpochKey)
		if err != nil {
			t.Fatal(err)
		}
		return ds.Version(), e
	}
	// laterNode is another node's clock, d ahead of now.
	laterNode := func(d time.Duration) *fakeClock {
		c := newFakeClock()
		c.Advance(d)
		return c
	}
	wantBusy := func(t *testing.T, err error, parts ...string) {
		t.Helper()
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("want ErrBusy, got %v", err)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name %q: %v", p, err)
			}
		}
	}
	me := currentHolder()
	holder := fmt.Sprintf("pid %d on host %s", me.PID, me.Host)

	t.Run("a live lease refuses a second writer; a released one lets the next in", func(t *testing.T) {
		o := optsFor("busy/bucket_0", newFakeClock())
		a := open(t, o)
		appendRows(t, a, 0, 10)
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		_, err := Open(o) // the same process
		wantBusy(t, err, o.Path, "in this process")
		_, err = takeLease(o) // another node
		wantBusy(t, err, o.Path, holder, "writer-lease.json", "epoch 1")
		r := open(t, Options{Path: o.Path, StorageOptions: o.StorageOptions, ReadOnly: true})
		if total, _, _, err := r.Counts(); err != nil || total != 10 {
			t.Fatalf("read-only beside the writer: %d rows, %v", total, err)
		}
		r.Close()
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		before, _ := epochOf(t, o)
		b := open(t, o) // at once: the lease was released
		defer b.Close()
		version, epoch := epochOf(t, o)
		if version != before || epoch != 1 {
			// After a release there is nothing to fence: no takeover version.
			t.Fatalf("reopen after release: version %d (was %d), epoch %d", version, before, epoch)
		}
		appendRows(t, b, 10, 5)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, epoch := epochOf(t, o); epoch != 2 {
			t.Fatalf("the second writer's flush records epoch %d, want 2", epoch)
		}
	})

	t.Run("a crashed holder's lease is taken over once expired", func(t *testing.T) {
		o := optsFor("crash/bucket_0", newFakeClock())
		o.WAL, o.WALPath = WALOptions{Enabled: true}, t.TempDir()
		a := open(t, o)
		appendRows(t, a, 0, 10)
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		killHoldingLease(t, a)
		next := o
		next.WALPath = t.TempDir() // another node
		next.Background.clock = laterNode(29 * time.Second)
		_, err := Open(next)
		wantBusy(t, err, o.Path, holder, "lease until")
		next.Background.clock = laterNode(31 * time.Second)
		before, _ := epochOf(t, o)
		b := open(t, next)
		defer b.Close()
		version, epoch := epochOf(t, o)
		if version != before+1 || epoch != 2 {
			t.Fatalf("takeover: version %d (was %d), epoch %d; want the takeover version with epoch 2", version, before, epoch)
		}
		if total, persisted, _, err := b.Counts(); err != nil || total != 10 || persisted != 10 {
			t.Fatalf("after takeover: %d rows (%d persisted), %v", total, persisted, err)
		}
	})

	t.Run("a paused writer that was taken over is fenced and keeps its WAL", func(t *testing.T) {
		o := optsFor("paused/bucket_0", newFakeClock())
		o.WAL, o.WALPath = WALOptions{Enabled: true}, t.TempDir()
		a := open(t, o)
		appendRows(t, a, 0, 10)
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		appendRows(t, a, 10, 5) // acknowledged, in the WAL only
		// a is paused past its lease (its clock does not move, so it still
		// believes it holds it); another node takes the bucket over.
		other := o
		other.Background.clock = laterNode(31 * time.Second)
		taker, err := takeLease(other)
		if err != nil {
			t.Fatal(err)
		}
		err = a.Flush()
		wantBusy(t, err, "fenced", "taken over by "+holder, "epoch 2")
		if !errors.Is(err, lance.ErrFenced) {
			t.Fatalf("the commit was not refused by the fence: %v", err)
		}
		if _, persisted, _, _ := a.Counts(); persisted != 10 {
			t.Fatalf("fenced flush committed: %d rows persisted", persisted)
		}
		if err := a.Close(); !errors.Is(err, ErrBusy) {
			t.Fatalf("close of a fenced writer: %v", err)
		}
		taker.release()
		// The five acknowledged rows are still in a's WAL: back on its node,
		// the bucket replays and keeps them.
		again := open(t, o)
		defer again.Close()
		if total, persisted, _, err := again.Counts(); err != nil || total != 15 || persisted != 10 {
			t.Fatalf("reopened on the fenced node: %d rows (%d persisted), %v", total, persisted, err)
		}
	})

	t.Run("a lease object removed by hand still fences its writer", func(t *testing.T) {
		o := optsFor("removed/bucket_0", newFakeClock())
		a := open(t, o)
		defer a.Close()
		appendRows(t, a, 0, 10)
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := objstore.Remove(objstore.JoinURL(o.Path, WriterLeaseName)); err != nil {
			t.Fatal(err)
		}
		taker, err := takeLease(o) // no lease to wait for
		if err != nil {
			t.Fatal(err)
		}
		defer taker.release()
		if _, epoch := epochOf(t, o); epoch != 2 {
			t.Fatalf("no takeover version: epoch %d", epoch)
		}
		appendRows(t, a, 10, 5)
		wantBusy(t, a.Flush(), "fenced")
	})

	t.Run("renewal keeps the lease; a commit after a lapse renews it first; a replaced lease is lost", func(t *testing.T) {
		clock := newFakeClock()
		o := optsFor("renew/bucket_0", clock)
		// Each renewal waits for the test, which sees its outcome; after
		// the test (quit) renewals run unwatched, so Close can stop them.
		proceed, renewed, quit := make(chan struct{}), make(chan error), make(chan struct{})
		o.WriterLease.beforeRenew = func() {
			select {
			case <-proceed:
			case <-quit:
			}
		}
		o.WriterLease.afterRenew = func(err error) {
			select {
			case renewed <- err:
			case <-quit:
			}
		}
		a := open(t, o)
		defer a.Close()
		defer close(quit)
		renew := func() error { proceed <- struct{}{}; return <-renewed }

		clock.Advance(10 * time.Second)
		if err := renew(); err != nil {
			t.Fatal(err)
		}
		var rec leaseRecord
		data, _, err := objstore.ReadTagged(objstore.JoinURL(o.Path, WriterLeaseName))
		if err != nil || json.Unmarshal(data, &rec) != nil {
			t.Fatalf("lease object: %v", err)
		}
		if got, want := rec.Expires, clock.Now().Add(30*time.Second); got.Before(want.Add(-time.Second)) || got.After(want) || rec.Renewal != 1 {
			t.Fatalf("renewed lease expires %v (renewal %d), want about %v", got, rec.Renewal, want)
		}
		other := o
		other.Background.clock = laterNode(35 * time.Second) // the first lease would have expired
		_, err = takeLease(other)
		wantBusy(t, err, holder)

		clock.Advance(10 * time.Second) // a renewal is due, and stalls
		clock.Advance(25 * time.Second) // past the last renewal's lease
		appendRows(t, a, 0, 3)
		// The flush finds the lease run out and renews it first: nobody
		// took it meanwhile, so it is ours again (a server that cannot be
		// reached: TestS3LeaseRunOutWhileServerGone).
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		data, _, err = objstore.ReadTagged(objstore.JoinURL(o.Path, WriterLeaseName))
		if err != nil || json.Unmarshal(data, &rec) != nil || rec.Renewal != 2 {
			t.Fatalf("lease object after the flush's renewal: renewal %d, %v", rec.Renewal, err)
		}
		if err := renew(); err != nil { // the stalled renewal, on top of the flush's
			t.Fatal(err)
		}

		other.Background.clock = laterNode(10 * time.Minute) // far past the lease
		taker, err := takeLease(other)
		if err != nil {
			t.Fatal(err)
		}
		defer taker.release()
		clock.Advance(10 * time.Second)
		wantBusy(t, renew(), "taken over by "+holder)
		appendRows(t, a, 3, 3)
		wantBusy(t, a.Flush(), "taken over")
	})
}

// killHoldingLease is a kill -9 of b's process as far as its lease goes: the
// renewal stops and nothing is released; the WAL and buffer are dropped.
func killHoldingLease(t *testing.T, b *Bucket) {
	t.Helper()
	b.stopBackground()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wal != nil {
		if err := b.wal.Close(); err != nil {
			t.Fatal(err)
		}
		b.wal = nil
	}
	b.closed = true
	releaseAll(b.buf.take())
	l := b.lock.lease
	close(l.stop)
	<-l.done
	l.unfence()
	unregisterWriter(b.lock.key)
	unlockAndClose(b.lock.wal) // as the kernel does for a process that ends
	b.lock = nil
}

// The lease options: seconds, defaults, and a renewal interval that must
// fall inside the lease.
func TestWriterLeaseOptions(t *testing.T) {
	for _, c := range []struct {
		json         string
		lease, renew time.Duration
		err          string
	}{
		{`{}`, DefaultWriterLease, DefaultWriterLeaseRenew, ""},
		{`{"writer_lease_sec": 1.5}`, 1500 * time.Millisecond, 500 * time.Millisecond, ""},
		{`{"writer_lease_sec": 60, "writer_lease_renew_sec": 5}`, time.Minute, 5 * time.Second, ""},
		{`{"writer_lease_sec": 0}`, 0, 0, "writer_lease_sec must be positive"},
		{`{"writer_lease_renew_sec": -1}`, 0, 0, "writer_lease_renew_sec"},
		{`{"writer_lease_sec": 10, "writer_lease_renew_sec": 10}`, 0, 0, "must be shorter than writer_lease_sec"},
		{`{"writer_lease_renew_sec": 40}`, 0, 0, "must be shorter than writer_lease_sec"},
	} {
		o, err := ParseOptionsJSON("s3://b/q/bucket_0", c.json)
		if err == nil {
			o = o.withDefaults()
			err = o.validate()
		}
		if c.err != "" {
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: want an invalid argument naming %q, got %v", c.json, c.err, err)
			}
			continue
		}
		if err != nil || o.WriterLease.Duration != c.lease || o.WriterLease.RenewInterval != c.renew {
			t.Errorf("%s: lease %v renew %v, %v; want %v and %v", c.json, o.WriterLease.Duration, o.WriterLease.RenewInterval, err, c.lease, c.renew)
		}
	}
}
