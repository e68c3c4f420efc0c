package file

import (
	"os"
	"sync"
)

// writebackFile passes writes to f and hands each written range to a
// goroutine that asks the kernel to start writing it to disk
// (startWriteback: asynchronous, no durability by itself). The fsync at the
// end of the file then finds most pages already written or on their way:
// the disk works while the encoder still does.
type writebackFile struct {
	f       *os.File
	written int64
	ranges  chan [2]int64
	wg      sync.WaitGroup
	once    sync.Once
}

func newWritebackFile(f *os.File) *writebackFile {
	w := &writebackFile{f: f, ranges: make(chan [2]int64, 64)}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for r := range w.ranges {
			startWriteback(w.f, r[0], r[1])
		}
	}()
	return w
}

func (w *writebackFile) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if n > 0 {
		select {
		case w.ranges <- [2]int64{w.written, int64(n)}:
		default: // the disk is behind: the fsync will do it
		}
	}
	w.written += int64(n)
	return n, err
}

// stop ends the goroutine once every range has been handed to the kernel;
// no Write may follow. Later calls do nothing.
func (w *writebackFile) stop() {
	w.once.Do(func() {
		close(w.ranges)
		w.wg.Wait()
	})
}
