package engine

import (
	"errors"
	"fmt"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// Close with the server gone tries the last flush (each request with its
// retries) and nothing after it: no consumption snapshot, no lease release,
// no removal of what the flush wrote - each would wait as long again. The
// WAL keeps the rows and the journal the consumption; the same process
// reopens at once once the server is back.
func TestS3CloseWithServerGoneStopsAtTheFlush(t *testing.T) {
	srv := miniotest.Start(t, "close-gone")
	proxy := srv.Proxy(t)
	o, _, _ := withFakeTime(Options{ // no renewal runs by itself
		Path:           "s3://close-gone/queue/bucket_0",
		StorageOptions: proxy.Options(),
		WAL:            WALOptions{Enabled: true},
		WALPath:        t.TempDir(),
		Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
	})
	o.StorageOptions["client_max_retries"] = "1"
	b := openFlushedThenBuffered(t, o, 5)
	if err := b.MarkConsumed("a", []int64{0, 1}); err != nil {
		t.Fatal(err)
	}
	loc, err := objstore.Resolve(o.Path)
	if err != nil {
		t.Fatal(err)
	}
	counts := loc.Store.(*objstore.S3).Counts()
	puts, deletes := counts.Put.Load(), counts.Delete.Load()
	proxy.SetDown(true)
	if err := b.Close(); !errors.Is(err, objstore.ErrNoAnswer) {
		t.Fatalf("close with the server gone: %v", err)
	}
	// the data file's PUT, tried twice (client_max_retries=1), and nothing else
	if p, d := counts.Put.Load()-puts, counts.Delete.Load()-deletes; p != 2 || d != 0 {
		t.Fatalf("close sent %d PUTs and %d DELETEs, want 2 and 0", p, d)
	}
	proxy.SetDown(false)
	b, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wantIDs(t, b, 15)
	if got := take(t, b, "a", 100); !equalInts(got, seq(2, 13)) {
		t.Fatalf("unconsumed after reopen: %v", got)
	}
}

// Buckets closing one after another with the server gone - the finalizers
// at interpreter exit - wait one retry budget in all, not one each: the
// first close's request is retried, each later one is tried once. Every
// bucket's rows stay in its WAL.
func TestS3ClosingManyBucketsWithServerGone(t *testing.T) {
	srv := miniotest.Start(t, "close-many-gone")
	proxy := srv.Proxy(t)
	var buckets []*Bucket
	var opts []Options
	for i := range 3 {
		o, _, _ := withFakeTime(Options{
			Path:           fmt.Sprintf("s3://close-many-gone/queue/bucket_%d", i),
			StorageOptions: proxy.Options(),
			WAL:            WALOptions{Enabled: true},
			WALPath:        t.TempDir(),
			Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
		})
		o.StorageOptions["client_max_retries"] = "3"
		buckets, opts = append(buckets, openFlushedThenBuffered(t, o, 5)), append(opts, o)
	}
	loc, err := objstore.Resolve(opts[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	counts := loc.Store.(*objstore.S3).Counts()
	sent := func() int64 {
		return counts.Get.Load() + counts.Head.Load() + counts.Put.Load() + counts.List.Load() +
			counts.Delete.Load() + counts.Post.Load()
	}
	before := sent()
	proxy.SetDown(true)
	for i, b := range buckets {
		if err := b.Close(); !errors.Is(err, objstore.ErrNoAnswer) {
			t.Fatalf("close %d with the server gone: %v", i, err)
		}
	}
	if got := sent() - before; got != 4+1+1 {
		t.Fatalf("the closes sent %d requests, want 6 (4 attempts, then 1 each)", got)
	}
	proxy.SetDown(false)
	for i, o := range opts {
		b, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, b, 15)
		if err := b.Close(); err != nil {
			t.Fatalf("bucket %d: %v", i, err)
		}
	}
}
