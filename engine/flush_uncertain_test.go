package engine

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
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
			b := openFlushedThenBuffered(t, opts, 5)
			struck := proxy.BreakOn(manifestPut, tc.stored)
			if tc.only {
				struck = proxy.BreakOnly(manifestPut, tc.stored)
			}
			err := b.Flush()
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
			// v1: the first flush; v2: the uncertain one (stored then, or
			// published by the next flush with the same bytes); v3: the last
			if ds.Version() != 3 || ds.CountRows() != 20 {
				t.Fatalf("dataset at version %d with %d rows, want version 3 with 20", ds.Version(), ds.CountRows())
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

// A manifest PUT the server gets late - held back by a stalled server or
// proxy, its answer lost - may land before the next flush looks, between
// that look and the next flush's own manifest PUT, or after it. In every
// order the rows of the uncertain flush are committed once: the version it
// tried holds them, as its own transaction, and pylance reads each row
// once and every version's transaction.
func TestS3HeldManifestPutCommitsItsRowsOnce(t *testing.T) {
	srv := miniotest.Start(t, "held")
	proxy := srv.Proxy(t)
	manifestPut := regexp.MustCompile(`^PUT \S*/_versions/\S*\.manifest `)
	for _, tc := range []struct {
		name string
		// release lands the held PUT at its point of the test; wantStatus
		// is the server's answer to it (412: the version was taken)
		release    func(t *testing.T, h *miniotest.HeldRequest, flush func())
		wantStatus int
	}{
		{"lands before the next flush", func(t *testing.T, h *miniotest.HeldRequest, flush func()) {
			h.Release()
			flush()
		}, 200},
		{"lands between the next flush's look and its manifest PUT", func(t *testing.T, h *miniotest.HeldRequest, flush func()) {
			h.ReleaseBeforeNext()
			flush()
		}, 200},
		{"lands after the next flush", func(t *testing.T, h *miniotest.HeldRequest, flush func()) {
			flush()
			h.Release()
		}, 412},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{
				Path:           fmt.Sprintf("s3://held/%s/bucket_0", regexp.MustCompile(`\W+`).ReplaceAllString(tc.name, "-")),
				StorageOptions: proxy.Options(),
				FlushThreshold: 1000,
				Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
			}
			opts.StorageOptions["client_max_retries"] = "1"
			b, held := openWithHeldFlush(t, proxy, manifestPut, opts)
			appendRows(t, b, 15, 5)
			tc.release(t, held, func() {
				if err := b.Flush(); err != nil {
					t.Fatal(err)
				}
			})
			if status, err := held.Release(); err != nil || status != tc.wantStatus {
				t.Fatalf("the held manifest PUT got %d, %v; want %d", status, err, tc.wantStatus)
			}
			wantIDs(t, b, 20)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			// v1: the first flush; v2: the held one's rows (its own
			// transaction, whoever's PUT stored it); v3: the rest
			wantPylanceS3(t, b, proxy, []pylanceVersion{{1, 10}, {2, 15}, {3, 20}})
		})
	}
}

// A bucket that closes with its uncertain flush unsettled - here the
// server answers again, but fails the manifest PUT that would settle it
// (503), and Close goes on with the rest - keeps its writer lease. Reopened,
// here or in another process, the bucket then commits a takeover version
// before it reads the dataset, so a held manifest PUT of the old flush
// lands before that read (the WAL replay then skips its rows) or never.
// With the lease released, the reopened bucket read the version absent and
// the held PUT, landing before its first flush's, stored the rows twice.
func TestS3HeldManifestPutAcrossCloseAndReopen(t *testing.T) {
	srv := miniotest.Start(t, "held-reopen")
	proxy := srv.Proxy(t)
	manifestPut := regexp.MustCompile(`^PUT \S*/_versions/\S*\.manifest `)
	opts := Options{
		Path:           "s3://held-reopen/q/bucket_0",
		StorageOptions: proxy.Options(),
		FlushThreshold: 1000,
		Background:     BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true},
		WAL:            WALOptions{Enabled: true},
		WALPath:        t.TempDir(),
	}
	opts.StorageOptions["client_max_retries"] = "1"
	b, held := openWithHeldFlush(t, proxy, manifestPut, opts)
	proxy.AnswerOnly(manifestPut, 503)
	// An answer (404) tells the client the server is back: else Close,
	// the store counting as gone, would not try the flush (closeFlush).
	if _, err := objstore.Stat(opts.Path + "/absent"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("stat of an absent object with the server back: %v", err)
	}
	if err := b.Close(); err == nil || errors.Is(err, objstore.ErrNoAnswer) {
		t.Fatalf("close while manifest PUTs get 503: %v, want a failure with an answer", err)
	}
	proxy.SetDown(false)
	held.ReleaseBeforeNext()
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 15, 5)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if status, err := held.Release(); err != nil || status != 200 {
		t.Fatalf("the held manifest PUT got %d, %v; want 200 (landed first)", status, err)
	}
	wantIDs(t, b, 20)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// v2: the held flush's rows; v3: the reopened writer's takeover; v4:
	// the rest
	wantPylanceS3(t, b, proxy, []pylanceVersion{{1, 10}, {2, 15}, {3, 15}, {4, 20}})
}

// openWithHeldFlush opens a bucket, flushes rows 0-9, then flushes rows
// 10-14 with their manifest PUT held by the proxy (the flush is uncertain),
// and brings the proxy back up.
func openWithHeldFlush(t *testing.T, proxy *miniotest.FaultProxy, manifestPut *regexp.Regexp, opts Options) (*Bucket, *miniotest.HeldRequest) {
	t.Helper()
	b := openFlushedThenBuffered(t, opts, 5)
	held := proxy.HoldOn(manifestPut)
	if err := b.Flush(); !errors.Is(err, lance.ErrCommitUncertain) {
		t.Fatalf("flush whose manifest PUT is held: %v, want %v", err, lance.ErrCommitUncertain)
	}
	<-held.Held()
	proxy.SetDown(false)
	return b, held
}

// wantPylanceS3 checks the (version, rows) pylance reads and that it reads
// ids 0..19 once each.
func wantPylanceS3(t *testing.T, b *Bucket, proxy *miniotest.FaultProxy, want []pylanceVersion) {
	t.Helper()
	got := pylanceS3Versions(t, b.DatasetPath(), proxy.Options())
	if fmt.Sprint(got.versions) != fmt.Sprint(want) {
		t.Fatalf("pylance reads versions (version, rows) %v, want %v", got.versions, want)
	}
	for i, id := range got.ids {
		if id != int64(i) {
			t.Fatalf("pylance reads ids %v, want 0..19 once each", got.ids)
		}
	}
}
