package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/persisting/persisting/wal"
)

// warnings collects what a bucket logs.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) logf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, fmt.Sprintf(format, args...))
}

func (w *warnings) lossReports() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		if strings.Contains(m, "lost acknowledged entries") {
			out = append(out, m)
		}
	}
	return out
}

// emptySegments truncates every WAL segment of the bucket at path to 0 bytes.
func emptySegments(t *testing.T, path string) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(path, WALDirName, strings.Repeat("[0-9]", 20)))
	if err != nil || len(names) == 0 {
		t.Fatalf("no WAL segments in %s (%v)", path, err)
	}
	for _, name := range names {
		if err := os.Truncate(name, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEmptiedWALSegmentIsReportedAsLoss: acknowledged rows that vanish with
// an emptied WAL segment are reported by a warning naming their entries;
// entries the dataset holds are not reported; the bucket opens and works.
func TestEmptiedWALSegmentIsReportedAsLoss(t *testing.T) {
	cases := []struct {
		name string
		// run writes through a bucket at path, crashes it and damages the WAL;
		// it returns the rows that survive.
		run  func(t *testing.T, path string) []int64
		want string // the loss report, "" for none
	}{
		// crash closes the log, which records its last index; after a real
		// kill only the first entry of each segment is recorded, and the
		// report says "at least" (wal/lost_segment_test.go covers that).
		{"all rows buffered, segment emptied", func(t *testing.T, path string) []int64 {
			b := openWALBucket(t, path, 1000, 0)
			for i := int64(0); i < 4; i++ {
				appendRows(t, b, i*10, 10) // entries 1..4
			}
			crash(t, b)
			emptySegments(t, path)
			return nil
		}, "entries 1..4"},

		{"after a flush, segment emptied", func(t *testing.T, path string) []int64 {
			b := openWALBucket(t, path, 1000, time.Second)
			appendRows(t, b, 0, 30) // entry 1
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			appendRows(t, b, 30, 5) // entries 2, 3
			appendRows(t, b, 35, 5)
			if err := b.wal.Sync(); err != nil {
				t.Fatal(err)
			}
			crash(t, b)
			emptySegments(t, path)
			return seq(0, 30)
		}, "entries 2..3"},

		{"emptied after the commit, before the truncation", func(t *testing.T, path string) []int64 {
			b := openWALBucket(t, path, 1000, 0)
			appendRows(t, b, 0, 20) // entries 1, 2: both committed below
			appendRows(t, b, 20, 20)
			saved := filepath.Join(t.TempDir(), "wal")
			copyDir(t, filepath.Join(path, WALDirName), saved)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			crash(t, b)
			copyDir(t, saved, filepath.Join(path, WALDirName)) // as if truncation never ran
			emptySegments(t, path)
			return seq(0, 40)
		}, ""},

		{"no damage", func(t *testing.T, path string) []int64 {
			b := openWALBucket(t, path, 1000, 0)
			appendRows(t, b, 0, 10)
			crash(t, b)
			return seq(0, 10)
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := t.TempDir()
			want := c.run(t, path)
			var w warnings
			b, err := Open(Options{Path: path, WAL: WALOptions{Enabled: true}, Logger: w.logf})
			if err != nil {
				t.Fatalf("open after the damage: %v", err)
			}
			defer b.Close()
			reports := w.lossReports()
			switch {
			case c.want == "" && len(reports) > 0:
				t.Fatalf("a loss was reported where none happened: %q", reports)
			case c.want != "" && (len(reports) != 1 || !strings.Contains(reports[0], c.want)):
				t.Fatalf("loss reports %q, want one naming %s", reports, c.want)
			}
			if got := readIDs(t, b, 0, -1); !equalInts(got, want) {
				t.Fatalf("rows after the damage: %v, want %v", got, want)
			}
			appendRows(t, b, 100, 1) // the bucket goes on
			if got := readIDs(t, b, int64(len(want)), -1); !equalInts(got, []int64{100}) {
				t.Fatalf("append after the damage reads back %v", got)
			}
		})
	}
}

// TestDeletedFirstWALSegmentIsReportedAsLoss: a log that begins after the
// dataset's watermark lost the entries in between.
func TestDeletedFirstWALSegmentIsReportedAsLoss(t *testing.T) {
	path := t.TempDir()
	b, err := Open(Options{Path: path, WAL: WALOptions{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 10) // entry 1
	crash(t, b)
	// Entry 1's segment goes; the log now starts at index 2.
	l, err := wal.Open(filepath.Join(path, WALDirName), wal.Options{Logger: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateFront(2); err != nil {
		t.Fatal(err)
	}
	l.Close()
	var w warnings
	b, err = Open(Options{Path: path, WAL: WALOptions{Enabled: true}, Logger: w.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if r := w.lossReports(); len(r) != 1 || !strings.Contains(r[0], "entries 1..1") {
		t.Fatalf("loss reports %q, want one naming entries 1..1", r)
	}
}
