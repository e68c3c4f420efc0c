package engine

import "testing"

func TestFlushYield(t *testing.T) {
	tests := []struct {
		name  string
		flush bool // a flush is in progress when the compaction awaits it
		stop  bool // Close stops the background work meanwhile
	}{
		{name: "no flush: returns at once"},
		{name: "returns when the flush ends", flush: true},
		{name: "returns when the bucket stops", flush: true, stop: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var y flushYield
			stop := make(chan struct{})
			if !tc.flush {
				y.await(stop) // would block forever if it waited
				return
			}
			y.begin()
			done := make(chan struct{})
			go func() {
				y.await(stop)
				close(done)
			}()
			select {
			case <-done:
				t.Fatal("await returned while the flush was in progress")
			default:
			}
			if tc.stop {
				close(stop)
			} else {
				y.end()
			}
			<-done
			y.end()
			y.end() // idempotent: a flush that failed ends once too
			y.await(stop)
		})
	}
}
