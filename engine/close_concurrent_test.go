package engine

import (
	"fmt"
	"testing"
)

// TestConcurrentCloseWaitsForTheFirst: a Close called while another is
// still running returns only when the bucket is closed, writer lock
// included, so its caller can reopen the bucket at once.
func TestConcurrentCloseWaitsForTheFirst(t *testing.T) {
	dir := t.TempDir()
	b := openBucket(t, dir, 1000)
	appendRows(t, b, 0, 3)

	ending := make(chan struct{})
	gate := make(chan struct{})
	b.beforeCloseEnd = func() {
		close(ending)
		<-gate
	}
	waiting := make(chan struct{})
	b.onCloseWait = func() { close(waiting) }

	first := make(chan error, 1)
	go func() { first <- b.Close() }()
	<-ending // the first Close has flushed and not yet released the lock

	second := make(chan error, 1)
	go func() {
		err := b.Close()
		if err == nil { // the bucket must be free for the next writer now
			var again *Bucket
			if again, err = Open(Options{Path: dir}); err == nil {
				err = again.Close()
			} else {
				err = fmt.Errorf("open right after the second Close returned: %w", err)
			}
		}
		second <- err
	}()
	select {
	case <-waiting:
	case err := <-second:
		close(gate)
		<-first
		t.Fatalf("second Close returned while the first still held the writer lock (then: %v)", err)
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again := openBucket(t, dir, 1000)
	defer again.Close()
	if got := readIDs(t, again, 0, -1); !equalInts(got, seq(0, 3)) {
		t.Fatalf("rows after the closes: %v", got)
	}
}
