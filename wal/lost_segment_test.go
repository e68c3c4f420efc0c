package wal

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLostTailSegmentIsReported: entries that vanish with the last segment
// (emptied or deleted after they were written) are reported by Lost, once,
// with their index range - never dropped silently - and OpenReadOnly sees
// the same without changing anything.
func TestLostTailSegmentIsReported(t *testing.T) {
	truncate := func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		segSize  int64 // 1: one entry per segment
		crash    bool  // the writer died instead of closing the log
		damage   func(t *testing.T, dir string)
		left     int    // entries still in the log
		lost     *Lost  // what Lost reports
		keptLast uint64 // LastIndex after Open
	}{
		{"only segment emptied after close", 0, false, func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, segmentName(1)))
		}, 0, &Lost{1, 6}, 0},
		{"only segment emptied after a crash", 0, true, func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, segmentName(1)))
		}, 0, &Lost{1, 1}, 0}, // the mark was raised by the segment's first write only
		{"last full segment emptied", 1, false, func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, segmentName(6)))
			remove(t, filepath.Join(dir, segmentName(7))) // the empty segment after it
		}, 5, &Lost{6, 6}, 5},
		{"last two segments deleted after a crash", 1, true, func(t *testing.T, dir string) {
			remove(t, filepath.Join(dir, segmentName(6)))
			remove(t, filepath.Join(dir, segmentName(7)))
		}, 5, &Lost{6, 6}, 5},
		{"nothing damaged", 1, true, func(*testing.T, string) {}, 6, nil, 6},
		{"nothing damaged, closed", 0, false, func(*testing.T, string) {}, 6, nil, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{SegmentSize: tt.segSize})
			var ps [][]byte
			for i := 0; i < 6; i++ {
				ps = append(ps, payload(i, 20))
				mustWrite(t, l, ps[i])
			}
			if tt.crash {
				crashed := copyDir(t, dir) // what a kill -9 leaves: everything was fsynced
				l.Close()
				dir = crashed
			} else if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)

			// persisting verify surveys before any open: it sees the loss too
			if s, err := Survey(dir); err != nil || !reflect.DeepEqual(s.Lost, tt.lost) {
				t.Fatalf("Survey: Lost %+v, %v; want %+v", s.Lost, err, tt.lost)
			}
			before := snapshot(t, dir)
			ro, err := OpenReadOnly(dir, Options{Logger: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			if got := ro.Lost(); !reflect.DeepEqual(got, tt.lost) {
				t.Fatalf("read-only Lost() = %+v, want %+v", got, tt.lost)
			}
			ro.Close()
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Fatal("OpenReadOnly changed the log")
			}

			l = mustOpen(t, dir, Options{SegmentSize: tt.segSize})
			if got := l.Lost(); !reflect.DeepEqual(got, tt.lost) {
				t.Fatalf("Lost() = %+v, want %+v", got, tt.lost)
			}
			checkIndexes(t, l, firstOf(tt.left, tt.keptLast), tt.keptLast)
			checkEntries(t, readAll(t, l), ps[:tt.left], 1)
			// The log goes on; the loss was reported once, so indexes given
			// again - and a crash right after them - are not reported again.
			mustWrite(t, l, payload(99, 20))
			crashed := copyDir(t, dir)
			l.Close()
			again := mustOpen(t, crashed, Options{SegmentSize: tt.segSize})
			defer again.Close()
			if got := again.Lost(); got != nil {
				t.Fatalf("after the report and one more write: Lost() = %+v, want nil", got)
			}
		})
	}
}

// firstOf is FirstIndex of a log holding left entries that end at last.
func firstOf(left int, last uint64) uint64 { return last + 1 - uint64(left) }

// TestLostMiddleSegmentNamesTheEntries: a segment missing between two others
// fails Open with a CorruptError whose message names the missing entries.
func TestLostMiddleSegmentNamesTheEntries(t *testing.T) {
	for _, how := range []string{"deleted", "emptied"} {
		t.Run(how, func(t *testing.T) {
			dir, _ := smallLog(t, 1, 6, 20) // one entry per segment
			victim := filepath.Join(dir, segmentName(3))
			var err error
			if how == "deleted" {
				err = os.Remove(victim)
			} else {
				err = os.Truncate(victim, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{SegmentSize: 1, Logger: t.Logf})
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Index != 3 || !strings.Contains(err.Error(), "entries 3..3 are missing") {
				t.Fatalf("Open: %v, want a CorruptError naming entries 3..3", err)
			}
		})
	}
}

// TestHighWaterMarkIsWrittenPerSegment: the mark costs one write per segment
// started, not one per entry.
func TestHighWaterMarkIsWrittenPerSegment(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	defer l.Close()
	for i := 0; i < 5; i++ {
		mustWrite(t, l, payload(i, 10))
		if mark, err := readHighWater(dir, t.Logf); err != nil || mark != 1 {
			t.Fatalf("after %d writes into one segment: mark %d (%v), want 1", i+1, mark, err)
		}
	}
	if err := l.TruncateFront(6); err != nil { // empties the log: the next write starts afresh
		t.Fatal(err)
	}
	mustWrite(t, l, payload(6, 10))
	if mark, err := readHighWater(dir, t.Logf); err != nil || mark != 6 {
		t.Fatalf("after a write into an emptied log: mark %d (%v), want 6", mark, err)
	}
}

// TestUnreadableHighWaterMarkIsIgnored: the mark is not fsynced, so a power
// failure may leave it empty or torn; Open warns and goes on without it.
func TestUnreadableHighWaterMarkIsIgnored(t *testing.T) {
	for _, content := range []string{"", "12x", "\x00\x00"} {
		dir, ps := smallLog(t, 0, 3, 10)
		if err := os.WriteFile(filepath.Join(dir, HighWaterName), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		var rec recorder
		l := mustOpen(t, dir, Options{Logger: rec.logf})
		if l.Lost() != nil || !strings.Contains(rec.String(), "ignoring") {
			t.Fatalf("mark %q: Lost %+v, log %q", content, l.Lost(), rec.String())
		}
		checkEntries(t, readAll(t, l), ps, 1)
		l.Close()
		if mark, err := readHighWater(dir, t.Logf); err != nil || mark != 3 {
			t.Fatalf("mark %q: rewritten as %d (%v), want 3", content, mark, err)
		}
	}
}

// TestSegmentReplacedByADirectory: a directory with a segment's name (the
// file replaced by one) is named as such by Open, OpenReadOnly and Survey.
// tidwall/wal skips directories, so the log seemed to lack that segment and
// Open failed later on a rename, naming neither the file nor the problem.
func TestSegmentReplacedByADirectory(t *testing.T) {
	for _, name := range []string{segmentName(1), segmentName(3), segmentName(3) + endSuffix} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{SegmentSize: 1}) // one entry per segment
			for i := 0; i < 4; i++ {
				mustWrite(t, l, payload(i, 20))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, name)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			want := p + " is a directory, not a log segment"
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v, want ErrCorrupt saying %q", what, err, want)
				}
			}
			_, err := Open(dir, Options{})
			check("Open", err)
			_, err = OpenReadOnly(dir, Options{})
			check("OpenReadOnly", err)
			_, err = Survey(dir)
			check("Survey", err)
		})
	}
}
