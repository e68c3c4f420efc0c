package file

import (
	"math/bits"
	"sync"
)

// Page bytes a read borrows. The chunks of a mini-block page are read
// into a buffer that the decoded values point into (no copy) until the
// column's Arrow array is built, which copies them out; then the buffer is
// handed back for the next read instead of becoming garbage. So are the
// buffers the chunks decode into (unpacked integers and levels, expanded
// FSST strings: borrowList). A full scan of a vector column otherwise
// allocates (and the kernel faults in, and the garbage collector sweeps)
// its whole size twice: these bytes and the array's.
//
// Rules: only the span that borrowed a buffer hands it back
// (span21.giveBack, leafColumn.giveBack), after nothing decoded from it is
// used; a buffer never handed back is simply collected. Buffers are pooled
// by power-of-two size class, from 4 KiB up.

const (
	borrowMinClass = 12 // 4 KiB: smaller buffers are plain allocations
	borrowMaxClass = 28 // 256 MiB
)

var borrowPools [borrowMaxClass + 1]sync.Pool

// borrowClass is the size class of an n-byte buffer (-1: not pooled).
func borrowClass(n int64) int {
	if n <= 0 {
		return -1
	}
	c := bits.Len64(uint64(n - 1))
	if c < borrowMinClass || c > borrowMaxClass {
		return -1
	}
	return c
}

// borrowBytes returns an n-byte buffer (its contents undefined) and
// whether it is pooled: if so, hand it back with giveBackBytes.
func borrowBytes(n int64) ([]byte, bool) {
	c := borrowClass(n)
	if c < 0 {
		return make([]byte, n), false
	}
	if b, ok := borrowPools[c].Get().(*[]byte); ok {
		return (*b)[:n], true
	}
	return make([]byte, n, 1<<c), true
}

// giveBackBytes returns a buffer borrowBytes lent.
func giveBackBytes(b []byte) {
	c := borrowClass(int64(cap(b)))
	if c < 0 || cap(b) != 1<<c {
		return
	}
	b = b[:cap(b)]
	borrowPools[c].Put(&b)
}

// borrowList lends pooled buffers to the decoding of a page's chunks (on
// several goroutines) and keeps them for the span that owns the decoded
// values. A nil list lends plain allocations.
type borrowList struct {
	mu   sync.Mutex
	bufs [][]byte
}

// bytes returns an n-byte buffer whose contents are undefined: the caller
// writes every byte it hands on.
func (l *borrowList) bytes(n int) []byte {
	if l == nil {
		return make([]byte, n)
	}
	b, pooled := borrowBytes(int64(n))
	if pooled {
		l.mu.Lock()
		l.bufs = append(l.bufs, b)
		l.mu.Unlock()
	}
	return b
}

// giveBack returns the span's borrowed buffers; nothing decoded from them
// may be used after.
func (sp *span21) giveBack() {
	for _, b := range sp.borrowed {
		giveBackBytes(b)
	}
	sp.borrowed = nil
}

// giveBack returns the leaf column's borrowed buffers (see span21.giveBack).
func (lc *leafColumn) giveBack() {
	for _, b := range lc.borrowed {
		giveBackBytes(b)
	}
	lc.borrowed = nil
}
