package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestChurnReturnsToBaseline: a process that opens, fills, flushes and
// closes bucket after bucket (pulsing creating and dropping queues for
// months) keeps nothing of the closed ones: goroutines (the background
// loops, parked or not), open files and Prometheus series all come back
// to what they were before the first.
func TestChurnReturnsToBaseline(t *testing.T) {
	fds := func() int {
		e, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(e)
	}
	series := func() int {
		mfs, err := Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	// Goroutines that called wg.Done may still be on their way out when
	// Close returns: let them run, without waiting for time to pass.
	settledGoroutines := func(want int) int {
		n := runtime.NumGoroutine()
		for i := 0; i < 10000 && n > want; i++ {
			runtime.Gosched()
			n = runtime.NumGoroutine()
		}
		return n
	}
	root := t.TempDir()
	baseG, baseF, baseS := runtime.NumGoroutine(), fds(), series()
	for i := 0; i < 200; i++ {
		o := Options{Path: filepath.Join(root, fmt.Sprint(i)), Metrics: true}
		o.WAL.Enabled = i%2 == 0
		b, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		appendRows(t, b, 0, 5)
		if i%3 == 0 {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		appendRows(t, b, 5, 5) // wakes the auto flush again; Close flushes it
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(o.Path); err != nil {
			t.Fatal(err)
		}
	}
	if g := settledGoroutines(baseG); g > baseG {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after churn, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if f := fds(); f > baseF {
		t.Fatalf("%d open files after churn, %d before", f, baseF)
	}
	if s := series(); s != baseS {
		t.Fatalf("%d metric series after churn, %d before", s, baseS)
	}
}
