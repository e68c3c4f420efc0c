// Package memtest measures memory in tests of big values: what a call
// allocates, and the sizes to try.
package memtest

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// AllocDuring returns the bytes f allocates (with the collector off, the
// most the heap grows while it runs) and the heap it leaves behind once
// collected, both beyond what was live before.
func AllocDuring(f func()) (peak, kept int64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	f()
	runtime.ReadMemStats(&after)
	peak = int64(after.TotalAlloc - before.TotalAlloc)
	runtime.GC()
	runtime.ReadMemStats(&after)
	return peak, int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// Sizes is 64 MiB, or the sizes in MiB (comma separated) the environment
// variable env names, for measuring up to 1 GiB by hand.
func Sizes(t testing.TB, env string) []int {
	v := os.Getenv(env)
	if v == "" {
		return []int{64 << 20}
	}
	var sizes []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		sizes = append(sizes, n<<20)
	}
	return sizes
}
