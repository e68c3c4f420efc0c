package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// entryPos is where an entry lies on disk.
type entryPos struct {
	index uint64
	seg   string // segment file name
	off   int64
	size  int64
}

// layout returns where each entry of the (valid) log in dir lies.
func layout(t testing.TB, dir string) []entryPos {
	t.Helper()
	var ps []entryPos
	for _, s := range segmentsOf(t, dir) {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		for off, i := 0, s.start; off < len(data); i++ {
			_, n, err := nextRecord(data[off:])
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, entryPos{i, filepath.Base(s.path), int64(off), int64(n)})
			off += n
		}
	}
	return ps
}

// smallLog writes n entries to a new log and closes it.
func smallLog(t testing.TB, segSize int64, n, size int) (string, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{SegmentSize: segSize})
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = []byte(fmt.Sprintf("entry %d %s", i+1, strings.Repeat("x", size+i)))
		mustWrite(t, l, ps[i])
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ps
}

// A crash in the middle of writing the last entry leaves any prefix of it:
// for every cut, Open keeps every entry before it, warns, and the next
// write gets the index the torn entry had.
func TestTornTailEveryByte(t *testing.T) {
	tests := []struct {
		name    string
		segSize int64
		n, size int
	}{
		{"one segment", 0, 5, 8},
		{"last entry starts a segment", 60, 5, 20},
		{"single entry", 0, 1, 30},
		{"long length prefix", 0, 3, 120}, // 2-byte uvarint
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, ps := smallLog(t, tt.segSize, tt.n, tt.size)
			pos := layout(t, dir)
			last := pos[len(pos)-1]
			segs := segmentsOf(t, dir)
			if filepath.Base(segs[len(segs)-1].path) != last.seg || (tt.segSize != 0 && last.off != 0) {
				t.Fatalf("the test wants the last entry in the last segment: %v", pos)
			}
			for cut := last.off; cut < last.off+last.size; cut++ {
				d := copyDir(t, dir)
				if err := os.Truncate(filepath.Join(d, last.seg), cut); err != nil {
					t.Fatal(err)
				}
				rec := &recorder{}
				l, err := Open(d, Options{SegmentSize: tt.segSize, Logger: rec.logf})
				if err != nil {
					t.Fatalf("cut at %d: Open: %v", cut, err)
				}
				checkIndexes(t, l, 1, uint64(tt.n-1))
				checkEntries(t, readAll(t, l), ps[:tt.n-1], 1)
				if torn := cut > last.off; torn != strings.Contains(rec.String(), "torn tail") {
					t.Fatalf("cut at %d (entry starts at %d): warnings %q", cut, last.off, rec.String())
				}
				if (cut-last.off)%7 != 0 && cut != last.off+last.size-1 {
					l.Close()
					continue // writing on after the cut: a sample is enough
				}
				if i := mustWrite(t, l, []byte("again")); i != uint64(tt.n) {
					t.Fatalf("cut at %d: next index %d, want %d", cut, i, tt.n)
				}
				l.Close()
				l = mustOpen(t, d, Options{SegmentSize: tt.segSize})
				checkEntries(t, readAll(t, l), append(ps[:tt.n-1:tt.n-1], []byte("again")), 1)
				l.Close()
			}
		})
	}
}

