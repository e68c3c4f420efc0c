package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

func TestStorageLocationValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"wal on s3 needs wal_path", Options{Path: "s3://b/q", WAL: WALOptions{Enabled: true}}, "needs wal_path"},
		{"wal_path must be local", Options{Path: "s3://b/q", WALPath: "s3://b/w", WAL: WALOptions{Enabled: true}}, "must be a local directory"},
		{"other schemes", Options{Path: "gs://b/q"}, "gs:// is not supported"},
		{"s3 without a bucket", Options{Path: "s3://"}, "write s3://bucket/prefix"},
		{"file URL of another host", Options{Path: "file://elsewhere/d/q"}, `names host "elsewhere"`},
		{"file URL without an absolute path", Options{Path: "file:d/q"}, "needs an absolute path"},
		{"unknown storage option", Options{Path: "s3://b/q", StorageOptions: map[string]string{"aws_endpoit": "x"}}, "aws_endpoit"},
		{"s3 URL pylance cuts at '#'", Options{Path: "s3://b/q#1"}, "only up to '#'; write %23"},
		{"s3 URL with a '..' segment", Options{Path: "s3://b/q/../r"}, `may not hold ".." segments`},
		{"http endpoint without allow_http", Options{Path: "s3://b/q", StorageOptions: map[string]string{"aws_endpoint": "http://127.0.0.1:1"}}, "allow_http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.opts)
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want ErrInvalidArgument mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestStorageLocationPaths(t *testing.T) {
	for _, tc := range []struct {
		opts         Options
		dataset, wal string
	}{
		{Options{Path: "/d/q/bucket_1"}, "/d/q/bucket_1/data.lance", "/d/q/bucket_1/wal"},
		{Options{Path: "file:///d/q/bucket_1"}, "/d/q/bucket_1/data.lance", "/d/q/bucket_1/wal"},
		{Options{Path: "file://localhost/d/q/bucket_1"}, "/d/q/bucket_1/data.lance", "/d/q/bucket_1/wal"},
		{Options{Path: "file:/d/q/bucket_1"}, "/d/q/bucket_1/data.lance", "/d/q/bucket_1/wal"},
		{Options{Path: "file:///d/a%20queue/bucket_1"}, "/d/a queue/bucket_1/data.lance", "/d/a queue/bucket_1/wal"},
		{Options{Path: "s3://b/q/bucket_1", WALPath: "/w"}, "s3://b/q/bucket_1/data.lance", "/w/s3/b/q/bucket_1/wal"},
		{Options{Path: "s3://b/q/bucket_1/"}, "s3://b/q/bucket_1/data.lance", ""},
		// escapes decoded as pylance decodes them; a '%' of the key written back as %25
		{Options{Path: "s3://b/a%20queue/bucket_1", WALPath: "/w"}, "s3://b/a queue/bucket_1/data.lance", "/w/s3/b/a queue/bucket_1/wal"},
		{Options{Path: "s3://b/100%25/bucket_1", WALPath: "/w"}, "s3://b/100%25/bucket_1/data.lance", "/w/s3/b/100%/bucket_1/wal"},
		{Options{Path: "/d/q/bucket_1", WALPath: "/w"}, "/d/q/bucket_1/data.lance", "/w/local/d/q/bucket_1/wal"},
	} {
		o := tc.opts.withDefaults()
		if got := o.datasetPath(); got != tc.dataset {
			t.Errorf("%+v: dataset %q, want %q", tc.opts, got, tc.dataset)
		}
		if got := o.walPath(); got != tc.wal {
			t.Errorf("%+v: wal %q, want %q", tc.opts, got, tc.wal)
		}
	}
}

// Buckets on a real S3 server (MinIO on 127.0.0.1): rows survive a restart
// of every node, with the buckets moving between nodes (each node has its
// own local wal_path), and a crash loses nothing the WAL of the node that
// reopens the bucket holds.
func TestS3BucketsMoveBetweenNodes(t *testing.T) {
	srv := miniotest.Start(t, "engine-test")
	nodeWAL := []string{t.TempDir(), t.TempDir()}
	open := func(node, bucket int) *Bucket {
		t.Helper()
		b, err := Open(Options{
			Path:           "s3://engine-test/queue/bucket_" + string(rune('0'+bucket)),
			StorageOptions: srv.Options(),
			WAL:            WALOptions{Enabled: true},
			WALPath:        nodeWAL[node],
			FlushThreshold: 50,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Node 0 holds bucket 0, node 1 bucket 1; 120 rows each (background
	// flushes at the threshold, some rows left in the buffer and the WAL).
	var buckets [2]*Bucket
	for i := range buckets {
		buckets[i] = open(i, i)
		for k := int64(0); k < 120; k += 10 {
			rec := makeRows(t, memory.DefaultAllocator, int64(i)*1000+k, 10)
			if err := buckets[i].Append(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
	}
	// Bucket 1's node crashes (its WAL keeps the unflushed rows); bucket 0
	// closes cleanly (flushes).
	if err := buckets[0].Close(); err != nil {
		t.Fatal(err)
	}
	buckets[1].waitBackgroundFlush() // the crash comes after the threshold flushes
	crash(t, buckets[1])
	// Bucket 1 comes back on its own node first: its WAL replays the 20
	// rows, and a clean close flushes them.
	b1 := open(1, 1)
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart: the buckets swap nodes.
	moved := [2]*Bucket{open(1, 0), open(0, 1)}
	for i, b := range moved {
		total, persisted, _, err := b.Counts()
		if err != nil || total != 120 || persisted != 120 {
			t.Fatalf("bucket %d after the move: %d rows (%d persisted), %v", i, total, persisted, err)
		}
		_, recs, err := b.Read(0, 200, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		got := ids(t, recs)
		for _, r := range recs {
			r.Release()
		}
		for k, id := range got {
			if id != int64(i)*1000+int64(k) {
				t.Fatalf("bucket %d row %d has id %d", i, k, id)
			}
		}
		if !strings.HasPrefix(b.DatasetPath(), "s3://engine-test/queue/bucket_") {
			t.Fatalf("dataset path %s", b.DatasetPath())
		}
		if _, err := b.Compact(0); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for node, bucket := range []int{1, 0} { // where the last opens kept their logs
		if _, err := os.Stat(filepath.Join(nodeWAL[node], "s3", "engine-test", "queue", "bucket_"+string(rune('0'+bucket)), "wal")); err != nil {
			t.Fatalf("node %d has no WAL for bucket %d: %v", node, bucket, err)
		}
	}
}

// A node that reopens a bucket after it was written through another node
// refuses to replay what its own WAL still holds, naming the directory, and
// opens once that directory is cleared.
func TestS3StaleWALIsRefused(t *testing.T) {
	srv := miniotest.Start(t, "stale-wal")
	nodeWAL := []string{t.TempDir(), t.TempDir()}
	open := func(node int) (*Bucket, error) {
		return Open(Options{Path: "s3://stale-wal/q/bucket_0", StorageOptions: srv.Options(),
			WAL: WALOptions{Enabled: true}, WALPath: nodeWAL[node], FlushThreshold: 50})
	}
	appendRows := func(b *Bucket, first, n int64) {
		t.Helper()
		rec := makeRows(t, memory.DefaultAllocator, first, n)
		defer rec.Release()
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	a, err := open(0)
	if err != nil {
		t.Fatal(err)
	}
	appendRows(a, 0, 60) // flushed in the background at the threshold
	a.waitBackgroundFlush()
	appendRows(a, 60, 20) // only in node 0's WAL
	crash(t, a)
	b, err := open(1) // node 0 is unreachable; the bucket moves
	if err != nil {
		t.Fatal(err)
	}
	appendRows(b, 100, 10)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = open(0)
	if !errors.Is(err, ErrWAL) || !strings.Contains(err.Error(), nodeWAL[0]) || !strings.Contains(err.Error(), "another node") {
		t.Fatalf("reopening on the old node: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(nodeWAL[0], "s3", "stale-wal", "q", "bucket_0", "wal")); err != nil {
		t.Fatal(err)
	}
	a, err = open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, recs, err := a.Read(0, 1000, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	got := ids(t, recs)
	for _, r := range recs {
		r.Release()
	}
	want := []int64{}
	for i := int64(0); i < 60; i++ {
		want = append(want, i)
	}
	for i := int64(100); i < 110; i++ {
		want = append(want, i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
}

// TestS3Consumption: on an s3:// bucket consumption state is kept as
// snapshot objects under consumption/, written at the next flush (LanceBackend)
// and with the WAL journaled locally until then; clear deletes through
// deletion files as on local disk. State survives a reopen.
func TestS3Consumption(t *testing.T) {
	srv := miniotest.Start(t, "consumption")
	for _, tc := range []struct {
		name string
		wal  bool
	}{{"without the WAL", false}, {"with the WAL", true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := "s3://consumption/" + strings.ReplaceAll(tc.name, " ", "_") + "/bucket_0"
			opts := Options{Path: path, StorageOptions: srv.Options(), FlushThreshold: 1000}
			walDir := t.TempDir()
			if tc.wal {
				opts.WAL, opts.WALPath = WALOptions{Enabled: true}, walDir
			}
			snapshots := func() int {
				n := 0
				objstore.List(path+"/"+ConsumptionDirName, func(objstore.Info) bool { n++; return true })
				return n
			}
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 0, 10)
			if got := take(t, b, "a", 3); !equalInts(got, seq(0, 3)) {
				t.Fatalf("take %v", got)
			}
			if err := b.MarkConsumed("b", []int64{5}); err != nil {
				t.Fatal(err)
			}
			if n := snapshots(); n != 0 {
				t.Fatalf("%d snapshots before the flush", n)
			}
			if tc.wal {
				journal := filepath.Join(filepath.Dir(opts.walPath()), ConsumptionLogName)
				if info, err := os.Stat(journal); err != nil || info.Size() == 0 {
					t.Fatalf("no local journal before the flush: %v", err)
				}
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if n := snapshots(); n != 1 {
				t.Fatalf("%d snapshots after the flush", n)
			}
			if err := b.Clear([]int64{4, 8}); err != nil {
				t.Fatal(err)
			}
			if err := b.ResetConsumption("c"); err != nil {
				t.Fatal(err)
			}
			b = reopen(t, b, opts)
			if got := take(t, b, "a", 100); !equalInts(got, []int64{3, 5, 6, 7, 9}) {
				t.Fatalf("a after reopen: %v", got)
			}
			if got := take(t, b, "b", 100); !equalInts(got, []int64{0, 1, 2, 3, 6, 7, 9}) {
				t.Fatalf("b after reopen: %v", got)
			}
			if got := readIDs(t, b, 3, 3); !equalInts(got, []int64{3, 5}) {
				t.Fatalf("rows at 3..5: %v", got)
			}
		})
	}
}
