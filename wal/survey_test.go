package wal

import (
	"os"
	"path/filepath"
	"testing"
)

// writeLog writes n entries of 100 bytes into a new log in dir, in segments of
// about segSize bytes, and returns the segment files (in index order).
func writeLog(t *testing.T, dir string, n int, segSize int64) []string {
	t.Helper()
	l := mustOpen(t, dir, Options{SegmentSize: segSize})
	for i := 0; i < n; i++ {
		if _, err := l.Write(payload(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _, _, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.path
	}
	return out
}

func flipAt(t *testing.T, path string, at int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[at] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSurveyReportsEveryDamageWithFileAndOffset(t *testing.T) {
	entry := recordSize(100) // bytes one entry takes
	type want struct {
		seg    int // index of the damaged segment
		offset int64
		index  uint64
		torn   bool
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, segs []string)
		want   []want
		last   uint64 // LastIndex: the end of the intact prefix
	}{
		{name: "intact", last: 10},
		{
			name:   "two damaged entries in one segment, each reported",
			damage: func(t *testing.T, segs []string) { flipAt(t, segs[0], 20); flipAt(t, segs[0], 2*entry+20) },
			want:   []want{{0, 0, 1, false}, {0, 2 * entry, 3, false}},
			last:   0,
		},
		{
			name:   "damage in a later segment",
			damage: func(t *testing.T, segs []string) { flipAt(t, segs[1], entry+30) },
			want:   []want{{1, entry, 5, false}}, // the second entry of the segment starting at 4
		},
		{
			name: "torn tail",
			damage: func(t *testing.T, segs []string) {
				last := segs[len(segs)-1]
				st, _ := os.Stat(last)
				if err := os.Truncate(last, st.Size()-7); err != nil {
					t.Fatal(err)
				}
			},
			want: []want{{-1, -1, 10, true}},
			last: 9,
		},
		{
			name: "a segment missing",
			damage: func(t *testing.T, segs []string) {
				if err := os.Remove(segs[1]); err != nil {
					t.Fatal(err)
				}
			},
			want: []want{{2, 0, 0, false}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			segs := writeLog(t, dir, 10, 3*entry)
			if len(segs) < 3 {
				t.Fatalf("want at least 3 segments, got %d", len(segs))
			}
			if tc.damage != nil {
				tc.damage(t, segs)
			}
			before := snapshotDir(t, dir)
			s, err := Survey(dir)
			if err != nil {
				t.Fatal(err)
			}
			if after := snapshotDir(t, dir); after != before {
				t.Fatal("Survey changed the directory")
			}
			if len(s.Damage) != len(tc.want) {
				t.Fatalf("damage %+v, want %d entries", s.Damage, len(tc.want))
			}
			for i, w := range tc.want {
				d := s.Damage[i]
				seg := w.seg
				if seg < 0 {
					seg = len(segs) - 1
				}
				if d.File != segs[seg] || d.TornTail != w.torn {
					t.Errorf("damage %d: %+v, want file %s torn=%v", i, d, segs[seg], w.torn)
				}
				if w.offset >= 0 && d.Offset != w.offset {
					t.Errorf("damage %d: offset %d, want %d", i, d.Offset, w.offset)
				}
				if w.index != 0 && d.Index != w.index {
					t.Errorf("damage %d: index %d, want %d", i, d.Index, w.index)
				}
				if d.Reason == "" {
					t.Errorf("damage %d has no reason", i)
				}
			}
			if tc.last != 0 || len(tc.want) > 0 && tc.want[0].seg == 0 {
				if s.LastIndex != tc.last {
					t.Errorf("LastIndex %d, want %d", s.LastIndex, tc.last)
				}
			}
			if s.FirstIndex != 1 {
				t.Errorf("FirstIndex %d, want 1", s.FirstIndex)
			}
		})
	}
}

// snapshotDir is every file of dir with its contents, as one string.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out += de.Name() + "\x00" + string(data) + "\x00"
	}
	return out
}
