package engine

import (
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/internal/miniotest"
	"github.com/persisting/persisting/lance/objstore"
)

// TestCleanupRemovesFilesACrashLeft: files in the dataset at open that no
// version references (a crashed writer's flush or compaction output, its
// transaction file) go at the next cleanup, young as they are; a file
// written after the open (this writer's, maybe not committed yet) stays,
// and so does every record. Without maintenance nothing is removed.
func TestCleanupRemovesFilesACrashLeft(t *testing.T) {
	var srv *miniotest.Server
	for _, tc := range []struct {
		name        string
		s3          bool
		maintenance bool
	}{
		{"local", false, true},
		{"local, maintenance off", false, false},
		{"s3", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Path: t.TempDir(), FlushThreshold: 100,
				Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: !tc.maintenance}}
			if tc.s3 {
				if srv == nil {
					srv = miniotest.Start(t, "abandoned")
				}
				opts.Path, opts.StorageOptions = "s3://abandoned/bucket_0", srv.Options()
			}
			opts, _, _ = withFakeTime(opts)
			b, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 0, 100)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			plant := func(rel string) string {
				p := objstore.JoinURL(opts.datasetPath(), rel)
				if err := objstore.Put(p, []byte("left by a crash")); err != nil {
					t.Fatal(err)
				}
				return p
			}
			crashed := []string{plant("data/crashed-flush.lance"), plant("_transactions/0-crashed.txn")}

			b, err = Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			inFlight := plant("data/in-flight.lance")
			b.maintain(true) // the fake clock stays put: every file is young
			for _, p := range crashed {
				if _, err := objstore.Stat(p); tc.maintenance != errors.Is(err, objstore.ErrNotExist) {
					t.Errorf("%s: stat after cleanup: %v", p, err)
				}
			}
			if _, err := objstore.Stat(inFlight); err != nil {
				t.Fatalf("a file written after the open went: %v", err)
			}
			appendRows(t, b, 100, 100)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			_, recs, err := b.Read(0, -1, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			n := int64(0)
			for _, r := range recs {
				n += r.NumRows()
				r.Release()
			}
			if n != 200 {
				t.Fatalf("%d rows read, want 200", n)
			}
		})
	}
}
