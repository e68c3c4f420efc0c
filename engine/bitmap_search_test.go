package engine

import (
	"math"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The searches agree with a value-by-value scan on bitmaps whose runs cross
// container boundaries (every 2^16 values), where roaring's own
// NextAbsentValue is wrong.
func TestBitmapSearchesAcrossContainers(t *testing.T) {
	const top = math.MaxUint32
	tests := []struct {
		name   string
		ranges [][2]uint64 // [lo, hi) held
	}{
		{"empty", nil},
		{"one run in the first container", [][2]uint64{{0, 100}}},
		{"a run across one boundary", [][2]uint64{{0, 70_000}}},
		{"a run filling the first container exactly", [][2]uint64{{0, 1 << 16}}},
		{"a run across several boundaries", [][2]uint64{{10, 3<<16 + 5}}},
		{"full containers around a missing one", [][2]uint64{{0, 1 << 16}, {2 << 16, 3 << 16}}},
		{"a hole right after a boundary", [][2]uint64{{0, 1<<16 + 1}, {1<<16 + 2, 1<<16 + 9}}},
		{"scattered runs", [][2]uint64{{5, 9}, {65_530, 65_540}, {131_000, 131_100}, {200_000, 200_001}}},
		{"up to the largest value", [][2]uint64{{top - 70_000, top + 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, optimize := range []bool{false, true} {
				bm := roaring.New()
				for _, r := range tt.ranges {
					bm.AddRange(r[0], r[1])
				}
				if optimize {
					bm.RunOptimize()
				}
				var probes []uint32
				for _, r := range tt.ranges {
					for _, v := range []uint64{r[0], r[0] + 1, r[1] - 1, r[1], (r[0] + r[1]) / 2} {
						if v <= top {
							probes = append(probes, uint32(v))
						}
					}
				}
				probes = append(probes, 0, 1<<16-1, 1<<16, 2<<16, top)
				for _, from := range probes {
					if got, want := nextAbsent(bm, from), scan(bm, from, false); got != want {
						t.Fatalf("optimized=%v: nextAbsent(%d) = %d, want %d", optimize, from, got, want)
					}
					if got, want := nextPresent(bm, from), scan(bm, from, true); got != want {
						t.Fatalf("optimized=%v: nextPresent(%d) = %d, want %d", optimize, from, got, want)
					}
				}
			}
		})
	}
}

// scan walks the values from from on, one by one, for the first one whose
// presence is want (none is present outside [minimum, maximum]).
func scan(bm *roaring.Bitmap, from uint32, want bool) int64 {
	if want && (bm.IsEmpty() || from > bm.Maximum()) {
		return -1
	}
	if want {
		from = max(from, bm.Minimum())
	}
	for v := uint64(from); v <= math.MaxUint32; v++ {
		if bm.Contains(uint32(v)) == want {
			return int64(v)
		}
	}
	return -1
}

// A task that consumed more than one container's worth of indexes (65,536)
// is handed the next ones, and a cleared run that long is skipped: before,
// the task was handed consumed indexes again (65536, then 4464), and a take
// after clearing 70,000 indexes never returned.
func TestTakeUnconsumedPastSixtyFiveThousand(t *testing.T) {
	b := openBucket(t, t.TempDir(), 1_000_000)
	defer b.Close()
	for i := int64(0); i < 70_100; i += 10_000 {
		rec := makeRows(t, memory.DefaultAllocator, i, min(10_000, 70_100-i))
		if err := b.Append(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := b.MarkConsumed("train", seq(0, 70_000)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, b, "train", 3); !equalInts(got, seq(70_000, 3)) {
		t.Fatalf("after 70,000 consumed: %v", got)
	}
	ranges, err := b.ReadyRanges("train", nil)
	if err != nil || len(ranges) != 1 || ranges[0] != [2]int64{70_003, 70_100} {
		t.Fatalf("ready = %v, %v", ranges, err)
	}
	if err := b.Clear(seq(0, 70_050)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, b, "eval", 100); !equalInts(got, seq(70_050, 50)) {
		t.Fatalf("after clearing 70,050: %v", got)
	}
}
