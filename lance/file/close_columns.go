package file

import (
	"fmt"
	"runtime"

	"github.com/persisting/persisting/lance/schema"
)

// closeColumns writes the last pending page of every column, in column
// order. The pages of 2.1+ leaves are encoded on goroutines (dictionary,
// FSST, bit-packing and general compression are the costly part of a
// write, and each leaf's is its own) while this goroutine writes the ones
// before them: GOMAXPROCS encode at a time, at most 2*GOMAXPROCS leaves
// ahead of the one written (a costly leaf does not idle the other cores),
// and a leaf drops its page once written, so Close holds a few pages
// beyond the pending data, not every column's encoding at once. The file
// is the same as one goroutine would write.
func closeColumns(w *fileWriter, cols []columnWriter, fields []schema.Field) error {
	type closingLeaf struct {
		l       *leafWriter
		col     int
		encoded chan struct{} // closed when l's page is encoded
	}
	var leaves []closingLeaf
	for i, c := range cols {
		f, ok := c.(*fieldWriter21)
		if !ok { // a 2.0 file: its columns encode as they write
			if err := c.flush(w); err != nil {
				return fmt.Errorf("lance file: column %q: %w", fields[i].Name, err)
			}
			continue
		}
		for _, l := range f.leaves {
			if l.p.rows > 0 {
				leaves = append(leaves, closingLeaf{l, i, make(chan struct{})})
			}
		}
	}
	procs := runtime.GOMAXPROCS(0)
	encoding := make(chan struct{}, procs) // a token per running encoder
	started := 0
	var err error
	for i, cl := range leaves {
		for ; err == nil && started < min(len(leaves), i+2*procs); started++ {
			go func(cl closingLeaf) {
				defer close(cl.encoded)
				encoding <- struct{}{}
				defer func() { <-encoding }()
				encodeRecovering(cl.l)
			}(leaves[started])
		}
		if i == started {
			break // an error stopped the encoding; the rest was never started
		}
		<-cl.encoded
		if err == nil {
			if err = cl.l.flush(w); err != nil {
				err = fmt.Errorf("lance file: column %q: %w", fields[cl.col].Name, err)
			}
		}
		cl.l.releasePage()
		if afterLeafClosed != nil {
			afterLeafClosed()
		}
	}
	return err
}

// afterLeafClosed, when set (by tests), runs each time closeColumns has
// written a leaf's page and dropped it.
var afterLeafClosed func()

// encodeRecovering encodes l's pending page on a worker goroutine, where a
// panic would end the process: it becomes l's error instead, as it would
// have reached the caller's recover on the writing goroutine.
func encodeRecovering(l *leafWriter) {
	defer func() {
		if r := recover(); r != nil {
			l.encoded, l.encodeErr = nil, fmt.Errorf("field %q: internal error encoding a page: %v", l.name, r)
		}
	}()
	l.encoded, l.encodeErr = l.encodePage()
}
