package engine

import "runtime"

// compactionSlots bound the background compactions that run at once in the
// process, whatever the number of buckets: each holds a batch and a page
// per column (about 5 MiB) and a core while it rewrites. Without a bound,
// 100 buckets whose fragments reached a tier together compacted 100 at a
// time on 2 cores (633 MiB of live heap). A bucket waiting for a slot only
// delays its own compaction; its appends, flushes and reads go on.
// compact() and compaction_threshold, which a caller asks for, do not wait.
var compactionSlots = make(chan struct{}, max(4, runtime.GOMAXPROCS(0)))

// takeCompactionSlot waits for a slot; false when Close asked the
// background work to stop meanwhile.
func (b *Bucket) takeCompactionSlot() bool {
	select {
	case compactionSlots <- struct{}{}:
		return true
	default:
	}
	b.opts.Background.event(eventCompactionSlotWait)
	select {
	case compactionSlots <- struct{}{}:
		return true
	case <-b.bg.stop:
		return false
	}
}

func releaseCompactionSlot() { <-compactionSlots }
