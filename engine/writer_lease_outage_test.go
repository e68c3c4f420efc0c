package engine

import (
	"testing"

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
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 10, 10)
	proxy.SetDown(true)
	if err := b.Close(); err == nil {
		t.Fatal("close flushed while the server was gone")
	}
	proxy.SetDown(false)
	b, err = Open(opts)
	if err != nil {
		t.Fatalf("reopening after the server came back: %v", err)
	}
	wantIDs(t, b, 20)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
