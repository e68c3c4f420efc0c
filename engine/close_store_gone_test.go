package engine

import (
	"errors"
	"fmt"
	"strings"
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
// at interpreter exit - wait one retry budget in all: the first close's
// flush is retried until the store counts as gone, and the later closes
// send nothing at all (their rows are in their WALs; a flush would cost one
// timeout each against a server that accepts connections and never
// answers). Neither does a close with nothing buffered (no consumption
// snapshot, no lease release). Every bucket's rows and consumption stay
// for the next open.
func TestS3ClosingManyBucketsWithServerGone(t *testing.T) {
	srv := miniotest.Start(t, "close-many-refused", "close-many-stalled")
	for _, mode := range []struct {
		name   string
		bucket string
		fail   func(p *miniotest.FaultProxy, gone bool)
	}{
		{"refused", "close-many-refused", (*miniotest.FaultProxy).SetDown},
		{"stalled", "close-many-stalled", (*miniotest.FaultProxy).SetStalled},
	} {
		t.Run(mode.name, func(t *testing.T) {
			testClosingManyBucketsWithServerGone(t, srv, mode.bucket, mode.fail)
		})
	}
}

func testClosingManyBucketsWithServerGone(t *testing.T, srv *miniotest.Server, bucket string,
	fail func(p *miniotest.FaultProxy, gone bool)) {
	proxy := srv.Proxy(t)
	var buckets []*Bucket
	var opts []Options
	for i := range 4 {
		o, _, _ := withFakeTime(Options{
			Path:           fmt.Sprintf("s3://%s/queue/bucket_%d", bucket, i),
			StorageOptions: proxy.Options(),
			WAL:            WALOptions{Enabled: true},
			WALPath:        t.TempDir(),
			Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
		})
		o.StorageOptions["client_max_retries"] = "3"
		o.StorageOptions["timeout"] = "0.3" // a stalled request's wait
		buffered := int64(5)
		if i == 3 {
			buffered = 0 // nothing to flush, a consumption change to write
		}
		b := openFlushedThenBuffered(t, o, buffered)
		if err := b.MarkConsumed("a", []int64{0, 1}); err != nil {
			t.Fatal(err)
		}
		buckets, opts = append(buckets, b), append(opts, o)
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
	fail(proxy, true)
	errs := make([]error, len(buckets))
	for i, b := range buckets {
		errs[i] = b.Close()
	}
	if got := sent() - before; got != 4 {
		t.Errorf("the closes sent %d requests, want 4 (the first flush's attempts, then none)", got)
	}
	for i, err := range errs {
		// the rows not written are named; with none, nothing was lost
		if i < 3 && !errors.Is(err, objstore.ErrNoAnswer) || i == 3 && err != nil {
			t.Errorf("close %d with the server gone: %v", i, err)
		}
		if i == 1 && !strings.Contains(fmt.Sprint(err), "the 5 unflushed rows stay in the WAL") {
			t.Errorf("close %d not flushed: %v, want the rows named", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	fail(proxy, false)
	for i, o := range opts {
		b, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(15)
		if i == 3 {
			want = 10
		}
		wantIDs(t, b, want)
		if got := take(t, b, "a", 100); !equalInts(got, seq(2, want-2)) {
			t.Fatalf("bucket %d: unconsumed after reopen: %v", i, got)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("bucket %d: %v", i, err)
		}
	}
}
