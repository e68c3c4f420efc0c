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
	return writeGoldenParts(t, dir, o, false)
}

// writeGoldenParts writes the golden batches; split gives each payload to
// AppendParts in three parts (a byte, most of it, the last bytes).
func writeGoldenParts(t *testing.T, dir string, o Options, split bool) *Log {
	t.Helper()
	o.SegmentSize = goldenSegmentSize
	l := mustOpen(t, dir, o)
	for _, b := range goldenBatches() {
		if !split {
			if _, _, err := l.WriteBatch(b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		entries := make([][][]byte, len(b))
		for i, p := range b {
			k := min(1, len(p))
			m := max(k, len(p)-3)
			entries[i] = [][]byte{p[:k], p[k:m], p[m:]}
		}
		_, last, err := l.AppendParts(entries)
		if err == nil {
			err = l.Commit(last)
		}
		if err != nil {
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

	for _, split := range []bool{false, true} {
		dir := t.TempDir()
		if err := writeGoldenParts(t, dir, Options{}, split).Close(); err != nil {
			t.Fatal(err)
		}
		got := segmentFiles(t, dir)
		if len(got) != len(golden) {
			t.Fatalf("parts %v: %d segment files, the earlier version wrote %d", split, len(got), len(golden))
		}
		for name, data := range golden {
			if !bytes.Equal(got[name], data) {
				t.Errorf("parts %v: segment %s: %d bytes differ from the earlier version's %d", split, name, len(got[name]), len(data))
			}
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