// What a crash can leave after the last entry besides a prefix of it:
// zeros (file size updated, data not) or stale bytes.
func TestTornTailGarbage(t *testing.T) {
	tests := []struct {
		name string
		tail []byte
	}{
		{"one zero", []byte{0}},
		{"zeros", make([]byte, 4096)},
		{"0xff", []byte{0xff, 0xff, 0xff}},
		{"header without payload", appendEntry(nil, []byte("lost"))[:headerSize]},
		{"length prefix only", []byte{50}},
		{"bad checksum", withBadCRC(appendRecord(nil, []byte("torn")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ps := smallLog(t, 0, 4, 10)
			segs := segmentsOf(t, dir)
			f, err := os.OpenFile(segs[len(segs)-1].path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tt.tail)
			f.Close()
			rec := &recorder{}
			l, err := Open(dir, Options{Logger: rec.logf})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkEntries(t, readAll(t, l), ps, 1)
			if !strings.Contains(rec.String(), "torn tail") {
				t.Fatalf("no warning, got %q", rec.String())
			}
			if i := mustWrite(t, l, []byte("next")); i != 5 {
				t.Fatalf("next index %d", i)
			}
		})
	}
}

// appendRecord appends a whole record (tidwall/wal's length prefix and the
// framed payload) to dst.
func appendRecord(dst, p []byte) []byte {
	frame := appendEntry(nil, p)
	return append(binary.AppendUvarint(dst, uint64(len(frame))), frame...)
}

func withBadCRC(rec []byte) []byte {
	rec[len(rec)-1] ^= 0x55 // last payload byte
	return rec
}

// Damage anywhere but a torn tail fails Open with a CorruptError naming
// the segment, offset and index, and leaves the directory as it was;
// OpenReadOnly gives the entries before the damage, then the error.
func TestCorruptionInTheMiddle(t *testing.T) {
	type damage func(t *testing.T, dir string, pos []entryPos)
	flip := func(index uint64, at int64) damage {
		return func(t *testing.T, dir string, pos []entryPos) {
			p := pos[index-1]
			flipByte(t, filepath.Join(dir, p.seg), p.off+at, 0xff)
		}
	}
	tests := []struct {
		name    string
		segSize int64
		damage  damage
		index   uint64 // index of the damaged entry
		segment func(pos []entryPos) string
		offset  func(pos []entryPos) int64
	}{
		{"payload byte", 0, flip(3, 12), 3, nil, nil},
		{"checksum", 0, flip(2, 1+5), 2, nil, nil},
		{"format byte", 0, flip(1, 1), 1, nil, nil},
		{"payload length", 0, flip(4, 1+1), 4, nil, nil},
		{"length prefix", 0, flip(5, 0), 5, nil, nil},
		{"entry in a full segment", 80, flip(2, 5), 2, nil, nil},
		{"last entry of a full segment", 1, flip(3, 5), 3, nil, nil},
		{"zeroed entry", 0, func(t *testing.T, dir string, pos []entryPos) {
			p := pos[2]
			f, _ := os.OpenFile(filepath.Join(dir, p.seg), os.O_WRONLY, 0)
			f.WriteAt(make([]byte, p.size), p.off)
			f.Close()
		}, 3, nil, nil},
		{"missing segment", 1, func(t *testing.T, dir string, pos []entryPos) {
			if err := os.Remove(filepath.Join(dir, pos[2].seg)); err != nil {
				t.Fatal(err)
			}
		}, 3, func(pos []entryPos) string { return pos[3].seg }, func([]entryPos) int64 { return 0 }},
		{"overlapping segments", 1, func(t *testing.T, dir string, pos []entryPos) {
			// segment 1 gains a copy of entry 2, so segment 2 overlaps it
			data, err := os.ReadFile(filepath.Join(dir, pos[1].seg))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := os.OpenFile(filepath.Join(dir, pos[0].seg), os.O_APPEND|os.O_WRONLY, 0)
			f.Write(data)
			f.Close()
		}, 3, func(pos []entryPos) string { return pos[1].seg }, func([]entryPos) int64 { return 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ps := smallLog(t, tt.segSize, 8, 20)
			pos := layout(t, dir)
			if tt.segSize != 0 && len(segmentsOf(t, dir)) < 4 {
				t.Fatalf("want one entry per segment, got %v", pos)
			}
			tt.damage(t, dir, pos)
			before := snapshot(t, dir)
			_, err := Open(dir, Options{SegmentSize: tt.segSize, Logger: t.Logf})
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want a *CorruptError", err)
			}
			wantSeg, wantOff := pos[tt.index-1].seg, pos[tt.index-1].off
			if tt.segment != nil {
				wantSeg, wantOff = tt.segment(pos), tt.offset(pos)
			}
			if ce.Index != tt.index || filepath.Base(ce.Segment) != wantSeg || ce.Offset != wantOff {
				t.Fatalf("got %v; want index %d in %s at %d", ce, tt.index, wantSeg, wantOff)
			}
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Fatal("Open changed a corrupt log")
			}
			// The read-only path recovers what comes before.
			l, err := OpenReadOnly(dir, Options{Logger: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			checkIndexes(t, l, 1, tt.index-1)
			es, err := readFrom(l, 0)
			if !errors.As(err, &ce) || ce.Index != tt.index {
				t.Fatalf("read-only ReadFrom: %v, want the CorruptError", err)
			}
			checkEntries(t, es, ps[:tt.index-1], 1)
			if _, err := l.Write(nil); err != ErrReadOnly {
				t.Fatalf("read-only Write: %v", err)
			}
			if err := l.TruncateFront(2); err != ErrReadOnly {
				t.Fatalf("read-only TruncateFront: %v", err)
			}
			l.Close()
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Fatal("OpenReadOnly changed the log")
			}
		})
	}
}

