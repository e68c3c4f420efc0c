package engine

import (
	"math"

	"github.com/RoaringBitmap/roaring/v2"
)

// Searches in the consumption bitmaps. roaring v2.30's NextAbsentValue is
// wrong past the first 2^16 values (it skips the next container's values
// and drops a container's high bits: over [0, 70000) it answers 65536 and
// then 4464), so a task that consumed more than 65,536 indexes was handed
// consumed ones again, or TakeUnconsumed never returned. These use only
// Contains, Rank and the iterator.

// nextAbsent is the smallest value >= from that bm does not hold, or -1
// when it holds every one up to math.MaxUint32.
func nextAbsent(bm *roaring.Bitmap, from uint32) int64 {
	if !bm.Contains(from) {
		return int64(from)
	}
	var before uint64 // values of bm below from
	if from > 0 {
		before = bm.Rank(from - 1)
	}
	// absentThrough(v) counts the absent values in [from, v]: monotone in v,
	// so the first v where it is positive is found by bisection.
	absentThrough := func(v uint32) uint64 { return uint64(v-from) + 1 - (bm.Rank(v) - before) }
	if absentThrough(math.MaxUint32) == 0 {
		return -1
	}
	lo, hi := from, uint32(math.MaxUint32) // absentThrough(lo) == 0 < absentThrough(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if absentThrough(mid) > 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return int64(hi)
}

// nextPresent is the smallest value >= from that bm holds, or -1.
func nextPresent(bm *roaring.Bitmap, from uint32) int64 {
	it := bm.Iterator()
	it.AdvanceIfNeeded(from)
	if !it.HasNext() {
		return -1
	}
	return int64(it.Next())
}
