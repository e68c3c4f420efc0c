package engine

import (
	"regexp"
	"testing"
	"time"

	"github.com/persisting/persisting/internal/miniotest"
)

// Closing an s3:// bucket while its server is gone fails (the last flush
// cannot be written, the lease cannot be marked released); the WAL keeps
// the rows. Once the server is back, the same process reopens the bucket at
// once - its own lease, which no open uses any more, does not lock it out
// for writer_lease_sec - and finds every row.
func TestS3ReopenAfterCloseFailedWhileServerGone(t *testing.T) {
	srv := miniotest.Start(t, "lease-outage")
	proxy := srv.Proxy(t)
	opts := Options{
		Path:           "s3://lease-outage/queue/bucket_0",
		StorageOptions: proxy.Options(),
		WAL:            WALOptions{Enabled: true},
		WALPath:        t.TempDir(),
		Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
	}
	opts.StorageOptions["client_max_retries"] = "1"
	b := openFlushedThenBuffered(t, opts, 10)
	proxy.SetDown(true)
	if err := b.Close(); err == nil {
		t.Fatal("close flushed while the server was gone")
	}
	proxy.SetDown(false)
	b, err := Open(opts)
	if err != nil {
		t.Fatalf("reopening after the server came back: %v", err)
	}
	wantIDs(t, b, 20)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A lease that ran out while the server was gone (no renewal could reach
// it) admits no commit; once the server is back the next flush renews it
// itself and commits, without waiting for the renewal loop's next tick.
func TestS3LeaseRunOutWhileServerGone(t *testing.T) {
	srv := miniotest.Start(t, "lease-lapse")
	proxy := srv.Proxy(t)
	o, clock, _ := withFakeTime(Options{
		Path:           "s3://lease-lapse/queue/bucket_0",
		StorageOptions: proxy.Options(),
		WriterLease:    WriterLeaseOptions{Duration: 30 * time.Second, RenewInterval: 10 * time.Second},
		Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
	})
	o.StorageOptions["client_max_retries"] = "0"
	quit := make(chan struct{})
	o.WriterLease.beforeRenew = func() { <-quit } // the loop's renewals never get through
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer close(quit)
	appendRows(t, b, 0, 5)
	proxy.SetDown(true)
	clock.Advance(31 * time.Second) // the lease has run out
	if err := b.Flush(); err == nil {
		t.Fatal("a flush committed while the server was gone")
	}
	proxy.SetDown(false)
	if err := b.Flush(); err != nil {
		t.Fatalf("first flush with the server back: %v", err)
	}
	wantIDs(t, b, 5)
}

// A renewal whose answer is lost may have been stored: the lease object
// then has an ETag this writer never saw. The next renewal finds it changed,
// sees its own holder id in it, and renews on top, instead of believing
// itself taken over; a failed open's claim does not lock the process out.
func TestS3LeaseWriteWithLostAnswer(t *testing.T) {
	srv := miniotest.Start(t, "lease-lost-answer")
	proxy := srv.Proxy(t)
	leasePut := regexp.MustCompile(`^PUT \S*/_persisting/writer-lease\.json `)
	o, clock, _ := withFakeTime(Options{
		Path:           "s3://lease-lost-answer/queue/bucket_0",
		StorageOptions: proxy.Options(),
		WriterLease:    WriterLeaseOptions{Duration: 30 * time.Second, RenewInterval: 10 * time.Second},
		Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
	})
	o.StorageOptions["client_max_retries"] = "1"
	renewed := make(chan error)
	o.WriterLease.afterRenew = func(err error) { renewed <- err }

	// The open's claim is stored, its answer lost: the open fails, and the
	// next open of this process takes the lease at once.
	struck := proxy.BreakOn(leasePut, true)
	if _, err := Open(o); err == nil {
		t.Fatal("open succeeded with its lease claim unanswered")
	}
	<-struck
	proxy.SetDown(false)
	b, err := Open(o)
	if err != nil {
		t.Fatalf("reopen after the lost claim: %v", err)
	}
	defer func() {
		o.WriterLease.afterRenew = nil
		go func() { // renewals during Close go unwatched
			for range renewed {
			}
		}()
		b.Close()
		close(renewed)
	}()

	struck = proxy.BreakOn(leasePut, true)
	clock.Advance(10 * time.Second)
	if err := <-renewed; err == nil {
		t.Fatal("the renewal succeeded with its answer lost")
	}
	<-struck
	proxy.SetDown(false)
	clock.Advance(10 * time.Second)
	if err := <-renewed; err != nil {
		t.Fatalf("renewal after the lost answer: %v", err)
	}
	appendRows(t, b, 0, 5)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, b, 5)
}
