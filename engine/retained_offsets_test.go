package engine

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestOffsetMap: live rows and offsets map both ways around cleared offsets
// and a first offset, and offsets become row ranges.
func TestOffsetMap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   int64
		cleared []int64
		rows    int64
	}{
		{"no holes", 0, nil, 10},
		{"holes", 0, []int64{0, 3, 4, 9}, 8},
		{"first offset and holes", 100, []int64{100, 105, 106, 107, 120}, 20},
		{"trailing holes", 5, []int64{12, 13, 14}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := offsetMap{first: tc.first, cleared: offsetSetOf(tc.cleared...), rows: tc.rows}
			if got, want := m.end(), tc.first+tc.rows+int64(len(tc.cleared)); got != want {
				t.Fatalf("end %d, want %d", got, want)
			}
			var live []int64 // the offsets of rows 0, 1, ...
			for o := tc.first; o < m.end(); o++ {
				if !m.isCleared(o) {
					live = append(live, o)
				}
			}
			if int64(len(live)) != tc.rows {
				t.Fatalf("%d live offsets, want %d", len(live), tc.rows)
			}
			for r, o := range live {
				if got := m.rowAt(o); got != int64(r) {
					t.Fatalf("rowAt(%d) = %d, want %d", o, got, r)
				}
				if got := m.offsetOfRow(int64(r)); got != o {
					t.Fatalf("offsetOfRow(%d) = %d, want %d", r, got, o)
				}
			}
			if got := m.offsetOfRow(tc.rows); got != m.end() {
				t.Fatalf("offsetOfRow(rows) = %d, want end %d", got, m.end())
			}
			// Every other live offset: ranges of single rows; all: one range.
			every := newOffsetSet()
			for _, o := range live {
				every.add(o)
			}
			if got := m.rowRanges(every); len(got) != 1 || got[0] != [2]int64{0, tc.rows} {
				t.Fatalf("all live offsets: %v", got)
			}
		})
	}
}

// TestOffsetsEncoding: the config value round-trips, and a value that is not
// ours reads as no holes.
func TestOffsetsEncoding(t *testing.T) {
	bm := offsetSetOf(1, 2, 3, 1000, 70000)
	enc, err := encodeOffsets(bm)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeOffsets(enc)
	if err != nil || !back.equals(bm) {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	for _, bad := range []string{"not base64!", "AAAA", ""} {
		if bm, err := decodeOffsets(bad); err == nil && !bm.isEmpty() {
			t.Fatalf("%q decoded to %v", bad, bm)
		}
	}
}

// The cleared offsets ride in every manifest, so their encoding must stay
// small for a queue cleared for months: runs cost a few bytes per 65,536
// offsets (docs/maintenance.md, "What stays bounded"), scattered offsets
// about 2.7 bytes each.
func TestClearedOffsetsEncodingBound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cleared  func() *offsetSet
		maxBytes int
	}{
		{"a cleared prefix of 10 million", func() *offsetSet {
			bm := roaring.New()
			bm.AddRange(0, 10_000_000)
			return fromBitmap32(bm)
		}, 3_000},
		{"every batch of 100 cleared, 10 million", func() *offsetSet {
			bm := roaring.New()
			for lo := uint64(0); lo < 10_000_000; lo += 100 {
				bm.AddRange(lo, lo+100) // one clear per batch, as a training loop does
			}
			return fromBitmap32(bm)
		}, 3_000},
		{"every other offset of 100,000", func() *offsetSet {
			bm := roaring.New()
			for i := uint32(0); i < 100_000; i += 2 {
				bm.Add(i)
			}
			return fromBitmap32(bm)
		}, 22_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := encodeOffsets(tc.cleared())
			if err != nil {
				t.Fatal(err)
			}
			if len(enc) > tc.maxBytes {
				t.Fatalf("%d bytes in the manifest config, at most %d expected", len(enc), tc.maxBytes)
			}
		})
	}
}
