package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCleanupRemovesFilesACrashLeft: files in the dataset at open that no
// version references (a crashed writer's flush or compaction output, its
// transaction file) go at the next cleanup, young as they are; a file
// written after the open (this writer's, maybe not committed yet) stays,
// and so does every record. Without maintenance nothing is removed.
func TestCleanupRemovesFilesACrashLeft(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maintenance bool
	}{
		{"maintenance on", true},
		{"maintenance off", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir()
			opts, _, _ := withFakeTime(Options{Path: path, FlushThreshold: 100,
				Background: BackgroundOptions{MaxFlushDelay: -1, DisableMaintenance: !tc.maintenance}})
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
			ds := filepath.Join(path, "data.lance")
			plant := func(rel string) string {
				p := filepath.Join(ds, rel)
				if err := os.WriteFile(p, []byte("left by a crash"), 0o644); err != nil {
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
				if _, err := os.Stat(p); tc.maintenance != os.IsNotExist(err) {
					t.Errorf("%s: stat after cleanup: %v", filepath.Base(p), err)
				}
			}
			if _, err := os.Stat(inFlight); err != nil {
				t.Fatalf("a file written after the open went: %v", err)
			}
			appendRows(t, b, 100, 100)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := pylanceIDs(t, b.DatasetPath()); len(got) != 200 {
				t.Fatalf("pylance reads %d rows, want 200", len(got))
			}
		})
	}
}
