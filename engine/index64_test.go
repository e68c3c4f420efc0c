package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/RoaringBitmap/roaring/v2/roaring64"

	"github.com/persisting/persisting/lance"
)

// bucketFrom makes a bucket whose 13 rows (ids 1..13) hold offsets first ..
// first+12: retention dropped every record before first (a bucket that has
// run for months; nobody writes 2^32 rows in a test).
func bucketFrom(t *testing.T, dir string, first int64, opts Options) *Bucket {
	t.Helper()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 14)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lance.DeletePrefix(filepath.Join(dir, DatasetDirName), 1, lance.DeletePrefixOptions{
		Config: map[string]string{firstOffsetKey: strconv.FormatInt(first, 10)},
	}); err != nil {
		t.Fatal(err)
	}
	opts.Path, opts.FlushThreshold = dir, 1000
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shifted(first int64, rel ...int64) []int64 {
	out := make([]int64, len(rel))
	for i, r := range rel {
		out[i] = first + r
	}
	return out
}

// TestTrainingPast2e32: takes, marks, clears, ready ranges, live indexes,
// reads, a reopen and retention work the same at any int64 offset. Before,
// the bitmaps held 32-bit values: past 2^32 - 2 a take handed nothing out
// (UnsupportedError), and marks and clears were InvalidArgumentError.
func TestTrainingPast2e32(t *testing.T) {
	for _, first := range []int64{0, 1<<32 - 2, 1<<32 - 1, 1 << 32, 1<<32 + 10, 1 << 40, 1 << 62} {
		t.Run(strconv.FormatInt(first, 10), func(t *testing.T) {
			dir := t.TempDir()
			b := bucketFrom(t, dir, first, Options{})
			defer func() { b.Close() }()
			if total, _, _, _ := b.Counts(); total != first+13 {
				t.Fatalf("total %d", total)
			}
			if got := take(t, b, "a", 3); !equalInts(got, shifted(first, 0, 1, 2)) {
				t.Fatalf("take: %v", got)
			}
			if err := b.MarkConsumed("a", shifted(first, 4)); err != nil {
				t.Fatal(err)
			}
			if err := b.Clear(shifted(first, 3, 6, 10)); err != nil {
				t.Fatal(err)
			}
			if got := take(t, b, "a", 100); !equalInts(got, shifted(first, 5, 7, 8, 9, 11, 12)) {
				t.Fatalf("take after mark and clear: %v", got)
			}
			ready, err := b.ReadyRanges("new", nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := [][2]int64{{first, first + 3}, {first + 4, first + 6}, {first + 7, first + 10}, {first + 11, first + 13}}; !equalRanges(ready, want) {
				t.Fatalf("ready %v, want %v", ready, want)
			}
			live, err := b.LiveIndexes(shifted(first, 3, 2, -1, 13, 12))
			if err != nil {
				t.Fatal(err)
			}
			if want := shifted(first, 2, 12); !equalInts(live, want) {
				t.Fatalf("live %v, want %v", live, want)
			}
			if got := readIDs(t, b, first+2, 5); !equalInts(got, []int64{3, 5, 6}) {
				t.Fatalf("read: %v", got)
			}
			// The manifest and the log keep the 32-bit format while they can.
			enc, _ := b.currentDataset().ConfigValue(clearedOffsetKey)
			if wide := first+10 >= 1<<32; strings.HasPrefix(enc, wideOffsetsPrefix) != wide {
				t.Fatalf("cleared offsets %q: 64-bit format %v expected", enc, wide)
			}
			if got, want := wideLogEntries(t, dir), map[bool]int{false: 0, true: 2}[first+2 >= 1<<32]; got < want || (want == 0 && got != 0) {
				t.Fatalf("%d log entries in the 64-bit format, want %d or more", got, want)
			}

			b = reopen(t, b, Options{Path: dir, FlushThreshold: 1000})
			if got := take(t, b, "a", 100); len(got) != 0 {
				t.Fatalf("after reopen, a was handed %v again", got)
			}
			if n, err := b.ClearedCount(); err != nil || n != 3 {
				t.Fatalf("cleared %d, %v", n, err)
			}
			if got := take(t, b, "b", 100); !equalInts(got, shifted(first, 0, 1, 2, 4, 5, 7, 8, 9, 11, 12)) {
				t.Fatalf("after reopen, b: %v", got)
			}

			// Retention keeps the last 5 live records: offsets first+7 on
			// (first+6 is cleared); first+10 stays cleared.
			b.opts.Background.RetentionRows = 5
			b.maintMu.Lock()
			err = b.applyRetention(time.Now())
			b.maintMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if m := b.currentOffsets(); m.first != first+7 || !m.cleared.equals(offsetSetOf(first+10)) {
				t.Fatalf("after retention: first %d, cleared %v", m.first, m.cleared.highs)
			}
			if got := take(t, b, "c", 100); !equalInts(got, shifted(first, 7, 8, 9, 11, 12)) {
				t.Fatalf("after retention: %v", got)
			}
			if got := readIDs(t, b, first+7, -1); !equalInts(got, []int64{8, 9, 10, 12, 13}) {
				t.Fatalf("read after retention: %v", got)
			}
			if err := b.Clear(shifted(first, 12)); err != nil {
				t.Fatal(err)
			}
			b = reopen(t, b, Options{Path: dir, FlushThreshold: 1000})
			ready, err = b.ReadyRanges("d", nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := [][2]int64{{first + 7, first + 10}, {first + 11, first + 12}}; !equalRanges(ready, want) {
				t.Fatalf("ready after retention %v, want %v", ready, want)
			}
		})
	}
}

// wideLogEntries counts the consumption log's entries in the 64-bit format.
func wideLogEntries(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ConsumptionLogName))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for len(data) >= consumptionEntryHeader {
		size := int(binary.LittleEndian.Uint32(data))
		if data[consumptionEntryHeader]&opWide != 0 {
			n++
		}
		data = data[consumptionEntryHeader+size:]
	}
	return n
}

