package engine

import (
	"math"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestNextAbsentCostIndependentOfHistory: the search for a task's next
// index costs the same after 2^31 consumed indexes as after 2^20 (it once
// counted through every container below it: 9 µs after 1M consumed, 21 ms
// after 2^31, at each take). BenchmarkNextAbsentHistory has the figures.
func TestNextAbsentCostIndependentOfHistory(t *testing.T) {
	cost := func(history uint64) time.Duration {
		bm := roaring.New()
		bm.AddRange(0, history)
		batch := roaring.New() // the last take, as an array container
		batch.AddRange(history, history+256)
		bm.Or(batch)
		best := time.Duration(math.MaxInt64)
		for rep := 0; rep < 5; rep++ {
			start := time.Now()
			for i := 0; i < 20; i++ {
				if got := nextAbsent(bm, uint32(history)); got != int64(history+256) {
					t.Fatalf("nextAbsent = %d", got)
				}
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	small, large := cost(1<<20), cost(1<<31)
	if large > 20*small+time.Millisecond {
		t.Fatalf("20 searches cost %v after 2^20 indexes, %v after 2^31", small, large)
	}
}
