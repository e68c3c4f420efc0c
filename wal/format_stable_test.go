package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// goldenDir holds a log written by the version before big entries bypassed
// tidwall/wal's buffers (1 KiB segments, by writeGolden's calls).
const goldenDir = "testdata/v1-1KiB-segments"

const goldenSegmentSize = 1024

// goldenBatches are the writes of the golden log: small entries, entries
// larger than a segment, and batches mixing both.
func goldenBatches() [][][]byte {
	return [][][]byte{
		{payload(1, 10)},
		{payload(2, 3000)},                                  // > a segment: rotates
		{payload(3, 500), payload(4, 600)},                  // the second crosses the size
		{payload(5, 100), payload(6, 5000), payload(7, 20)}, // a big one in the middle of a batch
		{payload(8, 1015)},                                  // a segment by itself
		{payload(9, 0)},
		{payload(10, 2000), payload(11, 2000)},
		{payload(12, 30)},
	}
}

func writeGolden(t *testing.T, dir string, o Options) *Log {
	t.Helper()
	o.SegmentSize = goldenSegmentSize
	l := mustOpen(t, dir, o)
	for _, b := range goldenBatches() {
		if _, _, err := l.WriteBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestFormatStable: a log written by the earlier version opens and reads
// back entry for entry, and this version writes the same calls to the same
// bytes, file for file.
func TestFormatStable(t *testing.T) {
	var want [][]byte
	for _, b := range goldenBatches() {
		want = append(want, b...)
	}
	old := t.TempDir()
	golden := segmentFiles(t, goldenDir)
	if len(golden) < 5 {
		t.Fatalf("%s holds %d segments", goldenDir, len(golden))
	}
	for name, data := range golden {
		if err := os.WriteFile(filepath.Join(old, name), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	l := mustOpen(t, old, Options{SegmentSize: goldenSegmentSize})
	checkEntries(t, readAll(t, l), want, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := writeGolden(t, dir, Options{}).Close(); err != nil {
		t.Fatal(err)
	}
	got := segmentFiles(t, dir)
	if len(got) != len(golden) {
		t.Fatalf("%d segment files, the earlier version wrote %d", len(got), len(golden))
	}
	for name, data := range golden {
		if !bytes.Equal(got[name], data) {
			t.Errorf("segment %s: %d bytes differ from the earlier version's %d", name, len(got[name]), len(data))
		}
	}
}

// segmentFiles returns the contents of the segment files in dir by name.
func segmentFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	segs, _, _, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, s := range segs {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(s.path)] = data
	}
	return files
}
