package engine

import (
	"errors"
	"regexp"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// A compaction whose manifest PUT was stored but whose answer was lost
// fails, and the bucket goes on reading the version before it, while the
// compacted version is the latest. cleanup_old_versions then must not
// remove the version the bucket reads: it did, with the files only it
// used, and every read failed with 404 until the next flush.
func TestS3CleanupKeepsTheVersionTheBucketReads(t *testing.T) {
	srv := miniotest.Start(t, "cleanup-lost-compaction")
	proxy := srv.Proxy(t)
	opts := Options{Path: "s3://cleanup-lost-compaction/q/bucket_0", StorageOptions: proxy.Options(), FlushThreshold: 1000,
		Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}}
	opts.StorageOptions["client_max_retries"] = "1"
	b := openFlushedThenBuffered(t, opts, 0)
	for i := int64(10); i < 40; i += 10 {
		appendRows(t, b, i, 10)
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	struck := proxy.BreakOnly(regexp.MustCompile(`^PUT \S*/_versions/`), true)
	if _, err := b.Compact(1000); !errors.Is(err, objstore.ErrNoAnswer) {
		t.Fatalf("compaction whose manifest PUT's answer is lost: %v", err)
	}
	<-struck
	if _, err := b.CleanupOldVersions(0); err != nil {
		t.Fatal(err)
	}
	proxy.SetDown(false)
	wantIDs(t, b, 40)
	appendRows(t, b, 40, 5)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, b, 45)
	b = reopen(t, b, opts)
	wantIDs(t, b, 45)
}
