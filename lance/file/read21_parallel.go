package file

import (
	"fmt"
	"runtime"
	"sync"
)

// Decoding in parallel. A read decodes its columns, and the chunks of each
// mini-block page, as independent tasks. Extra goroutines come from one
// process-wide pool of GOMAXPROCS-1 slots; a task that finds no free slot
// runs on the caller's goroutine, so nested fan-outs (columns, then chunks)
// never wait for each other and the process never runs more decoders than
// it has processors.

// serialReadValues: a read of at most this many values (rows x columns)
// decodes on the caller's goroutine. Handing its few small tasks to other
// goroutines costs more than it saves (scheduler wake-ups, on a busy
// machine a wait for a processor): bench.py's get(100, deep offset)
// takes a fifth less time and CPU decoded serially.
const serialReadValues = 8192

// SmallRead says whether a read of rows rows of columns columns decodes
// serially (the lance package reads its fragments the same way).
func SmallRead(rows int64, columns int) bool { return smallRead(rows, columns) }

func smallRead(rows int64, columns int) bool {
	return rows*int64(max(columns, 1)) <= serialReadValues
}

var decodeSlots = make(chan struct{}, max(runtime.GOMAXPROCS(0)-1, 0))

// recoverDecodePanics is false in this package's tests, so a decoder bug
// fails them (and the fuzzers) instead of becoming an error.
var recoverDecodePanics = true

// parallelFor runs f(0..n-1), using free decode slots for extra goroutines,
// and returns the error of the lowest failing index (the one a serial loop
// would have reported). A panic in a task becomes its error, so it cannot
// take down the process from a helper goroutine.
func parallelFor(n int, f func(i int) error) error {
	if n <= 0 {
		return nil
	}
	errs := make([]error, n)
	run := func(i int) {
		if recoverDecodePanics {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("internal error decoding: %v", p)
				}
			}()
		}
		errs[i] = f(i)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if i < n-1 {
			select {
			case decodeSlots <- struct{}{}:
				wg.Add(1)
				go func(i int) {
					defer func() { <-decodeSlots; wg.Done() }()
					run(i)
				}(i)
				continue
			default:
			}
		}
		run(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parallelRanges splits [0, n) into at most about 2*GOMAXPROCS contiguous
// ranges of at least minPer items and runs f on each in parallel.
func parallelRanges(n, minPer int, f func(lo, hi int) error) error {
	parts := min(2*runtime.GOMAXPROCS(0), (n+minPer-1)/max(minPer, 1))
	if parts <= 1 {
		return f(0, n)
	}
	per := (n + parts - 1) / parts
	return parallelFor(parts, func(k int) error {
		lo, hi := k*per, min((k+1)*per, n)
		if lo >= hi {
			return nil
		}
		return f(lo, hi)
	})
}

// serialFor is parallelFor on the caller's goroutine only (small reads),
// with the same panic-to-error rule and the first error in index order.
func serialFor(n int, f func(i int) error) (err error) {
	if recoverDecodePanics {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("internal error decoding: %v", p)
			}
		}()
	}
	for i := 0; i < n; i++ {
		if err := f(i); err != nil {
			return err
		}
	}
	return nil
}
