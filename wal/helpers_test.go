package wal

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder collects what a Log logs.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// payload returns a payload of n bytes that differs per seed.
func payload(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seed*31 + i*7 + seed>>8)
	}
	return p
}

// entry is an index and its payload as read back.
type entry struct {
	index   uint64
	payload []byte
}

func mustOpen(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = t.Logf
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

func mustWrite(t testing.TB, l *Log, p []byte) uint64 {
	t.Helper()
	i, err := l.Write(p)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return i
}

func readAll(t testing.TB, l *Log) []entry {
	t.Helper()
	es, err := readFrom(l, 0)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return es
}

func readFrom(l *Log, index uint64) ([]entry, error) {
	var es []entry
	err := l.ReadFrom(index, func(i uint64, p []byte) error {
		es = append(es, entry{i, p})
		return nil
	})
	return es, err
}

// checkEntries fails unless got are the entries of want (want[k] has index
// first+k) from index first on.
func checkEntries(t testing.TB, got []entry, want [][]byte, first uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for k, e := range got {
		if e.index != first+uint64(k) || !bytes.Equal(e.payload, want[k]) {
			t.Fatalf("entry %d: got index %d payload %q, want index %d payload %q",
				k, e.index, trim(e.payload), first+uint64(k), trim(want[k]))
		}
	}
}

// checkWritten fails unless every entry in got is the one written at its
// index (written[i-1] for index i).
func checkWritten(t testing.TB, got []entry, written [][]byte) {
	t.Helper()
	for _, e := range got {
		if e.index == 0 || e.index > uint64(len(written)) || !bytes.Equal(e.payload, written[e.index-1]) {
			t.Fatalf("entry %d with payload %q was never written", e.index, trim(e.payload))
		}
	}
}

func trim(p []byte) []byte {
	if len(p) > 32 {
		return p[:32]
	}
	return p
}

func checkIndexes(t testing.TB, l *Log, first, last uint64) {
	t.Helper()
	f, err1 := l.FirstIndex()
	la, err2 := l.LastIndex()
	if err1 != nil || err2 != nil || f != first || la != last {
		t.Fatalf("FirstIndex, LastIndex = %d (%v), %d (%v); want %d, %d", f, err1, la, err2, first, last)
	}
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		in, err := os.Open(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// segmentsOf lists the segment files of dir.
func segmentsOf(t testing.TB, dir string) []segmentFile {
	t.Helper()
	segs, _, _, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// dirSize sums the sizes of the segment files of dir.
func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	sizes, err := segmentSizes(segmentsOf(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range sizes {
		n += s
	}
	return n
}

// snapshot returns the names and contents of the files of dir.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[de.Name()] = string(b)
	}
	return m
}
