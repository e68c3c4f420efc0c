package engine

import (
	"regexp"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
)

// A consumption snapshot whose PUT gets no answer may have been stored.
// Stored or not, the flushes after the server is back write the next
// snapshots (not "written by another writer" forever), and every mark
// survives a reopen, with the WAL's journal or without it.
func TestS3ConsumptionSnapshotWithUnknownOutcome(t *testing.T) {
	srv := miniotest.Start(t, "consumption-outage")
	proxy := srv.Proxy(t)
	snapshotPut := regexp.MustCompile(`^PUT \S*/consumption/\S*\.state `)
	for _, tc := range []struct {
		name   string
		stored bool
		wal    bool
	}{
		{"answer-lost", true, false},
		{"answer-lost-wal", true, true},
		{"request-lost", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Path: "s3://consumption-outage/" + tc.name + "/bucket_0", StorageOptions: proxy.Options(),
				FlushThreshold: 1000, Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}}
			opts.StorageOptions["client_max_retries"] = "1"
			if tc.wal {
				opts.WAL, opts.WALPath = WALOptions{Enabled: true}, t.TempDir()
			}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 0, 10)
			mark := func(i int64) {
				t.Helper()
				if err := b.MarkConsumed("a", []int64{i}); err != nil {
					t.Fatal(err)
				}
			}
			mark(0)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			mark(1)
			struck := proxy.BreakOn(snapshotPut, tc.stored)
			err = b.Flush()
			<-struck
			if err == nil {
				t.Fatal("the flush did not report the snapshot it could not write")
			}
			proxy.SetDown(false)
			for i := int64(2); i < 4; i++ {
				mark(i)
				if err := b.Flush(); err != nil {
					t.Fatalf("flush after the server is back: %v", err)
				}
			}
			b = reopen(t, b, opts)
			if got := take(t, b, "a", 100); !equalInts(got, seq(4, 6)) {
				t.Fatalf("unconsumed after reopen: %v, want 4..9", got)
			}
		})
	}
}