func equalRanges(a, b [][2]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// oldEntry encodes an entry as versions with 32-bit indexes did.
func oldEntry(op byte, task string, bm *roaring.Bitmap) []byte {
	var p bytes.Buffer
	p.WriteByte(op)
	p.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(task))))
	p.WriteString(task)
	bm.RunOptimize()
	if _, err := bm.WriteTo(&p); err != nil {
		panic(err)
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(p.Len()))
	out = binary.LittleEndian.AppendUint32(out, crc32c(p.Bytes()))
	return append(out, p.Bytes()...)
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, consumptionCRC) }

// TestOldConsumptionStateLoads: a consumption log (and, in the same
// framing, an s3:// snapshot) written by the 32-bit version loads, and
// entries whose indexes fit 32 bits are still written byte for byte as
// that version wrote them, so it can read a log this version wrote.
func TestOldConsumptionStateLoads(t *testing.T) {
	run := roaring.New()
	run.AddRange(0, 100_000)
	old := [][]byte{
		oldEntry(opClear, "", roaring.BitmapOf(7, 70_000)),
		oldEntry(opMark, "train", run),
		oldEntry(opMark, "sampler", roaring.BitmapOf(1, 2, 3, 4_000_000_000)),
		oldEntry(opReset, "gone", roaring.New()),
	}
	entries, good := readConsumptionLog(bytes.Join(old, nil))
	if good != len(bytes.Join(old, nil)) || len(entries) != len(old) {
		t.Fatalf("read %d of %d entries", len(entries), len(old))
	}
	for i, e := range entries {
		frame, err := encodeConsumptionEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(frame, old[i]) {
			t.Fatalf("entry %d is written differently from the 32-bit version's", i)
		}
	}
	if !entries[2].indexes.equals(offsetSetOf(1, 2, 3, 4_000_000_000)) {
		t.Fatalf("sampler: %v", entries[2].indexes.highs)
	}
	// A bucket with such a log: what a restart after the upgrade opens.
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 100_010)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConsumptionLogName), bytes.Join(old[:3], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	b = openBucket(t, dir, 1000)
	defer b.Close()
	if got := take(t, b, "train", 20); !equalInts(got, seq(100_000, 10)) {
		t.Fatalf("train: %v", got)
	}
	if got := take(t, b, "sampler", 5); !equalInts(got, []int64{0, 4, 5, 6, 8}) {
		t.Fatalf("sampler: %v", got)
	}
}

