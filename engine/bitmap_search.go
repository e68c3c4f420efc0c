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
// Contains, CardinalityInRange and the iterator.

// nextAbsent is the smallest value >= from that bm does not hold, or -1
// when it holds every one up to math.MaxUint32. It gallops from from
// (from+1, from+2, from+4, ...) until a range [from, hi] holds an absent
// value, then bisects: every count looks only at the containers the range
// spans (CardinalityInRange), so the cost depends on how far the answer is,
// never on the values below from. Rank-based counts scanned every
// container below the probe: a take cost 9 µs after 1M consumed indexes,
// 1.9 ms after 268M.
func nextAbsent(bm *roaring.Bitmap, from uint32) int64 {
	if !bm.Contains(from) {
		return int64(from)
	}
	if from == math.MaxUint32 {
		return -1
	}
	// full says whether bm holds every value of [lo, hi].
	full := func(lo, hi uint32) bool {
		return bm.CardinalityInRange(uint64(lo), uint64(hi)+1) == uint64(hi-lo)+1
	}
	lo, hi := from, from // every value of [from, lo] is held; hi is the probe
	for step := uint64(1); ; step *= 2 {
		hi = uint32(min(uint64(from)+step, math.MaxUint32))
		if !full(lo+1, hi) {
			break
		}
		if hi == math.MaxUint32 {
			return -1
		}
		lo = hi
	}
	for hi-lo > 1 { // [from, lo] held, an absent value in (lo, hi]
		mid := lo + (hi-lo)/2
		if full(lo+1, mid) {
			lo = mid
		} else {
			hi = mid
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
