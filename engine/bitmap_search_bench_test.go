package engine

import (
	"fmt"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// BenchmarkNextAbsentHistory: a task that consumed [0, history) in order,
// its last batches still as array/bitmap containers (as live takes leave
// them between log compactions), searches for the next index from a cursor
// near its end. The cost must not grow with the history behind the cursor.
func BenchmarkNextAbsentHistory(b *testing.B) {
	for _, history := range []uint64{1 << 20, 1 << 24, 1 << 28, 1 << 31} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			bm := roaring.New()
			bm.AddRange(0, history-4096)
			bm.RunOptimize()
			for v := history - 4096; v < history; v += 256 { // recent takes
				batch := roaring.New()
				batch.AddRange(v, v+256)
				bm.Or(batch)
			}
			from := uint32(history - 256)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := nextAbsent(bm, from); got != int64(history) {
					b.Fatalf("nextAbsent = %d, want %d", got, history)
				}
			}
		})
	}
}

// BenchmarkOffsetSetNextAbsent: the history benchmark through offsetSet, a
// task that consumed 2^24 indexes up to base: below 2^32 (one bitmap),
// across it (two) and far past it. The cost must be the 32-bit search's.
func BenchmarkOffsetSetNextAbsent(b *testing.B) {
	const history = 1 << 24
	for _, base := range []int64{history, 1<<32 + history/2, 1 << 40} {
		b.Run(fmt.Sprintf("base=%d", base), func(b *testing.B) {
			s := newOffsetSet()
			for v := base - history; v < base; v += 1 << 16 {
				r := offsetSetOf()
				high, low := split(v)
				r.bitmap(high).AddRange(uint64(low), uint64(low)+1<<16)
				s.or(r)
			}
			s.runOptimize()
			from := base - 256
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := s.nextAbsent(from); got != base {
					b.Fatalf("nextAbsent = %d, want %d", got, base)
				}
			}
		})
	}
}
