package engine

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance"
)

// A flush whose manifest PUT breaks off (the server went away) does not
// know whether it committed. Whether the server stored the manifest (its
// answer lost) or never got it, the rows end up in the dataset exactly
// once: the next flush asks the store first. With the WAL, a reopen
// replays nothing twice either.
func TestS3FlushWithUnknownOutcomeWritesItsRowsOnce(t *testing.T) {
	srv := miniotest.Start(t, "uncertain")
	proxy := srv.Proxy(t)
	manifestPut := regexp.MustCompile(`^PUT \S*/_versions/\S*\.manifest `)
	for _, tc := range []struct {
		name   string
		stored bool // the server got the manifest PUT (its answer was lost)
		wal    bool
		// only: the server stays up for other requests (only the manifest
		// PUTs fail): the failed flush's cleanup reaches it, and must not
		// remove the data file a stored version names
		only bool
	}{
		{"answer lost", true, false, false},
		{"answer lost, WAL", true, true, false},
		{"request lost", false, false, false},
		{"request lost, WAL", false, true, false},
		{"answer lost, server up for the rest", true, false, true},
		{"request lost, server up for the rest", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{
				Path:           fmt.Sprintf("s3://uncertain/%s/bucket_0", regexp.MustCompile(`\W+`).ReplaceAllString(tc.name, "-")),
				StorageOptions: proxy.Options(),
				FlushThreshold: 1000,
				Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
			}
			opts.StorageOptions["client_max_retries"] = "1"
			if tc.wal {
				opts.WAL, opts.WALPath = WALOptions{Enabled: true}, t.TempDir()
			}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 0, 10)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 10, 5)
			struck := proxy.BreakOn(manifestPut, tc.stored)
			if tc.only {
				struck = proxy.BreakOnly(manifestPut, tc.stored)
			}
			err = b.Flush()
			<-struck
			if !errors.Is(err, lance.ErrCommitUncertain) {
				t.Fatalf("flush while the server is gone: %v, want %v", err, lance.ErrCommitUncertain)
			}
			if err := b.Flush(); err == nil && !tc.only { // still gone: cannot tell, nothing changes
				t.Fatal("a flush succeeded while the server was gone")
			}
			proxy.SetDown(false)
			appendRows(t, b, 15, 5)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			wantIDs(t, b, 20)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			ds, err := lance.Open(b.DatasetPath())
			if err != nil {
				t.Fatal(err)
			}
			// v1: the first flush; v2: the uncertain one (or, not stored, its
			// rows with the next ones); v3: the last, if v2 was stored
			wantVersion := map[bool]uint64{true: 3, false: 2}[tc.stored]
			if ds.Version() != wantVersion || ds.CountRows() != 20 {
				t.Fatalf("dataset at version %d with %d rows, want version %d with 20", ds.Version(), ds.CountRows(), wantVersion)
			}
			if tc.wal {
				b, err := Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				wantIDs(t, b, 20)
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// wantIDs checks that b reads ids 0..n-1, each once, in order.
func wantIDs(t *testing.T, b *Bucket, n int64) {
	t.Helper()
	_, recs, err := b.Read(0, 2*n, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	got := ids(t, recs)
	for _, r := range recs {
		r.Release()
	}
	if int64(len(got)) != n {
		t.Fatalf("read %d rows, want %d: %v", len(got), n, got)
	}
	for i, id := range got {
		if id != int64(i) {
			t.Fatalf("row %d has id %d: %v", i, id, got)
		}
	}
}