// TestOffsetSetWideFormat: past 2^32 the set serializes in the 64-bit
// portable Roaring format (roaring64's own bytes, flagged in the log entry,
// prefixed in the manifest), round-trips, and the 32-bit readers of older
// versions refuse it rather than misread it.
func TestOffsetSetWideFormat(t *testing.T) {
	values := []int64{0, 5, 1<<32 - 1, 1 << 32, 1<<32 + 1, 1 << 40, 1<<62 + 3}
	s := offsetSetOf(values...)
	var got bytes.Buffer
	if err := s.writeTo(&got); err != nil {
		t.Fatal(err)
	}
	r64 := roaring64.New()
	for _, v := range values {
		r64.Add(uint64(v))
	}
	r64.RunOptimize()
	want, err := r64.ToBytes()
	if err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("not roaring64's portable bytes (%v)", err)
	}
	back, err := readOffsetSet(got.Bytes(), true)
	if err != nil || !back.equals(s) {
		t.Fatalf("round trip: %v", err)
	}
	enc, err := encodeOffsets(s)
	if err != nil || !strings.HasPrefix(enc, wideOffsetsPrefix) {
		t.Fatalf("manifest value %q, %v", enc, err)
	}
	if back, err := decodeOffsets(enc); err != nil || !back.equals(s) {
		t.Fatalf("manifest round trip: %v", err)
	}
	if _, err := base64.StdEncoding.DecodeString(enc); err == nil {
		t.Fatal("a 32-bit version would decode the 64-bit value as its own")
	}
	frame, err := encodeConsumptionEntry(consumptionEntry{op: opMark, task: "t", indexes: s})
	if err != nil {
		t.Fatal(err)
	}
	if frame[consumptionEntryHeader] != opMark|opWide {
		t.Fatalf("op byte %#x", frame[consumptionEntryHeader])
	}
	entries, _ := readConsumptionLog(frame)
	if len(entries) != 1 || entries[0].op != opMark || !entries[0].indexes.equals(s) {
		t.Fatalf("log round trip: %v", entries)
	}
	// Damaged 64-bit values are errors, not panics or huge allocations.
	for _, bad := range [][]byte{nil, {1, 2, 3}, binary.LittleEndian.AppendUint64(nil, 1<<40),
		append(binary.LittleEndian.AppendUint64(nil, 1), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)} {
		if _, err := readOffsetSet(bad, true); err == nil {
			t.Fatalf("%x decoded", bad)
		}
	}
}

// TestOffsetSetSearches: nextAbsent, nextPresent, countBelow and the range
// removals across the 2^32 boundaries, against a plain map.
func TestOffsetSetSearches(t *testing.T) {
	const b = int64(1) << 32
	for _, tc := range []struct {
		name string
		fill func(s *offsetSet)
	}{
		{"empty", func(*offsetSet) {}},
		{"a run across 2^32", func(s *offsetSet) {
			for v := b - 3; v < b+3; v++ {
				s.add(v)
			}
		}},
		{"the whole top of the first bitmap", func(s *offsetSet) {
			s.bitmap(0).AddRange(1<<32-70_000, 1<<32)
			s.add(b)
			s.add(2*b + 1)
		}},
		{"scattered", func(s *offsetSet) {
			for _, v := range []int64{1, b - 2, b, b + 2, 1 << 40, 1<<40 + 1} {
				s.add(v)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOffsetSet()
			tc.fill(s)
			has := map[int64]bool{}
			s.each(func(v int64) { has[v] = true })
			if int64(len(has)) != s.cardinality() {
				t.Fatalf("each %d, cardinality %d", len(has), s.cardinality())
			}
			for _, from := range []int64{0, 1, 2, b - 70_001, b - 3, b - 2, b - 1, b, b + 1, b + 2, b + 3, 2 * b, 2*b + 1, 1 << 40, 1<<40 + 1} {
				wantAbsent := from
				for has[wantAbsent] {
					wantAbsent++
				}
				if got := s.nextAbsent(from); got != wantAbsent {
					t.Fatalf("nextAbsent(%d) = %d, want %d", from, got, wantAbsent)
				}
				wantPresent, below := int64(-1), int64(0)
				for v := range has {
					if v >= from && (wantPresent < 0 || v < wantPresent) {
						wantPresent = v
					}
					if v < from {
						below++
					}
				}
				if got := s.nextPresent(from); got != wantPresent {
					t.Fatalf("nextPresent(%d) = %d, want %d", from, got, wantPresent)
				}
				if got := s.countBelow(from); got != below {
					t.Fatalf("countBelow(%d) = %d, want %d", from, got, below)
				}
				lo, hi := s.clone(), s.clone()
				lo.removeFrom(from)
				hi.removeBelow(from)
				if lo.cardinality() != below || hi.cardinality() != s.cardinality()-below ||
					(!hi.isEmpty() && hi.minimum() != wantPresent) {
					t.Fatalf("split at %d: %d below, %d from", from, lo.cardinality(), hi.cardinality())
				}
				lo.or(hi)
				if !lo.equals(s) {
					t.Fatalf("split at %d and joined: not the set", from)
				}
				lo.andNot(s)
				if !lo.isEmpty() || len(lo.bms) != 0 {
					t.Fatalf("andNot itself left %d bitmaps", len(lo.bms))
				}
			}
		})
	}
}
