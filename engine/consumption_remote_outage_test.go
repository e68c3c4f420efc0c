package engine

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
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

// A consumption snapshot PUT the server holds back (a stalled server or
// proxy) may land at any point after the flush that sent it failed: before
// the next flush looks for it, between that look and the next snapshot's
// PUT under the same name, or after it. In every order the flushes after
// the server is back succeed (the late one is this writer's own snapshot,
// not "written by another writer"), and every mark survives a reopen.
func TestS3HeldConsumptionSnapshotLandsLate(t *testing.T) {
	srv := miniotest.Start(t, "consumption-held")
	proxy := srv.Proxy(t)
	snapshotPut := regexp.MustCompile(`^PUT \S*/consumption/\S*\.state `)
	for _, tc := range []struct {
		name    string
		release func(h *miniotest.HeldRequest, flush func())
	}{
		{"lands-before-the-next-flush", func(h *miniotest.HeldRequest, flush func()) {
			h.Release()
			flush()
		}},
		{"lands-between-the-look-and-the-next-put", func(h *miniotest.HeldRequest, flush func()) {
			h.ReleaseBeforeNext()
			flush()
		}},
		{"lands-after-the-next-flush", func(h *miniotest.HeldRequest, flush func()) {
			flush()
			h.Release()
		}},
	} {
		for _, wal := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/wal=%v", tc.name, wal), func(t *testing.T) {
				opts := Options{Path: fmt.Sprintf("s3://consumption-held/%s-%v/bucket_0", tc.name, wal),
					StorageOptions: proxy.Options(), FlushThreshold: 1000,
					Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: true}}
				opts.StorageOptions["client_max_retries"] = "1"
				if wal {
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
				flush := func() {
					t.Helper()
					if err := b.Flush(); err != nil {
						t.Fatalf("flush after the server is back: %v", err)
					}
				}
				mark(0)
				flush()
				mark(1)
				held := proxy.HoldOn(snapshotPut)
				if err := b.Flush(); !errors.Is(err, objstore.ErrOutcomeUnknown) {
					t.Fatalf("flush whose snapshot PUT is held: %v, want %v", err, objstore.ErrOutcomeUnknown)
				}
				<-held.Held()
				proxy.SetDown(false)
				mark(2)
				tc.release(held, flush)
				if _, err := held.Release(); err != nil {
					t.Fatal(err)
				}
				mark(3)
				flush()
				b = reopen(t, b, opts)
				if got := take(t, b, "a", 100); !equalInts(got, seq(4, 6)) {
					t.Fatalf("unconsumed after reopen: %v, want 4..9", got)
				}
			})
		}
	}
}