func flipByte(t testing.TB, path string, off int64, mask byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= mask
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Flipping any byte of a small log, one at a time, never panics and never
// gives an entry that was not written at that index: a flip in the last
// entry is cut as a torn tail (with a warning), any other one is a
// CorruptError naming the damaged entry. The read-only path gives the
// entries before the damage.
func TestFlipEveryByte(t *testing.T) {
	const segSize = 90
	dir, ps := smallLog(t, segSize, 7, 12)
	pos := layout(t, dir)
	if len(segmentsOf(t, dir)) < 3 {
		t.Fatalf("want several segments: %v", pos)
	}
	last := pos[len(pos)-1]
	for _, mask := range []byte{0x01, 0x80, 0xff} {
		for _, p := range pos {
			for at := int64(0); at < p.size; at++ {
				name := fmt.Sprintf("mask %#x entry %d byte %d", mask, p.index, at)
				d := copyDir(t, dir)
				flipByte(t, filepath.Join(d, p.seg), p.off+at, mask)

				ro, err := OpenReadOnly(d, Options{Logger: func(string, ...any) {}})
				if err != nil {
					t.Fatalf("%s: OpenReadOnly: %v", name, err)
				}
				es, err := readFrom(ro, 0)
				checkWritten(t, es, ps)
				if p == last {
					checkEntries(t, es, ps[:len(ps)-1], 1) // torn tail ignored
					if err != nil {
						t.Fatalf("%s: read-only: %v", name, err)
					}
				} else {
					checkEntries(t, es, ps[:p.index-1], 1)
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("%s: read-only ReadFrom: %v, want ErrCorrupt", name, err)
					}
				}
				ro.Close()

				rec := &recorder{}
				l, err := Open(d, Options{SegmentSize: segSize, Logger: rec.logf})
				if p == last {
					if err != nil {
						t.Fatalf("%s: Open: %v", name, err)
					}
					checkEntries(t, readAll(t, l), ps[:len(ps)-1], 1)
					if rec.count() == 0 {
						t.Fatalf("%s: cut without a warning", name)
					}
					l.Close()
					continue
				}
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("%s: Open: %v, want a *CorruptError", name, err)
				}
				if ce.Index != p.index || filepath.Base(ce.Segment) != p.seg || ce.Offset != p.off {
					t.Fatalf("%s: %v", name, ce)
				}
			}
		}
	}
}

// A crash in the middle of tidwall/wal's TruncateFront leaves a .START file
// next to the old segments, and maybe its .TEMP; Open finishes the job.
func TestInterruptedTruncation(t *testing.T) {
	dir, ps := smallLog(t, 60, 8, 10)
	pos := layout(t, dir)
	// What tidwall/wal writes for TruncateFront(5) before removing the old
	// segments: entries 5.. of entry 5's segment, as <5>.START.
	p := pos[4]
	data, err := os.ReadFile(filepath.Join(dir, p.seg))
	if err != nil {
		t.Fatal(err)
	}
	start := filepath.Join(dir, segmentName(5)+startSuffix)
	if err := os.WriteFile(start, data[p.off:], 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, segmentName(9)+startSuffix+tempSuffix), []byte("junk"), 0o640); err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, ro, 5, 8)
	es, err := readFrom(ro, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, es, ps[4:], 5)
	ro.Close()

	l := mustOpen(t, dir, Options{SegmentSize: 60})
	defer l.Close()
	checkIndexes(t, l, 5, 8)
	checkEntries(t, readAll(t, l), ps[4:], 5)
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.Contains(de.Name(), ".") {
			t.Errorf("left over: %s", de.Name())
		}
	}
}
